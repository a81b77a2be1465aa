package perf

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
)

type PerfSimpleEvent struct {
	api.Event[struct{}]
	BatchID int `json:"batch_id"`
	Value   int `json:"value"`
}

func BenchmarkQuickBatch(b *testing.B) {
	ctx := context.Background()
	bus, _ := api.NewBus("PerfBus", api.WithMaxHistory(512), api.WithHistoryDrop(true))
	defer bus.Close()
	sum := 0
	api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) { sum += e.Value; return struct{}{}, nil })
	batch := make([]*PerfSimpleEvent, 0, 512)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := &PerfSimpleEvent{BatchID: i / 512, Value: i%97 + 1}
		i++
		bus.Emit(ctx, e)
		batch = append(batch, e)
		if len(batch) == 512 {
			for _, e := range batch {
				e.Wait(ctx)
			}
			batch = batch[:0]
		}
	}
	for _, e := range batch {
		e.Wait(ctx)
	}
}

func BenchmarkQuickRoundTrip(b *testing.B) {
	ctx := context.Background()
	bus, _ := api.NewBus("PerfBus2", api.WithMaxHistory(512), api.WithHistoryDrop(true))
	defer bus.Close()
	api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) { return struct{}{}, nil })
	b.ReportAllocs()
	for b.Loop() {
		e := &PerfSimpleEvent{}
		bus.Emit(ctx, e)
		e.Wait(ctx)
	}
}
