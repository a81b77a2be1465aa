package middleware

// AutoError: MW-10.

import (
	"context"

	"github.com/ringbus/ringbus/api"
)

// ErrorEvents is the middleware AutoError returns.
type ErrorEvents struct {
	api.NopMiddleware
	cfg autoConfig
}

// AutoError returns a middleware that emits an event for every failed
// handler: when a handler of an event of type T fails, it emits an untyped
// event of type T+"ErrorEvent" on the same bus, with two payload fields:
//
//	"error"       an *EventError: the handler's error, with its type name
//	              and message ({"type": ..., "message": ...} on the wire)
//	"error_type"  the error's type name, as a string
//
// The type name is the one ringbus writes in a failed result row: the
// abxbus name for ringbus's own errors ("EventHandlerTimeoutError",
// "EventHandlerCancelledError", ...), the Go type name otherwise, and
// "Error" for errors made by errors.New or fmt.Errorf.
//
// Every way a row can fail counts: an error returned, a panic, a timeout, a
// cancellation before the handler started. Events whose type ends in
// "ErrorEvent" or "ResultEvent" are skipped, so a failing handler of an
// ErrorEvent does not produce an "ErrorEventErrorEvent".
//
// The event is emitted without waiting (on a bus whose queue is full it is
// dropped rather than waited for) as a root event that carries the ctx
// values of the failed event; it is not a child of the failed event, so
// that event completes without waiting for it. An event that cannot be
// emitted is logged at Error on the bus's logger (Debug when the bus is
// closed) and dropped.
//
// A handler reads the fields from the untyped event, or declares a struct
// named after the event type:
//
//	type OrderPlacedErrorEvent struct {
//		api.Event[any]
//		Error     middleware.EventError `json:"error"`
//		ErrorType string                `json:"error_type"`
//	}
//
// Cost: while handlers succeed, only the hook calls: AutoError and
// AutoReturn together add about 37% instructions per event to a bus
// without middlewares (BenchmarkEmitBatchLogger in package perf/mwbench,
// counted with callgrind); each failure costs an event.
func AutoError(opts ...AutoOption) *ErrorEvents {
	return &ErrorEvents{cfg: newAutoConfig(opts)}
}

// Hooks tells the bus that AutoError needs only completed result rows;
// the other transitions cost nothing per event.
func (*ErrorEvents) Hooks() api.Hooks { return api.ResultCompletedHook }

// OnResultChange emits the ErrorEvent of a row that completed with an
// error.
func (m *ErrorEvents) OnResultChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, r *api.Result, s api.Status) {
	if s != api.StatusCompleted {
		return
	}
	err := r.Error()
	if err == nil {
		return
	}
	typ := e.Type()
	if synthetic(typ) {
		return
	}
	name := api.ErrorTypeName(err)
	ev, nerr := api.NewEvent(typ+"ErrorEvent", map[string]any{
		"error":      &EventError{Type: name, Message: err.Error(), err: err},
		"error_type": name,
	})
	if nerr != nil { // cannot happen: the name extends a valid event type
		return
	}
	m.cfg.emit(ctx, bus, ev, e, r)
}

// EventError is the "error" field of the events AutoError emits: the type
// name and message of a handler's error. On the wire it is
// {"type": Type, "message": Message}, the form abxbus writes an error in.
// Emitted in this process, it also unwraps to the handler's error itself,
// so errors.Is and errors.As see through it; one decoded from JSON has
// only Type and Message.
type EventError struct {
	Type    string `json:"type"`    // the error's type name, as in the "error_type" field
	Message string `json:"message"` // the error's text
	err     error
}

// Error returns the message.
func (e *EventError) Error() string { return e.Message }

// TypeName returns Type, or "Error" when it is empty: the name the wire
// codec writes for it.
func (e *EventError) TypeName() string {
	if e.Type == "" {
		return "Error"
	}
	return e.Type
}

// Unwrap returns the handler's error, or nil for an EventError decoded from
// JSON.
func (e *EventError) Unwrap() error { return e.err }
