package ringbusotel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ringbus/ringbus/api"
	ringbusotel "github.com/ringbus/ringbus/middleware/otel"
)

type otBench struct {
	api.Event[struct{}]
	Value int `json:"value"`
}

const benchBatch = 512

// BenchmarkEmitBatchOtel is the EmitBatch shape of package perf (batches
// of 512 events, each awaited, one handler; one op is one event) on a bare
// bus, on a bus with a Tracer over a no-op provider (noop-provider: the
// cost that matters, since it is what a program that turns tracing off
// pays), and, for information, with the global provider left unset
// (global-unset: the hooks run and start non-recording spans) and with the
// SDK recording every span into memory (sdk-recording, reset after each
// batch).
func BenchmarkEmitBatchOtel(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchBatchBus(b, nil) })
	b.Run("noop-provider", func(b *testing.B) {
		benchBatchBus(b, ringbusotel.New(ringbusotel.WithTracerProvider(noop.NewTracerProvider())).BusOptions())
	})
	b.Run("global-unset", func(b *testing.B) {
		if _, set := otel.GetTracerProvider().(*sdktrace.TracerProvider); set {
			b.Skip("a test of this run set the global provider: run the benchmark with -run '^$'")
		}
		benchBatchBus(b, ringbusotel.New().BusOptions())
	})
	b.Run("sdk-recording", func(b *testing.B) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		benchBatchBus(b, ringbusotel.New(ringbusotel.WithTracerProvider(tp)).BusOptions(), rec.Reset)
	})
}

func benchBatchBus(b *testing.B, opts []api.Option, afterBatch ...func()) {
	ctx := context.Background()
	bus, err := api.NewBus("OtelBench", append([]api.Option{api.WithMaxHistory(benchBatch), api.WithHistoryDrop(true)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	sum := 0
	if _, err := api.On(bus, func(ctx context.Context, e *otBench) (struct{}, error) {
		sum += e.Value
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*otBench, 0, benchBatch)
	wait := func() {
		for _, e := range batch {
			if err := e.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
		for _, f := range afterBatch {
			f()
		}
	}
	want, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		e := &otBench{Value: i%97 + 1}
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
