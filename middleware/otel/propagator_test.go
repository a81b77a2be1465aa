package ringbusotel_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	ringbusotel "github.com/ringbus/ringbus/middleware/otel"
)

// pipe is a transport with headers that hands what one end sends to the
// other end's inbox, as NATS or HTTP would between two processes.
type pipe struct {
	mu   sync.Mutex
	in   bridge.Inbox
	peer *pipe
}

func (p *pipe) Kind() string { return "PipeEventBridge" }
func (p *pipe) Open(_ context.Context, in bridge.Inbox) error {
	p.mu.Lock()
	p.in = in
	p.mu.Unlock()
	return nil
}
func (p *pipe) Close(context.Context) error { return nil }
func (p *pipe) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	p.peer.mu.Lock()
	in := p.peer.in
	p.peer.mu.Unlock()
	for _, m := range msgs {
		in.Deliver(ctx, bridge.Message{Data: append([]byte(nil), m.Data...), Header: m.Header})
	}
	return len(msgs), nil
}

func TestTraceContinuesAcrossABridge_MW16(t *testing.T) {
	// The sending bus's forwarding handler span is the parent of the
	// receiving bus's event span, carried by traceparent in the message
	// headers and not in the event JSON.
	h := newHarness(t)
	ctx := testCtx(t)
	a, b := &pipe{}, &pipe{}
	a.peer, b.peer = b, a
	var headers sync.Map
	prop := ringbusotel.NewPropagator(nil)
	spy := spyProp{Propagator: prop, seen: &headers}
	sender, err := bridge.New(a, bridge.WithPropagator(spy), bridge.WithName("SendSide"))
	require.NoError(t, err)
	receiver, err := bridge.New(b, bridge.WithPropagator(prop), bridge.WithName("RecvSide"), bridge.WithBusOptions(h.tr.BusOptions()...))
	require.NoError(t, err)
	defer func() { _ = sender.Close(ctx); _ = receiver.Close(ctx) }()
	require.NoError(t, receiver.Start(ctx))

	busA := h.bus(t, "TraceA")
	busB := h.bus(t, "TraceB")
	require.NoError(t, sender.Connect(busA))
	require.NoError(t, receiver.Connect(busB))
	got := make(chan struct{})
	_, err = api.OnType(busB, "Traced", func(context.Context, *api.BaseEvent) (any, error) { close(got); return nil, nil })
	require.NoError(t, err)

	e, err := api.NewEvent("Traced", nil)
	require.NoError(t, err)
	require.NoError(t, busA.Emit(ctx, e))
	<-got
	require.NoError(t, busA.WaitUntilIdle(ctx))
	require.NoError(t, busB.WaitUntilIdle(ctx))

	tp, ok := headers.Load("traceparent")
	require.True(t, ok, "the sent message carries traceparent")
	var fwd, remote sdktrace.ReadOnlySpan
	for _, sp := range h.rec.Ended() {
		switch {
		case sp.Name() == ringbusotel.HandlerSpanPrefix+"SendSide.emit":
			fwd = sp
		case sp.Name() == ringbusotel.EventSpanPrefix+"Traced" && sp.Parent().IsRemote():
			remote = sp
		}
	}
	names := []string{}
	for _, sp := range h.rec.Ended() {
		names = append(names, sp.Name())
	}
	require.NotNil(t, fwd, "the forwarding handler's span; spans: %v", names)
	require.NotNil(t, remote, "an event span with a remote parent on the receiving side; spans: %v", names)
	assert.Equal(t, fwd.SpanContext().TraceID(), remote.SpanContext().TraceID(), "one trace across the bridge")
	assert.Equal(t, fwd.SpanContext().SpanID(), remote.Parent().SpanID(), "the received event's span is a child of the forwarding handler's")
	assert.Contains(t, tp.(string), fwd.SpanContext().TraceID().String())
}

// spyProp records the headers it injects.
type spyProp struct {
	ringbusotel.Propagator
	seen *sync.Map
}

func (s spyProp) Inject(ctx context.Context, h map[string]string) {
	s.Propagator.Inject(ctx, h)
	for k, v := range h {
		s.seen.Store(k, v)
	}
}
