package engine

// Cancellation: how rows end before their handlers do. cancelRest ends
// the other rows once a first-mode winner returned; terminate fails one row
// (cancelled if it never started, aborted if it was running) and cascade
// carries an abort into what the handler left behind, its queue-jumps and
// its children's pending rows; abort ends a whole processing from outside
// its runner, for an event timeout (timeout.go), a failed parent or Close.
// An aborted processing is finalised at once by finish (completion.go).

func isOwnError(err error) bool {
	switch err.(type) {
	case *HandlerTimeoutError, *HandlerAbortedError, *HandlerCancelledError:
		return true
	}
	return false
}

// isWinner reports whether a row wins first-mode completion (FIRST-1).
func isWinner(r *Result) bool {
	if r.Status() != StatusCompleted || r.out == nil {
		return false
	}
	_, isEvent := r.out.(Eventer)
	return !isEvent
}

// cancelRest ends the handler phase after a first-mode winner: pending
// rows are cancelled, running ones aborted (FIRST-2, FIRST-3).
func (p *processing) cancelRest(winner *Result) {
	for _, r := range p.rows {
		if r == winner {
			continue
		}
		p.terminate(r, ReasonFirstResult, nil)
	}
}

// terminate fails a non-terminal row for reason: Cancelled if it never
// started, Aborted if it was running. An aborted row cascades into its
// children (CANCEL-1, CANCEL-2), a first-mode loser's too: a loser awaiting a
// child must not keep the child, and so the event, running (FIRST-3,
// AWAIT-9).
func (p *processing) terminate(r *Result, reason string, parentErr error) bool {
	b, e := p.bus, p.ev
	abort := &HandlerAbortedError{Handler: r.handler.Label(), Bus: b.Label(), Event: e.Label(), Reason: reason, Timeout: p.evTO}
	cancel := &HandlerCancelledError{Handler: r.handler.Label(), Bus: b.Label(), Event: e.Label(), Reason: reason, Timeout: p.evTO, Parent: parentErr}
	var decided Status
	switch {
	case r.finish(nil, abort, StatusStarted):
		decided = StatusStarted
		r.cancel(abort, reason == ReasonEventTimeout || reason == ReasonParentTimeout)
	case r.finish(nil, cancel, StatusPending):
		decided = StatusPending
	default:
		return false
	}
	p.settle(r)
	if decided == StatusStarted {
		cascade(r, abort)
	}
	return true
}

// cascade cancels what a failed running handler left behind: events it
// queue-jumped are aborted (CANCEL-2) and pending rows of its descendants
// are cancelled (CANCEL-1). Children that are only queued run later
// (CANCEL-3).
func cascade(r *Result, cause error) {
	reason := cascadeReason(cause)
	r.event.mu.Lock()
	var children []*Event
	var jumps []*processing
	if r.ext != nil {
		children = append(children, r.ext.children...)
		jumps = append(jumps, r.ext.jumps...)
	}
	r.event.mu.Unlock()
	for _, jp := range jumps {
		jp.abort(reason, cause, cause)
	}
	seen := map[*Event]bool{}
	var walk func(c *Event)
	walk = func(c *Event) {
		if seen[c] {
			return
		}
		seen[c] = true
		for _, cr := range c.Rows() {
			if cr.Status() == StatusPending {
				ce := &HandlerCancelledError{Handler: cr.handler.Label(), Bus: busLabel(cr.handler.bus), Event: c.Label(), Reason: reason, Parent: cause}
				if cr.finish(nil, ce, StatusPending) {
					settleCascaded(cr)
				}
			}
			for _, gc := range cr.Children() {
				walk(gc)
			}
		}
	}
	for _, c := range children {
		walk(c)
	}
}

// cascadeReason is the reason a cascade from a handler that failed with
// cause gives what it interrupts: a parent timeout when cause is a timeout,
// a parent abort otherwise (a first-mode loser, FIRST-3).
func cascadeReason(cause error) string {
	if ab, ok := cause.(*HandlerAbortedError); ok && ab.Reason != ReasonEventTimeout && ab.Reason != ReasonParentTimeout {
		return ReasonParentAborted
	}
	return ReasonParentTimeout
}

// abort terminates every row of the processing and finalises it from
// outside its runner (event timeout, parent timeout, Stop).
func (p *processing) abort(reason string, cause, parentErr error) {
	if !p.published.Load() {
		return // setup checks for Close and a failed parent when it publishes p
	}
	p.mu.Lock()
	if p.state.Load() != procRunning {
		p.mu.Unlock()
		return
	}
	rows := append([]*Result(nil), p.rows...)
	p.mu.Unlock()
	p.owner.Add(1) // the runner stops at its next check
	for _, r := range rows {
		p.terminate(r, reason, parentErr)
	}
	if p.finish() && p.disp != nil && reason != ReasonStopped {
		b := p.bus
		b.runners.Add(1)
		go p.continueFrom(-1, 0)
	}
}
