package ringbusotel

import (
	"reflect"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ringbus/ringbus/api"
)

// ScopeName is the instrumentation scope of the tracer a Tracer takes from
// its provider.
const ScopeName = "github.com/ringbus/ringbus/middleware/otel"

// The span names are these prefixes followed by the event's type or the
// handler's name.
const (
	EventSpanPrefix   = "abxbus.event."
	HandlerSpanPrefix = "abxbus.handler."
)

// The attributes of the spans.
const (
	// KindKey is "event" on event spans and "handler" on handler spans.
	KindKey = attribute.Key("abxbus.kind")
	// EventIDKey is the event's id.
	EventIDKey = attribute.Key("abxbus.event_id")
	// EventTypeKey is the event's type.
	EventTypeKey = attribute.Key("abxbus.event_type")
	// BusIDKey is the bus's id.
	BusIDKey = attribute.Key("abxbus.bus_id")
	// BusNameKey is the bus's label, its name and the end of its id.
	BusNameKey = attribute.Key("abxbus.bus_name")
	// EventParentIDKey is the parent event's id; only child events have it.
	EventParentIDKey = attribute.Key("abxbus.event_parent_id")
	// HandlerIDKey is the handler's id, on handler spans.
	HandlerIDKey = attribute.Key("abxbus.handler_id")
	// HandlerNameKey is the handler's name, on handler spans.
	HandlerNameKey = attribute.Key("abxbus.handler_name")
)

// Tracer traces the events and handlers of the buses it is installed on.
// Install it with BusOptions; one Tracer may serve any number of buses, and
// should serve every bus an event is forwarded to. A Tracer is safe for
// concurrent use and must not be copied.
type Tracer struct {
	tracer trace.Tracer
	off    bool // a no-op provider: nothing to record or propagate
	// global is the global provider New took when it was given none, if
	// its type is comparable. quiet says that its spans have recorded
	// nothing and carried no span context: the hooks skip their work until
	// otel.SetTracerProvider installs another.
	global    trace.TracerProvider
	quiet     atomic.Bool
	attrs     []attribute.KeyValue
	rootAttrs []attribute.KeyValue
	filter    func(*api.BaseEvent) bool

	events spanTable[*api.BaseEvent, *eventSpan]
	rows   spanTable[*api.Result, trace.Span]
}

// Option configures a Tracer.
type Option interface{ apply(*Tracer) }

type optionFunc func(*Tracer)

func (f optionFunc) apply(t *Tracer) { f(t) }

// WithTracerProvider makes the Tracer take its tracer from tp. By default,
// or when tp is nil, it takes it from otel.GetTracerProvider() when New is
// called: set the global provider before that.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(t *Tracer) {
		if tp != nil {
			t.tracer, t.off = tp.Tracer(ScopeName), isNoop(tp)
		}
	})
}

// WithAttributes adds attrs to every span the Tracer starts.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(t *Tracer) { t.attrs = append(t.attrs, attrs...) })
}

// WithRootAttributes adds attrs to the spans of root events, the events
// without a parent event.
func WithRootAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(t *Tracer) { t.rootAttrs = append(t.rootAttrs, attrs...) })
}

// WithFilter traces only the events for which keep returns true, and their
// handlers. A child of an event left out is still traced if keep accepts
// it, as a child of the span in the ctx it was emitted with. keep is called
// on the bus's processing path, when an event begins processing and when
// each of its handlers starts: it must be fast and safe for concurrent use.
func WithFilter(keep func(e *api.BaseEvent) bool) Option {
	return optionFunc(func(t *Tracer) { t.filter = keep })
}

// New returns a Tracer configured by opts.
func New(opts ...Option) *Tracer {
	t := &Tracer{}
	for _, o := range opts {
		if o != nil {
			o.apply(t)
		}
	}
	if t.tracer == nil {
		tp := otel.GetTracerProvider()
		t.tracer, t.off = tp.Tracer(ScopeName), isNoop(tp)
		if reflect.TypeOf(tp).Comparable() {
			t.global = tp
		}
	}
	t.events.init(eventStale, endEventLate)
	t.rows.init(rowStale, endRowLate)
	return t
}

// Option returns the bus option that installs the Tracer on a bus: its
// Middleware and its Wrapper, as one value.
//
//	bus, err := api.NewBus("Orders", tr.Option(), api.WithHistoryDrop(true))
//
// With a no-op tracer provider it installs nothing.
func (t *Tracer) Option() api.Option { return api.Options(t.BusOptions()...) }

// BusOptions returns the options Option combines, one per piece: none with
// a no-op tracer provider, else the Middleware and the Wrapper.
func (t *Tracer) BusOptions() []api.Option {
	if t.off {
		return nil
	}
	return []api.Option{api.WithMiddlewares(t.Middleware()), api.WithHandlerWrappers(t.Wrapper())}
}

// Middleware returns the middleware that starts and ends the Tracer's
// spans. It works with Wrapper, which puts each handler's span into the
// handler's ctx; BusOptions installs both.
func (t *Tracer) Middleware() api.Middleware { return middleware{t} }

// Wrapper returns the handler wrapper that gives each handler a ctx
// carrying the handler's span, so that the spans the handler starts and the
// events it emits are its span's children. It works with Middleware, which
// starts the span; BusOptions installs both.
func (t *Tracer) Wrapper() api.HandlerWrapper { return t.wrap }

// isNoop reports whether tp is the API's no-op provider, whose spans
// record nothing and carry no span context.
func isNoop(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case noop.TracerProvider, *noop.TracerProvider:
		return true
	}
	return false
}

// idle reports whether the hooks have nothing to do: the provider is a
// no-op, or the global provider New took has so far given spans that
// record nothing and has not been replaced since.
func (t *Tracer) idle() bool {
	if t.off {
		return true
	}
	if !t.quiet.Load() {
		return false
	}
	if otel.GetTracerProvider() == t.global {
		return true
	}
	t.quiet.Store(false) // a provider has been set: the global tracer now forwards to it
	return false
}

// sawNoopSpan records that the tracer gave a span that records nothing and
// carries no span context; with the global provider, the hooks then idle.
// Idle hooks are told of no ends, so the spans in the tables (non-recording
// spans that only carried a caller's span context) are ended and dropped
// now. It must not be called with an eventSpan's mu held.
func (t *Tracer) sawNoopSpan() {
	if t.global != nil && otel.GetTracerProvider() == t.global && t.quiet.CompareAndSwap(false, true) {
		t.events.drain()
		t.rows.drain()
	}
}

// keep reports whether e is traced.
func (t *Tracer) keep(e *api.BaseEvent) bool {
	return t.filter == nil || t.filter(e)
}
