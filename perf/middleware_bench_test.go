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
	b.Run("bare", func(b *testing.B) { BenchEmitBatchWith(b, "PerfBatchMW") })
	b.Run("nop-hook", func(b *testing.B) {
		BenchEmitBatchWith(b, "PerfBatchMW", api.WithMiddlewares(api.NopMiddleware{}))
	})
	b.Run("nop-wrapper", func(b *testing.B) {
		BenchEmitBatchWith(b, "PerfBatchMW", api.WithHandlerWrappers(nopWrapper))
	})
}
