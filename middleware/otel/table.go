package ringbusotel

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/ringbus/ringbus/api"
)

// sweepFloor is the table size below which the table is never swept.
const sweepFloor = 1024

// spanTable holds the spans in flight, keyed by their event or row. An
// entry is taken out when its span ends, so the table holds only what is in
// flight. An entry whose end was never reported (an event completed on a
// bus without the Tracer) is taken out by a sweep: whenever the table has
// doubled since the last sweep (and holds at least sweepFloor entries), the
// adding goroutine walks it and ends the spans whose event or row is final.
// The sweeps cost O(1) per entry added, amortised. take and the sweep
// both take an entry with LoadAndDelete, so each span is ended once.
type spanTable[K comparable, V any] struct {
	m        sync.Map // K -> V
	n        atomic.Int64
	next     atomic.Int64 // sweep when n reaches it
	sweeping atomic.Bool
	// stale reports whether k's span should have ended; end ends it.
	stale func(K) bool
	end   func(K, V)
}

func (t *spanTable[K, V]) init(stale func(K) bool, end func(K, V)) {
	t.stale, t.end = stale, end
	t.next.Store(sweepFloor)
}

func (t *spanTable[K, V]) get(k K) (V, bool) {
	v, ok := t.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// tryAdd adds v as k's entry unless k has one; it returns the entry and
// whether it added v.
func (t *spanTable[K, V]) tryAdd(k K, v V) (V, bool) {
	got, loaded := t.m.LoadOrStore(k, v)
	if !loaded {
		t.added()
	}
	return got.(V), !loaded
}

func (t *spanTable[K, V]) add(k K, v V) {
	if _, loaded := t.m.Swap(k, v); !loaded {
		t.added()
	}
}

// take removes k's entry and returns it.
func (t *spanTable[K, V]) take(k K) (V, bool) {
	v, ok := t.m.LoadAndDelete(k)
	if !ok {
		var zero V
		return zero, false
	}
	t.n.Add(-1)
	return v.(V), true
}

func (t *spanTable[K, V]) remove(k K) { t.take(k) }

// len returns the number of entries.
func (t *spanTable[K, V]) len() int { return int(t.n.Load()) }

func (t *spanTable[K, V]) added() {
	if t.n.Add(1) >= t.next.Load() && t.sweeping.CompareAndSwap(false, true) {
		t.sweep()
		t.sweeping.Store(false)
	}
}

// sweep ends and removes the entries whose spans should have ended, then
// sets the size of the next sweep to twice what is left.
func (t *spanTable[K, V]) sweep() {
	t.m.Range(func(k, _ any) bool {
		if key := k.(K); t.stale(key) {
			if v, ok := t.take(key); ok {
				t.end(key, v)
			}
		}
		return true
	})
	t.next.Store(max(sweepFloor, 2*t.n.Load()))
}

// drain ends and removes every entry.
func (t *spanTable[K, V]) drain() {
	t.m.Range(func(k, _ any) bool {
		if v, ok := t.take(k.(K)); ok {
			t.end(k.(K), v)
		}
		return true
	})
}

// eventStale reports whether e has completed.
func eventStale(e *api.BaseEvent) bool { return e.Status() == api.StatusCompleted }

// endEventLate ends the span of an event whose completion the Tracer was
// not told of, at the event's completion time.
func endEventLate(e *api.BaseEvent, es *eventSpan) {
	if sp := es.get(); sp != nil {
		sp.End(trace.WithTimestamp(e.CompletedAt()))
	}
}

// rowStale reports whether r is final.
func rowStale(r *api.Result) bool {
	s := r.Status()
	return s == api.StatusCompleted || s == api.StatusError
}

// endRowLate ends the span of a handler whose row's end the Tracer was not
// told of, at the row's completion time.
func endRowLate(r *api.Result, sp trace.Span) {
	endHandler(sp, r.Error(), trace.WithTimestamp(r.CompletedAt()))
}
