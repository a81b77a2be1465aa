package api

// SUCK-4: the Go form of abxbus's events_suck helpers. Call and
// CallPayload make an emit and its await one function call; OnPayload
// turns a plain function of a payload struct into a handler.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"

	"github.com/ringbus/ringbus/engine"
)

// Call emits e on bus, waits for it like Result and returns its first
// handler value, as one call:
//
//	total, err := api.Call(ctx, bus, &PriceOrder{OrderID: "A-1"})
//
// is bus.Emit(ctx, e) followed by e.Result(ctx, opts...). Called with a
// handler's ctx, the event is a child of the one being handled and runs at
// once, ahead of the queue. By default Call fails with the handler's error
// if any handler failed, and with an error matching ErrNoResult if none
// returned a value; IgnoreErrors, AllowEmpty and Include change that.
func Call[R any](ctx context.Context, bus *Bus, e Typed[R], opts ...ResultOption) (R, error) {
	var zero R
	if bus == nil {
		return zero, fmt.Errorf("%w: Call on a nil bus", ErrBadOption)
	}
	if err := bus.Emit(ctx, e); err != nil {
		return zero, err
	}
	return ResultOf[R](ctx, e, opts...)
}

// CallPayload is Call for an event that has no Go type: it emits an
// untyped event of eventType whose payload fields are payload's, as
// encoding/json encodes it (a struct's fields by their json names, or a
// map's entries), waits for it and returns its first handler value
// converted to R:
//
//	type Quote struct {
//		SKU string `json:"sku"`
//		Qty int    `json:"qty"`
//	}
//	price, err := api.CallPayload[float64](ctx, bus, "PriceQuote", Quote{SKU: "x", Qty: 2})
//
// Handlers registered with OnPayload, OnType or, when eventType is a typed
// event's name, On receive the event. Numbers in the payload are
// json.Number values, as in an event decoded from JSON. A payload that does
// not encode to a JSON object (or null, for no fields) fails with an error
// matching ErrPayloadType, and a field name the event model reserves
// ("event_...", "bus", ...) with one matching ErrBadOption. ctx and opts
// are as for Call.
func CallPayload[R, P any](ctx context.Context, bus *Bus, eventType string, payload P, opts ...ResultOption) (R, error) {
	var zero R
	if bus == nil {
		return zero, fmt.Errorf("%w: CallPayload on a nil bus", ErrBadOption)
	}
	fields, err := payloadFields(eventType, payload)
	if err != nil {
		return zero, err
	}
	e, err := NewEvent(eventType, fields)
	if err != nil {
		return zero, err
	}
	if err := bus.Emit(ctx, e); err != nil {
		return zero, err
	}
	return ResultOf[R](ctx, e, opts...)
}

// payloadFields is payload as an event's payload fields.
func payloadFields[P any](eventType string, payload P) (map[string]any, error) {
	if m, ok := any(payload).(map[string]any); ok {
		return maps.Clone(m), nil // the event must not share the caller's map
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: the payload of %s (%s) does not encode: %w", ErrPayloadType, eventType, reflect.TypeFor[P](), err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("%w: the payload of %s (%s) must encode to a JSON object", ErrPayloadType, eventType, reflect.TypeFor[P]())
	}
	return fields, nil
}

// OnPayload registers h as a handler for events of eventType whose
// payload fields decode into a P: a plain function of a request struct
// becomes a handler, with no event type of its own:
//
//	api.OnPayload(bus, "PriceQuote", func(ctx context.Context, q Quote) (float64, error) {
//		return 9.5 * float64(q.Qty), nil
//	})
//
// The fields are decoded with encoding/json, so P's json tags name them;
// fields P lacks are ignored, and fields the event lacks leave P's zero
// values. This works for untyped events (NewEvent, CallPayload, decoded
// JSON) and typed ones (the payload struct's fields) alike. A payload that
// does not decode into P fails the handler with an error matching
// ErrPayloadType. The handler's value is stored as On stores a typed
// handler's: a nil pointer, map or slice, or a result type of size zero
// such as struct{}, counts as no value. The handler is named after h
// unless WithHandlerName says otherwise.
func OnPayload[P, R any](bus *Bus, eventType string, h func(ctx context.Context, p P) (R, error), opts ...HandlerOption) (*Handler, error) {
	if h == nil {
		return nil, engine.ErrNilHandler
	}
	if bus == nil {
		return nil, fmt.Errorf("%w: OnPayload on a nil bus", ErrBadOption)
	}
	norm := normalization[R]()
	fn := func(ctx context.Context, e *engine.Event) (any, error) {
		var p P
		if err := decodePayload(e, &p); err != nil {
			return nil, err
		}
		r, err := h(ctx, p)
		if err != nil {
			return nil, err
		}
		return normalize(norm, r), nil
	}
	return bus.OnFunc(eventType, fn, h, opts...)
}

// decodePayload decodes the payload fields of e into *p.
func decodePayload[P any](e *engine.Event, p *P) error {
	var src any = e.Payload()
	if _, untyped := src.(*engine.Event); untyped {
		fields := e.Fields()
		if m, ok := any(p).(*map[string]any); ok {
			*m = maps.Clone(fields)
			return nil
		}
		src = fields
	}
	data, err := json.Marshal(src)
	if err == nil {
		err = json.Unmarshal(data, p)
	}
	if err != nil {
		return fmt.Errorf("%w: the payload of %s does not decode into %s: %w", engine.ErrPayloadType, e.Label(), reflect.TypeFor[P](), err)
	}
	return nil
}
