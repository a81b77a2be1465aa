package perf

import "testing"

// BenchmarkCacheLinePingPong: see BenchCacheLinePingPong. Run it with -cpu 2.
func BenchmarkCacheLinePingPong(b *testing.B) { BenchCacheLinePingPong(b) }

// BenchmarkThreadWakePingPong: see BenchThreadWakePingPong. Run it with -cpu 2.
func BenchmarkThreadWakePingPong(b *testing.B) { BenchThreadWakePingPong(b) }

// BenchmarkClockRead: see BenchClockRead.
func BenchmarkClockRead(b *testing.B) { BenchClockRead(b) }

// BenchmarkPageFault: see BenchPageFault.
func BenchmarkPageFault(b *testing.B) { BenchPageFault(b) }
