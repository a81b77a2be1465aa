// Package ringbusotel traces ringbus events and handlers with OpenTelemetry.
//
// A Tracer gives every event a span named "abxbus.event.{event_type}" and
// every handler call a span named "abxbus.handler.{handler_name}", a child
// of its event's span. An event emitted with a handler's ctx (a child
// event) gets a span that is a child of that handler's span, and the
// handler's ctx carries its span, so spans the handler starts itself nest
// under it. A failed handler (an error, a panic, a timeout, a
// cancellation) has its error recorded on its span and the span's status
// set to Error.
//
//	tr := ringbusotel.New(ringbusotel.WithTracerProvider(tp))
//	bus, err := api.NewBus("Orders", tr.Option())
//
// The package is named ringbusotel so that it reads apart from the
// OpenTelemetry packages a program imports beside it (otel, trace,
// sdktrace) without an import alias.
//
// # Spans
//
// An event's span starts when the first bus begins processing the event
// and ends when the event completes, its children included. It is one span
// however many buses the event is forwarded to. Its parent is the span in
// the ctx the event was emitted with: a handler's span for a child event,
// the caller's span for an event emitted inside a traced request, none for
// a root emitted with a plain context. An event linked to a parent event
// without such a span (Event.Emit with a ctx that is not a handler's) is
// parented to its parent event's span.
//
// A handler's span starts just before the handler runs and ends when its
// result row is final: when the handler returns, or at its deadline, when a
// timeout or a first-result winner stops it even if it ignores its ctx. A
// handler cancelled before it started gets no span.
//
// Spans carry these attributes: abxbus.kind ("event" or "handler"),
// abxbus.event_id, abxbus.event_type, abxbus.bus_id, abxbus.bus_name (the
// bus's label, Name#abcd), abxbus.event_parent_id (for child events), and
// on handler spans abxbus.handler_id and abxbus.handler_name. An event's
// span names the bus that began processing it first; a handler's span, the
// bus it is registered on.
//
// # Cost
//
// The package uses only the OpenTelemetry API; the program chooses the SDK.
// With a no-op provider (noop.NewTracerProvider from
// go.opentelemetry.io/otel/trace/noop) BusOptions returns no options, so a
// bus costs what a bus without tracing costs. With otel's global provider
// left unset, the hooks run but skip their work until otel.SetTracerProvider
// installs a provider, which the Tracer then uses. Otherwise each event and each
// handler call starts a span and holds it in a table until it ends; the
// table holds only spans in flight. Install the same Tracer on every bus
// an event may be forwarded to: an event that completes on a bus without
// it has its span ended later, by a sweep of the table, with the event's
// completion time. When a bus is stopped or closed, the Tracer ends the
// spans it still holds for it (the spans of events the bus began
// processing first and that will now not complete, marked with the span
// event "abxbus.bus_closed"), so once every bus it serves is shut down it
// holds nothing.
package ringbusotel
