package engine

import (
	"sync"
	"sync/atomic"
)

// history is a bus's event history in emit order (HIST). Removal leaves a
// nil tombstone that compaction reclaims, so emit stays O(1) amortised and
// trimming never rescans more than it removes plus the in-flight prefix
// (HIST-9).
type history struct {
	// limit (< 0 unlimited) and drop (HIST-5) are written under mu and
	// read without it on the processing path; they rarely change, so they
	// sit apart from the fields every emit writes.
	limitA atomic.Int64
	dropA  atomic.Bool
	_      [64]byte

	mu      sync.Mutex
	items   []*Event
	head    int // index of the first slot that may be live
	n       int // live entries
	warned  bool
	trimmed int          // tombstones since the last compaction
	count   atomic.Int64 // mirrors n, for lock-free checks
}

func (h *history) limit() int { return int(h.limitA.Load()) }
func (h *history) drop() bool { return h.dropA.Load() }

// add appends e; it reports whether the history is now over the soft limit
// of a dropping history (HIST-6), so that Emit trims.
func (h *history) add(e *Event, busLabel string) (overSoft bool, err error) {
	limit, drop := h.limit(), h.drop()
	h.mu.Lock()
	if limit > 0 && !drop && h.n >= limit {
		n := h.n
		h.mu.Unlock()
		return false, &HistoryFullError{Bus: busLabel, Len: n, Limit: limit}
	}
	h.items = append(h.items, e)
	h.n++
	h.count.Store(int64(h.n))
	over := drop && limit >= 0 && h.n > limit+limit/5
	h.mu.Unlock()
	return over, nil
}

func (h *history) removeAt(i int) {
	h.items[i] = nil
	h.n--
	h.count.Store(int64(h.n))
	h.trimmed++
}

func (h *history) advanceHead() {
	for h.head < len(h.items) && h.items[h.head] == nil {
		h.head++
	}
	if h.trimmed > 64 && h.trimmed > len(h.items)/2 {
		live := h.items[:0]
		for _, e := range h.items[h.head:] {
			if e != nil {
				live = append(live, e)
			}
		}
		clear(h.items[len(live):])
		h.items = live
		h.head = 0
		h.trimmed = 0
	}
}

// trim enforces the limit after an event finished processing (HIST-5):
// completed events oldest first, then, if still over, the oldest entries
// whatever their status. It reports whether in-flight events were dropped
// for the first time (so the caller can warn once).
func (h *history) trim() (droppedInflight bool) {
	limit := h.limit()
	if limit < 0 || limit > 0 && h.count.Load() <= int64(limit) {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit == 0 {
		// HIST-3: keep only events still pending or started.
		for i := h.head; i < len(h.items); i++ {
			if e := h.items[i]; e != nil && e.Status() == StatusCompleted {
				h.removeAt(i)
			}
		}
		h.advanceHead()
		return false
	}
	if !h.drop() || h.n <= limit {
		return false
	}
	for i := h.head; i < len(h.items) && h.n > limit; i++ {
		if e := h.items[i]; e != nil && e.Status() == StatusCompleted {
			h.removeAt(i)
		}
	}
	for i := h.head; i < len(h.items) && h.n > limit; i++ {
		if h.items[i] != nil {
			h.removeAt(i)
			if !h.warned {
				h.warned = true
				droppedInflight = true
			}
		}
	}
	h.advanceHead()
	return droppedInflight
}

// removeCompleted drops e when the bus keeps no completed history (HIST-3).
func (h *history) removeCompleted(e *Event) {
	if h.limit() != 0 {
		return
	}
	h.mu.Lock()
	for i := h.head; i < len(h.items); i++ {
		if h.items[i] == e {
			h.removeAt(i)
			break
		}
	}
	h.advanceHead()
	h.mu.Unlock()
}

// snapshot returns the live entries, oldest first.
func (h *history) snapshot() []*Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Event, 0, h.n)
	for _, e := range h.items[h.head:] {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// newestFirst calls f for each live entry from the newest back, until f
// returns false. f runs under the history lock and must not block.
func (h *history) newestFirst(f func(*Event) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.items) - 1; i >= h.head; i-- {
		if e := h.items[i]; e != nil && !f(e) {
			return
		}
	}
}

func (h *history) len() int { return int(h.count.Load()) }

func (h *history) clear() {
	h.mu.Lock()
	clear(h.items)
	h.items, h.head, h.n, h.trimmed = nil, 0, 0, 0
	h.count.Store(0)
	h.mu.Unlock()
}

func (h *history) setLimit(limit int, drop bool) {
	h.mu.Lock()
	h.limitA.Store(int64(limit))
	h.dropA.Store(drop)
	h.mu.Unlock()
}

func (b *Bus) trimHistory() {
	if b.hist.trim() {
		b.logHistoryDropping()
	}
}
