package engine

// The event's handler lock (LOCK-2): serial handlers of one event run one
// at a time across every bus that processes it. makeRows (rows.go) takes the
// lock or queues for it, setup waits for it in waitHandlerLock, and
// endEventOn (completion.go) hands it to the longest waiter when the
// processing ends.

import "time"

// waitHandlerLock waits until another bus that runs the event's handlers
// hands the handler lock to p (LOCK-2); the rows stay pending meanwhile
// (HCONC-5). The wait also ends when the bus stops, when the event's
// deadline on this bus passes (it reports expired: the caller times the
// processing out) and, for a queue-jump, when the handler awaiting it is
// stopped (timeout, abort, first-mode loss): publish then aborts the
// processing (CANCEL-2, TIMEOUT-4). In every case p leaves the handler
// lock's queue, keeping the lock if it was handed over just then, so that
// finish passes it on.
//
// p keeps its bus's event lock while it waits, so that locks are always
// taken bus lock first, handler lock second. A handler that holds the
// handler lock may still await a child on this bus: the lock is parked
// meanwhile (see lockPark), and a queue-jump of that handler's chain borrows
// it, since p runs no handler until the handler lock comes (AWAIT-5,
// LOCK-3). Anything else waits for the bus lock as usual, so it cannot
// overtake the event.
func (p *processing) waitHandlerLock(ch chan struct{}) (expired bool) {
	b, e := p.bus, p.ev
	var l *fifoLock // the event lock p runs under, held or re-entered
	switch {
	case p.rowFlags&rowHoldsBusLock != 0:
		l = &b.lock
	case p.rowFlags&rowHoldsGlobalLock != 0:
		l = &b.domain.global
	}
	parked := l != nil && l.parkOn(e)
	var deadline <-chan time.Time
	if p.deadline != 0 {
		t := time.NewTimer(time.Duration(p.deadline - monoNow()))
		defer t.Stop()
		deadline = t.C
	}
	var parentDone <-chan struct{}
	if jf := p.jumpFrom; jf != nil {
		parentDone = jf.signal().done
	}
	got := false
wait:
	for {
		select {
		case <-ch:
			got = true
			break wait
		case <-b.stopped:
			break wait
		case <-deadline:
			expired = true
			break wait
		case <-parentDone:
			// Stopped by its own timeout, abort or first-mode loss: publish
			// aborts p. A handler that returned (without awaiting p, or
			// by a path that does not end p) leaves p waiting.
			if jf := p.jumpFrom; jf.Status() == StatusError && isOwnError(jf.Error()) {
				break wait
			}
			parentDone = nil
		}
	}
	if got {
		p.hheld = true
	} else {
		e.mu.Lock()
		p.hheld = !e.dropHandlerWaiterLocked(ch)
		e.mu.Unlock()
	}
	if parked {
		// Borrowers run handlers on this bus: p starts none, nor lets the
		// lock go, before they are done.
		l.unpark(b.stopped)
	}
	return expired
}

func holdsEventLock(r *Result, e *Event) bool {
	for ; r != nil; r = r.jumpParent() {
		if r.event == e && r.flags&rowHoldsEventLock != 0 {
			return true
		}
	}
	return false
}

// passHandlerLockLocked releases the event's handler lock, or hands it to
// the processing that has waited longest (FIFO, LOCK-5). Called with e.mu
// held.
func (e *Event) passHandlerLockLocked() {
	if x := e.ext; x != nil && x.hwaiters != nil && len(*x.hwaiters) > 0 {
		q := *x.hwaiters
		ch := q[0]
		copy(q, q[1:])
		q[len(q)-1] = nil
		*x.hwaiters = q[:len(q)-1]
		close(ch) // the lock passes on: flagHandlerLock stays set
		return
	}
	e.flags &^= flagHandlerLock
}

// dropHandlerWaiterLocked removes waiter ch from the handler lock's queue and
// reports whether it was still queued (false: the lock was handed to it).
// Called with e.mu held.
func (e *Event) dropHandlerWaiterLocked(ch chan struct{}) bool {
	if x := e.ext; x != nil && x.hwaiters != nil {
		q := *x.hwaiters
		for i, w := range q {
			if w == ch {
				*x.hwaiters = append(q[:i], q[i+1:]...)
				q[len(q)-1] = nil // the backing array keeps no stale waiter
				return true
			}
		}
	}
	return false
}
