package ringbusotel

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// Propagator carries trace context across a ringbus bridge in message
// headers (NATS headers, HTTP headers; never in the event JSON), so that a
// trace continues in the process that receives the event: the receiving
// bus's event span is a child of the sending handler's span. Pass it to
// the bridge with bridge.WithPropagator(ringbusotel.NewPropagator(nil)).
type Propagator struct {
	p propagation.TextMapPropagator
}

// NewPropagator returns a Propagator writing and reading headers with p,
// or with W3C Trace Context (traceparent and tracestate) when p is nil.
func NewPropagator(p propagation.TextMapPropagator) Propagator {
	if p == nil {
		p = propagation.TraceContext{}
	}
	return Propagator{p: p}
}

// Inject writes the span context of ctx into headers.
func (p Propagator) Inject(ctx context.Context, headers map[string]string) {
	p.p.Inject(ctx, propagation.MapCarrier(headers))
}

// Extract returns ctx with the span context read from headers, which the
// received event's span takes as its parent.
func (p Propagator) Extract(ctx context.Context, headers map[string]string) context.Context {
	return p.p.Extract(ctx, propagation.MapCarrier(headers))
}
