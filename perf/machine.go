package perf

// Probes of the machine rather than of ringbus: what moving a cache line
// between two cores, waking a sleeping thread, reading the clock and
// faulting in a fresh page cost in this sitting.

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchCacheLinePingPong measures the machine rather than ringbus: two
// goroutines on two cores pass a counter back and forth through one atomic
// word, spinning on loads, so one iteration is a cache line's round trip
// between the cores. Any hand-off between an emitter and a dispatcher on
// different cores pays at least this per line it moves; on the 2-core AMD
// EPYC VM of the README's figures it is 600 to 700 ns, more than a whole
// event costs on one core. Run it with -cpu 2 or more.
func BenchCacheLinePingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2: the two goroutines spin on separate cores")
	}
	var word atomic.Int64
	stop := int64(-1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for want := int64(1); ; want += 2 {
			for {
				v := word.Load()
				if v == stop {
					return
				}
				if v == want {
					break
				}
			}
			word.Store(want + 1)
		}
	}()
	next := int64(1)
	for b.Loop() {
		word.Store(next)
		for word.Load() != next+1 {
		}
		next += 2
	}
	word.Store(stop)
	<-done
}

// BenchThreadWakePingPong measures the machine too: two goroutines, each
// locked to its own OS thread, pass a value back and forth over unbuffered
// channels, so every hand-off puts one thread to sleep and wakes the other
// (a futex call each way). One iteration is two wake-ups. A dispatcher or a
// waiter that parks pays about half of this whenever its thread has to be
// woken; on the 2-core AMD EPYC VM of the README's figures it is 20 to 30
// µs, so one wake-up costs as much as dozens of events.
func BenchThreadWakePingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2: each goroutine keeps a thread of its own")
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; b.Loop(); i++ {
		ping <- i
		<-pong
	}
	close(ping)
	<-pong
}

// BenchClockRead measures the machine too: one reading of the monotonic
// clock (time.Since, which is what ident.Since and every timestamp ringbus
// makes come down to). An event pays two: its event_created_at when it is
// first emitted and its handler's completed_at, which is also the next
// event's start. Instruction counts do not show this cost: on the 2-core
// AMD EPYC VM of the README's figures a reading is a few dozen
// instructions and about 29 ns, a fifth of what the rest of a batched event
// costs on one core.
func BenchClockRead(b *testing.B) {
	start := time.Now()
	var last time.Duration
	for b.Loop() {
		d := time.Since(start)
		if d < last {
			b.Fatalf("the monotonic clock went back from %v to %v", last, d)
		}
		last = d
	}
}
