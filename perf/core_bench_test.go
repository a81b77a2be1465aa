package perf

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/ringbus/ringbus/api"
)

// BenchmarkEmitBatch measures the 50k-events shape per event: events are
// emitted in batches of 512 and each one awaited, on a bus keeping 512
// events of history with dropping on, one synchronous handler adding to a
// checksum. The channel sub-benchmark does the same hand-off with a buffered
// channel and a worker goroutine that signals completion per batch: the
// floor for moving work to another goroutine.
func BenchmarkEmitBatch(b *testing.B) {
	b.Run("ringbus", BenchEmitBatch)
	b.Run("channel", BenchEmitBatchChannel)
}

// BenchmarkRoundTrip measures one event emitted and awaited with one no-op
// handler, against a buffered-channel round trip to a worker goroutine and
// back.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("ringbus", BenchRoundTrip)
	b.Run("channel", BenchRoundTripChannel)
}

// BenchmarkOneOff splits the 50k-one-off-handlers iteration into its parts:
// registering and removing a handler by id, the emit-and-await round trip
// with the handler in place, and the whole iteration (register, emit,
// await, remove), on a bus like the scenario's (history 128, dropping).
func BenchmarkOneOff(b *testing.B) {
	ctx := context.Background()
	key := api.TypeName[PerfRequestEvent]()
	newBus := func(b *testing.B) *api.Bus {
		bus, err := api.NewBus("PerfOneOff", api.WithMaxHistory(historyLimitOnOff), api.WithHistoryDrop(true))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = bus.Close() })
		return bus
	}
	processed := 0
	register := func(b *testing.B, bus *api.Bus, weight int) *api.Handler {
		h, err := api.On(bus, func(ctx context.Context, ev *PerfRequestEvent) (struct{}, error) {
			processed += ev.Value + weight
			return struct{}{}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	roundTrip := func(b *testing.B, bus *api.Bus) {
		ev := &PerfRequestEvent{Value: 1}
		if err := bus.Emit(ctx, ev); err != nil {
			b.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("on-off", func(b *testing.B) {
		bus := newBus(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			bus.OffID(key, register(b, bus, i).ID())
		}
	})
	b.Run("round-trip", func(b *testing.B) {
		bus := newBus(b)
		register(b, bus, 0)
		b.ReportAllocs()
		for b.Loop() {
			roundTrip(b, bus)
		}
	})
	b.Run("iteration", func(b *testing.B) {
		bus := newBus(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h := register(b, bus, i)
			roundTrip(b, bus)
			bus.OffID(key, h.ID())
		}
		if n := len(bus.HandlersFor(key)); n != 0 {
			b.Fatalf("%d handlers left", n)
		}
	})
}

// BenchmarkParallelHandlers measures the per-handler cost of one event with
// 5,000 parallel handlers (the 50k-parallel-handlers shape at a tenth of the
// handlers, repeated).
func BenchmarkParallelHandlers(b *testing.B) {
	const handlers = 5000
	ctx := context.Background()
	bus, err := api.NewBus("PerfParallel", api.WithMaxHistory(historyLimitFixed), api.WithHistoryDrop(true),
		api.WithHandlerConcurrency(api.ParallelHandlers), api.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	var ran atomic.Int64
	for range handlers {
		if _, err := api.On(bus, func(ctx context.Context, ev *PerfFixedHandlersEvent) (struct{}, error) {
			ran.Add(1)
			return struct{}{}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := &PerfFixedHandlersEvent{BaseValue: fixedHandlersBaseValue}
		if err := bus.Emit(ctx, ev); err != nil {
			b.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*handlers), "ns/handler")
	if got := ran.Load(); got != int64(n*handlers) {
		b.Fatalf("%d handler runs, want %d", got, n*handlers)
	}
}
