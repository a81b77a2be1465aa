package api

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/schema"
)

// Core types, shared with package engine.
type (
	// Bus is an event bus. See engine.Bus.
	Bus = engine.Bus
	// BaseEvent is the untyped event every typed event embeds. Handlers
	// registered by name or for all events receive it.
	BaseEvent = engine.Event
	// Result is one handler's result row.
	Result = engine.Result
	// Handler is a registered handler; its Off method unregisters it.
	Handler = engine.Handler
	// Status is an event or result status.
	Status = engine.Status
	// Middleware observes a bus: its events, result rows and handler
	// registrations (see WithMiddlewares).
	Middleware = engine.Middleware
	// NopMiddleware is embeddable in middlewares that implement some hooks.
	NopMiddleware = engine.NopMiddleware
	// HookSelector is implemented by a middleware that uses only some of
	// its hooks: the bus calls just those.
	HookSelector = engine.HookSelector
	// Hooks is a set of a middleware's hooks (EventHooks, ResultHooks,
	// HandlerHooks).
	Hooks = engine.Hooks
	// BusCloseObserver is implemented by a middleware that wants to know
	// when a bus it was given to is shut down by Stop or Close.
	BusCloseObserver = engine.BusCloseObserver
	// Domain is a set of buses with its own global-serial lock and bus
	// names (see WithDomain).
	Domain = engine.Domain
	// Option configures a bus.
	Option = engine.Option
	// HandlerOption configures a handler.
	HandlerOption = engine.HandlerOption
	// FindOption configures Find and Filter.
	FindOption = engine.FindOption
	// ResultOption configures the result helpers.
	ResultOption = engine.ResultOption
	// StopOption configures Stop and Close.
	StopOption = engine.StopOption
	// TypeOptions configures a declared event type.
	TypeOptions = engine.TypeOptions
	// Eventer is implemented by every event.
	Eventer = engine.Eventer
)

// Event is embedded by value in a typed event struct; R is the type its
// handlers return, so a handler returning another type does not compile:
//
//	type UserCreated struct {
//		api.Event[string]
//		UserID string `json:"user_id"`
//	}
//
// The event_type is the struct's name unless declared otherwise (Declare).
// An event must not be copied after it is first emitted.
type Event[R any] struct {
	engine.Event
}

func (*Event[R]) resultOf(R) {}

// resultType is R, for Declare.
func (*Event[R]) resultType() reflect.Type { return reflect.TypeFor[R]() }

// Typed is satisfied by a pointer to a struct embedding Event[R].
type Typed[R any] interface {
	engine.Eventer
	resultOf(R)
}

// NewBus creates a bus named name ("" picks a name from the bus id).
//
// By default a bus keeps the last 100 events in its history and rejects
// the 101st Emit with an error matching ErrHistoryFull, even when every
// earlier event has completed (the abxbus default). A bus that lives
// longer than 100 events should drop old history instead:
//
//	bus, err := api.NewBus("Orders", api.WithHistoryDrop(true))
//
// See WithMaxHistory and WithHistoryDrop.
func NewBus(name string, opts ...Option) (*Bus, error) { return engine.NewBus(name, opts...) }

// NewEvent returns an untyped event with the given type and payload fields.
func NewEvent(eventType string, fields map[string]any) (*BaseEvent, error) {
	return engine.NewEvent(eventType, fields)
}

// Declare registers event type E with options (its event_type name,
// version and per-type defaults) before first use. E is the struct type
// (or a pointer to it).
//
// When E embeds Event[R], Declare also gives the type the JSON schema of R
// as its result schema, unless opts.ResultType is set: encoded events then
// carry it as their event_result_type, so decoders in this and other
// runtimes know what the handlers return, and every handler result of an
// E (from a typed handler, an untyped one, or a decoded row) is checked
// against it. R is taken from the event type, so the schema cannot name
// another type than its handlers return. R = any declares no schema, and
// an R with no JSON form (a channel, a function) fails with an error
// matching schema.ErrUnsupportedType. A nil slice or map encodes as null,
// which an array or object schema refuses: give such results a non-nil
// value or declare the event with Event[any].
//
// An event_type name belongs to one Go type: Declare fails with
// ErrEventTypeConflict when another Go type has it, as when two structs of
// one name in different packages both default to it; give one of them its
// own TypeOptions.Name.
func Declare[E any](opts TypeOptions) error {
	t := reflect.TypeFor[E]()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if opts.ResultType == nil && t.Kind() == reflect.Struct {
		if rt, ok := reflect.New(t).Interface().(interface{ resultType() reflect.Type }); ok {
			if r := rt.resultType(); r.Kind() != reflect.Interface || r.NumMethod() != 0 {
				s, err := schema.ForType(r)
				if err != nil {
					return fmt.Errorf("ringbus: result type of %s: %w", t, err)
				}
				opts.ResultType = s
			}
		}
	}
	_, err := engine.DeclareType(t, opts)
	return err
}

// TypeName returns the event_type of the Go event type E.
func TypeName[E any]() string {
	name, _ := typeName[E]()
	return name
}

// typeName is TypeName, failing with ErrEventTypeConflict when E's name
// belongs to another Go type (REG-1).
func typeName[E any]() (string, error) {
	// The name the first Emit of an E would use, generic types included.
	m, err := engine.TypeOf(reflect.TypeFor[E]())
	return m.Name(), err
}

// On registers a typed handler for event type E on bus. The event
// type is inferred from the handler: a handler for *E must return E's result
// type R. The returned handle's Off unregisters it. On fails with
// ErrEventTypeConflict when E's event_type name belongs to another Go type
// (two structs of one name in different packages; see Declare).
//
// The handler's ctx carries the emitter's values; it is cancelled when the
// handler times out, is aborted or the bus stops (Cause says why). Emitting
// with that ctx makes the new event a child of the one being handled.
//
// Handlers match events by event_type, not by Go type: an event of E's
// event_type that was not emitted as an E (an untyped event made with
// NewEvent or decoded without its Go type) reaches the handler as a new E
// whose payload fields are decoded from the event's with encoding/json: a
// view of the event. Its event fields (id, type, parent id, path, status,
// timeouts) are a snapshot taken when it was made, and changes to its
// payload fields do not reach the event; everything else acts on the event
// itself: emitting the view (to forward it, say) emits the event, waiting
// on it waits for the event, and its results, rows, children and parent
// are the event's. A payload field that does not decode into E fails the
// handler with an error matching ErrPayloadType. Events emitted as an E
// reach the handler as they are, without a view.
func On[E any, R any, P interface {
	*E
	Typed[R]
}](bus *Bus, h func(ctx context.Context, e P) (R, error), opts ...HandlerOption) (*Handler, error) {
	if h == nil {
		return nil, engine.ErrNilHandler
	}
	name, err := typeName[E]()
	if err != nil {
		return nil, err
	}
	// The normalization is chosen here rather than found per call: a
	// handler whose R holds nothing (struct{}) returns no value, one whose
	// R may be nil (a pointer, map, slice, func or chan) is tested for it.
	norm := normalization[R]()
	fn := func(ctx context.Context, e *engine.Event) (any, error) {
		p, ok := e.Payload().(P)
		if !ok {
			var err error
			if p, err = decodeAs[E, P](e); err != nil {
				return nil, err
			}
		}
		r, err := h(ctx, p)
		if err != nil || norm == normNothing {
			return nil, err
		}
		if norm == normNillable {
			return normalizeNillable(r), nil
		}
		return r, nil
	}
	return bus.OnFunc(name, fn, h, opts...)
}

// decodeAs returns a new E holding the payload of e, an event of E's
// event_type that was not emitted as an E (REG-2: handlers match by
// event_type only), with a snapshot of e's event fields (see On). The
// payload goes through JSON, as a result from another runtime does in
// convert: the untyped fields of e, or the payload struct of another Go
// type that took E's event_type.
func decodeAs[E any, P interface {
	*E
	Eventer
}](e *engine.Event) (P, error) {
	var src any = e.Payload()
	if _, untyped := src.(*engine.Event); untyped {
		src = e.Fields()
	}
	p := P(new(E))
	data, err := json.Marshal(src)
	if err == nil {
		err = json.Unmarshal(data, p)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the payload of %s does not decode into %s: %w", engine.ErrPayloadType, e.Label(), reflect.TypeFor[E](), err)
	}
	if err := engine.NewView(engine.Core(p), p, e); err != nil {
		return nil, fmt.Errorf("%w: %s as %s: %w", engine.ErrPayloadType, e.Label(), reflect.TypeFor[E](), err)
	}
	return p, nil
}

// OnType registers an untyped handler for events whose event_type is name.
func OnType(bus *Bus, name string, h func(ctx context.Context, e *BaseEvent) (any, error), opts ...HandlerOption) (*Handler, error) {
	if h == nil {
		return nil, engine.ErrNilHandler
	}
	return bus.OnFunc(name, h, h, opts...)
}

// OnAll registers a handler for every event ("*"); wildcard handlers run
// after the typed ones.
func OnAll(bus *Bus, h func(ctx context.Context, e *BaseEvent) (any, error), opts ...HandlerOption) (*Handler, error) {
	return OnType(bus, engine.Wildcard, h, opts...)
}

// How a handler's R becomes the stored value: nil for zero-size types (a
// handler with no result) and for nil pointers, maps, slices, funcs and
// channels, so that "no value" is nil (RES-2). The choice is made once per
// registration and kept in the handler's closure as a small integer rather
// than as a closure of its own, which would cost an allocation per On.
const (
	normPlain = iota
	normNothing
	normNillable
)

func normalization[R any]() uint8 {
	t := reflect.TypeFor[R]()
	if t.Size() == 0 {
		return normNothing
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return normNillable
	}
	return normPlain
}

func normalize[R any](how uint8, r R) any {
	// Split so that the common cases inline into the handler's closure.
	switch how {
	case normNothing:
		return nil
	case normNillable:
		return normalizeNillable(r)
	}
	return r
}

func normalizeNillable[R any](r R) any {
	if reflect.ValueOf(&r).Elem().IsNil() {
		return nil
	}
	return r
}

// Emit emits e on bus and returns it (see Bus.Emit).
func Emit[E Eventer](ctx context.Context, bus *Bus, e E) (E, error) {
	return e, bus.Emit(ctx, e)
}

// Result waits for the event like Now (so, called with a handler's ctx, it
// runs the event at once rather than deadlock behind it) and returns the
// first included handler value, in the order the handlers ran. By default
// it fails with the handler's error if any handler failed, and with an
// error matching ErrNoResult if none returned a value.
func (e *Event[R]) Result(ctx context.Context, opts ...ResultOption) (R, error) {
	var zero R
	if err := e.Now(ctx); err != nil {
		return zero, err
	}
	vals, _, err := e.ResultValues(opts...)
	if err != nil || len(vals) == 0 {
		return zero, err
	}
	return convert[R](vals[0])
}

// Results waits like Result and returns every included value, in the
// order the handlers ran.
func (e *Event[R]) Results(ctx context.Context, opts ...ResultOption) ([]R, error) {
	if err := e.Now(ctx); err != nil {
		return nil, err
	}
	vals, _, err := e.ResultValues(opts...)
	if err != nil {
		return nil, err
	}
	out := make([]R, 0, len(vals))
	for _, v := range vals {
		r, err := convert[R](v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// First switches the event to first-result completion, runs it, and returns
// the winning value, or R's zero value when no handler won.
//
// The mode only applies to handlers the bus has not started yet, and a bus
// may start an event as soon as Emit has queued it, so Emit followed by First
// may let handlers after the winner run. To have first mode apply for
// certain, use EmitFirst, or call SetCompletion(CompleteFirst) before Emit
// and then First.
func (e *Event[R]) First(ctx context.Context) (R, error) {
	var zero R
	v, err := e.Event.First(ctx)
	if err != nil || v == nil {
		return zero, err
	}
	return convert[R](v)
}

// EmitFirst emits e on bus in first-result mode and returns the winning
// value, or R's zero value when no handler won: handlers run until one
// returns a value that is not nil, and the ones after it are cancelled, or
// aborted when they run in parallel. Unlike Emit followed by First, the mode
// is set before the event is queued, so it applies however soon the bus
// starts the event:
//
//	answer, err := api.EmitFirst(ctx, bus, &Ask{Question: "..."})
//
// Handler errors are not returned; they stay in the event's result rows.
// Called with a handler's context, EmitFirst processes the event at once, as
// Now does. See Bus.EmitFirst.
func EmitFirst[R any](ctx context.Context, bus *Bus, e Typed[R]) (R, error) {
	var zero R
	v, err := bus.EmitFirst(ctx, e)
	if err != nil || v == nil {
		return zero, err
	}
	return convert[R](v)
}

func convert[R any](v any) (R, error) {
	var zero R
	if v == nil {
		return zero, nil
	}
	if r, ok := v.(R); ok {
		return r, nil
	}
	// A result decoded from another runtime's JSON is a JSON value
	// (map[string]any, []any, json.Number, ...): convert it through JSON.
	switch v.(type) {
	case map[string]any, []any, json.Number, string, bool, float64:
		data, err := json.Marshal(v)
		if err == nil {
			var r R
			if err = json.Unmarshal(data, &r); err == nil {
				return r, nil
			}
		}
		return zero, fmt.Errorf("%w: %T is not %s: %v", engine.ErrResultType, v, reflect.TypeFor[R](), err)
	}
	return zero, fmt.Errorf("%w: %T is not %s", engine.ErrResultType, v, reflect.TypeFor[R]())
}

// ResultOf waits for any event like Now and returns its first result
// converted to R.
func ResultOf[R any](ctx context.Context, e Eventer, opts ...ResultOption) (R, error) {
	var zero R
	c := engine.Core(e)
	if c == nil {
		return zero, engine.ErrNilEvent
	}
	if err := c.Now(ctx); err != nil {
		return zero, err
	}
	vals, _, err := c.ResultValues(opts...)
	if err != nil || len(vals) == 0 {
		return zero, err
	}
	return convert[R](vals[0])
}

// Find returns the newest event of type E matching opts, from the history
// and/or the future (see Past and Future), or nil when none matched in
// time. An event of E's event_type that was not emitted as an E is
// returned as a view of it, as On hands it to a typed handler: waiting on
// the view waits for the event, and its results are the event's.
func Find[E any, P interface {
	*E
	Eventer
}](ctx context.Context, bus *Bus, opts ...FindOption) (P, error) {
	// FIND.
	name, err := typeName[E]()
	if err != nil {
		return nil, err
	}
	e, err := bus.Find(ctx, name, opts...)
	if err != nil || e == nil {
		return nil, err
	}
	if p, ok := e.Payload().(P); ok {
		return p, nil
	}
	return decodeAs[E, P](e)
}

// Where is a typed find predicate: f sees the events of type E and decides
// which of them match; events of other types never match. An event of E's
// event_type that was not emitted as an E is given to f as a decoded copy,
// as On hands it to a typed handler. A predicate over *BaseEvent sees every
// event, typed or not, like engine.Where.
func Where[E any, P interface {
	*E
	Eventer
}](f func(P) bool) FindOption {
	if f == nil {
		return engine.Where(nil)
	}
	// FIND-4: a *BaseEvent predicate is the untyped one; converting its
	// argument through Payload would hide every typed event from it.
	if g, ok := any(f).(func(*engine.Event) bool); ok {
		return engine.Where(g)
	}
	name, err := typeName[E]()
	if err != nil { // E's name belongs to another Go type: E has no events
		return engine.Where(func(*engine.Event) bool { return false })
	}
	return engine.Where(func(e *engine.Event) bool {
		if p, ok := e.Payload().(P); ok {
			return f(p)
		}
		if e.Type() != name {
			return false
		}
		p, err := decodeAs[E, P](e) // REG-2, as On does
		return err == nil && f(p)
	})
}

// Cause returns why a handler context was stopped (see engine.Cause).
func Cause(ctx context.Context) error { return engine.Cause(ctx) }

// CurrentBus returns the bus running the handler whose context is ctx.
func CurrentBus(ctx context.Context) *Bus { return engine.CurrentBus(ctx) }

// CurrentEvent returns the event whose handler is running with ctx (or a
// context derived from it), or nil outside a handler.
func CurrentEvent(ctx context.Context) *BaseEvent { return engine.CurrentEvent(ctx) }

// ErrorTypeName returns the name other abxbus languages use for err's type
// (the one written in a result's error JSON): the value of its TypeName
// method when err has one, else its Go type name without package or
// pointer, and "Error" for the standard library's plain errors.
func ErrorTypeName(err error) string { return engine.ErrorTypeName(err) }

// CurrentResult returns the result row of the handler whose context is ctx
// (its handler's name and id, its status), or nil outside a handler. A
// HandlerWrapper uses it to learn which handler it wraps.
func CurrentResult(ctx context.Context) *Result { return engine.CurrentResult(ctx) }

// EventIsChildOf reports whether e descends from ancestor: it is one of
// its children, or a child of one, and so on, across buses.
func EventIsChildOf(e, ancestor Eventer) bool {
	return engine.EventIsChildOf(engine.Core(e), engine.Core(ancestor))
}

// EventIsParentOf reports whether e is an ancestor of descendant.
func EventIsParentOf(e, descendant Eventer) bool { return EventIsChildOf(descendant, e) }
