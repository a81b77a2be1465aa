package redisbridge_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/services"
	"github.com/ringbus/ringbus/wire"
)

// The Redis benchmarks compare a ringbus bridge pair with go-redis alone
// moving the same JSON on the same server in the same run: events per
// second (ns/op is per event) and one event's latency end to end.

func benchEvents(b *testing.B, n int) []*api.BaseEvent {
	b.Helper()
	evs := make([]*api.BaseEvent, n)
	for i := range evs {
		e, err := api.NewEvent("BenchEvent", map[string]any{"seq": i, "user": "u-123", "amount": 42.5})
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = e
	}
	return evs
}

func BenchmarkThroughput(b *testing.B) {
	url := redisURL(b)
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		ch := services.Unique(b, "ringbus")
		pub, subc := rawClient(b), rawClient(b)
		sub := subc.Subscribe(ctx, ch)
		defer func() { _ = sub.Close() }()
		if _, err := sub.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		data, err := wire.Marshal(benchEvents(b, 1)[0])
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for got.Load() < int64(b.N) {
				if _, err := sub.ReceiveMessage(ctx); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		b.ResetTimer()
		for sent := 0; sent < b.N; {
			n := min(bridge.DefaultBatchSize, b.N-sent)
			pipe := pub.Pipeline()
			for range n {
				pipe.Publish(ctx, ch, data)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		<-done
	})
	b.Run("ringbus", func(b *testing.B) {
		ch := services.Unique(b, "ringbus")
		sender, receiver := newBridge(b, url, ch), newBridge(b, url, ch)
		defer func() { _ = sender.Close(ctx); _ = receiver.Close(ctx) }()
		var got atomic.Int64
		done := make(chan struct{})
		if _, err := receiver.On("*", func(context.Context, *api.BaseEvent) (any, error) {
			if got.Add(1) == int64(b.N) {
				close(done)
			}
			return nil, nil
		}); err != nil {
			b.Fatal(err)
		}
		if err := receiver.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := sender.Start(ctx); err != nil {
			b.Fatal(err)
		}
		evs := benchEvents(b, b.N)
		b.ResetTimer()
		for _, e := range evs {
			if err := sender.Emit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	})
}

func BenchmarkLatency(b *testing.B) {
	url := redisURL(b)
	ctx := context.Background()
	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	b.Run("raw", func(b *testing.B) {
		ch := services.Unique(b, "ringbus")
		pub, subc := rawClient(b), rawClient(b)
		sub := subc.Subscribe(ctx, ch)
		defer func() { _ = sub.Close() }()
		if _, err := sub.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		data, _ := wire.Marshal(benchEvents(b, 1)[0])
		msgs := sub.Channel()
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if err := pub.Publish(ctx, ch, data).Err(); err != nil {
				b.Fatal(err)
			}
			<-msgs
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
	b.Run("ringbus", func(b *testing.B) {
		ch := services.Unique(b, "ringbus")
		sender, receiver := newBridge(b, url, ch), newBridge(b, url, ch)
		defer func() { _ = sender.Close(ctx); _ = receiver.Close(ctx) }()
		arrived := make(chan struct{}, 1)
		if _, err := receiver.On("*", func(context.Context, *api.BaseEvent) (any, error) {
			arrived <- struct{}{}
			return nil, nil
		}); err != nil {
			b.Fatal(err)
		}
		if err := receiver.Start(ctx); err != nil {
			b.Fatal(err)
		}
		evs := benchEvents(b, 1)
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if err := sender.Emit(ctx, evs[0]); err != nil {
				b.Fatal(err)
			}
			<-arrived
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
}
