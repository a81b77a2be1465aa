package engine

// Handler registration (REG): On, OnFunc, Forward and Off, and the
// per-pattern handler slots that makeRows (rows.go) reads the handlers of
// an event from, through the dispatcher's cache (dispatcher.go).

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/ringbus/ringbus/ident"
)

// On registers fn for events whose event_type is pattern, or for every event
// when pattern is "*". It returns the handler, whose Off method
// unregisters it. Registration is safe from any goroutine, including from
// handlers; it affects events whose processing starts afterwards.
//
// Registering one function value twice for a pattern, or two handlers with
// the same explicit name (WithHandlerName), logs a warning; both handlers
// run. Distinct closures made by one func literal share their default name
// but do not warn.
func (b *Bus) On(pattern string, fn HandlerFunc, opts ...HandlerOption) (*Handler, error) {
	// REG-1; a snapshot of the handlers per processing REG-7.
	return b.register(pattern, fn, fn, nil, opts)
}

// OnFunc is On with the Go function used to derive the default handler name
// and file path given separately (package api passes the user's typed
// function).
func (b *Bus) OnFunc(pattern string, fn HandlerFunc, origin any, opts ...HandlerOption) (*Handler, error) {
	return b.register(pattern, fn, origin, nil, opts)
}

// Forward registers a handler that emits every event matching pattern on
// target, keeping the same event object. Loops are broken by event_path:
// emitting an event on a bus it has already been emitted on does nothing.
// Forwarding handlers are exempt from the recursion limit
// (WithMaxRecursionDepth).
func (b *Bus) Forward(pattern string, target *Bus, opts ...HandlerOption) (*Handler, error) {
	// FWD-1; loops FWD-2, EMIT-8; the recursion guard FWD-3.
	if target == nil {
		return nil, badOption("nil forward target")
	}
	fn := func(ctx context.Context, e *Event) (any, error) {
		if err := target.Emit(ctx, e.Payload()); err != nil {
			return nil, err
		}
		return e.Payload(), nil
	}
	opts = append([]HandlerOption{WithHandlerName("forward_to_" + target.Name())}, opts...)
	return b.register(pattern, fn, nil, target, opts)
}

func (b *Bus) register(pattern string, fn HandlerFunc, origin any, forward *Bus, opts []HandlerOption) (*Handler, error) {
	if fn == nil {
		return nil, ErrNilHandler
	}
	if b.state.Load() != busOpen {
		return nil, fmt.Errorf("%w: cannot register on %s", ErrBusClosed, b.Label())
	}
	if pattern != Wildcard {
		if err := validEventType(pattern); err != nil {
			return nil, err
		}
	}
	h := &Handler{pattern: pattern, bus: b, fn: fn, slowTimeout: unsetDuration, forwardTo: forward}
	if origin != nil {
		h.name, h.filePath = funcName(origin)
		if isClosureName(h.name) {
			// Closures of one func literal share a name but are distinct
			// handlers; anything else (functions, method values) is
			// identified by its name, as abxbus does (REG-8).
			h.fnKey = funcValue(origin)
		}
		if !b.cfg.detectFilePaths {
			h.filePath = ""
		}
	} else {
		h.name = defaultHandlerName
	}
	for _, o := range opts {
		if o == nil {
			return nil, badOption("nil handler option")
		}
		if err := o.applyHandler(h); err != nil {
			return nil, err
		}
	}
	if h.registeredAt == 0 {
		h.registeredAt = ident.Now()
	}
	if len(h.wrappers) > 0 || len(b.cfg.wrappers) > 0 {
		wfn, err := b.wrapped(h, h.fn)
		if err != nil {
			return nil, err
		}
		h.fn = wfn
	}
	b.hmu.Lock()
	if h.id.IsZero() {
		h.id = b.hids.Derive(h.name, h.filePath, h.registeredAt, pattern)
	}
	h.setIDText()
	slot := b.slotFor(pattern, true)
	h.slot = slot
	old := slot.list.Load()
	var hs []*Handler
	if old != nil {
		hs = old.hs
		// REG-8: the duplicate-name check is skipped for large keys.
		if len(hs) <= 256 {
			for _, o := range hs {
				if h.sameHandler(o) {
					b.logDuplicate(h, pattern)
					break
				}
			}
		}
	}
	slot.list.Store(newHandlerList(hs, h))
	b.regList = append(b.regList, h)
	b.hmu.Unlock()
	b.notifyHandlers(h, true)
	return h, nil
}

func (b *Bus) removeHandler(h *Handler) {
	if !h.removed.CompareAndSwap(false, true) {
		return
	}
	b.hmu.Lock()
	if slot := h.slot; slot != nil { // nil: never registered here
		if old := slot.list.Load(); old != nil {
			slot.list.Store(old.without(h)) // REG-6: an empty key reads as absent
		}
	}
	// In place: regList is only read under hmu, and Handlers copies it.
	if i := slices.Index(b.regList, h); i >= 0 {
		b.regList = slices.Delete(b.regList, i, i+1)
	}
	b.hmu.Unlock()
	b.notifyHandlers(h, false)
}

// Off removes every handler registered under pattern. Removing nothing is
// not an error.
func (b *Bus) Off(pattern string) {
	// REG-6.
	for _, h := range b.HandlersFor(pattern) {
		h.Off()
	}
}

// OffID removes the handler with the given id under pattern, if any.
func (b *Bus) OffID(pattern, id string) {
	l := b.listFor(pattern)
	if l == nil {
		return
	}
	// The canonical text, as ID returns it, matches without parsing. Every
	// handler with that UUID has that text (ids may repeat: WithHandlerID),
	// so a match here finds them all.
	found := false
	for _, h := range l.hs {
		if h.ID() == id {
			h.Off()
			found = true
		}
	}
	if found {
		return
	}
	u, err := ident.ParseUUID(id)
	if err != nil {
		return // no handler has an id that is not a UUID
	}
	for _, h := range l.hs {
		if h.id == u {
			h.Off()
		}
	}
}

// HandlersFor returns the handlers registered under pattern, in
// registration order.
func (b *Bus) HandlersFor(pattern string) []*Handler {
	l := b.listFor(pattern)
	if l == nil {
		return nil
	}
	return append([]*Handler(nil), l.hs...)
}

// Handlers returns every registered handler in registration order.
func (b *Bus) Handlers() []*Handler {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return append([]*Handler(nil), b.regList...)
}

// handlersFor returns the snapshot of handlers to run for an event type:
// typed ones first, then wildcard ones (REG-3).
func (b *Bus) handlersFor(eventType string) (typed, wild []*Handler) {
	if l := b.listFor(eventType); l != nil {
		typed = l.hs
	}
	if l := b.wild.list.Load(); l != nil {
		wild = l.hs
	}
	return typed, wild
}

// listFor returns the current handlers of pattern, nil when it has none.
func (b *Bus) listFor(pattern string) *handlerList {
	if pattern == Wildcard {
		return b.wild.list.Load()
	}
	if s, ok := b.typed.Load(pattern); ok {
		return s.list.Load()
	}
	return nil
}

// slotFor returns pattern's slot, creating it when create is set. The
// caller holds hmu. A slot outlives its last handler, so that registering
// and removing handlers in a loop does not churn the map.
func (b *Bus) slotFor(pattern string, create bool) *handlerSlot {
	if pattern == Wildcard {
		return &b.wild
	}
	if s, ok := b.typed.Load(pattern); ok || !create {
		return s
	}
	s := &handlerSlot{}
	b.typed.store(pattern, s)
	return s
}

// slotTable maps the typed patterns of a bus to their handler slots. Most
// buses register handlers for one event type or a few, so the first
// pattern's slot is kept inline and the concurrent map for the others is
// made only when a second pattern is registered: a bus with one handled
// type costs one small allocation here instead of a map's table (about
// 2.8 KB; issue 13, target 3). Load is safe from any goroutine without a
// lock; store and clear are called with the bus's hmu held.
type slotTable struct {
	first atomic.Pointer[namedSlot]
	more  atomic.Pointer[xsync.Map[string, *handlerSlot]]
}

// namedSlot is the inline entry of a slotTable.
type namedSlot struct {
	pattern string
	slot    *handlerSlot
}

// Load returns the slot of pattern and whether it has one.
func (t *slotTable) Load(pattern string) (*handlerSlot, bool) {
	if f := t.first.Load(); f != nil && f.pattern == pattern {
		return f.slot, true
	}
	if m := t.more.Load(); m != nil {
		return m.Load(pattern)
	}
	return nil, false
}

// store adds the slot of a pattern that has none. The caller holds hmu.
func (t *slotTable) store(pattern string, s *handlerSlot) {
	if t.first.Load() == nil {
		t.first.Store(&namedSlot{pattern: pattern, slot: s})
		return
	}
	m := t.more.Load()
	if m == nil {
		m = xsync.NewMap[string, *handlerSlot]()
		t.more.Store(m)
	}
	m.Store(pattern, s)
}

// clear calls f on every slot and then forgets them all, without
// allocating. The caller holds hmu.
func (t *slotTable) clear(f func(*handlerSlot)) {
	if n := t.first.Load(); n != nil {
		f(n.slot)
	}
	if m := t.more.Load(); m != nil {
		m.Range(func(_ string, s *handlerSlot) bool {
			f(s)
			return true
		})
	}
	t.first.Store(nil)
	t.more.Store(nil)
}
