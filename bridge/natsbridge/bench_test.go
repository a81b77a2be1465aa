package natsbridge_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/natsbridge"
	"github.com/ringbus/ringbus/internal/services"
	"github.com/ringbus/ringbus/wire"
)

// benchEvent is the event every benchmark sends, and its JSON.
func benchEvent(b *testing.B) (*api.BaseEvent, []byte) {
	b.Helper()
	e, err := api.NewEvent("Bench", map[string]any{"order_id": "o-1", "total": 9.5, "items": []any{"a", "b"}})
	if err != nil {
		b.Fatal(err)
	}
	data, err := wire.Encoder{}.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	return e, data
}

// bridgePair starts a sender and a receiver bridge, each on its own
// connection, and returns them with the receiver's count of Bench events.
func bridgePair(b *testing.B, url string, onEvent func(), opts ...natsbridge.Option) (*bridge.Bridge, *bridge.Bridge) {
	b.Helper()
	subject := services.Unique(b, "ringbus")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := newBridge(b, url, subject, opts...)
	recv := newBridge(b, url, subject, opts...)
	if _, err := recv.On("Bench", func(context.Context, *api.BaseEvent) (any, error) { onEvent(); return nil, nil }); err != nil {
		b.Fatal(err)
	}
	for _, br := range []*bridge.Bridge{send, recv} {
		if err := br.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = send.Close(ctx)
		_ = recv.Close(ctx)
	})
	return send, recv
}

func waitCount(b *testing.B, n *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", n.Load(), want)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkThroughput compares events/s through a bridge pair (emit on
// one, handled on the other) with nats.go publishing and receiving the
// same bytes on two connections, in the same run.
func BenchmarkThroughput(b *testing.B) {
	url := sharedURL(b)
	e, data := benchEvent(b)
	for _, bc := range []struct {
		name string
		opts []natsbridge.Option
	}{{"ringbus", nil}, {"ringbus_flush", []natsbridge.Option{natsbridge.WithFlush()}}} {
		b.Run(bc.name, func(b *testing.B) {
			var got atomic.Int64
			send, _ := bridgePair(b, url, func() { got.Add(1) }, bc.opts...)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := send.Emit(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			waitCount(b, &got, int64(b.N))
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("raw", func(b *testing.B) {
		subject := services.Unique(b, "ringbus")
		pub, sub := rawConn(b, url), rawConn(b, url)
		var got atomic.Int64
		s, err := sub.Subscribe(subject, func(*nats.Msg) { got.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
		_ = s.SetPendingLimits(natsbridge.DefaultPendingMsgs, natsbridge.DefaultPendingBytes)
		if err := sub.Flush(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if err := pub.Publish(subject, data); err != nil {
				b.Fatal(err)
			}
		}
		waitCount(b, &got, int64(b.N))
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkLatency sends one event at a time and waits for it to be
// handled on the other side: p50 and p99 of that round, through the
// bridges and through raw nats.go.
func BenchmarkLatency(b *testing.B) {
	url := sharedURL(b)
	e, data := benchEvent(b)
	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	}
	b.Run("ringbus", func(b *testing.B) {
		done := make(chan struct{}, 1)
		send, _ := bridgePair(b, url, func() { done <- struct{}{} })
		ctx := context.Background()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := send.Emit(ctx, e); err != nil {
				b.Fatal(err)
			}
			<-done
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
	b.Run("raw", func(b *testing.B) {
		subject := services.Unique(b, "ringbus")
		pub, sub := rawConn(b, url), rawConn(b, url)
		done := make(chan struct{}, 1)
		if _, err := sub.Subscribe(subject, func(*nats.Msg) { done <- struct{}{} }); err != nil {
			b.Fatal(err)
		}
		if err := sub.Flush(); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := pub.Publish(subject, data); err != nil {
				b.Fatal(err)
			}
			<-done
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
}
