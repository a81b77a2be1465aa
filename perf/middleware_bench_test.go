package perf

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
)

// BenchmarkEmitBatchMiddleware is EmitBatch's ringbus shape (batches of 512,
// each awaited, one handler) on a bus without middlewares (bare), with one
// lifecycle middleware whose hooks do nothing (nop-hook), and with one
// handler wrapper that only calls next (nop-wrapper): the price of each
// extension point per event, measured against the bare bus in one run.
func BenchmarkEmitBatchMiddleware(b *testing.B) {
	nopWrapper := func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) { return next(ctx, e) }
	}
	for _, c := range []struct {
		name string
		opts []api.Option
	}{
		{"bare", nil},
		{"nop-hook", []api.Option{api.WithMiddlewares(api.NopMiddleware{})}},
		{"nop-wrapper", []api.Option{api.WithHandlerWrappers(nopWrapper)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			opts := append([]api.Option{api.WithMaxHistory(batchSize), api.WithHistoryDrop(true)}, c.opts...)
			bus, err := api.NewBus("PerfBatchMW", opts...)
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
		})
	}
}
