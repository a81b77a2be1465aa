package pool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/pool"
)

// doneTask marks a WaitGroup done. One value is submitted over and over:
// Run has no state, so concurrent runs are fine, and the benchmark measures
// the pool rather than the allocation of tasks.
type doneTask struct{ wg *sync.WaitGroup }

func (d *doneTask) Run() { d.wg.Done() }

// submitters are the two ways of running a task that the benchmarks
// compare: the pool and a plain go statement.
var submitters = []struct {
	name string
	// start returns the submit function and a function that stops it
	// and reports the overflow count.
	start func(b *testing.B) (submit func(*doneTask), stop func() uint64)
}{
	{"pool", func(b *testing.B) (func(*doneTask), func() uint64) {
		p, err := pool.New(1024)
		if err != nil {
			b.Fatal(err)
		}
		return func(t *doneTask) { p.Go(t) }, func() uint64 {
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			return p.Overflows()
		}
	}},
	{"go", func(b *testing.B) (func(*doneTask), func() uint64) {
		return func(t *doneTask) { go t.Run() }, func() uint64 { return 0 }
	}},
}

// BenchmarkGoRoundTrip submits one trivial task and waits for it before
// submitting the next: the cost of handing a task to an idle worker (or of
// starting a goroutine) and of learning that it finished. One op is one
// task.
func BenchmarkGoRoundTrip(b *testing.B) {
	for _, s := range submitters {
		b.Run(s.name, func(b *testing.B) {
			submit, stop := s.start(b)
			var wg sync.WaitGroup
			t := &doneTask{&wg}
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(1)
				submit(t)
				wg.Wait()
			}
			b.StopTimer()
			if overflows := stop(); s.name == "pool" {
				b.ReportMetric(float64(overflows)/float64(b.N), "overflow/op")
			}
		})
	}
}

// BenchmarkGoBurst submits trivial tasks as fast as it can and waits for
// all of them at the end. Submission outruns the workers, so on a small
// machine most tasks find every worker busy and overflow onto their own
// goroutine; overflow/op is that share. One op is one task.
func BenchmarkGoBurst(b *testing.B) {
	for _, s := range submitters {
		b.Run(s.name, func(b *testing.B) {
			submit, stop := s.start(b)
			var wg sync.WaitGroup
			t := &doneTask{&wg}
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(1)
				submit(t)
			}
			wg.Wait()
			b.StopTimer()
			if overflows := stop(); s.name == "pool" {
				b.ReportMetric(float64(overflows)/float64(b.N), "overflow/op")
			}
		})
	}
}
