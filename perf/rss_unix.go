//go:build unix

package perf

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

var pageSize = int64(os.Getpagesize())

// residentBytes returns the process's current resident set size, read from
// /proc/self/statm (second field, in pages) like psutil does on Linux. Where
// that file does not exist it falls back to getrusage's maximum RSS, which
// only ever grows: the peak is then still right, the baseline is the peak so
// far.
func residentBytes() int64 {
	if rss, ok := statmResident(); ok {
		return rss
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		if runtime.GOOS == "darwin" {
			return int64(ru.Maxrss) // bytes on darwin
		}
		return int64(ru.Maxrss) * 1024 // KiB elsewhere
	}
	return 0
}

// statmFD is /proc/self/statm, opened once and kept open: a sample is then
// one pread instead of open, read and close. The worst-case scenario samples
// every 5th iteration, and on a VM the three system calls cost about 10 µs,
// which the timed region would otherwise charge to the bus. -1 when the file
// cannot be opened.
var statmFD = sync.OnceValue(func() int {
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
})

func statmResident() (int64, bool) {
	fd := statmFD()
	if fd < 0 {
		return 0, false
	}
	var buf [128]byte
	// At offset 0 the kernel formats the file anew on every read.
	n, err := syscall.Pread(fd, buf[:], 0)
	if err != nil || n <= 0 {
		return 0, false
	}
	// "size resident shared text lib data dt"
	f := buf[:n]
	i := bytes.IndexByte(f, ' ')
	if i < 0 {
		return 0, false
	}
	f = f[i+1:]
	if j := bytes.IndexByte(f, ' '); j >= 0 {
		f = f[:j]
	}
	pages, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * pageSize, true
}
