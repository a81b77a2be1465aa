//go:build s390x

package ring

// cacheLineSize is the false-sharing granule: s390x has 256-byte lines.
const cacheLineSize = 256
