package ringbusprom

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A duration equal to a bound counts in that bound's bucket (le is
// inclusive); one nanosecond more counts in the next; beyond the last
// bound is +Inf. Bounds given in seconds survive the float conversion.
func TestHistogramBucketEdges(t *testing.T) {
	bounds := []int64{nanos(1e-5), nanos(0.001), nanos(0.005)}
	assert.Equal(t, []int64{10_000, 1_000_000, 5_000_000}, bounds)
	h := newHistogram(bounds)
	for _, d := range []int64{-5, 0, 10_000, 10_001, 1_000_000, 5_000_000, 5_000_001} {
		h.observe(d)
	}
	var got []uint64
	for i := range h.counts {
		got = append(got, h.counts[i].Load())
	}
	assert.Equal(t, []uint64{3, 2, 1, 1}, got)
	assert.Equal(t, int64(10_000+10_001+1_000_000+5_000_000+5_000_001), h.sum.Load(), "a negative duration counts as 0")
}
