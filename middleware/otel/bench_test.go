package ringbusotel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ringbus/ringbus/internal/benchbatch"
	ringbusotel "github.com/ringbus/ringbus/middleware/otel"
)

// BenchmarkEmitBatchOtel is the EmitBatch shape of package perf (batches
// of 512 events, each awaited, one handler; one op is one event) on a bare
// bus, on a bus with a Tracer over a no-op provider (noop-provider: the
// cost that matters, since it is what a program that turns tracing off
// pays), and, for information, with the global provider left unset
// (global-unset: the hooks run and start non-recording spans) and with the
// SDK recording every span into memory (sdk-recording, reset after each
// batch).
func BenchmarkEmitBatchOtel(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchbatch.Run(b, "OtelBench", benchbatch.Config{}) })
	b.Run("noop-provider", func(b *testing.B) {
		benchbatch.Run(b, "OtelBench", benchbatch.Config{Options: ringbusotel.New(ringbusotel.WithTracerProvider(noop.NewTracerProvider())).BusOptions()})
	})
	b.Run("global-unset", func(b *testing.B) {
		if _, set := otel.GetTracerProvider().(*sdktrace.TracerProvider); set {
			b.Skip("a test of this run set the global provider: run the benchmark with -run '^$'")
		}
		benchbatch.Run(b, "OtelBench", benchbatch.Config{Options: ringbusotel.New().BusOptions()})
	})
	b.Run("sdk-recording", func(b *testing.B) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		benchbatch.Run(b, "OtelBench", benchbatch.Config{Options: ringbusotel.New(ringbusotel.WithTracerProvider(tp)).BusOptions(), AfterBatch: rec.Reset})
	})
}
