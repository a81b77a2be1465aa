//go:build unix

package perf

import (
	"syscall"
	"testing"
)

// pageFaultChunk is how many pages BenchPageFault maps at a time.
const pageFaultChunk = 1024

// BenchPageFault measures the machine: one iteration is the first write to
// a page of fresh anonymous memory, so the kernel has to fault it in (and,
// in a virtual machine, the host may have to back it too). A process whose
// heap grows from nothing pays this for every page: the 50k-events scenario
// in a fresh process grows by about 5 MB, some 1,300 pages, and on the 2-core
// AMD EPYC VM of the README's figures a page costs about 2 µs, some 50 ns
// per event of that scenario that a warmed-up benchmark never sees. The
// pages are mapped a chunk at a time, outside the timer, and unmapped after.
func BenchPageFault(b *testing.B) {
	size := int64(syscall.Getpagesize())
	var mem []byte
	used := pageFaultChunk
	unmap := func() {
		if mem != nil {
			if err := syscall.Munmap(mem); err != nil {
				b.Fatal(err)
			}
			mem = nil
		}
	}
	defer unmap()
	for b.Loop() {
		if used == pageFaultChunk {
			b.StopTimer()
			unmap()
			m, err := syscall.Mmap(-1, 0, int(size)*pageFaultChunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
			if err != nil {
				b.Fatal(err)
			}
			mem, used = m, 0
			b.StartTimer()
		}
		mem[int64(used)*size] = 1
		used++
	}
}
