package ring

import "weak"

// ClaimForTest claims the next position like Push does, without publishing
// it, and returns the function that publishes v there. It returns nil if the
// queue is closed. Tests use it to hold a producer between its claim and its
// publish.
func (q *Queue[T]) ClaimForTest() (publish func(v T)) {
	t := q.tail.Add(1) - 1 // Push's claim, without its publish
	if t&closedBit != 0 {
		return nil
	}
	s := q.segmentFor(t)
	return func(v T) { q.publish(s, s.offset(t), v) }
}

// SegmentForTest returns the first position and the length of the segment
// segmentFor finds for position p, and whether it is the consumer's current
// segment.
func (q *Queue[T]) SegmentForTest(p uint64) (start uint64, n int, isHead bool) {
	s := q.segmentFor(p)
	return s.start, len(s.vals), s == q.headSeg.Load()
}

// SegmentLensForTest returns the lengths of the linked segments from the
// consumer's current one on.
func (q *Queue[T]) SegmentLensForTest() []int {
	var lens []int
	for s := q.headSeg.Load(); s != nil; s = s.next.Load() {
		lens = append(lens, len(s.vals))
	}
	return lens
}

// WeakHeadSegmentForTest returns a weak pointer to the consumer's current
// segment, to check that segments are freed once consumed.
func (q *Queue[T]) WeakHeadSegmentForTest() func() bool {
	w := weak.Make(q.headSeg.Load())
	return func() bool { return w.Value() != nil }
}

// SegmentSize is the number of slots of a full-length segment, and
// FirstSegmentSize that of a queue's first segment.
const (
	SegmentSize      = maxSegLen
	FirstSegmentSize = minSegLen
)

// SetBeforeParkForTest makes Wait call f after it has found the queue empty
// and before it announces that it parks. Call it before the consumer starts.
func (q *Queue[T]) SetBeforeParkForTest(f func()) {
	q.beforePark = f
}
