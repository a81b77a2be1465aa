package ring_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ringbus/ringbus/ring"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// refQueue is the obviously correct model the Queue is checked against.
type refQueue struct {
	mu     sync.Mutex
	items  []int
	closed bool
}

func (r *refQueue) Push(v int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.items = append(r.items, v)
	return true
}

func (r *refQueue) PopBatch(buf []int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := copy(buf, r.items)
	r.items = r.items[n:]
	return n
}

func (r *refQueue) TryPop() (int, bool) {
	var buf [1]int
	n := r.PopBatch(buf[:])
	return buf[0], n == 1
}

func (r *refQueue) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

func (r *refQueue) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// TestQueueMatchesReference runs random operation sequences against the
// queue and the reference and requires identical results at every step.
// Bursts of pushes and large batches make the sequences cross segment
// boundaries in both directions.
func TestQueueMatchesReference(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 20
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		q := ring.New[int]()
		ref := &refQueue{}
		next := 0
		var log []string // the operations so far, for the failure message
		fail := func(format string, args ...any) {
			t.Helper()
			if len(log) > 20 {
				log = log[len(log)-20:]
			}
			args = append([]any{seed}, args...)
			args = append(args, log)
			t.Fatalf("seed %d: "+format+"\nlast ops: %v", args...)
		}
		for range 2000 {
			switch op := rng.IntN(100); {
			case op < 40:
				got, want := q.Push(next), ref.Push(next)
				log = append(log, "push")
				if got != want {
					fail("Push(%d) = %v, want %v", next, got, want)
				}
				next++
			case op < 45:
				k := rng.IntN(3 * ring.SegmentSize)
				log = append(log, "burst")
				for range k {
					got, want := q.Push(next), ref.Push(next)
					if got != want {
						fail("Push(%d) in burst = %v, want %v", next, got, want)
					}
					next++
				}
			case op < 65:
				log = append(log, "trypop")
				got, gotOK := q.TryPop()
				want, wantOK := ref.TryPop()
				if got != want || gotOK != wantOK {
					fail("TryPop() = %d, %v, want %d, %v", got, gotOK, want, wantOK)
				}
			case op < 85:
				k := rng.IntN(2 * ring.SegmentSize)
				if rng.IntN(2) == 0 {
					k = rng.IntN(8)
				}
				log = append(log, "popbatch")
				got, want := make([]int, k), make([]int, k)
				gotN, wantN := q.PopBatch(got), ref.PopBatch(want)
				if gotN != wantN {
					fail("PopBatch(len %d) = %d, want %d", k, gotN, wantN)
				}
				for i := range gotN {
					if got[i] != want[i] {
						fail("PopBatch(len %d)[%d] = %d, want %d", k, i, got[i], want[i])
					}
				}
				for i := gotN; i < k; i++ {
					if got[i] != 0 {
						fail("PopBatch wrote %d past its count at %d", got[i], i)
					}
				}
			case op < 99:
				log = append(log, "len")
				if got, want := q.Len(), ref.Len(); got != want {
					fail("Len() = %d, want %d", got, want)
				}
			default:
				log = append(log, "close")
				q.Close()
				ref.Close()
				if !q.Closed() {
					fail("Closed() = false after Close")
				}
			}
		}
		// Drain and compare what is left.
		for {
			got, gotOK := q.TryPop()
			want, wantOK := ref.TryPop()
			if got != want || gotOK != wantOK {
				fail("drain: TryPop() = %d, %v, want %d, %v", got, gotOK, want, wantOK)
			}
			if !gotOK {
				break
			}
		}
	}
}

// consume pops from q until it has seen total values or stop is closed,
// using Wait to block, and calls check for every value.
func consume(q *ring.Queue[uint64], total int, stop <-chan struct{}, check func(v uint64)) int {
	buf := make([]uint64, 257)
	seen := 0
	for seen < total {
		n := q.PopBatch(buf)
		if n == 0 {
			if !q.Wait(stop) {
				return seen
			}
			continue
		}
		for _, v := range buf[:n] {
			check(v)
		}
		seen += n
	}
	return seen
}

// TestParallelProducersStress has several producers push concurrently and
// checks that every value comes out exactly once and that each producer's
// values come out in the order it pushed them.
func TestParallelProducersStress(t *testing.T) {
	const producers = 8
	perProducer := 100_000
	if testing.Short() {
		perProducer = 10_000
	}
	q := ring.New[uint64]()
	var wg sync.WaitGroup
	for p := range uint64(producers) {
		wg.Go(func() {
			for i := range uint64(perProducer) {
				if !q.Push(p<<32 | i) {
					t.Errorf("producer %d: Push returned false on an open queue", p)
					return
				}
				if i%1024 == 0 {
					runtime.Gosched() // vary the interleaving
				}
			}
		})
	}

	nextSeq := make([]uint64, producers)
	stop := make(chan struct{})
	timer := time.AfterFunc(2*time.Minute, func() { close(stop) })
	defer timer.Stop()
	seen := consume(q, producers*perProducer, stop, func(v uint64) {
		p, seq := v>>32, v&(1<<32-1)
		if p >= producers {
			t.Fatalf("value from unknown producer %d", p)
		}
		if seq != nextSeq[p] {
			t.Fatalf("producer %d: got seq %d, want %d", p, seq, nextSeq[p])
		}
		nextSeq[p]++
	})
	wg.Wait()
	require.Equal(t, producers*perProducer, seen, "timed out before all values arrived")
	for p, n := range nextSeq {
		require.EqualValues(t, perProducer, n, "values from producer %d", p)
	}
	_, ok := q.TryPop()
	require.False(t, ok, "queue must be empty after all values were popped")
	require.Zero(t, q.Len())
}

// TestFIFOAcrossGoroutines passes a baton around a ring of goroutines: each
// pushes a number and then hands the next number to its neighbour over a
// channel, so each Push happens before the next. Noise producers push at the
// same time. The baton's numbers must come out in order.
func TestFIFOAcrossGoroutines(t *testing.T) {
	const (
		runners = 5
		noise   = 3
	)
	rounds := 20_000
	if testing.Short() {
		rounds = 2_000
	}
	q := ring.New[int]()
	batons := make([]chan int, runners)
	for i := range batons {
		batons[i] = make(chan int, 1)
	}
	var wg sync.WaitGroup
	for i := range runners {
		wg.Go(func() {
			// Whichever way a runner stops, it stops its successor, so the
			// end marker travels round the ring once.
			defer close(batons[(i+1)%runners])
			for n := range batons[i] {
				if n == rounds {
					return
				}
				q.Push(n)
				batons[(i+1)%runners] <- n + 1
			}
		})
	}
	stopNoise := make(chan struct{})
	for range noise {
		wg.Go(func() {
			for {
				select {
				case <-stopNoise:
					return
				default:
					q.Push(-1)
				}
			}
		})
	}
	batons[0] <- 0

	buf := make([]int, 100)
	want := 0
	deadline := time.Now().Add(2 * time.Minute)
	for want < rounds && time.Now().Before(deadline) {
		n := q.PopBatch(buf)
		for _, v := range buf[:n] {
			if v < 0 {
				continue
			}
			if v != want {
				close(stopNoise)
				t.Fatalf("baton value %d popped when %d was expected", v, want)
			}
			want++
		}
		if n == 0 {
			runtime.Gosched()
		}
	}
	close(stopNoise)
	wg.Wait()
	require.Equal(t, rounds, want, "timed out before all baton values arrived")
}

func TestClose(t *testing.T) {
	q := ring.New[string]()
	require.False(t, q.Closed())
	require.True(t, q.Push("a"))
	require.True(t, q.Push("b"))
	q.Close()
	require.True(t, q.Closed())
	require.False(t, q.Push("c"), "Push after Close")
	require.Equal(t, 2, q.Len(), "a failed Push must not count")
	q.Close() // idempotent
	require.False(t, q.Push("d"))
	require.Equal(t, 2, q.Len())

	buf := make([]string, 4)
	require.Equal(t, 2, q.PopBatch(buf), "values pushed before Close stay poppable")
	require.Equal(t, []string{"a", "b", "", ""}, buf)
	_, ok := q.TryPop()
	require.False(t, ok)
	require.Zero(t, q.Len())

	// A consumer can still tell an empty closed queue from a full one, and
	// Wait still honours done.
	done := make(chan struct{})
	close(done)
	require.False(t, q.Wait(done))
}

func TestCloseWhileClaimed(t *testing.T) {
	q := ring.New[int]()
	publish := q.ClaimForTest()
	q.Close()
	require.False(t, q.Push(2))
	require.Equal(t, 1, q.Len())
	publish(1) // a claim made before Close completes normally
	v, ok := q.TryPop()
	require.True(t, ok)
	require.Equal(t, 1, v)
	require.Nil(t, q.ClaimForTest())
}

// TestCloseConcurrent closes the queue while producers push: every Push
// that returned true must be popped, in producer order, and no other value.
func TestCloseConcurrent(t *testing.T) {
	const producers = 6
	for range 20 {
		q := ring.New[uint64]()
		accepted := make([]uint64, producers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for p := range uint64(producers) {
			wg.Go(func() {
				<-start
				var i uint64
				for q.Push(p<<32 | i) {
					i++
				}
				accepted[p] = i
				for range 10 {
					if q.Push(p<<32 | 1<<31) {
						t.Errorf("Push succeeded after an earlier Push failed")
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Millisecond)
		q.Close()
		wg.Wait()

		var total uint64
		for _, n := range accepted {
			total += n
		}
		require.EqualValues(t, total, q.Len())
		next := make([]uint64, producers)
		buf := make([]uint64, 100)
		for {
			n := q.PopBatch(buf)
			if n == 0 {
				break
			}
			for _, v := range buf[:n] {
				p, seq := v>>32, v&(1<<32-1)
				require.Equal(t, next[p], seq, "producer %d", p)
				next[p]++
			}
		}
		require.Equal(t, accepted, next)
	}
}

// pingPong has producers push one value each and wait until the consumer
// has popped it before pushing again, so the consumer parks and is woken
// over and over. A single lost wake-up stalls it, and the test then fails
// at the timeout instead of hanging.
func pingPong(t *testing.T, producers, rounds int, beforePark func()) {
	q := ring.New[int]()
	if beforePark != nil {
		q.SetBeforeParkForTest(beforePark)
	}
	acks := make([]chan struct{}, producers)
	for i := range acks {
		acks[i] = make(chan struct{}, 1)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range rounds {
				if i%7 == 0 {
					runtime.Gosched()
				}
				q.Push(p)
				select {
				case <-acks[p]:
				case <-stop:
					return
				}
			}
		})
	}

	consumed := make(chan int, 1)
	wg.Go(func() {
		buf := make([]int, producers)
		n := 0
		defer func() { consumed <- n }()
		for n < producers*rounds {
			if !q.Wait(stop) {
				return
			}
			k := q.PopBatch(buf)
			if k == 0 {
				t.Errorf("Wait returned true but PopBatch found nothing")
				return
			}
			for _, p := range buf[:k] {
				acks[p] <- struct{}{}
			}
			n += k
		}
	})

	select {
	case n := <-consumed:
		require.Equal(t, producers*rounds, n)
	case <-time.After(time.Minute):
		close(stop)
		wg.Wait()
		t.Fatalf("consumer stalled: a wake-up was lost (after %d items)", <-consumed)
	}
	wg.Wait()
}

func TestWaitNoLostWakeup(t *testing.T) {
	rounds := 30_000
	if testing.Short() {
		rounds = 3_000
	}
	t.Run("one producer", func(t *testing.T) { pingPong(t, 1, rounds, nil) })
	t.Run("four producers", func(t *testing.T) { pingPong(t, 4, rounds/4, nil) })
	// Yielding between the emptiness check and the store to parked lets
	// producers publish inside the window the park protocol must close, so
	// a protocol without the re-check fails here within a few rounds.
	t.Run("widened window", func(t *testing.T) { pingPong(t, 2, rounds/10, runtime.Gosched) })
}

func TestWaitDone(t *testing.T) {
	q := ring.New[int]()
	closed := make(chan struct{})
	close(closed)
	require.False(t, q.Wait(closed), "empty queue, done closed")

	done := make(chan struct{})
	returned := make(chan bool)
	go func() { returned <- q.Wait(done) }()
	select {
	case <-returned:
		t.Fatal("Wait returned on an empty queue")
	case <-time.After(20 * time.Millisecond):
	}
	close(done)
	require.False(t, <-returned)

	q.Push(1)
	require.True(t, q.Wait(closed), "a ready value wins over a closed done")
	require.True(t, q.Wait(nil))
}

// TestWaitForUnpublishedHead holds the oldest position claimed but
// unpublished: the consumer must not skip it to reach later values, and
// Wait must return as soon as it is published.
func TestWaitForUnpublishedHead(t *testing.T) {
	q := ring.New[int]()
	publish := q.ClaimForTest()
	require.True(t, q.Push(2))
	require.Equal(t, 2, q.Len(), "Len counts claimed positions")

	buf := make([]int, 4)
	require.Zero(t, q.PopBatch(buf), "PopBatch must stop at the unpublished head")
	_, ok := q.TryPop()
	require.False(t, ok)

	done := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(done) })
	require.False(t, q.Wait(done), "Wait must not return true while the head is unpublished")

	returned := make(chan bool)
	go func() { returned <- q.Wait(nil) }()
	time.Sleep(5 * time.Millisecond) // let it park (not required for correctness)
	publish(1)
	select {
	case ok := <-returned:
		require.True(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the head was published")
	}
	require.Equal(t, 2, q.PopBatch(buf))
	require.Equal(t, []int{1, 2, 0, 0}, buf)
}

// firstFullBoundary is the first position where one full-length segment
// ends and the next begins: segments double from FirstSegmentSize up to
// SegmentSize.
func firstFullBoundary() int {
	start, n := 0, ring.FirstSegmentSize
	for n < ring.SegmentSize {
		start += n
		n *= 2
	}
	return start + n
}

// TestPublishOutOfOrder publishes claimed positions in reverse order, across
// a segment boundary (the first one, between two short segments, and one
// between two full-length segments), and checks that PopBatch returns only
// the ready prefix each time.
func TestPublishOutOfOrder(t *testing.T) {
	for _, boundary := range []int{ring.FirstSegmentSize, firstFullBoundary()} {
		publishOutOfOrder(t, boundary, 0)
	}
}

// publishOutOfOrder holds six claimed positions starting three before
// boundary, then pushes tail more values after them, publishes the held
// ones in reverse and checks that PopBatch returns only the ready prefix
// each time, and every value in order once all are published.
func publishOutOfOrder(t *testing.T, boundary, tail int) {
	t.Helper()
	q := ring.New[int]()
	base := boundary - 3
	for i := range base {
		q.Push(i)
	}
	var publish []func(int)
	for range 6 {
		publish = append(publish, q.ClaimForTest())
	}
	for i := range tail {
		q.Push(base + 6 + i) // published after the held ones
	}
	buf := make([]int, 2*boundary)
	require.Equal(t, base, q.PopBatch(buf))
	for i := len(publish) - 1; i >= 1; i-- {
		publish[i](base + i)
		require.Zero(t, q.PopBatch(buf), "published %d but %d is still pending", base+i, base)
	}
	publish[0](base)
	require.Equal(t, 6+tail, q.PopBatch(buf))
	for i := range 6 + tail {
		require.Equal(t, base+i, buf[i])
	}
}

// TestLaggingProducerFindsItsSegment covers a producer whose position is in
// a segment older than the producers' hint, and one whose position is past
// the last linked segment.
func TestLaggingProducerFindsItsSegment(t *testing.T) {
	q := ring.New[int]()
	for i := range 3 * ring.SegmentSize {
		q.Push(i)
	}
	start, n, isHead := q.SegmentForTest(0)
	require.Zero(t, start)
	require.Equal(t, ring.FirstSegmentSize, n)
	require.True(t, isHead)
	start, n, isHead = q.SegmentForTest(ring.FirstSegmentSize + 3)
	require.EqualValues(t, ring.FirstSegmentSize, start)
	require.Equal(t, 2*ring.FirstSegmentSize, n)
	require.False(t, isHead)
	far := uint64(10 * ring.SegmentSize) // past the end: linked on demand
	start, n, _ = q.SegmentForTest(far)
	require.LessOrEqual(t, start, far)
	require.Greater(t, start+uint64(n), far)
	require.Equal(t, ring.SegmentSize, n)
}

// TestSegmentsGrow checks the segment lengths: the first is short, the next
// one is linked when half of the current one is handed out, and each is
// twice as long as the one before up to the full length.
func TestSegmentsGrow(t *testing.T) {
	q := ring.New[int]()
	for i := range ring.FirstSegmentSize / 2 {
		q.Push(i)
	}
	require.Equal(t, []int{ring.FirstSegmentSize}, q.SegmentLensForTest(), "a second segment before the middle of the first was claimed")
	q.Push(0)
	require.Equal(t, []int{ring.FirstSegmentSize, 2 * ring.FirstSegmentSize}, q.SegmentLensForTest())
	for range 4 * ring.SegmentSize {
		q.Push(0)
	}
	lens := q.SegmentLensForTest()
	want := ring.FirstSegmentSize
	for i, n := range lens {
		require.Equal(t, want, n, "segment %d of %v", i, lens)
		want = min(2*want, ring.SegmentSize)
	}
	require.Equal(t, ring.SegmentSize, lens[len(lens)-1])
}

// TestSmallQueueBytes checks that a queue that only ever holds one value
// costs its first short segment, not a full-length one: New, one Push and
// one pop allocate at most 1.5 KiB on average.
func TestSmallQueueBytes(t *testing.T) {
	const n = 1000
	qs := make([]*ring.Queue[*payload], n)
	v := &payload{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range qs {
		q := ring.New[*payload]()
		q.Push(v)
		q.TryPop()
		qs[i] = q
	}
	runtime.ReadMemStats(&after)
	perQueue := float64(after.TotalAlloc-before.TotalAlloc) / n
	require.LessOrEqual(t, perQueue, 1536.0, "bytes allocated per queue")
	runtime.KeepAlive(qs)
}

type payload struct{ _ [64]byte }

// TestPoppedValuesAreReleased checks that the queue zeroes the slots it
// empties, so popped values can be collected.
func TestPoppedValuesAreReleased(t *testing.T) {
	q := ring.New[*payload]()
	a, b := &payload{}, &payload{}
	wa, wb := weak.Make(a), weak.Make(b)
	q.Push(a)
	q.Push(b)
	a, b = nil, nil //nolint:ineffassign // dropping the only strong references is the point: the weak pointers must see them collected

	v, ok := q.TryPop()
	require.True(t, ok)
	require.NotNil(t, v)
	buf := make([]*payload, 1)
	require.Equal(t, 1, q.PopBatch(buf))
	v, buf[0] = nil, nil
	_ = v

	runtime.GC()
	require.Nil(t, wa.Value(), "value popped with TryPop is still referenced")
	require.Nil(t, wb.Value(), "value popped with PopBatch is still referenced")
	runtime.KeepAlive(q)
}

// TestConsumedSegmentsAreFreed checks that segments the consumer has left
// are not kept alive by the queue.
func TestConsumedSegmentsAreFreed(t *testing.T) {
	q := ring.New[int]()
	alive := q.WeakHeadSegmentForTest()
	buf := make([]int, 100)
	for i := range 5 * ring.SegmentSize {
		q.Push(i)
		if i%50 == 0 {
			q.PopBatch(buf)
		}
	}
	for q.PopBatch(buf) > 0 {
	}
	runtime.GC()
	require.False(t, alive(), "first segment still reachable after it was consumed")
	runtime.KeepAlive(q)
}

func TestPushPopAllocs(t *testing.T) {
	q := ring.New[int]()
	allocs := testing.AllocsPerRun(20*ring.SegmentSize, func() {
		q.Push(1)
		q.TryPop()
	})
	require.LessOrEqual(t, allocs, 0.01, "allocations per Push+TryPop")
}

func TestZeroLengthBatch(t *testing.T) {
	q := ring.New[int]()
	q.Push(1)
	require.Zero(t, q.PopBatch(nil))
	require.Equal(t, 1, q.Len())
}
