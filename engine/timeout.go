package engine

// Timeouts and slow warnings. The watchdog (watchdog.go) calls check on
// the processings it watches: an event past its deadline is aborted
// (cancel.go); a handler past its own deadline fails, and a serial
// processing goes on with its next row on a new goroutine (continueFrom,
// runners.go) so that a handler ignoring its ctx does not hold the event
// up; a slow event or handler is logged once.

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/internal/logattr"
)

// check is the watchdog's look at the processing: it applies expired
// timeouts, logs slow warnings and returns the next time to look (0: none).
func (p *processing) check(now int64) int64 {
	p.mu.Lock()
	if p.state.Load() != procRunning {
		p.mu.Unlock()
		return 0
	}
	if p.deadline != 0 && now >= p.deadline {
		p.mu.Unlock()
		p.timeoutEvent()
		return 0
	}
	next := p.deadline
	want := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	b, e := p.bus, p.ev
	if p.slowAt != 0 && !p.slowWarned.Load() {
		if now >= p.slowAt {
			p.slowWarned.Store(true)
			n := 0
			for _, r := range p.rows {
				if r.Status() == StatusStarted {
					n++
				}
			}
			elapsed := time.Duration(now - (p.slowAt - int64(firstDurSlow(p))))
			b.logger.LogAttrs(eventCtx(e), slog.LevelWarn, msgSlowEvent, attrBus(b), attrEventType(e), attrEventID(e),
				slog.Int(logattr.Running, n), attrElapsed(elapsed))
		} else {
			want(p.slowAt)
		}
	}
	var expired []*Result
	if p.timing != nil {
		for i, r := range p.rows {
			t := &p.timing[i]
			if r.Status() != StatusStarted {
				continue
			}
			expired = p.checkRow(r, now, &t.hdl, &t.slowAt, &t.warned, want, expired)
		}
	} else if r := p.cur.Load(); r != nil && r.Status() == StatusStarted {
		expired = p.checkRow(r, now, &p.curHdl, &p.curSlowAt, &p.curWarned, want, expired)
	}
	p.mu.Unlock()
	for _, r := range expired {
		p.timeoutHandler(r)
	}
	return next
}

func firstDurSlow(p *processing) time.Duration {
	e := p.ev
	e.mu.Lock()
	ic := e.config()
	e.mu.Unlock()
	return firstDur(ic.slowTimeout, e.meta.cfg.slowTimeout, p.bus.cfg.eventSlowTimeout)
}

func (p *processing) checkRow(r *Result, now int64, hdl, slowAt *atomic.Int64, warned *atomic.Bool, want func(int64), expired []*Result) []*Result {
	if h := hdl.Load(); h != 0 {
		if now >= h {
			return append(expired, r)
		}
		want(h)
	}
	if s := slowAt.Load(); s != 0 && !warned.Load() {
		if now >= s {
			warned.Store(true)
			elapsed := time.Duration(now - (s - int64(p.handlerSlow(r))))
			p.logRow(r, slog.LevelWarn, msgSlowHandler, attrElapsed(elapsed))
		} else {
			want(s)
		}
	}
	return expired
}

// timeoutEvent applies the event's hard timeout (TIMEOUT-4, TIMEOUT-5,
// TIMEOUT-10): pending rows are cancelled, running ones aborted, and the
// processing is finalised at once without waiting for the handlers.
func (p *processing) timeoutEvent() {
	p.abort(ReasonEventTimeout, nil, nil)
}

// timeoutHandler applies a handler's own timeout (TIMEOUT-6): the row fails
// with *HandlerTimeoutError and, in serial mode, the next handler runs on a
// new goroutine so that a handler ignoring its context does not block the
// event.
func (p *processing) timeoutHandler(r *Result) {
	children := len(r.Children())
	timeout := p.rowTimeout(r.handler)
	err := &HandlerTimeoutError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Timeout: timeout, Children: children}
	if !r.finish(nil, err, StatusStarted) {
		return
	}
	serial := p.timing == nil
	var tok uint32
	if serial {
		// Take the rest of the rows away from the runner stuck in this
		// handler before telling the handler to stop (TIMEOUT-10).
		tok = p.owner.Add(1)
	}
	r.cancel(err, true)
	b := p.bus
	// LOG-8: Warn, as the slow-handler warning is: the handler outlived its
	// budget and may still be running, and a caller that emitted without
	// waiting never sees the row's error.
	p.logRow(r, slog.LevelWarn, msgHandlerTimedOut, slog.Duration(logattr.Timeout, timeout))
	p.settle(r)
	cascade(r, err)
	if serial {
		next := int(p.curIdx.Load()) + 1
		b.runners.Add(1)
		go p.continueFrom(next, tok)
	}
}
