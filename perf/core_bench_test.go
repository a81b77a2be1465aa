package perf

import (
	"context"
	"log/slog"
	"sync"
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
	b.Run("ringbus", func(b *testing.B) { benchEmitBatch(b, "PerfBatch") })
	b.Run("channel", func(b *testing.B) {
		type job struct{ value int }
		jobs := make(chan *job, batchSize)
		done := make(chan struct{}, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		sum := 0
		go func() {
			defer wg.Done()
			n := 0
			for j := range jobs {
				if j == nil {
					done <- struct{}{}
					continue
				}
				sum += j.value
				n++
			}
		}()
		i, pending := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			jobs <- &job{value: i%97 + 1}
			i++
			pending++
			if pending == batchSize {
				jobs <- nil
				<-done
				pending = 0
			}
		}
		jobs <- nil
		<-done
		close(jobs)
		wg.Wait()
	})
}

func waitAll(b *testing.B, ctx context.Context, batch []*PerfSimpleEvent) {
	for _, e := range batch {
		if err := e.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip measures one event emitted and awaited with one no-op
// handler, against a buffered-channel round trip to a worker goroutine and
// back.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("ringbus", func(b *testing.B) {
		ctx := context.Background()
		bus, err := api.NewBus("PerfRoundTrip", api.WithMaxHistory(batchSize), api.WithHistoryDrop(true))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = bus.Close() }()
		if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
			return struct{}{}, nil
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			e := &PerfSimpleEvent{}
			if err := bus.Emit(ctx, e); err != nil {
				b.Fatal(err)
			}
			if err := e.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("channel", func(b *testing.B) {
		req := make(chan int, 1)
		resp := make(chan int, 1)
		go func() {
			for v := range req {
				resp <- v + 1
			}
			close(resp)
		}()
		b.ReportAllocs()
		for b.Loop() {
			req <- 1
			<-resp
		}
		close(req)
		<-resp
	})
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

// benchEmitBatch is the ringbus side of BenchmarkEmitBatch on a bus named
// name with opts added to its history settings: batches of batchSize
// events, each awaited, one handler adding to a checksum that is checked.
func benchEmitBatch(b *testing.B, name string, opts ...api.Option) {
	ctx := context.Background()
	bus, err := api.NewBus(name, append([]api.Option{api.WithMaxHistory(batchSize), api.WithHistoryDrop(true)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	sum := 0
	if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
		sum += e.Value
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*PerfSimpleEvent, 0, batchSize)
	want, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		e := &PerfSimpleEvent{BatchID: i / batchSize, Value: i%97 + 1}
		want += e.Value
		i++
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			waitAll(b, ctx, batch)
			batch = batch[:0]
		}
	}
	waitAll(b, ctx, batch)
	b.StopTimer()
	if err := bus.WaitUntilIdle(ctx); err != nil {
		b.Fatal(err)
	}
	if sum != want {
		b.Fatalf("checksum %d, want %d", sum, want)
	}
}
