package mwbench

import (
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/retry"
	"github.com/ringbus/ringbus/perf"
)

// BenchmarkEmitBatchRetry is EmitBatch's ringbus shape (batches of 512,
// each awaited, one handler) on a bare bus and with the retry middleware
// wrapping the handler, which succeeds at its first attempt: retry-3 with
// Attempts(3) alone, retry-3-timeout with a per-attempt Timeout too (a
// context.WithTimeout per call), so the cost of the wrapper on the path
// where nothing fails is read against the bare bus of the same run.
func BenchmarkEmitBatchRetry(b *testing.B) {
	plain, err := retry.New(retry.Attempts(3))
	if err != nil {
		b.Fatal(err)
	}
	timed, err := retry.New(retry.Attempts(3), retry.Timeout(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare", func(b *testing.B) { perf.BenchEmitBatchWith(b, "PerfBatchRetry") })
	b.Run("retry-3", func(b *testing.B) {
		perf.BenchEmitBatchWith(b, "PerfBatchRetry", api.WithHandlerWrappers(plain.Wrap()))
	})
	b.Run("retry-3-timeout", func(b *testing.B) {
		perf.BenchEmitBatchWith(b, "PerfBatchRetry", api.WithHandlerWrappers(timed.Wrap()))
	})
}
