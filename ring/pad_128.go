//go:build amd64 || arm64 || ppc64 || ppc64le

package ring

// cacheLineSize is the false-sharing granule: on amd64 the adjacent-line
// prefetcher pulls cache lines in pairs, and arm64 (Apple, Neoverse) and
// POWER have 128-byte lines, so hot fields are kept 128 bytes apart.
const cacheLineSize = 128
