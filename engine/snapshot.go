package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ringbus/ringbus/ident"
)

// This file is the engine side of the bus snapshot (wire.md §6, SER-1..4):
// the hooks package wire uses to dump a bus and to rebuild one from its
// JSON. Like wirestate.go it only uses the engine's existing internals.
//
// The hooks are free functions, not methods, so that they stay off the
// method sets of Bus, Event and Handler, which package api re-exports to
// users: RestoreBus, RestoreHandler, BindHandler, SnapshotDescOf,
// RestoreHistory, Requeue, Resume, QueuedEvents and RelinkChildren are for
// codecs and snapshot code, not for handlers.

// ErrUnknownHandler is returned by BindHandler when the bus has no handler
// with the given id.
var ErrUnknownHandler = errors.New("ringbus: no handler with that id on the bus")

// RestoreBus creates a bus like NewBus, except that name is kept exactly
// even when a live bus of the domain already uses it: a restored bus keeps
// its name, as abxbus's restore does, without the suffix and the warning
// NewBus gives a taken name. The name then stays registered to the bus that
// had it first. "" picks the default name, as in NewBus. The bus is new: no
// handlers, no history, nothing queued.
func RestoreBus(name string, opts ...Option) (*Bus, error) {
	// The restored name: WIRE-23.
	return newBus(name, true, opts)
}

// noopHandler is the function of a stub handler restored from a snapshot
// and not bound yet: like abxbus's stubs it does nothing and returns nil
// (WIRE-23).
func noopHandler(context.Context, *Event) (any, error) { return nil, nil }

// handlerOrigin is the bus identity a restored handler was dumped with,
// kept when it differs from the bus it is restored on (a handler entry
// re-created from the result row of another bus, WIRE-23).
type handlerOrigin struct {
	busID   ident.UUID
	busName string
}

// RestoreHandler registers on b a handler described by d, as a bus restore
// does with the handler entries of a snapshot: it keeps d's id, name, file
// path, registration time, pattern and timeouts, and runs fn, or does
// nothing and returns nil when fn is nil (a stub that BindHandler can bind
// later). Missing pieces default as on the wire (name "anonymous", pattern
// "*"); a zero d.ID is derived as On derives it. When d names another bus
// (d.BusID or d.BusName set and different from b's), SnapshotDescOf keeps
// reporting that bus. If b already has a handler with d.ID, RestoreHandler
// returns it and registers nothing.
//
// The handler is appended to b's registration order, like On. It is for
// snapshot code (package wire's UnmarshalBus); handlers register with On.
func RestoreHandler(b *Bus, d HandlerDesc, fn HandlerFunc) (*Handler, error) {
	// A snapshot's handler entries (SER-1, WIRE-21), defaulted as WIRE-19 says.
	if !d.ID.IsZero() {
		if h := b.handlerByID(d.ID); h != nil {
			return h, nil
		}
	}
	if d.Pattern == "" {
		d.Pattern = Wildcard
	}
	if d.Name == "" {
		d.Name = defaultHandlerName
	}
	if fn == nil {
		fn = noopHandler
	}
	opts := []HandlerOption{WithHandlerName(d.Name), WithHandlerFilePath(d.FilePath)}
	if !d.ID.IsZero() {
		id := d.ID
		opts = append(opts, handlerOption(func(h *Handler) error { h.id = id; return nil }))
	}
	if d.RegisteredAt != 0 {
		opts = append(opts, WithHandlerRegisteredAt(d.RegisteredAt))
	}
	if d.Timeout > 0 {
		opts = append(opts, WithHandlerTimeout(d.Timeout))
	} else if d.Timeout < 0 { // an explicit 0 from the wire, kept for it (HandlerDesc)
		opts = append(opts, handlerOption(func(h *Handler) error { h.timeout = -1; return nil }))
	}
	if d.SlowTimeout >= 0 {
		opts = append(opts, WithHandlerSlowTimeout(d.SlowTimeout))
	}
	o := handlerOrigin{busID: d.BusID, busName: d.BusName}
	if o.busID.IsZero() {
		o.busID = b.id
	}
	if o.busName == "" {
		o.busName = b.name
	}
	if o.busID != b.id || o.busName != b.name {
		// Set before register publishes the handler.
		opts = append(opts, handlerOption(func(h *Handler) error { h.origin = &o; return nil }))
	}
	return b.register(d.Pattern, fn, nil, nil, opts)
}

// SnapshotDescOf returns h's metadata as a bus snapshot writes it: DescOf,
// except that a handler RestoreHandler re-created for another bus keeps
// reporting that bus's id and name. It is for snapshot code.
func SnapshotDescOf(h *Handler) HandlerDesc {
	d := DescOf(h)
	if o := h.origin; o != nil {
		d.BusID, d.BusName = o.busID, o.busName
	}
	return d
}

// HandlerByID returns b's registered handler with the given id, or nil.
func (b *Bus) HandlerByID(id string) *Handler {
	u, err := ident.ParseUUID(id)
	if err != nil {
		return nil
	}
	return b.handlerByID(u)
}

func (b *Bus) handlerByID(id ident.UUID) *Handler {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	if i := b.handlerIndex(id); i >= 0 {
		return b.regList[i]
	}
	return nil
}

// handlerIndex returns the index in regList of the handler with id, or -1.
// The caller holds hmu.
func (b *Bus) handlerIndex(id ident.UUID) int {
	return slices.IndexFunc(b.regList, func(h *Handler) bool { return h.id == id })
}

// BindHandler gives the handler of b with the given id the function fn:
// it is how a stub handler restored from a snapshot (RestoreHandler, or
// package wire's UnmarshalBus) is bound to Go code again, but it works for
// any handler of b. The handler keeps its id, metadata and place in the
// registration order; it is replaced by a new *Handler, which BindHandler
// returns (the old value is detached from b: its Off does nothing). Events
// whose processing already started keep running the old function; a
// seeded pending row of the handler runs fn. It returns ErrUnknownHandler
// when b has no handler with that id.
func BindHandler(b *Bus, id string, fn HandlerFunc) (*Handler, error) {
	// Started events keep the old function (REG-7); seeded pending rows run
	// the new one (ERU-5).
	if fn == nil {
		return nil, ErrNilHandler
	}
	u, err := ident.ParseUUID(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownHandler, id)
	}
	if b.state.Load() != busOpen {
		return nil, fmt.Errorf("%w: cannot bind on %s", ErrBusClosed, b.Label())
	}
	b.hmu.Lock()
	defer b.hmu.Unlock()
	idx := b.handlerIndex(u)
	// A handler whose Off has begun (it marks removed before taking hmu)
	// is as good as gone: binding it would undo that Off.
	if idx < 0 || b.regList[idx].removed.Load() {
		return nil, fmt.Errorf("%w: %s", ErrUnknownHandler, id)
	}
	old := b.regList[idx]
	if len(old.wrappers) > 0 || len(b.cfg.wrappers) > 0 {
		wfn, err := b.wrapped(old, fn)
		if err != nil {
			return nil, err
		}
		fn = wfn
	}
	nh := &Handler{id: old.id, idText: old.idText, name: old.name, filePath: old.filePath,
		registeredAt: old.registeredAt, pattern: old.pattern, bus: b, fn: fn, timeout: old.timeout,
		slowTimeout: old.slowTimeout, forwardTo: old.forwardTo, slot: old.slot, origin: old.origin,
		wrappers: old.wrappers}
	if l := old.slot.list.Load(); l != nil {
		// Copy on write: dispatchers may be reading the old snapshot.
		hs := slices.Clone(l.hs)
		if i := slices.Index(hs, old); i >= 0 {
			hs[i] = nh
		}
		old.slot.list.Store(&handlerList{hs: hs})
	}
	b.regList[idx] = nh
	old.removed.Store(true)
	return nh, nil
}

// RestoreHistory appends ev, a restored event (see Restore), to b's
// history as it is: nothing runs and nothing is queued (use Requeue for
// that). The history limit is not enforced here: a snapshot's history is
// taken as it was. ev must not be in b's history already. It is for
// snapshot code; events enter the history by Emit.
func RestoreHistory(b *Bus, ev Eventer) error {
	e := Core(ev)
	if e == nil {
		return ErrNilEvent
	}
	e.init(ev)
	b.hist.restore(e)
	return nil
}

// restore appends e without the limit check of add.
func (h *history) restore(e *Event) {
	h.mu.Lock()
	h.push(e)
	h.mu.Unlock()
}

// Requeue puts ev back into b's queue, as a bus restore does with the ids
// of a snapshot's pending_event_queue: the event is counted as emitted on
// b (so WaitUntilIdle waits for it and Wait on the event works) and gets
// b's label in its event_path if it lacks it, but keeps the rest of its
// state, result rows included: a handler whose row is already terminal is
// skipped when b processes it and a seeded pending row runs. A completed
// event runs again, as when it is emitted on a new bus. An event already
// waiting in b's queue is left alone.
//
// Requeue does not start b's dispatcher: requeued events run once b is
// started by Resume or by the next Emit (they then run first, in the order
// they were requeued). On a bus that is already running they run as soon
// as the dispatcher gets to them. Requeue returns ErrBusClosed on a closed
// bus and ErrNilEvent for nil. It neither waits nor fails for a queue limit
// (WithMaxQueue): requeued events count toward the limit but may take the
// queue over it, so that a restore keeps every queued event. It is for
// snapshot code; handlers and users emit with Emit.
func Requeue(b *Bus, ev Eventer) error {
	// A snapshot's pending_event_queue (SER-2): terminal rows are skipped and
	// seeded pending rows run (ERU-5); a completed event runs again (EMIT-9).
	e := Core(ev)
	if e == nil {
		return ErrNilEvent
	}
	if b.state.Load() != busOpen {
		return fmt.Errorf("%w: cannot requeue on %s", ErrBusClosed, b.Label())
	}
	label := b.Label()
	e.mu.Lock()
	if e.outer == nil || e.created.Load() == 0 {
		e.initLocked(ev)
	}
	if e.queuedOnLocked(b) >= 0 {
		e.mu.Unlock()
		return nil
	}
	e.reopenLocked()
	inPath := false
	for i, n := 0, e.pathLen(); i < n; i++ {
		if e.pathAt(i) == label {
			inPath = true
			break
		}
	}
	if !inPath {
		e.addPath(label)
	}
	e.flags |= flagEmitted
	if b.cfg.maxQueue > 0 {
		// Before addBus, so that a claim can only follow. A restored
		// queue is kept whole, over the limit if need be.
		b.gate.forceTake()
	}
	e.pending++
	e.addBus(b)
	e.mu.Unlock()
	b.emitted.Add(1)
	if !b.queue.Push(e) {
		b.unqueue(e)
		return fmt.Errorf("%w: cannot requeue on %s", ErrBusClosed, b.Label())
	}
	return nil
}

// Resume starts b's dispatcher if it has not started yet, so that events
// requeued on a restored bus (Requeue) run without waiting for the next
// Emit. It does nothing on a closed bus. It is for snapshot code: a bus
// that was not restored starts with its first Emit.
func Resume(b *Bus) {
	if b.state.Load() == busOpen {
		b.ensureRunning()
	}
}

// QueuedEvents returns the events of b's history that wait in b's queue,
// in history order: those emitted (or requeued) on b whose processing there
// has not been claimed yet. It is what a bus snapshot writes as
// pending_event_queue. The queue itself cannot be iterated, so an event
// that waits in the queue but was dropped from the history (a dropping
// history over its limit) is not reported. After Close, the abandoned
// events are reported. It is for snapshot code; Bus.QueueLen counts the
// queue.
func QueuedEvents(b *Bus) []*Event {
	// A snapshot's pending_event_queue (WIRE-20).
	var out []*Event
	for _, e := range b.hist.snapshot() {
		e.mu.Lock()
		if e.queuedOnLocked(b) >= 0 {
			out = append(out, e)
		}
		e.mu.Unlock()
	}
	return out
}

// RelinkChildren replaces the id-only children of e's result rows (the
// stubs Restore makes from event_children, see IsStub) with the events
// lookup returns for their ids; stubs lookup returns nil for stay. It is
// how a bus restore re-links event_children to the history: it is for
// snapshot code. lookup runs with e locked and must not use e.
func RelinkChildren(e *Event, lookup func(id ident.UUID) *Event) {
	// The event_children re-linking of a bus restore (WIRE-23).
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := 0, e.rowCount(); i < n; i++ {
		r := e.rowAt(i)
		if r.ext == nil {
			continue
		}
		for j, c := range r.ext.children {
			// Stubs are made with creation time 1 (an atomic read, safe on
			// a real child in flight); their flags never change after
			// Restore made them, and no one else holds them.
			if c == nil || c.created.Load() != 1 || c.flags&flagStub == 0 {
				continue
			}
			if ev := lookup(c.id); ev != nil && ev != e {
				r.ext.children[j] = ev
			}
		}
	}
}
