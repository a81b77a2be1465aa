package perf

import (
	"context"
	"sync"
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
	b.Run("ringbus", func(b *testing.B) {
		ctx := context.Background()
		bus, err := api.NewBus("PerfBatch", api.WithMaxHistory(batchSize), api.WithHistoryDrop(true))
		if err != nil {
			b.Fatal(err)
		}
		defer bus.Close()
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
		defer bus.Close()
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
