package ring_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/ring"
)

// TestPublishOutOfOrderAcrossReadyWords holds claimed positions around a
// boundary between two words of ready bits inside one segment, publishes
// them in reverse, and checks that PopBatch returns only the ready prefix
// each time, and the values in order once all are published.
func TestPublishOutOfOrderAcrossReadyWords(t *testing.T) {
	// Positions 48 to 111 are the third segment (64 slots); its second
	// word of ready bits starts at 48+32.
	for _, boundary := range []int{80, firstFullBoundary() + 32, firstFullBoundary() + 64} {
		publishOutOfOrder(t, boundary, 1)
	}
}

// TestPopBatchRuns pops with buffers of every length from 1 to 70 from a
// busy queue, so that runs start and end at every offset within the words
// of ready bits, and checks that the values come out in order.
func TestPopBatchRuns(t *testing.T) {
	q := ring.New[int]()
	next, want := 0, 0
	for k := 1; k <= 70; k++ {
		for range 3 * k {
			q.Push(next)
			next++
		}
		buf := make([]int, k)
		for q.Len() > 0 {
			n := q.PopBatch(buf)
			require.Positive(t, n)
			for _, v := range buf[:n] {
				require.Equal(t, want, v)
				want++
			}
		}
	}
	require.Equal(t, next, want)
}

// TestSegmentBytesPerValue checks that a busy queue of pointers allocates
// about one word per value for its segments: the ready flags take a bit
// each, not a word. (A full segment of 1024 pointers, its bits and header,
// 8,368 bytes, takes the 9,472-byte size class: 9.25 bytes per value.)
func TestSegmentBytesPerValue(t *testing.T) {
	const n = 64 * ring.SegmentSize
	q := ring.New[*payload]()
	v := &payload{}
	buf := make([]*payload, 32)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n / len(buf) {
		for range len(buf) {
			q.Push(v)
		}
		require.Equal(t, len(buf), q.PopBatch(buf))
	}
	runtime.ReadMemStats(&after)
	perValue := float64(after.TotalAlloc-before.TotalAlloc) / n
	require.LessOrEqual(t, perValue, 9.5, "segment bytes allocated per value")
}
