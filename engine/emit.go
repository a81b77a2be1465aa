package engine

// Emit (EMIT): an event enters a bus here. Bus.Emit links it to the
// event whose handler emitted it (linkChild, completion.go), counts the bus
// in its pending count, adds it to the history and pushes it on the bus's
// queue, which the dispatcher drains (dispatcher.go). Event.Emit emits a
// child of a given event.

import (
	"context"
	"fmt"
	"unsafe"
)

// Emit enqueues ev on the bus and returns at once; the event's handlers
// run later, in FIFO order with the bus's other events. If Emit(a) happens
// before Emit(b) on one bus, a starts first.
//
// ctx supplies the values handlers will see (the first Emit of an event
// captures them); its cancellation does not cancel the event. When ctx is
// a handler's context, the event becomes a child of the event being
// handled, as in abxbus 2.4.2.
//
// Emitting an event whose event_path already holds this bus is a no-op,
// which is what breaks forwarding loops. Emit returns ErrBusClosed after
// Stop, a *HistoryFullError when the history is full and dropping is off,
// ErrHandlerExpired when ctx belongs to a handler that timed out, and
// ErrNilEvent for nil.
//
// On a bus with a queue limit (WithMaxQueue) Emit may wait for room, bounded
// by ctx, or fail with a *QueueFullError; see WithMaxQueue. Without one it
// never blocks.
func (b *Bus) Emit(ctx context.Context, ev Eventer) error {
	// EMIT-1, EMIT-2, FIFO CONC-1; values CTX-1; the parent link D1,
	// CHILD-1; no-op EMIT-8; full history HIST-4; expired handler EMIT-7.
	if ctx == nil {
		ctx = context.Background()
	}
	// The common root emit (see the note after emitAny) first, in this
	// frame, with the tests it needs; anything else, errors included, takes
	// the general path (emitAny).
	if b.cfg.maxQueue > 0 || b.state.Load() != busOpen ||
		ev == nil || (*[2]unsafe.Pointer)(unsafe.Pointer(&ev))[1] == nil {
		return b.emitAny(ctx, ev)
	}
	live := false
	if !isBackground(ctx) {
		// A root emit with a ctx of the caller's: no handler row in it
		// (D1), so no parent. It may be cancellable: valuesCtx asks, on
		// first use, and detaches it if it is (CTX-9).
		if handlerRow(ctx) != nil {
			return b.emitAny(ctx, ev)
		}
		live = true
	}
	e := ev.eventCore()
	if e == nil {
		return b.emitAny(ctx, ev)
	}
	e.mu.Lock()
	e.initForEmitLocked(ev)
	if !e.freshLocked() {
		e.mu.Unlock()
		return b.emitAny(ctx, ev)
	}
	e.ctx = ctx
	if live {
		e.bits.Or(bitCtxLive)
	}
	label := b.Label()
	e.path0 = label
	e.flags |= flagEmitted
	e.pending++
	e.bus0 = b
	e.mu.Unlock()

	// Then the history and the queue, as the general path does, without
	// its parent and re-emit steps.
	overSoft, err := b.hist.add(e, label)
	if err != nil {
		b.undoEmit(e, true, false, false)
		return err // HIST-4
	}
	b.emitted.Add(1)
	if b.find.count.Load() > 0 {
		b.find.resolve(e)
	}
	if !b.started.Load() {
		b.ensureRunning()
	}
	if !b.queue.Push(e) {
		b.unqueue(e)
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	}
	if overSoft {
		b.trimHistory()
	}
	return nil
}

// emitAny is Emit for any ctx (not nil) and ev.
func (b *Bus) emitAny(ctx context.Context, ev Eventer) error {
	if ev == nil || (*[2]unsafe.Pointer)(unsafe.Pointer(&ev))[1] == nil && isTypedNil(ev) {
		return ErrNilEvent
	}
	e := ev.eventCore() // Core, inlined
	if e == nil {
		return ErrNilEvent
	}
	if b.state.Load() != busOpen {
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	}
	return b.emit(ctx, ev, e)
}

// Emit's short path, the root emit, is for a fresh event emitted on a bus
// without a queue limit with a ctx that holds no handler row
// (context.Background() or one of the caller's own). Such an emit has no
// parent to link (D1), nothing on its event_path (EMIT-8) and captures ctx
// (CTX-1); live says ctx may be cancellable, so that the event keeps only
// its values (CTX-9, see valuesCtx). When the event turns out to be anything
// but fresh (emitted before, a view, a type in conflict, a context already
// captured), the short path has at most initialised it, and Emit hands it
// to emitAny. It used to be a function of its own, emitRoot; written out in
// Emit it saves a call and its arguments per event.

// freshLocked reports whether e, initialised, is fresh as Emit's short
// path needs it: never emitted, no context captured, not a view, its type
// not in conflict. Called with e.mu held.
func (e *Event) freshLocked() bool {
	if e.meta.err != nil {
		return false
	}
	if e.path0 != "" || e.bus0 != nil || e.ctx != nil {
		return false
	}
	if e.flags&flagEmitted != 0 || e.status.Load() != uint32(StatusPending) {
		return false
	}
	return e.ext == nil || e.ext.orig == nil
}

// emit is Emit's general path, for an event e (of ev) and a ctx that are
// not nil, on an open bus.
func (b *Bus) emit(ctx context.Context, ev Eventer, e *Event) error {
	// context.Background() (the common root emit) carries no handler row
	// and cannot be cancelled: it skips the lookups below.
	var parentRow *Result
	bg := isBackground(ctx)
	isHandler := false
	if !bg {
		var hc hctx
		hc, isHandler = ctx.(hctx) // a handler's own context (the common child emit)
		parentRow = hc.r
		if !isHandler {
			parentRow = handlerRow(ctx) // a context derived from one, or none
		}
		if parentRow != nil && parentRow.expired() {
			return ErrHandlerExpired
		}
	}
	label := b.Label()
	bounded := b.cfg.maxQueue > 0
	if bounded {
		// A place in the queue first (WithMaxQueue); an emit that EMIT-8
		// makes a no-op neither waits nor fails for want of one.
		if e.onPathOf(label) {
			return nil
		}
		if err := b.admit(ctx, parentRow); err != nil {
			return err
		}
	}

	e.mu.Lock()
	e.initForEmitLocked(ev)
	if err := e.meta.err; err != nil {
		b.emitGivesUp(e, bounded)
		return err // REG-1: its event_type name belongs to another Go type
	}
	if e.ext != nil && e.ext.orig != nil {
		// A view (REG-2) emits the event it stands for.
		orig := e.ext.orig
		b.emitGivesUp(e, bounded)
		return b.Emit(ctx, orig.outerOrSelf())
	}
	if e.path0 != "" && e.onPathLocked(label) {
		b.emitGivesUp(e, bounded)
		return nil // EMIT-8: already processed (or queued) here
	}
	var linkParent *Result
	if parentRow != nil && parentRow.event != e && e.flags&flagEmitted == 0 && (e.ext == nil || e.ext.parentID.IsZero()) {
		e.linkParentLocked(parentRow)
		linkParent = parentRow
	}
	if e.ctx == nil {
		// CTX-1: the first capture wins. Only the values are kept: a
		// cancellable ctx is detached (on first use, see valuesCtx) so that
		// neither its cancellation nor its context.Cause reaches the
		// handlers (CTX-9).
		e.ctx = ctx
		if !bg && !isHandler && ctx.Done() != nil {
			e.bits.Or(bitCtxLive)
		}
	}
	e.addPath(label)
	wasEmitted := e.flags&flagEmitted != 0
	fast := e.Status() != StatusCompleted
	if fast {
		e.flags |= flagEmitted
		e.pending++
		e.addBus(b)
	}
	e.mu.Unlock()

	overSoft, err := b.hist.add(e, label)
	if err != nil {
		b.undoEmit(e, fast, wasEmitted, bounded)
		return err
	}
	if !fast {
		b.reemit(e)
	}

	if linkParent != nil {
		linkChild(linkParent, e)
	}
	b.emitted.Add(1)
	if b.find.count.Load() > 0 {
		b.find.resolve(e)
	}
	if !b.started.Load() { // checked here too: ensureRunning is not inlined
		b.ensureRunning()
	}
	if !b.queue.Push(e) {
		b.unqueue(e) // gives the queue place back (claimLocked)
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	}
	if overSoft {
		b.trimHistory()
	}
	return nil
}

// backgroundTab is the type word of context.Background(): its type is an
// empty struct, so every context with this word is that context, whose
// Value is always nil and whose Done channel is nil.
var backgroundTab = ctxTypeWord(context.Background())

func ctxTypeWord(ctx context.Context) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&ctx))[0]
}

// isBackground reports whether ctx is context.Background().
func isBackground(ctx context.Context) bool { return ctxTypeWord(ctx) == backgroundTab }

// The rare steps of Emit, out of line so that its common path stays short.

// emitGivesUp ends an Emit that queues nothing: it unlocks e.mu and gives
// back the queue place taken for it (WithMaxQueue).
func (b *Bus) emitGivesUp(e *Event, bounded bool) {
	e.mu.Unlock()
	if bounded {
		b.gate.release(int64(b.cfg.maxQueue))
	}
}

// onPathLocked reports whether label is on e's event_path (EMIT-8). Called
// with e.mu held.
func (e *Event) onPathLocked(label string) bool {
	for i, n := 0, e.pathLen(); i < n; i++ {
		if e.pathAt(i) == label {
			return true
		}
	}
	return false
}

// linkParentLocked makes the event of the handler row parent e's parent
// (D1, CHILD-1). Called with e.mu held: the parent's id is read lock-free.
func (e *Event) linkParentLocked(parent *Result) {
	x := e.extension()
	x.parentID = parent.event.idOf()
	x.parent = parent.event
	if x.emittedBy.IsZero() {
		x.emittedBy = parent.handler.id
	}
}

// undoEmit undoes the bookkeeping of an Emit that the history refused
// (HIST-4).
func (b *Bus) undoEmit(e *Event, counted, wasEmitted, bounded bool) {
	if counted {
		e.mu.Lock()
		e.pending--
		e.removeLastBus(b)
		if !wasEmitted {
			e.flags &^= flagEmitted
		}
		e.mu.Unlock()
	}
	if bounded {
		b.gate.release(int64(b.cfg.maxQueue))
	}
}

// reemit counts b in a completed event emitted again, reopening it
// (EMIT-9), once the history took it.
func (b *Bus) reemit(e *Event) {
	e.mu.Lock()
	e.reopenLocked()
	e.flags |= flagEmitted
	e.pending++
	e.addBus(b)
	e.mu.Unlock()
}

// unqueue undoes the bookkeeping of an Emit whose push failed.
func (b *Bus) unqueue(e *Event) {
	e.mu.Lock()
	e.claimLocked(b)
	e.mu.Unlock()
	b.finishEventOn(e)
}

func (r *Result) expired() bool {
	s := r.sig.Load()
	if s == nil {
		cause, _ := r.stopCause()
		return cause != context.Canceled
	}
	select {
	case <-s.done:
		return s.cause != context.Canceled
	default:
		return false
	}
}

// Emit emits child as a child of e: child's event_parent_id is e, e
// completes only after child does, and child goes to the bus running the
// handler whose context is ctx, or else to the first bus e was emitted on.
// Inside one of e's handlers it is the same as bus.Emit(ctx, child). An
// explicitly set parent is never overwritten.
func (e *Event) Emit(ctx context.Context, child Eventer) error {
	// D1's explicit form; completion CHILD-5; a set parent CHILD-3.
	c := Core(child)
	if c == nil {
		return ErrNilEvent
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if r := handlerRow(ctx); r != nil && r.event == e {
		return r.handler.bus.Emit(ctx, child)
	}
	b := CurrentBus(ctx)
	e.mu.Lock()
	if b == nil {
		b = e.bus0
	}
	parentDone := e.Status() == StatusCompleted
	if !parentDone {
		e.pending++
	}
	e.mu.Unlock()
	if b == nil {
		if !parentDone {
			e.decPending(nil)
		}
		return ErrNotAttached
	}
	c.init(child)
	c.mu.Lock()
	linked := false
	if x := c.extension(); x.parentID.IsZero() && c != e {
		x.parentID, x.parent = e.uuid(), e
		if !parentDone {
			c.flags |= flagLinkedParent
			linked = true
		}
	}
	c.mu.Unlock()
	if !parentDone && !linked {
		e.decPending(nil)
	}
	err := b.Emit(ctx, child)
	if err != nil && linked {
		c.mu.Lock()
		c.flags &^= flagLinkedParent
		c.mu.Unlock()
		e.decPending(nil)
	}
	return err
}
