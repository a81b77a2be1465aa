package engine

// Queue-jumps (AWAIT-4, AWAIT-5): Now (wait.go), called with a handler's
// context, comes here to process the awaited event at once on every bus
// where it still waits, inside the awaiting handler, ahead of the bus's
// queue, re-entering or borrowing the event locks the handler's chain
// holds. processNested runs the event through a processing as the
// dispatcher would (processing.go); Now then waits for it (wait.go).

import (
	"context"
	"fmt"
)

func queueJump(ctx context.Context, e *Event, parent *Result) error {
	for {
		b := e.unclaimedBus()
		if b == nil {
			return nil
		}
		if err := b.processNested(e, parent); err != nil {
			return err
		}
	}
}

// unclaimedBus returns a live bus on which e still waits to be processed.
func (e *Event) unclaimedBus() *Bus {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := 0, e.busCount(); i < n; i++ {
		if b, claimed := e.busAt(i); !claimed && b.state.Load() == busOpen {
			return b
		}
	}
	return nil
}

// processNested processes e on b right now, inside the handler of row
// parent, re-entering locks the handler's processing chain holds (LOCK-3).
// It takes b's event lock before claiming e, so that once claimed the event
// runs ahead of b's queue (AWAIT-5).
func (b *Bus) processNested(e *Event, parent *Result) error {
	p := &processing{wd: &b.sharedWd}
	p.reset(b, e)
	p.jumpFrom = parent
	p.ic = e.instanceConfig()
	mode := b.resolveConcurrency(e, &p.ic)
	var lock *fifoLock
	if mode != ParallelEvents {
		lock = b.lockFor(mode)
		if !holdsLock(parent, b, lock) {
			held, borrowed := lock.lockOrBorrow(b.stopped, parent)
			switch {
			case held:
				p.lock = lock
			case borrowed:
				p.borrowed = lock
			default:
				return fmt.Errorf("%w: %s", ErrBusClosed, b.Label())
			}
		}
		p.rowFlags = lockFlag(b, lock)
	}
	if !e.claim(b) {
		// The bus's dispatcher got there first: it processes e; wait for it.
		if p.lock != nil {
			p.lock.unlock()
		}
		if p.borrowed != nil {
			p.borrowed.giveBack()
		}
		return nil
	}
	b.track(p)
	parent.event.mu.Lock()
	x := parent.extension()
	x.jumps = append(x.jumps, p)
	parent.event.mu.Unlock()
	p.run()
	b.untrack(p)
	return p.setupErr
}

// holdsLock reports whether the handler chain of row r holds lock l.
func holdsLock(r *Result, b *Bus, l *fifoLock) bool {
	for ; r != nil; r = r.jumpParent() {
		hb := r.handler.bus
		if r.flags&rowHoldsBusLock != 0 && &hb.lock == l {
			return true
		}
		if r.flags&rowHoldsGlobalLock != 0 && &hb.domain.global == l {
			return true
		}
	}
	return false
}
