package ringbusotel

import (
	"sync"
	"sync/atomic"
	"time"

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
	t.takeIf(func(k K, _ V) bool { return t.stale(k) }, t.end)
	t.next.Store(max(sweepFloor, 2*t.n.Load()))
}

// drain ends and removes every entry.
func (t *spanTable[K, V]) drain() { t.takeIf(func(K, V) bool { return true }, t.end) }

// takeIf removes the entries for which pick reports true and hands each to
// end. An entry taken elsewhere meanwhile is skipped, so each span is ended
// once.
func (t *spanTable[K, V]) takeIf(pick func(K, V) bool, end func(K, V)) {
	t.m.Range(func(k, v any) bool {
		if key := k.(K); pick(key, v.(V)) {
			if got, ok := t.take(key); ok {
				end(key, got)
			}
		}
		return true
	})
}

// eventStale reports whether e has completed.
func eventStale(e *api.BaseEvent) bool { return e.Status() == api.StatusCompleted }

// endEventLate ends the span of an event whose completion the Tracer was
// not told of, at the event's completion time (now, if it has none).
func endEventLate(e *api.BaseEvent, es *eventSpan) {
	if sp := es.get(); sp != nil {
		sp.End(at(e.CompletedAt())...)
	}
}

// at returns the end option for time ts, none for the zero time.
func at(ts time.Time) []trace.SpanEndOption {
	if ts.IsZero() {
		return nil
	}
	return []trace.SpanEndOption{trace.WithTimestamp(ts)}
}

// rowStale reports whether r is final.
func rowStale(r *api.Result) bool {
	s := r.Status()
	return s == api.StatusCompleted || s == api.StatusError
}

// endRowLate ends the span of a handler whose row's end the Tracer was not
// told of, at the row's completion time (now, if it has none).
func endRowLate(r *api.Result, sp trace.Span) {
	endHandler(sp, r.Error(), at(r.CompletedAt())...)
}

// endRowClosed ends the span of a handler held when its bus closed.
func endRowClosed(r *api.Result, sp trace.Span) {
	if !rowStale(r) {
		sp.AddEvent(busClosedEvent)
	}
	endRowLate(r, sp)
}

// endEventClosed ends the span of an event held when the bus that began it
// closed.
func endEventClosed(e *api.BaseEvent, es *eventSpan) {
	if sp := es.get(); sp != nil && !eventStale(e) {
		sp.AddEvent(busClosedEvent)
	}
	endEventLate(e, es)
}

// busClosedEvent is the span event of a span ended because its bus closed
// before the event or the handler finished.
const busClosedEvent = "abxbus.bus_closed"
