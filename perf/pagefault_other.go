//go:build !unix

package perf

import "testing"

// BenchPageFault measures the first write to a fresh page of memory; it
// needs mmap, so it skips on this platform.
func BenchPageFault(b *testing.B) {
	b.Skip("needs a unix mmap to map fresh pages")
}
