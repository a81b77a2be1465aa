package natsbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/natsbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/internal/services"
	"github.com/ringbus/ringbus/wire"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// sharedURL returns the URL of the machine's NATS, skipping t when it is
// down (failing it under CI).
func sharedURL(t testing.TB) string {
	t.Helper()
	return "nats://" + services.Require(t, services.NATS)
}

func newBridge(t testing.TB, url, subject string, opts ...natsbridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := natsbridge.New(url, subject, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawConn is a plain nats.go connection of the test's, closed by its
// cleanup.
func rawConn(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestConformance_BR23_BR24(t *testing.T) {
	url := sharedURL(t)
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    true,
		Ordered: true,
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			subject := services.Unique(t, "ringbus")
			nb := func(t *testing.T, opts ...bridge.Option) *bridge.Bridge {
				return newBridge(t, url, subject, natsbridge.WithBridgeOptions(opts...))
			}
			// Connected on first use: the suite counts goroutines, and a
			// connection has its own until the test's cleanup.
			raw := sync.OnceValue(func() *nats.Conn { return rawConn(t, url) })
			return bridgetest.Pair{
				Sender:   nb(t, opts...),
				Receiver: nb(t, opts...),
				Raw: func(ctx context.Context, data []byte) error {
					raw := raw()
					if err := raw.Publish(subject, data); err != nil {
						return err
					}
					return raw.FlushWithContext(ctx)
				},
				NewReceiver: nb,
			}
		},
	})
}

func TestConfig_BR23(t *testing.T) {
	// Both the server and the subject are required, as in abxbus.
	for _, c := range []struct{ server, subject string }{
		{"", "abxbus_events"},
		{"nats://127.0.0.1:4222", ""},
		{"nats://127.0.0.1:4222", "a..b"},
		{"nats://127.0.0.1:4222", "events.*"},
		{"nats://127.0.0.1:4222", "events.>"},
		{"nats://127.0.0.1:4222", "has space"},
		{"nats://127.0.0.1:4222", ".lead"},
		{"nats://127.0.0.1:4222", "trail."},
	} {
		if _, err := natsbridge.New(c.server, c.subject); !errors.Is(err, bridge.ErrConfig) {
			t.Errorf("New(%q, %q) = %v, want ErrConfig", c.server, c.subject, err)
		}
	}
	if _, err := natsbridge.NewTransport("nats://127.0.0.1:4222", "x", natsbridge.WithPendingLimits(0, 1)); !errors.Is(err, bridge.ErrConfig) {
		t.Errorf("pending limit 0: %v, want ErrConfig", err)
	}
	tr, err := natsbridge.NewTransport("nats://127.0.0.1:4222", "abxbus_events")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind() != "NATSEventBridge" {
		t.Errorf("Kind() = %q", tr.Kind())
	}
}

func TestStartFailsWithoutServer_BR23(t *testing.T) {
	// A server that does not answer fails Start, which may be tried again.
	in := services.StartNATS(t)
	url := in.URL()
	in.Kill()
	b := newBridge(t, url, services.Unique(t, "ringbus"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Start(ctx); err == nil {
		t.Fatal("Start succeeded with no server")
	}
	in.Restart(t)
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start after the server came up: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// fakePropagator writes a fixed traceparent and records what it extracts.
type fakePropagator struct {
	mu  sync.Mutex
	got []map[string]string
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func (p *fakePropagator) Inject(_ context.Context, h map[string]string) {
	h["traceparent"] = traceparent
	h["tracestate"] = "ringbus=1"
}

func (p *fakePropagator) Extract(ctx context.Context, h map[string]string) context.Context {
	p.mu.Lock()
	p.got = append(p.got, h)
	p.mu.Unlock()
	return ctx
}

func (p *fakePropagator) extracted() []map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]string(nil), p.got...)
}

func TestWireExact_BR23_BR24(t *testing.T) {
	// What a plain subscriber sees is the event's compact JSON, byte for
	// byte as the encoder writes it, with the trace context in headers and
	// nowhere in the JSON.
	url := sharedURL(t)
	subject := services.Unique(t, "ringbus")
	raw := rawConn(t, url)
	got := make(chan *nats.Msg, 4)
	sub, err := raw.ChanSubscribe(subject, got)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	prop := &fakePropagator{}
	b := newBridge(t, url, subject, natsbridge.WithBridgeOptions(bridge.WithPropagator(prop)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer func() { _ = b.Close(ctx) }()
	e, err := api.NewEvent("WireCheck", map[string]any{"text": "héllo \"q\"", "n": 3})
	if err != nil {
		t.Fatal(err)
	}
	want, err := wire.Encoder{}.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var m *nats.Msg
	select {
	case m = <-got:
	case <-ctx.Done():
		t.Fatal("no message on the subject")
	}
	if string(m.Data) != string(want) {
		t.Errorf("published\n%s\nwant\n%s", m.Data, want)
	}
	if g := m.Header.Get("traceparent"); g != traceparent {
		t.Errorf("traceparent header %q, want %q (headers %v)", g, traceparent, m.Header)
	}
	if g := m.Header.Get("tracestate"); g != "ringbus=1" {
		t.Errorf("tracestate header %q", g)
	}
	if strings.Contains(string(m.Data), "traceparent") {
		t.Error("the trace context is in the event JSON")
	}

	// Back: a raw message with headers reaches the propagator with them;
	// one without (as abxbus sends) arrives too.
	var n atomic.Int64
	if _, err := b.On("FromRaw", func(context.Context, *api.BaseEvent) (any, error) { n.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	in, err := api.NewEvent("FromRaw", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := wire.Encoder{}.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	hm := nats.NewMsg(subject)
	hm.Data = data
	hm.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err := raw.PublishMsg(hm); err != nil {
		t.Fatal(err)
	}
	if err := raw.Publish(subject, data); err != nil {
		t.Fatal(err)
	}
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	for n.Load() < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("received %d of the 2 raw events", n.Load())
		case <-time.After(5 * time.Millisecond):
		}
	}
	found := false
	for _, h := range prop.extracted() {
		if h["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			found = true
		}
	}
	if !found {
		t.Errorf("the propagator did not see the raw message's traceparent: %v", prop.extracted())
	}
}

func TestWithConn_BR24(t *testing.T) {
	// A connection the caller owns carries the bridge and stays open
	// after Close.
	url := sharedURL(t)
	subject := services.Unique(t, "ringbus")
	nc := rawConn(t, url)
	a := newBridge(t, url, subject, natsbridge.WithConn(nc))
	b := newBridge(t, url, subject)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got atomic.Int64
	if _, err := b.On("Shared", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ := api.NewEvent("Shared", nil)
	if err := a.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	for got.Load() < 1 {
		select {
		case <-ctx.Done():
			t.Fatal("the event sent on the shared connection did not arrive")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if nc.IsClosed() {
		t.Error("Close closed the caller's connection")
	}
	if n := nc.NumSubscriptions(); n != 0 {
		t.Errorf("%d subscriptions left on the caller's connection", n)
	}
}

// natsbridgeOpts gives a bridge an error handler and a short retry pause.
func natsbridgeOpts(onError func(error)) []natsbridge.Option {
	return []natsbridge.Option{natsbridge.WithBridgeOptions(
		bridge.WithErrorHandler(onError),
		bridge.WithRetryBackoff(5*time.Millisecond, 100*time.Millisecond),
	)}
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case float64:
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}
