package engine

import "context"

// The lifecycle transitions that middlewares are told of. Every change of
// an event's or a row's status that reaches a Middleware goes through one
// of the functions below, and they are the only callers of hookEvent and
// hookResult: a new path through the engine that changes a status calls
// one of them and cannot forget a hook.
//
//	processingBegan  event Pending on this bus, then each row Pending
//	rowStarting      row Started, then event Started on its first row
//	settle           row Completed (succeeded, failed, timed out,
//	                 cancelled or aborted), then counts it as finished
//	settleCascaded   the same for a row cancelled by its parent's failure
//	eventCompleted   event Completed, before its waiters are released
//
// Each tests for middlewares before calling out, so a bus without
// middlewares pays one length test per transition (MW-1 .. MW-3).

// processingBegan reports that b has begun processing e with rows.
func (b *Bus) processingBegan(e *Event, rows []*Result) {
	if len(b.cfg.middlewares) > 0 {
		b.hookBegan(e, rows)
	}
}

func (b *Bus) hookBegan(e *Event, rows []*Result) {
	b.hookEvent(e, StatusPending)
	for _, r := range rows {
		b.hookResult(r, StatusPending)
	}
}

// rowStarting marks r's event started when r is its first row to start,
// and reports r's handler starting (MW-2: the row's hook, then the
// event's once).
func (b *Bus) rowStarting(r *Result) {
	if started := r.event.markStarted(); len(b.cfg.middlewares) > 0 {
		b.hookStarted(r, started)
	}
}

func (b *Bus) hookStarted(r *Result, eventStarted bool) {
	b.hookResult(r, StatusStarted)
	if eventStarted {
		b.hookEvent(r.event, StatusStarted)
	}
}

// settle follows a finish call on r that decided the row's terminal
// state: it reports the row completed, then counts it towards the end of
// p's handler phase.
func (p *processing) settle(r *Result) {
	if len(p.bus.cfg.middlewares) > 0 || p.hconc == ParallelHandlers {
		p.settleMore(r)
	}
}

// settleMore is settle with middlewares or parallel handlers: the row's
// hook, then, for a parallel row, the count of rows still running, the
// last of which wakes the runner waiting for all of them.
func (p *processing) settleMore(r *Result) {
	if b := p.bus; len(b.cfg.middlewares) > 0 {
		b.hookResult(r, StatusCompleted)
	}
	if p.hconc == ParallelHandlers && p.remaining.Add(-1) == 0 {
		p.mu.Lock()
		ch := p.allDone
		p.mu.Unlock()
		if ch != nil {
			close(ch)
		}
	}
}

// settleCascaded is settle for a row of another event, cancelled because
// an ancestor's handler failed; the row may have no processing.
func settleCascaded(r *Result) {
	if p := r.processing(); p != nil {
		p.settle(r)
	} else if b := r.handler.bus; len(b.cfg.middlewares) > 0 {
		b.hookResult(r, StatusCompleted)
	}
}

// eventCompleted reports that e completed on b, its last bus.
func (b *Bus) eventCompleted(e *Event) {
	if b != nil && len(b.cfg.eventMWs[StatusCompleted]) > 0 {
		b.hookEvent(e, StatusCompleted)
	}
}

// busClosed tells the middlewares that observe it that b was shut down.
func (b *Bus) busClosed() {
	for _, m := range b.cfg.middlewares {
		if o, ok := m.(BusCloseObserver); ok {
			b.safeHook(func() { o.OnBusClosed(b) })
		}
	}
}

// --- middleware hooks (MW) ---

func (b *Bus) notifyHandlers(h *Handler, registered bool) {
	for _, m := range b.cfg.handlerMWs {
		b.safeHook(func() { m.OnHandlersChange(b, h, registered) })
	}
}

func (b *Bus) hookEvent(e *Event, s Status) {
	ms := b.cfg.eventMWs[s] // s is Pending, Started or Completed
	if len(ms) == 0 {
		return
	}
	ctx := eventCtx(e)
	for _, m := range ms {
		b.safeHook(func() { m.OnEventChange(ctx, b, e, s) })
	}
}

func (b *Bus) hookResult(r *Result, s Status) {
	ms := b.cfg.resultMWs[s] // s is Pending, Started or Completed
	if len(ms) == 0 {
		return
	}
	var ctx context.Context = hctx{r} // the handler's ctx (pointer-shaped: no allocation)
	for _, m := range ms {
		b.safeHook(func() { m.OnResultChange(ctx, b, r.event, r, s) })
	}
}

// safeHook runs a middleware hook, logging instead of crashing on panic
// (MW-9).
func (b *Bus) safeHook(f func()) {
	defer func() {
		if v := recover(); v != nil {
			b.logMiddlewarePanic(v)
		}
	}()
	f()
}
