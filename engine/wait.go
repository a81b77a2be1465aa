package engine

// Waiting (AWAIT): Done, Wait and Now. Wait blocks until the event
// completes (decPendingLocked, completion.go, closes the done channel);
// Now, called with a handler's context, first runs the event at once
// (queueJump, jump.go).

import (
	"context"
	"runtime"
)

// Done returns a channel closed when the event completes.
func (e *Event) Done() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if orig := e.viewOfLocked(); orig != nil {
		return orig.Done()
	}
	if e.done == nil {
		e.done = make(chan struct{})
		if e.released() {
			close(e.done)
		}
	}
	return e.done
}

// Wait blocks until the event completes on every bus it was emitted to,
// with its children, or until ctx is done. It never changes scheduling:
// the event runs in queue order. It returns ErrNotAttached for an event
// never emitted and ErrBusClosed when a bus holding it queued was stopped.
func (e *Event) Wait(ctx context.Context) error {
	// AWAIT-1, CHILD-5; no scheduling change AWAIT-2. An event already
	// released returns at once, inlined in the caller.
	if e != nil && e.released() {
		return nil
	}
	return e.wait(ctx)
}

func (e *Event) wait(ctx context.Context) error {
	if e == nil {
		return ErrNilEvent
	}
	for i := 0; i < waiterSpins; i++ {
		if e.released() {
			return nil
		}
		runtime.Gosched()
	}
	e.mu.Lock()
	if e.flags&flagEmitted == 0 {
		orig := e.viewOfLocked()
		e.mu.Unlock()
		if orig != nil {
			return orig.Wait(ctx)
		}
		return ErrNotAttached
	}
	if e.done == nil {
		if e.released() {
			// Released before this waiter came: a channel made now would
			// never be closed, and Done would hand it out (AWAIT-1).
			e.mu.Unlock()
			return nil
		}
		e.done = make(chan struct{})
	}
	ch := e.done
	e.mu.Unlock()
	if e.released() {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-e.stoppedBus():
		if e.released() {
			return nil
		}
		return ErrBusClosed
	}
}

// stoppedBus returns a channel closed when a bus that still holds the event
// unprocessed has been stopped, so that waiters do not hang forever.
func (e *Event) stoppedBus() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := 0, e.busCount(); i < n; i++ {
		if b, claimed := e.busAt(i); !claimed {
			return b.stopped
		}
	}
	return nil
}

// Now waits for the event like Wait, except that when ctx is the context of
// a running handler it first processes the event at once, ahead of anything
// queued, re-entering the event lock the handler holds instead of
// deadlocking. Outside a handler it is Wait, as in abxbus 2.4.2.
func (e *Event) Now(ctx context.Context) error {
	// AWAIT-4, AWAIT-5, LOCK-3; outside a handler D3.
	if e == nil {
		return ErrNilEvent
	}
	if e.released() {
		return nil
	}
	r := handlerRow(ctx)
	if r == nil || r.isTerminal() {
		return e.Wait(ctx)
	}
	if err := queueJump(ctx, e, r); err != nil {
		return err
	}
	return e.Wait(ctx)
}
