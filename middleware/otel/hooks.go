package ringbusotel

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ringbus/ringbus/api"
)

// MW-16: live spans as abxbus 2.4.2 makes them. The event span starts at
// the event's pending hook rather than its started hook: the first row's
// started hook comes before the event's (MW-2), and the handler span needs
// its parent by then; and an event without handlers, or whose rows were
// all cancelled before starting, has no started hook at all (MW-3, MW-4)
// but still gets a span. The pending hook fires when a bus begins
// processing the event, not at Emit, so both starts measure the same
// thing, apart from the creation of the rows.

// eventSpan is an event's entry in the table. Its span is started once
// even when two buses begin processing the event at the same time (an event
// emitted to both): the first holds mu while it starts the span, and the
// other waits for it.
type eventSpan struct {
	bus  *api.Bus // the bus that began processing the event first
	mu   sync.Mutex
	span trace.Span // nil: nothing to record or hand on
}

// get returns the span, once started.
func (es *eventSpan) get() trace.Span {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.span
}

// middleware is the Tracer's Middleware.
type middleware struct{ t *Tracer }

// Hooks tells the bus which transitions the tracer uses: an event's span
// starts when it is pending and ends when it completes, a handler's spans
// when its row starts and completes.
func (middleware) Hooks() api.Hooks {
	return api.EventPendingHook | api.EventCompletedHook | api.ResultStartedHook | api.ResultCompletedHook
}

// OnEventChange starts the event's span when a bus begins processing it
// and ends it when the event completes, which is reported once, by the bus
// completing it.
func (m middleware) OnEventChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, s api.Status) {
	// MW-8: the completed hook fires once per event.
	t := m.t
	if t.idle() {
		return
	}
	switch s {
	case api.StatusPending:
		if _, ok := t.events.get(e); ok || !t.keep(e) {
			return // begun on another bus, or left out
		}
		es := &eventSpan{bus: bus}
		es.mu.Lock()
		if got, added := t.events.tryAdd(e, es); !added {
			es.mu.Unlock()
			got.get() // another bus is starting it: wait for its span
			return
		}
		es.span = t.startEvent(ctx, bus, e)
		es.mu.Unlock()
		if es.span == nil {
			t.events.remove(e) // nothing to keep: no provider behind the tracer yet
			t.sawNoopSpan()
		}
	case api.StatusCompleted:
		if es, ok := t.events.take(e); ok {
			if sp := es.get(); sp != nil {
				sp.End()
			}
		}
	}
}

// OnResultChange starts a handler's span when it starts and ends it when
// its row is final, recording the error of a failed row.
func (m middleware) OnResultChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, r *api.Result, s api.Status) {
	t := m.t
	if t.idle() {
		return
	}
	switch s {
	case api.StatusStarted:
		if !t.keep(e) {
			return
		}
		if sp := t.startHandler(ctx, bus, e, r); sp != nil {
			t.rows.add(r, sp)
		}
	case api.StatusCompleted:
		if sp, ok := t.rows.take(r); ok {
			endHandler(sp, r.Error())
		}
	}
}

// OnHandlersChange does nothing: registrations are not traced.
func (middleware) OnHandlersChange(*api.Bus, *api.Handler, bool) {}

// OnBusClosed ends what the Tracer still holds for bus once it is shut
// down: the spans of its handlers, and the spans of the events it began
// processing first that will now not complete (an event queued on a
// stopped bus stays incomplete). Once every bus the Tracer serves is shut
// down, it holds nothing. A span ended here records that its bus closed.
func (m middleware) OnBusClosed(bus *api.Bus) {
	t := m.t
	if t.off {
		return
	}
	t.rows.takeIf(func(r *api.Result, _ trace.Span) bool { return r.Bus() == bus }, endRowClosed)
	t.events.takeIf(func(e *api.BaseEvent, es *eventSpan) bool {
		return es.bus == bus || eventStale(e)
	}, endEventClosed)
}

// wrap is the Tracer's HandlerWrapper.
func (t *Tracer) wrap(next api.HandlerFunc) api.HandlerFunc {
	return func(ctx context.Context, e *api.BaseEvent) (any, error) {
		if t.idle() {
			return next(ctx, e)
		}
		if r := api.CurrentResult(ctx); r != nil {
			if sp, ok := t.rows.get(r); ok {
				ctx = trace.ContextWithSpan(ctx, sp)
			}
		}
		return next(ctx, e)
	}
}

// startEvent starts e's span on bus, or returns nil when the tracer records
// nothing and has no span context to hand on. Attributes are set once the
// span is known to record, so that a span the sampler drops costs none: a
// sampler sees the span's name, which carries the event type, but not its
// attributes.
func (t *Tracer) startEvent(ctx context.Context, bus *api.Bus, e *api.BaseEvent) trace.Span {
	parentID := e.ParentID()
	if parentID != "" && !trace.SpanContextFromContext(ctx).IsValid() {
		// Linked to a parent without a span in the emitting ctx: parent it
		// to the parent event's span.
		if p := e.Parent(); p != nil {
			if ps, ok := t.events.get(p); ok {
				if sp := ps.get(); sp != nil {
					ctx = trace.ContextWithSpan(ctx, sp)
				}
			}
		}
	}
	_, sp := t.tracer.Start(ctx, EventSpanPrefix+e.Type())
	if !sp.IsRecording() {
		if !sp.SpanContext().IsValid() {
			return nil
		}
		return sp
	}
	n := 5 + len(t.attrs)
	if parentID != "" {
		n++
	} else {
		n += len(t.rootAttrs)
	}
	attrs := make([]attribute.KeyValue, 0, n)
	attrs = append(attrs,
		KindKey.String("event"),
		EventIDKey.String(e.ID()),
		EventTypeKey.String(e.Type()),
		BusIDKey.String(bus.ID()),
		BusNameKey.String(bus.Label()),
	)
	if parentID != "" {
		attrs = append(attrs, EventParentIDKey.String(parentID))
	} else {
		attrs = append(attrs, t.rootAttrs...)
	}
	sp.SetAttributes(append(attrs, t.attrs...)...)
	return sp
}

// startHandler starts the span of r's handler, a child of e's span, or
// returns nil as startEvent does.
func (t *Tracer) startHandler(ctx context.Context, bus *api.Bus, e *api.BaseEvent, r *api.Result) trace.Span {
	if es, ok := t.events.get(e); ok {
		if sp := es.get(); sp != nil {
			ctx = trace.ContextWithSpan(ctx, sp)
		}
	}
	_, sp := t.tracer.Start(ctx, HandlerSpanPrefix+r.HandlerName())
	if !sp.IsRecording() {
		if !sp.SpanContext().IsValid() {
			return nil
		}
		return sp
	}
	parentID := e.ParentID()
	n := 7 + len(t.attrs)
	if parentID != "" {
		n++
	}
	attrs := make([]attribute.KeyValue, 0, n)
	attrs = append(attrs,
		KindKey.String("handler"),
		EventIDKey.String(e.ID()),
		EventTypeKey.String(e.Type()),
		BusIDKey.String(bus.ID()),
		BusNameKey.String(bus.Label()),
		HandlerIDKey.String(r.HandlerID()),
		HandlerNameKey.String(r.HandlerName()),
	)
	if parentID != "" {
		attrs = append(attrs, EventParentIDKey.String(parentID))
	}
	sp.SetAttributes(append(attrs, t.attrs...)...)
	return sp
}

// endHandler ends a handler's span, recording err when the handler failed.
func endHandler(sp trace.Span, err error, opts ...trace.SpanEndOption) {
	if err != nil {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End(opts...)
}
