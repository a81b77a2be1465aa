package engine

// The runners: runSerial runs a processing's rows one at a time on the
// goroutine that runs the processing, runParallel starts them all at once
// on the bus's pool (pool.go). Each row goes through beginRow (deadlines,
// slow warning, started hook), call and endRow (outcome, then settle in
// hooks.go). A first-mode winner ends the other rows (cancel.go); when a
// serial handler times out (timeout.go) or its processing is aborted,
// continueFrom carries on with the remaining rows on a new goroutine. When
// every row has ended, run calls finish (completion.go).

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// runSerial runs rows one at a time from index from (HCONC-1). It returns
// true when ownership was taken away (timeout hand-off or Stop). With g
// set, the caller recovers the handlers' panics (see callGuard); without,
// each call does.
func (p *processing) runSerial(from int, tok uint32, g *callGuard) bool {
	for i := from; i < len(p.rows); i++ {
		if p.owner.Load() != tok {
			return true
		}
		r := p.rows[i]
		now := p.takeClock()
		if !r.startAt(now) {
			continue // cancelled before it started
		}
		p.curIdx.Store(int32(i))
		p.beginRow(r, nil, now)
		var v any
		var err error
		if g != nil {
			if g.p != p {
				g.p = p // see runLone
			}
			g.i, g.tok, g.inCall = i, tok, true
			v, err = r.handler.fn(hctx{r}, r.event)
			g.inCall = false
		} else {
			v, err = p.call(r)
		}
		if p.owner.Load() != tok {
			return true
		}
		now = monoNow()
		if !p.endRow(r, v, err, now) {
			continue
		}
		p.clockHint = now // the next row or event starts now
		if p.complete == CompleteFirst && isWinner(r) {
			p.cancelRest(r)
			break
		}
	}
	return false
}

// callGuard lets the dispatcher's goroutine run serial handlers without a
// deferred recover per call: the dispatcher's loop recovers, once for all
// the events it handles (runGuarded, dispatcher.go), a panic raised while
// inCall is set, turns it into the row's *HandlerPanicError as call does
// and carries on with the processing (resume). It lives on the stack of
// that goroutine's run and only that goroutine touches it.
type callGuard struct {
	p      *processing // the processing whose handler runs
	i      int         // the index of its row
	tok    uint32      // the owner token the row runs under
	inCall bool        // a handler of p runs (a panic now is the handler's)
	err    error       // the recovered panic, for resume
}

// continueFrom runs on a new goroutine after a hand-off: it finishes the
// serial rows from index next (when next >= 0) and then carries on as the
// bus's dispatcher if the processing belonged to it.
func (p *processing) continueFrom(next int, tok uint32) {
	b := p.bus
	defer b.runners.Done()
	if next >= 0 {
		if p.runSerial(next, tok, nil) || !p.finish() {
			return
		}
	}
	if d := p.disp; d != nil && b.state.Load() == busOpen {
		d.proc = &processing{}
		d.cur.Store(nil)
		d.run()
	}
}

// beginRow stamps deadlines, arms the slow-handler warning and fires the
// started hooks through rowStarting.
func (p *processing) beginRow(r *Result, t *rowTiming, now int64) {
	p.beginRowWith(r, t, now, p.rowTimeout(r.handler), p.handlerSlow(r))
}

// beginRowWith is beginRow with the row's timeout and slow threshold
// resolved.
func (p *processing) beginRowWith(r *Result, t *rowTiming, now int64, timeout, slow time.Duration) {
	b := p.bus
	var hdl int64
	if timeout > 0 {
		hdl = now + int64(timeout)
	}
	dl := hdl
	if p.deadline != 0 && (dl == 0 || p.deadline < dl) {
		dl = p.deadline
	}
	if dl != 0 {
		r.deadline.Store(dl)
	}
	own := int64(0)
	if hdl != 0 && (p.deadline == 0 || hdl < p.deadline) {
		own = hdl // the handler's own timeout is strictly tighter (TIMEOUT-6/7)
	}
	var slowAt int64
	if slow > 0 && (timeout == 0 || timeout > slow) { // SLOW-3
		slowAt = now + int64(slow)
	}
	if t != nil {
		t.hdl.Store(own)
		t.slowAt.Store(slowAt)
	} else {
		// Stores cost an exclusive cache line each: skip the unchanged ones.
		if p.curHdl.Load() != own {
			p.curHdl.Store(own)
		}
		p.curSlowAt.Store(slowAt)
		if p.curWarned.Load() {
			p.curWarned.Store(false)
		}
		p.cur.Store(r)
	}
	if p.wd != nil {
		if at := earliest(own, slowAt); at != 0 {
			p.wd.need(at) // the later one is looked at then (as at publication, see setup)
		}
	}
	b.rowStarting(r)
}

// rowTimeout is rowTimeout for a handler of this processing's event, from
// the kept settings when they apply.
func (p *processing) rowTimeout(h *Handler) time.Duration {
	if p.stdSettings && h.timeout <= 0 && h.bus == p.bus {
		return p.kept.rowTO
	}
	return p.ownRowTimeout(h)
}

// ownRowTimeout is rowTimeout resolved from the handler and the event.
//
//go:noinline
func (p *processing) ownRowTimeout(h *Handler) time.Duration {
	return rowTimeout(h, &p.ic, &p.ev.meta.cfg)
}

// handlerSlow resolves the slow-handler threshold (SLOW-2, D8).
func (p *processing) handlerSlow(r *Result) time.Duration {
	if r.handler.slowTimeout >= 0 {
		return r.handler.slowTimeout
	}
	if p.stdSettings {
		return p.kept.hSlow
	}
	ic, tc := &p.ic, &p.ev.meta.cfg
	return firstDur(ic.handlerSlowTimeout, tc.handlerSlowTimeout, ic.slowTimeout, tc.slowTimeout, p.bus.cfg.handlerSlowTimeout)
}

// call runs the handler, turning a panic into a *HandlerPanicError.
func (p *processing) call(r *Result) (v any, err error) {
	defer func() {
		if x := recover(); x != nil {
			v, err = nil, &HandlerPanicError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: r.event.Label(), Value: x, Stack: debug.Stack()}
		}
	}()
	return r.handler.fn(hctx{r}, r.event)
}

// endRow records a handler's outcome; it reports whether it decided the row.
func (p *processing) endRow(r *Result, v any, err error, now int64) bool {
	if err == nil {
		if e, ok := v.(error); ok && e != nil {
			err = e // RTYPE-3: a returned error value counts as raised
		}
	}
	if err == nil && v != nil && p.validator != nil {
		if _, isEvent := v.(Eventer); !isEvent {
			if verr := p.validator.Validate(v); verr != nil {
				err = &ResultSchemaError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Identifier: p.validator.Identifier(), Err: verr}
			}
		}
	}
	if err != nil && isTimeout(err) && !isOwnError(err) {
		// ERR-2: a plain timeout from handler code (anywhere in its
		// chain: a wrapped context.DeadlineExceeded, a net timeout)
		// becomes a handler timeout that keeps its message.
		err = &HandlerTimeoutError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Timeout: p.rowTimeout(r.handler), Err: err}
	}
	ok := r.finishAt(v, err, StatusStarted, now)
	r.released()
	if !ok {
		return false
	}
	if err != nil {
		// ERR-1 in Go: the error reaches the caller through the row (and
		// Wait/Result), so it is not logged again at ERROR.
		p.logRow(r, slog.LevelDebug, msgHandlerFailed, attrError(err))
	}
	p.settle(r)
	return true
}

// isErrorValue reports whether a handler's value is a non-nil error, which
// counts as raised (RTYPE-3).
func isErrorValue(v any) bool {
	e, ok := v.(error)
	return ok && e != nil
}

// runParallel starts every row and waits until all are terminal (HCONC-2);
// a timeout or first-mode winner makes them terminal early.
//
// Up to parallelPullers rows each get a pool worker. Beyond that, that many
// workers pull the rows in order, parallelChunk rows at a time, which costs
// an atomic add per chunk and a compare-and-swap on a flag of each row's
// own instead of a goroutine hand-off per handler. (One shared counter
// bumped per handler was the bottleneck with two cores: its cache line
// moved between them on nearly every add.) Pulling alone could leave rows
// unstarted while every puller waits inside a handler (on another handler,
// say), so the dispatcher checks every parallelStallCheck: if no chunk was
// claimed since the last check, each row still untaken, in a claimed chunk
// or not, gets a goroutine of its own. So every handler starts concurrently
// with the others, at most one check later than it would with a goroutine
// each from the start.
func (p *processing) runParallel() {
	ch := make(chan struct{})
	p.mu.Lock()
	p.allDone = ch
	p.mu.Unlock()
	if p.remaining.Load() == 0 {
		return
	}
	// One allocation for all the tasks and one runners.Add for all of them:
	// with thousands of handlers the per-task cost is what remains.
	b := p.bus
	n := len(p.rows)
	pl, err := b.getPool()
	if n <= parallelPullers {
		tasks := make([]rowTask, n)
		b.runners.Add(n)
		for i, r := range p.rows {
			tasks[i] = rowTask{p: p, r: r, t: &p.timing[i]}
			if err != nil || !pl.TryGo(&tasks[i]) {
				go tasks[i].Run() // pool full or closed: the handler still starts now
			}
		}
		<-ch
		return
	}
	pr := &rowPuller{p: p, taken: make([]atomic.Bool, n)}
	b.runners.Add(n + parallelPullers)
	for range parallelPullers {
		if err != nil || !pl.TryGo(pr) {
			go pr.Run()
		}
	}
	tick := time.NewTimer(parallelStallCheck)
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-ch:
			return
		case <-tick.C:
			// No chunk claimed since the last check: the workers are all
			// inside handlers, or every chunk is claimed. Either way the
			// rows nobody has taken get goroutines, and then every row runs.
			next := pr.next.Load()
			if next == last {
				pr.spawnRest()
				<-ch
				return
			}
			last = next
			tick.Reset(parallelStallCheck)
		}
	}
}

const (
	parallelPullers    = 16
	parallelChunk      = 64
	parallelStallCheck = time.Millisecond
)

// rowPuller is the shared state of the workers that start the rows of a
// large parallel-handler processing in order. Each worker, and each row,
// is counted in the bus's runners; a row is counted out by whoever takes it
// (taken[i] false to true): the worker whose chunk holds it, or the
// goroutine spawnRest gives it. The workers read p.rows and p.timing while
// rows run: that holds because a parallel-handler processing is always a
// fresh one, never the dispatcher's reused d.proc (see handle).
type rowPuller struct {
	p     *processing
	taken []atomic.Bool
	next  atomic.Int64 // index of the first row of the next chunk
}

// task returns the task of row i.
func (pr *rowPuller) task(i int) rowTask {
	p := pr.p
	return rowTask{p: p, r: p.rows[i], t: &p.timing[i]}
}

// Run is one worker: it takes chunks of rows until none is left and runs
// the rows of each that nobody took before it, then counts itself and its
// rows out of the bus's runners at once (one atomic add on a word every
// worker shares, instead of one per row).
func (pr *rowPuller) Run() {
	ran := 0
	defer func() { pr.p.bus.runners.Add(-(ran + 1)) }()
	n := len(pr.p.rows)
	for {
		from := int(pr.next.Add(parallelChunk) - parallelChunk)
		if from >= n {
			return
		}
		to := min(from+parallelChunk, n)
		for i := from; i < to; i++ {
			if pr.taken[i].Load() || !pr.taken[i].CompareAndSwap(false, true) {
				continue // spawnRest gave it a goroutine
			}
			ran++ // counted even if the handler panics through run
			t := pr.task(i)
			t.run()
		}
	}
}

// spawnRest gives every row nobody has taken yet a goroutine.
func (pr *rowPuller) spawnRest() {
	for i := range pr.taken {
		if pr.taken[i].Load() || !pr.taken[i].CompareAndSwap(false, true) {
			continue
		}
		t := pr.task(i)
		go t.Run()
	}
}

// rowTask runs one row of a parallel-handler processing; it is counted in
// the bus's runners by runParallel.
type rowTask struct {
	p *processing
	r *Result
	t *rowTiming
}

func (t *rowTask) Run() {
	defer t.p.bus.runners.Done()
	t.run()
}

// run runs the row without counting it out of the bus's runners.
func (t *rowTask) run() {
	p, r := t.p, t.r
	now := monoNow()
	if !r.startAt(now) {
		return
	}
	p.beginRow(r, t.t, now)
	first := p.complete == CompleteFirst
	v, err := p.call(r)
	if p.endRow(r, v, err, monoNow()) && first && isWinner(r) {
		p.cancelRest(r)
	}
}

// isTimeout reports whether err, or an error it wraps, says it is a
// timeout (a Timeout() bool method returning true, as context's and net's
// errors have). The search stops at the bus's own errors: a handler that
// wraps a child's handler timeout did not time out itself.
func isTimeout(err error) bool {
	for err != nil {
		if isOwnError(err) {
			return false
		}
		if te, ok := err.(interface{ Timeout() bool }); ok && te.Timeout() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if isTimeout(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
