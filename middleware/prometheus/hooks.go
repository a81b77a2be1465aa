package ringbusprom

import (
	"context"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// The middleware side of the collector. Per event on the default path
// (one handler, no error), the hooks read the event type twice, find the
// event type's series twice and the handler's once, each through a
// one-entry cache in front of a lock-free map, and do four atomic adds; a
// failed row adds one write to a concurrent map, removed when its event
// completes.

// Hooks tells the bus which transitions the collector counts: events
// pending and completed, rows completed, and registrations (which attach
// a bus); the others cost nothing per event.
func (*Collector) Hooks() api.Hooks {
	return api.EventPendingHook | api.EventCompletedHook | api.ResultCompletedHook | api.HandlerHooks
}

// OnEventChange counts an event started when the first bus begins
// processing it, and completed (or failed) when it completes.
func (c *Collector) OnEventChange(_ context.Context, _ *api.Bus, e *api.BaseEvent, status api.Status) {
	switch status {
	case api.StatusPending:
		// Another bus the event is forwarded to begins processing it
		// while the forwarding handler runs, so the event is Started by
		// then: it is counted once.
		if e.Status() == api.StatusPending {
			c.typeFor(e.Type()).started.Add(1)
		}
	case api.StatusCompleted:
		ts := c.typeFor(e.Type())
		if c.nFailing.Load() > 0 && c.takeFailing(e) {
			ts.failed.Add(1)
		} else {
			ts.completed.Add(1)
		}
	}
}

// OnResultChange records a handler row that ended: its duration if the
// handler started, and its error, if any, by kind.
func (c *Collector) OnResultChange(_ context.Context, _ *api.Bus, e *api.BaseEvent, r *api.Result, status api.Status) {
	if status != api.StatusCompleted {
		return
	}
	h := r.Handler()
	typ := h.Pattern()
	if typ == engine.Wildcard {
		typ = e.Type()
	}
	hs := c.rowSeries(typ, h.Name())
	if start := r.StartedTime(); start != 0 {
		hs.hist.observe(int64(r.CompletedTime() - start))
	}
	if err := r.Error(); err != nil {
		c.rowFailed(e, hs.ts, hs, err)
	}
}

// OnHandlersChange attaches the bus of a newly registered handler, so that
// its queue depth and history size are reported.
func (c *Collector) OnHandlersChange(bus *api.Bus, _ *api.Handler, registered bool) {
	if registered {
		c.attach(bus)
	}
}

// rowFailed counts a failed row of e and marks e failed. A loser of a
// first-result race is only a cancellation: the event got its result.
func (c *Collector) rowFailed(e *api.BaseEvent, ts *typeSeries, hs *handlerSeries, err error) {
	if cause, ok := causeOf(err); ok {
		ts.cancels[cause].Add(1)
		switch cause {
		case causeFirstResult:
			return
		case causeHandlerTimeout:
			hs.timeouts.Add(1)
		}
	}
	hs.errors.Add(1)
	if _, loaded := c.failing.LoadOrStore(e, &failMark{}); !loaded {
		if n := c.nFailing.Add(1); n >= c.sweepAt.Load() {
			c.sweepFailing()
		}
	}
}

// takeFailing reports whether e had a failed row, forgetting it.
func (c *Collector) takeFailing(e *api.BaseEvent) bool {
	if _, ok := c.failing.LoadAndDelete(e); ok {
		c.nFailing.Add(-1)
		return true
	}
	return false
}

// sweepFailing forgets failed events whose completion this collector will
// not see (they completed on a bus it is not given to): those found
// completed by two sweeps in a row, so that an event whose completion
// hook is still running is left to it. Scrapes sweep, and so does a row
// failure once the unreported failures have doubled since the last sweep.
func (c *Collector) sweepFailing() {
	if !c.sweepMu.TryLock() {
		return
	}
	defer c.sweepMu.Unlock()
	c.failing.DeleteMatching(func(e *api.BaseEvent, m *failMark) (bool, bool) {
		if e.Status() != api.StatusCompleted || !m.seen.Swap(true) {
			return false, false
		}
		c.nFailing.Add(-1)
		return true, false
	})
	c.sweepAt.Store(max(minSweep, 2*c.nFailing.Load()))
}

// causeOf classifies a row's error: a handler timeout, or why the bus
// stopped the handler (interrupted it, or cancelled it before it started).
// It reports false for an error of the handler's own. The row's error is
// looked at itself, not unwrapped: a cancelled row wraps its parent's
// error, and a handler may return the timeout error of a child it
// awaited, which is not a timeout of its own.
func causeOf(err error) (int, bool) {
	var reason string
	switch err := err.(type) {
	case *api.HandlerTimeoutError:
		return causeHandlerTimeout, true
	case *api.HandlerAbortedError:
		reason = err.Reason
	case *api.HandlerCancelledError:
		reason = err.Reason
	default:
		return 0, false
	}
	switch reason {
	case engine.ReasonEventTimeout:
		return causeEventTimeout, true
	case engine.ReasonParentTimeout:
		return causeParentTimeout, true
	case engine.ReasonParentAborted:
		return causeParentAborted, true
	case engine.ReasonFirstResult:
		return causeFirstResult, true
	case engine.ReasonStopped:
		return causeBusStopped, true
	}
	return causeOther, true
}
