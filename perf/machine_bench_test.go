package perf

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkCacheLinePingPong measures the machine rather than ringbus: two
// goroutines on two cores pass a counter back and forth through one atomic
// word, spinning on loads, so one iteration is a cache line's round trip
// between the cores. Any hand-off between an emitter and a dispatcher on
// different cores pays at least this per line it moves; on the 2-core AMD
// EPYC VM of the README's figures it is 600 to 700 ns, more than a whole
// event costs on one core. Run it with -cpu 2 or more.
func BenchmarkCacheLinePingPong(b *testing.B) {
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
