package engine

// The watchdog: a lazily re-armed timer per dispatcher, and one per bus
// for its parallel events and queue-jumps, that looks at the processings it
// watches (check, timeout.go) at the earliest deadline it was asked for.
// A processing is watched from its publication (setup, processing.go)
// until finish (completion.go).

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
)

// watchdog is one lazily re-armed timer that watches a runner's current
// processing: rather than arming a timer per event, it is armed for the
// earliest deadline it was asked for and, when it fires, looks at whatever
// is current and re-arms for the next deadline. With the default 60s
// timeout this costs no timer operation per event.
//
// A bus's shared watchdog (Bus.sharedWd) watches every processing in a set
// instead, the bus's tracked parallel events and queue-jumps: they run
// concurrently, so no single slot holds them, and a timer each would stay
// armed, and live, for the whole default timeout after the event ended
// (issue 9, item 2.3). When it fires it checks every published processing
// of the set and re-arms for the earliest next deadline among them.
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool         // stop was called: never arm again; guarded by mu
	armed   atomic.Int64 // monoNow reading the timer fires at, 0 when idle
	// slot is where the watched processing is published: the dispatcher's
	// cur for a dispatcher's watchdog (so one store serves both). A shared
	// watchdog has none.
	slot *atomic.Pointer[processing]
	// set, when not nil, makes this a shared watchdog over the
	// processings stored in it (the owner stores and deletes them).
	set *procSet
}

// procSet is a set of processings safe for concurrent use: a bus's
// tracked parallel events and queue-jumps. Its map is made on the first
// Store, since most buses never track anything and an empty concurrent map
// costs about 2.8 KB and a walk of its table on every Range (issue 13,
// target 3). Its methods mirror xsync.Map's, the type it wraps.
type procSet struct {
	mu sync.Mutex // serialises making m
	m  atomic.Pointer[xsync.Map[*processing, bool]]
}

// Store adds p to the set.
func (s *procSet) Store(p *processing, v bool) {
	m := s.m.Load()
	if m == nil {
		s.mu.Lock()
		if m = s.m.Load(); m == nil {
			m = xsync.NewMap[*processing, bool]()
			s.m.Store(m)
		}
		s.mu.Unlock()
	}
	m.Store(p, v)
}

// Delete removes p from the set.
func (s *procSet) Delete(p *processing) {
	if m := s.m.Load(); m != nil {
		m.Delete(p)
	}
}

// Range calls f for the processings in the set, as xsync.Map.Range does:
// one stored or deleted during the walk may or may not be seen.
func (s *procSet) Range(f func(p *processing, v bool) bool) {
	if m := s.m.Load(); m != nil {
		m.Range(f)
	}
}

// earliest returns the earlier of two deadlines, 0 standing for none.
func earliest(a, b int64) int64 {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}

func (w *watchdog) unwatch(p *processing) {
	if s := w.slot; s != nil {
		s.CompareAndSwap(p, nil)
	}
}

// need makes sure the timer fires no later than at. The common case, a
// timer already armed for an earlier time, is one load, inlined.
func (w *watchdog) need(at int64) {
	if a := w.armed.Load(); a == 0 || at < a {
		w.arm(at)
	}
}

// arm is need's slow path: it arms the timer for at unless it is armed for
// no later already.
func (w *watchdog) arm(at int64) {
	w.mu.Lock()
	if a := w.armed.Load(); !w.stopped && (a == 0 || at < a) {
		d := time.Duration(at - monoNow())
		if w.t == nil {
			w.t = time.AfterFunc(d, w.fire)
		} else {
			w.t.Reset(d)
		}
		w.armed.Store(at)
	}
	w.mu.Unlock()
}

// watchdogFires counts watchdog timer fires, for the tests that check that
// no timer of a closed bus fires.
var watchdogFires atomic.Int64

func (w *watchdog) fire() {
	watchdogFires.Add(1)
	w.mu.Lock()
	w.armed.Store(0)
	stopped := w.stopped
	w.mu.Unlock()
	if stopped {
		return
	}
	if w.set != nil {
		w.fireSet()
		return
	}
	slot := w.slot
	if slot == nil {
		return
	}
	p := slot.Load()
	if p == nil || !p.pin(slot) {
		return
	}
	next := p.check(monoNow())
	p.unpin()
	if next != 0 {
		w.need(next)
	}
}

// fireSet is fire for a shared watchdog. The processings of the set are
// never reused (only a dispatcher reuses its processing), so they need no
// pin; one not yet published is still being set up by its runner, which
// asks for its deadlines itself when it publishes it.
func (w *watchdog) fireSet() {
	now := monoNow()
	var next int64
	w.set.Range(func(p *processing, _ bool) bool {
		if p.wd != w || !p.published.Load() {
			return true
		}
		if n := p.check(now); n != 0 && (next == 0 || n < next) {
			next = n
		}
		return true
	})
	if next != 0 {
		w.need(next)
	}
}

// stop stops the timer for good: a later need arms nothing.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
	w.armed.Store(0)
	w.mu.Unlock()
}
