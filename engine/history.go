package engine

import (
	"math"
	"sync"
	"sync/atomic"
)

// history is a bus's event history in emit order (HIST). It is a circular
// buffer: an emit writes one slot and the trimming of the oldest entries,
// the common removal, only moves the start, so neither copies entries in
// the steady state (issue 13, target 4). Removal elsewhere leaves a nil
// tombstone that compaction reclaims, so emit stays O(1) amortised and
// trimming never rescans more than it removes plus the in-flight prefix
// and a bounded number of tombstones (HIST-9).
type history struct {
	// limit (< 0 unlimited) and drop (HIST-5) are written under mu and
	// read without it on the processing path; they rarely change, so they
	// sit apart from the fields every emit writes.
	limitA atomic.Int64
	dropA  atomic.Bool
	_      [64]byte

	mu sync.Mutex
	// refuseAt and softAt are limit and drop in the form add tests, set
	// with them under mu: add refuses once n reaches refuseAt (a bounded
	// history without drop, HIST-4) and reports overSoft once n passes
	// softAt (a dropping history's soft limit, HIST-6). MaxInt disables
	// either. Every bus sets them (setLimit) when it is made.
	refuseAt int
	softAt   int
	// buf holds the span of size entries that starts at buf[start] and
	// wraps at the end; len(buf) is 0 or a power of two. The span's first
	// entry is live whenever the span is not empty (advanceHead).
	buf    []*Event
	start  int
	size   int // entries in the span, tombstones included
	n      int // live entries
	warned bool
	count  atomic.Int64 // mirrors n, for lock-free checks
}

// minHistoryBuf is the length of a history's first buffer.
const minHistoryBuf = 4

func (h *history) limit() int { return int(h.limitA.Load()) }
func (h *history) drop() bool { return h.dropA.Load() }

// at returns the entry at index i of the span (nil for a tombstone).
func (h *history) at(i int) *Event { return h.buf[(h.start+i)&(len(h.buf)-1)] }

// add appends e; it reports whether the history is now over the soft limit
// of a dropping history (HIST-6), so that Emit trims.
func (h *history) add(e *Event, busLabel string) (overSoft bool, err error) {
	h.mu.Lock()
	if h.n >= h.refuseAt {
		n := h.n
		h.mu.Unlock()
		return false, &HistoryFullError{Bus: busLabel, Len: n, Limit: h.limit()}
	}
	h.push(e)
	over := h.n > h.softAt
	h.mu.Unlock()
	return over, nil
}

// push appends e at the end of the span. Called with mu held.
func (h *history) push(e *Event) {
	if h.size == len(h.buf) {
		h.makeRoom()
	}
	h.buf[(h.start+h.size)&(len(h.buf)-1)] = e
	h.size++
	h.n++
	h.count.Store(int64(h.n))
}

// makeRoom is push's slow step, for a full buffer: tombstones make up at
// least a quarter of it (HIST-3 and in-flight drops leave them) and are
// compacted out in place, or it is replaced by one twice as long.
func (h *history) makeRoom() {
	if len(h.buf) > 0 && h.size-h.n >= len(h.buf)/4 {
		h.compact()
		return
	}
	nb := make([]*Event, max(minHistoryBuf, 2*len(h.buf)))
	j := 0
	for i := range h.size {
		if e := h.at(i); e != nil {
			nb[j] = e
			j++
		}
	}
	h.buf, h.start, h.size = nb, 0, j
}

// compact moves the live entries of the span to its front, in order, and
// clears the slots it frees. An entry only ever moves towards the start, to
// a slot already read, so one pass in place suffices.
func (h *history) compact() {
	mask := len(h.buf) - 1
	j := 0
	for i := range h.size {
		if e := h.at(i); e != nil {
			if j != i {
				h.buf[(h.start+j)&mask] = e
			}
			j++
		}
	}
	for k := j; k < h.size; k++ {
		h.buf[(h.start+k)&mask] = nil
	}
	h.size = j
}

// removeAt makes the entry at index i of the span a tombstone.
func (h *history) removeAt(i int) {
	h.buf[(h.start+i)&(len(h.buf)-1)] = nil
	h.n--
	h.count.Store(int64(h.n))
}

// advanceHead drops the span's leading tombstones, and compacts it once
// tombstones are more than 64 and more than half of it, which bounds what
// a trim walks over.
func (h *history) advanceHead() {
	for h.size > 0 && h.buf[h.start] == nil {
		h.start = (h.start + 1) & (len(h.buf) - 1)
		h.size--
	}
	if t := h.size - h.n; t > 64 && t > h.size/2 {
		h.compact()
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
		for i := range h.size {
			if e := h.at(i); e != nil && e.Status() == StatusCompleted {
				h.removeAt(i)
			}
		}
		h.advanceHead()
		return false
	}
	if !h.drop() || h.n <= limit {
		return false
	}
	h.dropCompletedHead(limit)
	for i := 0; i < h.size && h.n > limit; i++ {
		if e := h.at(i); e != nil && e.Status() == StatusCompleted {
			h.removeAt(i)
		}
	}
	for i := 0; i < h.size && h.n > limit; i++ {
		if h.at(i) != nil {
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

// dropCompletedHead removes the completed entries at the start of the span,
// oldest first, while more than limit are live: the common trim, since
// events mostly complete in emit order. It removes what trim's first pass
// would remove first, in the same order, but moves the start instead of
// leaving tombstones. Called with mu held.
func (h *history) dropCompletedHead(limit int) {
	excess := h.n - limit
	// The span runs from buf[start] to the end of buf, then wraps to buf[0].
	first := h.buf[h.start:min(h.start+h.size, len(h.buf))]
	k, removed := completedRun(first, excess)
	clear(first[:k])
	if k == len(first) && removed < excess && h.size > k {
		second := h.buf[:h.size-k]
		k2, r2 := completedRun(second, excess-removed)
		clear(second[:k2])
		k, removed = k+k2, removed+r2
	}
	h.start = (h.start + k) & (len(h.buf) - 1)
	h.size -= k
	h.n -= removed
	h.count.Store(int64(h.n))
}

// completedRun returns the length of the leading run of s made of
// completed events and tombstones that holds at most want events, and how
// many events it holds.
func completedRun(s []*Event, want int) (slots, live int) {
	for i, e := range s {
		if live == want {
			return i, live
		}
		if e != nil {
			if e.Status() != StatusCompleted {
				return i, live
			}
			live++
		}
	}
	return len(s), live
}

// removeCompleted drops e when the bus keeps no completed history (HIST-3).
func (h *history) removeCompleted(e *Event) {
	if h.limit() != 0 {
		return
	}
	h.mu.Lock()
	for i := range h.size {
		if h.at(i) == e {
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
	for i := range h.size {
		if e := h.at(i); e != nil {
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
	for i := h.size - 1; i >= 0; i-- {
		if e := h.at(i); e != nil && !f(e) {
			return
		}
	}
}

func (h *history) len() int { return int(h.count.Load()) }

func (h *history) clear() {
	h.mu.Lock()
	h.buf, h.start, h.size, h.n = nil, 0, 0, 0
	h.count.Store(0)
	h.mu.Unlock()
}

func (h *history) setLimit(limit int, drop bool) {
	h.mu.Lock()
	h.limitA.Store(int64(limit))
	h.dropA.Store(drop)
	h.refuseAt, h.softAt = math.MaxInt, math.MaxInt
	if limit > 0 && !drop {
		h.refuseAt = limit
	}
	if drop && limit >= 0 {
		h.softAt = limit + limit/5
	}
	h.mu.Unlock()
}

func (b *Bus) trimHistory() {
	if b.hist.trim() {
		b.logHistoryDropping()
	}
}
