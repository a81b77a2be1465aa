// Package benchbatch is the batch benchmark of package perf (EmitBatch's
// shape) for the benchmarks of the middleware modules, which cannot import
// perf's test files: batches of Size events emitted on one bus, each batch
// awaited, one handler summing a field, a history of Size with dropping.
// Every middleware's cost is measured on it against the bare bus in the
// same run.
package benchbatch

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ringbus/ringbus/api"
)

// Size is the number of events emitted before they are awaited.
const Size = 512

// Event is the benchmark's event, shaped like perf's PerfSimpleEvent.
type Event struct {
	api.Event[struct{}]
	BatchID int `json:"batch_id"`
	Value   int `json:"value"`
}

// Config is what a benchmark adds to the bare run.
type Config struct {
	// Options are given to the bus after the history options.
	Options []api.Option
	// AfterBatch, when set, runs after each batch has been awaited (to
	// reset an in-memory recorder, say), inside the timed loop.
	AfterBatch func()
	// End, when set, runs after the last batch, still timed (to flush
	// what a middleware queued, so its writing is measured).
	End func()
	// Rate reports events/s besides ns/op.
	Rate bool
}

// Run emits b.N events on a new bus named name in batches of Size, each
// batch awaited, and checks that the handler saw every event.
func Run(b *testing.B, name string, cfg Config) {
	b.Helper()
	ctx := context.Background()
	opts := append([]api.Option{api.WithMaxHistory(Size), api.WithHistoryDrop(true)}, cfg.Options...)
	bus, err := api.NewBus(name, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	var sum atomic.Int64 // atomic: the bus may run events in parallel
	if _, err := api.On(bus, func(_ context.Context, e *Event) (struct{}, error) {
		sum.Add(int64(e.Value))
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*Event, 0, Size)
	wait := func() {
		for _, e := range batch {
			if err := e.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
		if cfg.AfterBatch != nil {
			cfg.AfterBatch()
		}
	}
	want, i := int64(0), 0
	b.ReportAllocs()
	for b.Loop() {
		e := &Event{BatchID: i / Size, Value: i%97 + 1}
		want += int64(e.Value)
		i++
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, e)
		if len(batch) == Size {
			wait()
		}
	}
	wait()
	if cfg.End != nil {
		cfg.End()
	}
	b.StopTimer()
	if err := bus.WaitUntilIdle(ctx); err != nil {
		b.Fatal(err)
	}
	if cfg.Rate {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	if got := sum.Load(); got != want {
		b.Fatalf("checksum %d, want %d", got, want)
	}
}
