package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// trimModel is trim's rule (HIST-5) on a plain slice: completed entries
// oldest first while over the limit, then the oldest entries whatever their
// status.
func trimModel(evs []*Event, limit int) []*Event {
	out := slices.Clone(evs)
	for i := 0; i < len(out) && len(out) > limit; {
		if out[i].Status() == StatusCompleted {
			out = slices.Delete(out, i, i+1)
			continue
		}
		i++
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// TestHistoryTrimMatchesModel checks that trimming a dropping history, with
// its fast removal of a completed head, removes exactly the entries the
// rule names, whatever the mix of completed and in-flight events and of
// tombstones left by earlier trims.
func TestHistoryTrimMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		limit := 1 + rng.IntN(40)
		var h history
		h.setLimit(limit, true)
		var live []*Event
		for range 20 + rng.IntN(200) {
			e := &Event{}
			if rng.IntN(4) != 0 {
				e.status.Store(uint32(StatusCompleted))
			}
			if _, err := h.add(e, "B"); err != nil {
				t.Fatal(err)
			}
			live = append(live, e)
			if rng.IntN(8) == 0 {
				// Some earlier events complete late.
				for _, x := range live {
					if rng.IntN(3) == 0 {
						x.status.Store(uint32(StatusCompleted))
					}
				}
			}
			if rng.IntN(3) == 0 {
				want := trimModel(live, limit)
				h.trim()
				got := h.snapshot()
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: trim kept %d entries, want %d (limit %d)", round, len(got), len(want), limit)
				}
				if h.len() != len(want) {
					t.Fatalf("round %d: len %d, want %d", round, h.len(), len(want))
				}
				if h.size > 0 && h.buf[h.start] == nil {
					t.Fatalf("round %d: the span starts with a tombstone", round)
				}
				live = want
			}
		}
	}
}
