package middleware

// AutoReturn: MW-11.

import (
	"context"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// ResultEvents is the middleware AutoReturn returns.
type ResultEvents struct {
	api.NopMiddleware
	cfg autoConfig
}

// AutoReturn returns a middleware that emits an event for every handler
// value: when a handler of an event of type T returns a value that is not
// nil and is not an event, it emits an untyped event of type
// T+"ResultEvent" on the same bus, with the payload field "data" holding
// the value as the handler returned it.
//
// Handlers that fail, return nil (or nothing: a typed handler of a
// struct{} result) or return an event (a forwarding handler's row holds
// the forwarded event) produce nothing, nor do events whose type ends in
// "ErrorEvent" or "ResultEvent".
//
// As with AutoError, the event is emitted without waiting, as a root event
// carrying the ctx values of the event that produced the value, and one
// that cannot be emitted is logged and dropped.
//
// A handler reads the value from the untyped event's Fields()["data"], or
// declares a struct named after the event type, whose Data field receives
// the value through JSON:
//
//	type QuoteResultEvent struct {
//		api.Event[any]
//		Data float64 `json:"data"`
//	}
func AutoReturn(opts ...AutoOption) *ResultEvents {
	return &ResultEvents{cfg: newAutoConfig(opts)}
}

// Hooks tells the bus that AutoReturn needs only completed result rows;
// the other transitions cost nothing per event.
func (*ResultEvents) Hooks() api.Hooks { return api.ResultCompletedHook }

// OnResultChange emits the ResultEvent of a row that completed with a
// value.
func (m *ResultEvents) OnResultChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, r *api.Result, s api.Status) {
	if s != api.StatusCompleted || r.Error() != nil {
		return
	}
	v := r.Value()
	if v == nil {
		return
	}
	if _, isEvent := v.(engine.Eventer); isEvent {
		return
	}
	typ := e.Type()
	if synthetic(typ) {
		return
	}
	ev, err := api.NewEvent(typ+"ResultEvent", map[string]any{"data": v})
	if err != nil { // cannot happen: the name extends a valid event type
		return
	}
	m.cfg.emit(ctx, bus, ev, e, r)
}
