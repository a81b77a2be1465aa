package engine

import (
	"context"
	"fmt"
)

// The result helpers: RES.

// ResultOption configures ResultValues.
type ResultOption interface{ applyResult(*resultQuery) }

type resultOption func(*resultQuery)

func (f resultOption) applyResult(q *resultQuery) { f(q) }

type resultQuery struct {
	include     func(value any, r *Result) bool
	raiseIfAny  bool
	raiseIfNone bool
}

// raise_if_any=false: RES-3.

// IgnoreErrors returns results even when some handlers failed (abxbus's
// raise_if_any=False).
func IgnoreErrors() ResultOption { return resultOption(func(q *resultQuery) { q.raiseIfAny = false }) }

// raise_if_none=false: RES-4.

// AllowEmpty returns no value instead of ErrNoResult when no handler
// produced an included result (abxbus's raise_if_none=False).
func AllowEmpty() ResultOption { return resultOption(func(q *resultQuery) { q.raiseIfNone = false }) }

// Include replaces the default filter (completed, no error, non-nil, not an
// event) with f. f receives the row's value, already normalised (event
// values become nil), and the row.
func Include(f func(value any, r *Result) bool) ResultOption {
	// The filter RES-2; normalised values RES-5.
	return resultOption(func(q *resultQuery) { q.include = f })
}

// DefaultInclude is the default result filter: a completed row without
// error whose value is neither nil, nor an error, nor an event.
func DefaultInclude(value any, r *Result) bool {
	// RES-2.
	if r.Status() != StatusCompleted || r.Error() != nil || r.Value() == nil {
		return false
	}
	switch r.Value().(type) {
	case error, Eventer:
		return false
	}
	return true
}

// ResultValues returns the rows selected by opts and their normalised values,
// in row order (as Rows returns them). Unless IgnoreErrors is
// given, a failed row makes it return that row's error, or a
// *HandlerErrors with every error when several rows failed; unless
// AllowEmpty is given, no selected row makes it return ErrNoResult. It does
// not wait: call Now or Wait first.
func (e *Event) ResultValues(opts ...ResultOption) ([]any, []*Result, error) {
	// Row order RES-1; raise_if_any RES-3, raise_if_none RES-4 (both
	// default true).
	q := resultQuery{include: DefaultInclude, raiseIfAny: true, raiseIfNone: true}
	for _, o := range opts {
		if o != nil {
			o.applyResult(&q)
		}
	}
	rows := e.Rows()
	if q.raiseIfAny {
		var errs []error
		for _, r := range rows {
			if err := r.Error(); err != nil {
				errs = append(errs, err)
			}
		}
		switch len(errs) {
		case 0:
		case 1:
			return nil, nil, errs[0]
		default:
			return nil, nil, &HandlerErrors{Event: e.Label(), Errors: errs}
		}
	}
	var vals []any
	var sel []*Result
	for _, r := range rows {
		v := r.Value()
		if _, isEvent := v.(Eventer); isEvent {
			v = nil
		}
		if q.include(v, r) {
			vals = append(vals, v)
			sel = append(sel, r)
		}
	}
	if len(vals) == 0 && q.raiseIfNone {
		return nil, nil, fmt.Errorf("%w: expected at least one handler of %s to return a non-nil result", ErrNoResult, e.Label())
	}
	return vals, sel, nil
}

// First sets the event's completion mode to first (the mutation is visible
// on the event), runs it with Now, and returns the winning value, or nil if
// no handler produced one. Handler errors are not returned; they stay in the
// result rows.
//
// The mode only applies to handlers the bus has not started yet, and a bus
// may start an event as soon as Emit has queued it, so Emit followed by First
// may let handlers after the winner run. To have first mode apply for
// certain, emit with Bus.EmitFirst, or call SetCompletion(CompleteFirst)
// before Emit and then First.
func (e *Event) First(ctx context.Context) (any, error) {
	e.SetCompletion(CompleteFirst)
	return e.awaitFirst(ctx)
}

// EmitFirst emits ev on b in first mode and returns the winning value, or
// nil if no handler produced one: handlers run until one returns a value that
// is not nil and not an event, and the handlers after it are cancelled
// (serial) or aborted (parallel). The mode is set on the event before it is
// queued, so it applies however soon the bus starts the event; this is the
// guaranteed form of Emit followed by First. Errors are those of Emit and
// Now; handler errors are not returned, they stay in the result rows.
//
// If ev was already emitted on another bus, the mode applies only where the
// event has not started yet. Called with a handler's context, EmitFirst
// processes the event at once, like Now.
func (b *Bus) EmitFirst(ctx context.Context, ev Eventer) (any, error) {
	e := Core(ev)
	if e == nil {
		return nil, ErrNilEvent
	}
	// FIRST-5: set before the event is queued, so that no handler can
	// start under the previous mode.
	prev := e.Completion()
	e.SetCompletion(CompleteFirst)
	if err := b.Emit(ctx, ev); err != nil {
		if !e.IsEmitted() {
			e.SetCompletion(prev) // not queued anywhere: leave it as it was
		}
		return nil, err
	}
	return e.awaitFirst(ctx)
}

// awaitFirst runs the event with Now and returns the first included value,
// ignoring handler errors (FIRST-5: raise_if_any and raise_if_none off).
func (e *Event) awaitFirst(ctx context.Context) (any, error) {
	if err := e.Now(ctx); err != nil {
		return nil, err
	}
	vals, _, err := e.ResultValues(IgnoreErrors(), AllowEmpty())
	if err != nil || len(vals) == 0 {
		return nil, err
	}
	return vals[0], nil
}
