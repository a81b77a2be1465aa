package ring

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

const (
	// minSegLen is the number of slots in a queue's first segment. Each
	// later segment has twice the slots of the one before, up to maxSegLen,
	// so a queue that only ever holds a few values stays small, and one
	// that is busy soon reaches the full segment length.
	minSegLen = 16
	// maxSegLen is the number of slots of a full-length segment. Segment
	// lengths are powers of two, so segment starts are multiples of 16.
	maxSegLen = 1024

	// closedBit is set in Queue.tail by Close. Positions never get near it:
	// 2^63 pushes at one per nanosecond would take 292 years.
	closedBit = 1 << 63

	// spinLimit bounds how many times the consumer re-reads a claimed but
	// unpublished slot before it gives up (PopBatch, TryPop) or parks (Wait).
	spinLimit = 64

	sizeofUint64  = 8
	sizeofUint32  = 4
	sizeofPointer = unsafe.Sizeof(unsafe.Pointer(nil))
)

// slot is position i of segment s. Its value is s.vals[i]; its ready bit,
// bit i%32 of s.ready[i/32], goes from 0 to 1 exactly once, when the
// producer that claimed the slot has written the value; the consumer reads
// the value only after it has seen the bit set. Keeping the bits apart
// makes a slot of a pointer-sized T one word, where a flag beside each
// value would double it.
type slot[T any] struct {
	s *segment[T]
	i uint64
}

// isReady reports whether the slot's value has been published.
func (sl slot[T]) isReady() bool {
	return sl.s.ready[sl.i>>5].Load()&(1<<(sl.i&31)) != 0
}

// put writes v into the slot and publishes it.
func (sl slot[T]) put(v T) {
	sl.s.vals[sl.i] = v
	sl.s.ready[sl.i>>5].Or(1 << (sl.i & 31))
}

// take returns the slot's published value and clears it, so that the queue
// keeps no reference to it. Only the consumer calls it, once per slot.
func (sl slot[T]) take() T {
	v := sl.s.vals[sl.i]
	var zero T
	sl.s.vals[sl.i] = zero
	return v
}

// segment is a run of len(vals) consecutive positions, starting at start.
// Segments form a singly linked list in position order, each starting where
// the one before ends. A segment is never reused: once the consumer has
// moved past it, it becomes garbage as soon as no producer that is still
// walking the list holds it, and its next pointer is never cleared, so such
// a producer can always walk forward from it.
type segment[T any] struct {
	// start is the position of vals[0]. Immutable, like vals and ready
	// themselves.
	start uint64
	// next is set once, from nil to the segment that starts at
	// start+len(vals).
	next atomic.Pointer[segment[T]]
	vals []T
	// ready holds the slots' ready bits, 32 to a word (see slot).
	ready []atomic.Uint32
}

// fullSegment is a full-length segment and its slots in one allocation,
// the only kind a busy queue keeps allocating.
type fullSegment[T any] struct {
	seg   segment[T]
	vals  [maxSegLen]T
	ready [maxSegLen / 32]atomic.Uint32
}

// firstSegment is a queue's first segment and its slots in one
// allocation, the one every queue makes.
type firstSegment[T any] struct {
	seg   segment[T]
	vals  [minSegLen]T
	ready [(minSegLen + 31) / 32]atomic.Uint32
}

// newSegment returns an empty segment of n slots starting at position start.
func newSegment[T any](start uint64, n int) *segment[T] {
	switch n {
	case maxSegLen:
		f := &fullSegment[T]{}
		f.seg.start = start
		f.seg.vals, f.seg.ready = f.vals[:], f.ready[:]
		return &f.seg
	case minSegLen:
		f := &firstSegment[T]{}
		f.seg.start = start
		f.seg.vals, f.seg.ready = f.vals[:], f.ready[:]
		return &f.seg
	}
	return &segment[T]{start: start, vals: make([]T, n), ready: make([]atomic.Uint32, (n+31)/32)}
}

// offset returns the index in s of position p, or a value >= len(s.vals)
// when p is not in s (before it or after it: the subtraction wraps).
func (s *segment[T]) offset(p uint64) uint64 { return p - s.start }

// holds reports whether position p is in s.
func (s *segment[T]) holds(p uint64) bool { return s.offset(p) < uint64(len(s.vals)) }

// Queue is an unbounded multi-producer, single-consumer FIFO queue.
//
// Push may be called from any number of goroutines at once. PopBatch, TryPop
// and Wait are the consumer's methods: at any moment at most one goroutine
// may be calling them (calls from different goroutines are fine as long as
// they are ordered by happens-before, for example by a mutex or a hand-off).
// Len, Close and Closed are safe from any goroutine.
//
// The zero value is not usable: create queues with New. A Queue must not be
// copied after first use.
type Queue[T any] struct {
	_ [cacheLineSize]byte // keep tail clear of whatever precedes the Queue

	// tail is the next position to hand out (low 63 bits) and the closed
	// flag (closedBit). Every Push does one fetch-add on it: it is the only
	// word all producers write.
	tail atomic.Uint64
	_    [cacheLineSize - sizeofUint64]byte

	// tailSeg is a hint for producers: a recent segment, usually the one
	// that holds tail. Written once per segment, read on every Push.
	tailSeg atomic.Pointer[segment[T]]
	_       [cacheLineSize - sizeofPointer]byte

	// head is the next position the consumer will read. Only the consumer
	// writes it; it is atomic so that Len can read it from anywhere.
	head atomic.Uint64
	// headSeg is the consumer's current segment (the one holding head, or
	// the one before it when head is the first position of a segment that
	// the consumer has not looked at yet). Only the consumer writes it;
	// producers that fell behind the tailSeg hint read it to find their
	// segment.
	headSeg atomic.Pointer[segment[T]]
	_       [cacheLineSize - sizeofUint64 - sizeofPointer]byte

	// parked is 1 while the consumer is (about to be) blocked in Wait.
	// Producers read it after every Push, so it sits alone on its line and
	// is written only when the consumer parks or is woken.
	parked atomic.Uint32
	_      [cacheLineSize - sizeofUint32]byte

	// wake carries at most one pending wake-up for a parked consumer.
	wake chan struct{}
	// closedAt is 1 + the value of tail when Close took effect, or 0 before.
	// Pushes that fail after Close still bump tail; closedAt lets Len ignore
	// them.
	closedAt atomic.Uint64

	// beforePark, when set by a test, runs in Wait between the consumer's
	// emptiness check and its store to parked, to widen the race window that
	// the park protocol has to close.
	beforePark func()
}

// New returns an empty, open queue. It allocates the queue and its first
// segment, of 16 slots; later segments double up to 1024 slots.
func New[T any]() *Queue[T] {
	q := &Queue[T]{wake: make(chan struct{}, 1)}
	s := newSegment[T](0, minSegLen)
	q.tailSeg.Store(s)
	q.headSeg.Store(s)
	return q
}

// Push appends v to the queue and reports whether it did: it returns false,
// and drops v, once Close has taken effect.
//
// Push never takes a lock: it is one atomic fetch-add to claim a position,
// a store of v into that position's slot and one atomic or to publish it,
// plus, once per segment (every 1024 pushes once the queue is busy), the
// allocation of the next segment. If the consumer is parked in Wait, Push
// wakes it.
//
// Push synchronizes before the PopBatch or TryPop that returns v: everything
// the pushing goroutine did before Push is visible to the consumer once it
// has the value.
func (q *Queue[T]) Push(v T) bool {
	// Claim the next position: one fetch-add, and the segment holding it
	// (mostly the producers' hint).
	t := q.tail.Add(1) - 1
	if t&closedBit != 0 {
		return false
	}
	s := q.tailSeg.Load()
	i := s.offset(t)
	if i >= uint64(len(s.vals)) { // the hint is not t's segment
		s = q.segmentFor(t)
		i = s.offset(t)
	}
	q.publish(s, i, v)
	return true
}

// publish writes v into position i of s, claimed by Push, makes it
// visible to the consumer and wakes the consumer if it is parked. The
// middle position of a segment then links the next one unless another
// producer did: by the time the rest of the segment is handed out the next
// one is normally there, so no producer waits or allocates in a race, and
// the allocation never stands between a claim and its publish, where the
// consumer would wait for it. A queue that never fills half of its first
// segment never allocates a second one.
func (q *Queue[T]) publish(s *segment[T], i uint64, v T) {
	slot[T]{s, i}.put(v)
	// This load must come after the store of the ready bit: with Wait's
	// store to parked followed by its load of ready, at least one side sees
	// the other, so a wake-up cannot be lost.
	if q.parked.Load() != 0 {
		q.unpark()
	}
	if i == uint64(len(s.vals))>>1 && s.next.Load() == nil {
		q.grow(s)
	}
}

// segmentFor returns the segment holding position p, linking new segments
// if the list does not reach it yet.
func (q *Queue[T]) segmentFor(p uint64) *segment[T] {
	hint := q.tailSeg.Load()
	if hint.holds(p) {
		return hint
	}
	s := hint
	if p < s.start {
		// Other producers have moved the hint past our segment while we
		// were between the fetch-add and here. Our position is not
		// published, so the consumer has not moved past its segment:
		// walking from the consumer's segment reaches it.
		s = q.headSeg.Load()
	}
	for !s.holds(p) {
		n := s.next.Load()
		if n == nil {
			n = q.grow(s)
		}
		s = n
	}
	// Move the hint forward (never back) to the segment we found.
	for hint.start < s.start && !q.tailSeg.CompareAndSwap(hint, s) {
		hint = q.tailSeg.Load()
	}
	return s
}

// grow links a new segment after s, twice as long as s up to maxSegLen,
// unless another producer did first, and returns whichever segment is now
// s.next.
func (q *Queue[T]) grow(s *segment[T]) *segment[T] {
	n := newSegment[T](s.start+uint64(len(s.vals)), min(2*len(s.vals), maxSegLen))
	if s.next.CompareAndSwap(nil, n) {
		return n
	}
	return s.next.Load()
}

// unpark hands the consumer a wake-up if it is parked. Only the producer
// whose compare-and-swap clears parked sends, and the channel has room for
// one token, so the send never blocks.
func (q *Queue[T]) unpark() {
	if q.parked.CompareAndSwap(1, 0) {
		select {
		case q.wake <- struct{}{}:
		default: // a token is already pending: the consumer will wake
		}
	}
}

// claimed returns the number of positions handed out to successful pushes.
func (q *Queue[T]) claimed() uint64 {
	t := q.tail.Load()
	if t&closedBit == 0 {
		return t
	}
	if c := q.closedAt.Load(); c != 0 {
		return c - 1
	}
	return t &^ closedBit // Close is between its two stores
}

// slotAt returns the slot for position h, the consumer's next position,
// moving the consumer to the next segment when h is the first position of
// it. It returns ok == false when that segment is not linked yet, in which
// case nothing at h has been published.
func (q *Queue[T]) slotAt(h uint64) (sl slot[T], ok bool) {
	s := q.headSeg.Load()
	if !s.holds(h) {
		n := s.next.Load()
		if n == nil {
			return sl, false
		}
		s = n
		q.headSeg.Store(s)
	}
	return slot[T]{s, s.offset(h)}, true
}

// awaitPublish spins briefly on the slot at position h if a producer has
// claimed it but not yet published it, and reports whether it became ready.
func (q *Queue[T]) awaitPublish(sl slot[T], h uint64) bool {
	if q.claimed() <= h {
		return false // nobody has claimed h: the queue is empty
	}
	for range spinLimit {
		if sl.isReady() {
			return true
		}
	}
	return false
}

// PopBatch moves up to len(buf) values, oldest first, from the queue into
// buf[0:n] and returns n. It does not block: it returns 0 when the queue is
// empty, and it stops early at the first position whose producer has
// claimed it but not yet finished publishing (after a short spin if that is
// the very first position), even if later values are already published.
// Slots it empties are zeroed, so the queue keeps no references to popped
// values.
//
// PopBatch is a consumer method: see Queue. One PopBatch costs an atomic
// load per run of up to 32 ready values, one copy of the run, and one
// atomic store, which is what makes batches cheap.
func (q *Queue[T]) PopBatch(buf []T) int {
	if len(buf) == 0 {
		return 0
	}
	h := q.head.Load()
	s := q.headSeg.Load()
	n := 0
	for n < len(buf) {
		i := s.offset(h)
		if i >= uint64(len(s.vals)) {
			next := s.next.Load()
			if next == nil {
				break
			}
			s = next
			q.headSeg.Store(s)
			i = 0 // a segment starts where the one before ends
		}
		// The ready bits from i to the end of its word: the run of ready
		// slots from i moves in one copy.
		w := s.ready[i>>5].Load() >> (i & 31)
		if w&1 == 0 {
			if n > 0 || !q.awaitPublish(slot[T]{s, i}, h) {
				break
			}
			w = s.ready[i>>5].Load() >> (i & 31)
		}
		run := min(uint64(bits.TrailingZeros32(^w)), uint64(len(buf)-n))
		copy(buf[n:], s.vals[i:i+run])
		clear(s.vals[i : i+run])
		n += int(run)
		h += run
	}
	if n > 0 {
		q.head.Store(h)
	}
	return n
}

// TryPop removes and returns the oldest value. It does not block: ok is
// false when the queue is empty or its oldest position is claimed but not
// yet published. TryPop is a consumer method: see Queue.
func (q *Queue[T]) TryPop() (v T, ok bool) {
	h := q.head.Load()
	sl, ok := q.slotAt(h)
	if !ok {
		return v, false
	}
	if !sl.isReady() && !q.awaitPublish(sl, h) {
		return v, false
	}
	v = sl.take()
	q.head.Store(h + 1)
	return v, true
}

// headReady reports whether the value at the consumer's position has been
// published.
func (q *Queue[T]) headReady() bool {
	sl, ok := q.slotAt(q.head.Load())
	return ok && sl.isReady()
}

// Wait blocks until the oldest value in the queue is ready to pop, and then
// returns true, or until done is closed, and then returns false. It returns
// true at once if a value is ready, even if done is closed. A nil done
// never fires. Wait is a consumer method: see Queue.
//
// "May be non-empty" is exact here: when Wait returns true, the next
// PopBatch or TryPop returns at least one value. Wait never misses a
// wake-up: a Push that completes while the consumer is parked always makes
// the Wait return. Close does not wake the consumer; use done for that.
//
// Wait parks with an atomic flag and a channel of capacity one, so an idle
// consumer costs nothing, and a consumer that finds values ready pays only
// two atomic loads.
func (q *Queue[T]) Wait(done <-chan struct{}) bool {
	for {
		h := q.head.Load()
		sl, ok := q.slotAt(h)
		if ok && (sl.isReady() || q.awaitPublish(sl, h)) {
			return true
		}
		if q.beforePark != nil {
			q.beforePark()
		}
		q.parked.Store(1)
		// Re-check after announcing that we park: a producer that published
		// before seeing parked == 1 is seen here; any later one sees the
		// flag and sends a wake-up.
		if q.headReady() {
			q.parked.Store(0)
			return true
		}
		select {
		case <-q.wake:
			// The producer that sent this cleared parked. It may have
			// published a position after the head, or the token may be left
			// over from an earlier round: loop and check again.
		case <-done:
			q.parked.Store(0)
			return false
		}
	}
}

// Len returns the number of values pushed and not yet popped, counting
// pushes that have claimed a position but not finished publishing. It is
// safe from any goroutine; under concurrent use it is a snapshot that may be
// stale by the time it returns.
func (q *Queue[T]) Len() int {
	h := q.head.Load() // head first: tail only grows, so t >= h below
	t := q.claimed()
	if t <= h {
		return 0
	}
	return int(t - h)
}

// Close makes every later Push return false without enqueuing. Values
// already pushed stay in the queue and the consumer may still pop them;
// a Push that claimed its position before Close completes normally. Close
// is safe from any goroutine, and calling it again does nothing.
func (q *Queue[T]) Close() {
	old := q.tail.Or(closedBit)
	if old&closedBit == 0 {
		q.closedAt.Store(old + 1)
	}
}

// Closed reports whether Close has been called.
func (q *Queue[T]) Closed() bool {
	return q.tail.Load()&closedBit != 0
}
