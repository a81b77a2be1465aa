package ring

import "weak"

// ClaimForTest claims the next position like Push does, without publishing
// it, and returns the function that publishes v there. It returns nil if the
// queue is closed. Tests use it to hold a producer between its claim and its
// publish.
func (q *Queue[T]) ClaimForTest() (publish func(v T)) {
	s, i, ok := q.claim()
	if !ok {
		return nil
	}
	return func(v T) { q.publish(s, i, v) }
}

// SegmentIDForTest returns the id of the segment segmentFor finds for id,
// and whether it is the consumer's current segment.
func (q *Queue[T]) SegmentIDForTest(id uint64) (got uint64, isHead bool) {
	s := q.segmentFor(id)
	return s.id, s == q.headSeg.Load()
}

// WeakHeadSegmentForTest returns a weak pointer to the consumer's current
// segment, to check that segments are freed once consumed.
func (q *Queue[T]) WeakHeadSegmentForTest() func() bool {
	w := weak.Make(q.headSeg.Load())
	return func() bool { return w.Value() != nil }
}

// SegmentSize is the number of slots per segment.
const SegmentSize = segSize

// SetBeforeParkForTest makes Wait call f after it has found the queue empty
// and before it announces that it parks. Call it before the consumer starts.
func (q *Queue[T]) SetBeforeParkForTest(f func()) {
	q.beforePark = f
}
