package ringbusprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/benchbatch"
	ringbusprom "github.com/ringbus/ringbus/middleware/prometheus"
)

// BenchmarkEmitBatchPrometheus is the perf package's EmitBatch shape
// (batches of 512 events, each awaited, one handler, history of 512 with
// dropping) on a bare bus and on a bus with the collector as its
// middleware, registered on a registry: the collector's cost per event,
// measured against the bare bus in the same run. nop-hook, a middleware
// whose hooks do nothing, is the part of that cost any middleware pays:
// the bus calling six hooks per event.
func BenchmarkEmitBatchPrometheus(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchbatch.Run(b, "PromBatch", benchbatch.Config{}) })
	b.Run("nop-hook", func(b *testing.B) {
		benchbatch.Run(b, "PromBatch", benchbatch.Config{Options: []api.Option{api.WithMiddlewares(api.NopMiddleware{})}})
	})
	b.Run("collector", func(b *testing.B) {
		c, err := ringbusprom.New()
		if err != nil {
			b.Fatal(err)
		}
		prometheus.NewRegistry().MustRegister(c)
		benchbatch.Run(b, "PromBatch", benchbatch.Config{Options: []api.Option{api.WithMiddlewares(c)}})
	})
}
