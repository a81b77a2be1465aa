package engine

// A view is a second Go value standing for one event: package api hands a
// typed handler a *E decoded from an untyped event of E's event_type (REG-2),
// and that *E must not become a second event with the same id. A view
// carries a snapshot of the event's fields and payload; emitting it emits
// the event itself, and waiting on it, its result rows, its children and
// its parent are those of the event itself. A view is never emitted.

// NewView makes view, the Event embedded in outer, a view of of: a copy of
// of's event fields (not its rows) that acts on of wherever it matters (see
// Bus.Emit, Wait, Now, Done, Rows, Parent). outer must embed view and
// already hold the payload. Calling it on an emitted event fails.
func NewView(view *Event, outer Eventer, of *Event) error {
	if view == nil || of == nil {
		return ErrNilEvent
	}
	if o := of.viewOf(); o != nil {
		of = o
	}
	st := StateOf(of)
	st.Meta, st.Rows, st.Fields = nil, nil, nil
	if err := Restore(view, outer, &st); err != nil {
		return err
	}
	view.mu.Lock()
	defer view.mu.Unlock()
	if view.flags&flagEmitted != 0 {
		return badOption("a view cannot be made of an emitted event")
	}
	view.extension().orig = of
	return nil
}

// viewOf returns the event e is a view of, nil when e is an event itself.
func (e *Event) viewOf() *Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.viewOfLocked()
}

func (e *Event) viewOfLocked() *Event {
	if x := e.ext; x != nil {
		return x.orig
	}
	return nil
}

// outerOrSelf returns the Go value the event was emitted as.
func (e *Event) outerOrSelf() Eventer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.outer != nil {
		return e.outer
	}
	return e
}
