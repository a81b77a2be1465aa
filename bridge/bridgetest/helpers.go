package bridgetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/wire"
)

// Event returns a new event of type typ with fields, failing t if it
// cannot be made.
func Event(t testing.TB, typ string, fields map[string]any) *api.BaseEvent {
	t.Helper()
	e, err := api.NewEvent(typ, fields)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Encode returns e's JSON as a bridge sends it by default.
func Encode(t testing.TB, e api.Eventer) []byte {
	t.Helper()
	data, err := wire.Encoder{}.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// WaitFor waits until cond holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("bridgetest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// CloseAll closes the bridges when t ends, failing t if one does not close
// within 10 seconds.
func CloseAll(t testing.TB, bs ...*bridge.Bridge) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, b := range bs {
			if err := b.Close(ctx); err != nil {
				t.Errorf("bridgetest: close %s: %v", b.Name(), err)
			}
		}
	})
}

// BenchEvent is the event the transports' benchmarks send: a few fields
// and 200 bytes of text, about 600 bytes of JSON.
func BenchEvent(t testing.TB, i int) *api.BaseEvent {
	return Event(t, "Bench", map[string]any{"seq": i, "user": "u-42", "ok": true, "text": strings.Repeat("x", 200)})
}

// Counter counts received messages for a benchmark: Hit counts one and
// signals Got without blocking, for MeasureRate (Load) and MeasureLatency
// (Got).
type Counter struct {
	n   atomic.Int64
	Got chan struct{}
}

// NewCounter returns a Counter at zero.
func NewCounter() *Counter { return &Counter{Got: make(chan struct{}, 1)} }

// Hit counts one message.
func (c *Counter) Hit() {
	c.n.Add(1)
	select {
	case c.Got <- struct{}{}:
	default:
	}
}

// Load returns the count.
func (c *Counter) Load() int64 { return c.n.Load() }

// StartCounting registers a handler counting the events of type typ on
// recv, starts recv and then send, and closes both when t ends.
func StartCounting(t testing.TB, send, recv *bridge.Bridge, typ string) *Counter {
	t.Helper()
	CloseAll(t, send, recv)
	c := NewCounter()
	if _, err := recv.On(typ, func(context.Context, *api.BaseEvent) (any, error) { c.Hit(); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range []*bridge.Bridge{recv, send} {
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
