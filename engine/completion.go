package engine

// Completion accounting. An event is complete once every bus it was
// emitted to has finished it and every child event has completed; its
// pending count holds both. Emit (emit.go) counts one per bus and
// linkChild one per child. finish ends a processing (locks released,
// watchdog told, history trimmed) and endEventOn takes the bus off the
// count; at zero decPendingLocked completes the event, wakes its waiters
// (wait.go), reports it to the middlewares (hooks.go) and takes the event
// off its parent's count in turn.

import "github.com/ringbus/ringbus/ident"

// finish finalises the processing once: releases its locks, stops its
// timers and updates the event and the bus. It reports whether this call did
// it.
func (p *processing) finish() bool {
	if !p.state.CompareAndSwap(procRunning, procFinished) {
		return false
	}
	if w := p.wd; w != nil {
		if p.keepSlot {
			p.published.Store(false) // it stays in the slot, unpublished (see pin)
		} else {
			w.unwatch(p)
		}
	}
	if p.lock != nil {
		p.lock.unlock()
	}
	if l := p.borrowed; l != nil {
		l.giveBack()
	}
	b, e := p.bus, p.ev
	if b.hist.drop() {
		// Trim every 16 events while busy (so the history may exceed the
		// limit by a few entries in flight), and to the limit exactly
		// before a WaitUntilIdle caller can see the bus idle and when the
		// dispatcher runs out of events (HIST-5, HIST-6).
		if limit := b.hist.limit(); limit > 0 && (b.trimTick.Add(1)%16 == 0 || b.idleWtr.Load() > 0) {
			b.trimHistory()
		}
	}
	b.endEventOn(e, p.hheld)
	return true
}

// finishEventOn records that b finished (or gave up) processing e.
func (b *Bus) finishEventOn(e *Event) { b.endEventOn(e, false) }

// endEventOn is finishEventOn for a processing that may hold e's handler
// lock (hheld): the lock is handed on in the critical section that records
// the end, so that holding it costs a serial event no lock of its own.
//
// A processing finalised from outside (a timeout, a cascade, Close) hands
// the lock on here too, although the goroutine of an aborted handler that
// ignores its ctx may still run: the next bus's handlers then overlap it,
// as the next handler on its own bus does (TIMEOUT-10). Holding the lock
// until the handler returns would need the runner to say, with an atomic
// per handler call, whether it is inside one.
func (b *Bus) endEventOn(e *Event, hheld bool) {
	e.mu.Lock()
	if hheld {
		e.passHandlerLockLocked()
	}
	e.decPendingLocked(b)
	if f := b.finished.Add(1); b.idleWtr.Load() > 0 && f >= b.emitted.Load() {
		b.notifyIdle()
	}
}

// decPending drops one reason the event is incomplete; at zero the event
// completes (CHILD-5) and tells its parent (CHILD-6).
func (e *Event) decPending(b *Bus) {
	e.mu.Lock()
	e.decPendingLocked(b)
}

// decPendingLocked is decPending called with e.mu held; it unlocks e.mu.
func (e *Event) decPendingLocked(b *Bus) {
	e.pending--
	if e.pending > 0 {
		e.mu.Unlock()
	} else if e.ext == nil {
		e.completeLoneLocked(b)
	} else {
		e.completeLocked(b)
	}
}

// completeLocked completes an event with extension (CHILD-5, CHILD-6). It
// unlocks e.mu.
func (e *Event) completeLocked(b *Bus) {
	var last ident.Time
	for i, n := 0, e.rowCount(); i < n; i++ {
		if c := e.rowAt(i).CompletedTime(); c > last {
			last = c
		}
	}
	if last == 0 {
		last = ident.Now()
	}
	e.completed.Store(int64(last))
	if b == nil {
		b = e.bus0
	}
	hooks := b != nil && len(b.cfg.eventMWs[StatusCompleted]) > 0
	if hooks {
		// Completed for the hooks, not yet for waiters (released).
		e.status.Store(uint32(StatusCompleted) | statusHooking)
	} else {
		e.status.Store(uint32(StatusCompleted))
		e.closeDoneLocked()
	}
	var parent *Event
	if e.flags&flagLinkedParent != 0 {
		parent = e.ext.parent
		e.flags &^= flagLinkedParent
	}
	// The buses that keep no completed history drop e now (HIST-3).
	var zeroHist []*Bus
	for i, n := 0, e.busCount(); i < n; i++ {
		if hb, _ := e.busAt(i); hb.hist.limit() == 0 {
			zeroHist = append(zeroHist, hb)
		}
	}
	e.mu.Unlock()
	if hooks {
		e.runCompletedHooks(b)
	}
	for _, hb := range zeroHist {
		hb.hist.removeCompleted(e)
	}
	if parent != nil {
		parent.decPending(nil)
	}
}

// completeLoneLocked is decPendingLocked's completion of the common event,
// one without extension: one row at most, one bus at most, no parent. It
// unlocks e.mu.
func (e *Event) completeLoneLocked(b *Bus) {
	var last ident.Time
	if r := e.row0; r != nil {
		last = r.CompletedTime()
	}
	if last == 0 {
		last = ident.Now()
	}
	e.completed.Store(int64(last))
	hb := e.bus0
	if b == nil {
		b = hb
	}
	hooks := b != nil && len(b.cfg.eventMWs[StatusCompleted]) > 0
	if hooks {
		// Completed for the hooks, not yet for waiters (released).
		e.status.Store(uint32(StatusCompleted) | statusHooking)
	} else {
		e.status.Store(uint32(StatusCompleted))
		e.closeDoneLocked()
	}
	// A bus that keeps no completed history drops e now (HIST-3).
	drop := hb != nil && hb.hist.limit() == 0
	e.mu.Unlock()
	if hooks {
		e.runCompletedHooks(b)
	}
	if drop {
		hb.hist.removeCompleted(e)
	}
}

// runCompletedHooks runs the completion hooks of b for e, which its
// completion marked hooking, then releases e's waiters (unless a hook
// reopened e). The hooks run before
// waiters are released: Wait, Done and Now return after them (MW-13: a
// WAL line written under the every-event policy is durable when Wait
// returns).
func (e *Event) runCompletedHooks(b *Bus) {
	b.eventCompleted(e)
	e.mu.Lock()
	defer e.mu.Unlock()
	// A hook may have re-emitted the event to another bus, reopening it
	// (reopenLocked released the waiters then); only a status still
	// hooking is released here.
	if e.status.CompareAndSwap(uint32(StatusCompleted)|statusHooking, uint32(StatusCompleted)) {
		e.closeDoneLocked()
	}
}

// closeDoneLocked closes e's done channel, if a waiter made one, in the
// same critical section that made e released: a Wait that returns because
// it saw e released then always finds Done closed (AWAIT-1). Called with
// e.mu held.
func (e *Event) closeDoneLocked() {
	if e.done != nil {
		close(e.done)
	}
}

// linkChild records child under the handler row parent (CHILD-1) and makes
// the parent wait for it (CHILD-5, D2).
func linkChild(parent *Result, child *Event) {
	pe := parent.event
	pe.mu.Lock()
	if parent.ext == nil {
		parent.ext = &rowExt{}
	}
	parent.ext.children = append(parent.ext.children, child)
	count := pe.Status() != StatusCompleted && pe.pending > 0
	if count {
		pe.pending++
	}
	pe.mu.Unlock()
	if count {
		child.mu.Lock()
		if child.Status() == StatusCompleted {
			child.mu.Unlock()
			pe.decPending(nil)
			return
		}
		child.flags |= flagLinkedParent
		child.mu.Unlock()
	}
}

// reopenLocked makes a completed event incomplete again, so that another
// bus runs it (EMIT-9). Called with e.mu held.
func (e *Event) reopenLocked() {
	if e.Status() == StatusCompleted {
		if e.status.Load()&statusHooking != 0 && e.done != nil {
			// Reopened by a completion hook: release the waiters of the
			// completion being reported, which did happen.
			close(e.done)
		}
		e.status.Store(uint32(StatusStarted))
		e.completed.Store(0)
		e.done = nil
	}
}
