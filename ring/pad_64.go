//go:build !amd64 && !arm64 && !ppc64 && !ppc64le && !s390x

package ring

// cacheLineSize is the false-sharing granule for architectures without a
// more specific value.
const cacheLineSize = 64
