package ringbusprom_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringbus/ringbus/api"
	ringbusprom "github.com/ringbus/ringbus/middleware/prometheus"
)

// pmBench is the benchmark's event, shaped like the perf package's
// PerfSimpleEvent.
type pmBench struct {
	api.Event[struct{}]
	BatchID int `json:"batch_id"`
	Value   int `json:"value"`
}

const benchBatch = 512

// BenchmarkEmitBatchPrometheus is the perf package's EmitBatch shape
// (batches of 512 events, each awaited, one handler, history of 512 with
// dropping) on a bare bus and on a bus with the collector as its
// middleware, registered on a registry: the collector's cost per event,
// measured against the bare bus in the same run. nop-hook, a middleware
// whose hooks do nothing, is the part of that cost any middleware pays:
// the bus calling six hooks per event.
func BenchmarkEmitBatchPrometheus(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchEmitBatch(b) })
	b.Run("nop-hook", func(b *testing.B) { benchEmitBatch(b, api.WithMiddlewares(api.NopMiddleware{})) })
	b.Run("collector", func(b *testing.B) {
		c, err := ringbusprom.New()
		if err != nil {
			b.Fatal(err)
		}
		prometheus.NewRegistry().MustRegister(c)
		benchEmitBatch(b, api.WithMiddlewares(c))
	})
}

func benchEmitBatch(b *testing.B, opts ...api.Option) {
	ctx := context.Background()
	opts = append([]api.Option{api.WithDomain(api.NewDomain()), api.WithMaxHistory(benchBatch), api.WithHistoryDrop(true)}, opts...)
	bus, err := api.NewBus("PromBatch", opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	sum := 0
	if _, err := api.On(bus, func(_ context.Context, e *pmBench) (struct{}, error) {
		sum += e.Value
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*pmBench, 0, benchBatch)
	wait := func() {
		for _, e := range batch {
			if err := e.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
	}
	want, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		e := &pmBench{BatchID: i / benchBatch, Value: i%97 + 1}
		want += e.Value
		i++
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, e)
		if len(batch) == benchBatch {
			wait()
		}
	}
	wait()
	b.StopTimer()
	if err := bus.WaitUntilIdle(ctx); err != nil {
		b.Fatal(err)
	}
	if sum != want {
		b.Fatalf("checksum %d, want %d", sum, want)
	}
}
