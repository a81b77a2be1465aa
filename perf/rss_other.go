//go:build !unix

package perf

// residentBytes is not implemented on this platform: memory columns read 0.
func residentBytes() int64 { return 0 }
