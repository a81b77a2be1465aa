package ring_test

import (
	"sync"
	"testing"

	"github.com/ringbus/ringbus/ring"
)

// fifo is the work every benchmark does, implemented by the ring and by the
// two baselines it is compared with in the same run: a buffered channel
// (the floor to quote) and a mutex-protected slice.
type fifo interface {
	// push appends v; it may be called from any goroutine.
	push(v int)
	// tryPop moves up to len(buf) values into buf without blocking.
	tryPop(buf []int) int
	// pop moves at least one and up to len(buf) values into buf, blocking
	// until there is one.
	pop(buf []int) int
}

type ringFIFO struct{ q *ring.Queue[int] }

func newRingFIFO() fifo { return ringFIFO{ring.New[int]()} }

func (f ringFIFO) push(v int)           { f.q.Push(v) }
func (f ringFIFO) tryPop(buf []int) int { return f.q.PopBatch(buf) }
func (f ringFIFO) pop(buf []int) int {
	for {
		if n := f.q.PopBatch(buf); n > 0 {
			return n
		}
		f.q.Wait(nil)
	}
}

// chanFIFO is a buffered channel used the usual way: one value per receive.
type chanFIFO chan int

func newChanFIFO() fifo { return make(chanFIFO, 1024) }

func (f chanFIFO) push(v int) { f <- v }
func (f chanFIFO) tryPop(buf []int) int {
	n := 0
	for n < len(buf) {
		select {
		case buf[n] = <-f:
			n++
		default:
			return n
		}
	}
	return n
}
func (f chanFIFO) pop(buf []int) int {
	buf[0] = <-f
	return 1
}

// mutexFIFO is a slice behind a mutex, with a one-token channel to wake a
// consumer waiting on an empty queue.
type mutexFIFO struct {
	mu     sync.Mutex
	items  []int
	head   int
	notify chan struct{}
}

func newMutexFIFO() fifo { return &mutexFIFO{notify: make(chan struct{}, 1)} }

func (f *mutexFIFO) push(v int) {
	f.mu.Lock()
	wasEmpty := f.head == len(f.items)
	f.items = append(f.items, v)
	f.mu.Unlock()
	if wasEmpty {
		select {
		case f.notify <- struct{}{}:
		default:
		}
	}
}

func (f *mutexFIFO) tryPop(buf []int) int {
	f.mu.Lock()
	n := copy(buf, f.items[f.head:])
	f.head += n
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0 // reuse the backing array
	}
	f.mu.Unlock()
	return n
}

func (f *mutexFIFO) pop(buf []int) int {
	for {
		if n := f.tryPop(buf); n > 0 {
			return n
		}
		<-f.notify
	}
}

var fifos = []struct {
	name string
	new  func() fifo
}{
	{"ring", newRingFIFO},
	{"chan", newChanFIFO},
	{"mutex", newMutexFIFO},
}

// BenchmarkPushPop is one goroutine pushing a value and popping it again:
// the uncontended cost of a round trip.
func BenchmarkPushPop(b *testing.B) {
	for _, impl := range fifos {
		b.Run(impl.name, func(b *testing.B) {
			f := impl.new()
			buf := make([]int, 1)
			b.ReportAllocs()
			for b.Loop() {
				f.push(1)
				f.tryPop(buf)
			}
		})
	}
}

// BenchmarkPushBatch64 is one goroutine pushing values and draining them 64
// at a time. One op is one value.
func BenchmarkPushBatch64(b *testing.B) {
	for _, impl := range fifos {
		b.Run(impl.name, func(b *testing.B) {
			f := impl.new()
			buf := make([]int, 64)
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				f.push(k)
				if k++; k == len(buf) {
					f.tryPop(buf)
					k = 0
				}
			}
		})
	}
}

// BenchmarkParallelProducers has 4 producer goroutines push 1024 values
// each while the benchmark goroutine consumes them, blocking when the queue
// is empty. One op is one such round of 4096 values; ns/item is the time
// per value.
func BenchmarkParallelProducers(b *testing.B) {
	const (
		producers = 4
		perRound  = 1024
		items     = producers * perRound
	)
	for _, impl := range fifos {
		b.Run(impl.name, func(b *testing.B) {
			f := impl.new()
			start := make([]chan struct{}, producers)
			var wg sync.WaitGroup
			for p := range start {
				start[p] = make(chan struct{})
				wg.Go(func() {
					for range start[p] {
						for i := range perRound {
							f.push(i)
						}
					}
				})
			}
			buf := make([]int, 256)
			rounds := 0
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range start {
					s <- struct{}{}
				}
				for got := 0; got < items; {
					got += f.pop(buf)
				}
				rounds++
			}
			for _, s := range start {
				close(s)
			}
			wg.Wait()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*items), "ns/item")
		})
	}
}
