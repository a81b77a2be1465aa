//go:build unix

package perf

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
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

func statmResident() (int64, bool) {
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY, 0)
	if err != nil {
		return 0, false
	}
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
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
