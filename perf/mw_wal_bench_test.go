package perf

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
)

// BenchmarkEmitBatchWAL is EmitBatch's ringbus shape (batches of 512, each
// awaited, one handler) on a bare bus and with a write-ahead log under
// each sync policy, in the same run, reporting events/s:
//
//	bare            no middleware
//	every           SyncEvery: each event's line written and fsynced
//	                before the bus goes on (a serial bus: one fsync per
//	                event)
//	batch-10ms-512  SyncBatch(10ms, 512): lines written by the WAL's
//	                goroutine, fsynced every 512 lines or 10ms
//	none            SyncNone: lines written by the WAL's goroutine, no
//	                fsync until Close
//	bare-parallel   the bare bus with parallel events
//	every-parallel  SyncEvery on a bus with parallel events: the events
//	                completing together share an fsync (group commit)
//
// The WAL's file is in the benchmark's temporary directory, on whatever
// disk that is: the fsync-bound rows measure the disk as much as the WAL.
func BenchmarkEmitBatchWAL(b *testing.B) {
	const name = "PerfBatchWAL"
	parallel := api.WithEventConcurrency(api.ParallelEvents)
	b.Run("bare", func(b *testing.B) { benchEmitBatchRate(b, name) })
	b.Run("every", func(b *testing.B) { benchEmitBatchWAL(b, wal.SyncEvery()) })
	b.Run("batch-10ms-512", func(b *testing.B) { benchEmitBatchWAL(b, wal.SyncBatch(10*time.Millisecond, 512)) })
	b.Run("none", func(b *testing.B) { benchEmitBatchWAL(b, wal.SyncNone()) })
	b.Run("bare-parallel", func(b *testing.B) { benchEmitBatchParallel(b) })
	b.Run("every-parallel", func(b *testing.B) { benchEmitBatchWAL(b, wal.SyncEvery(), parallel) })
}

// benchEmitBatchWAL runs benchEmitBatchRate with a WAL under policy p, or
// benchEmitBatchParallel when opts are given (the parallel option), and
// closes the WAL (its last lines fsynced) after the bus.
func benchEmitBatchWAL(b *testing.B, p wal.SyncPolicy, opts ...api.Option) {
	w, err := wal.Open(filepath.Join(b.TempDir(), "bench.wal"), wal.WithSync(p))
	if err != nil {
		b.Fatal(err)
	}
	if len(opts) == 0 {
		benchEmitBatchRate(b, "PerfBatchWAL", api.WithMiddlewares(w))
	} else {
		benchEmitBatchParallel(b, append(opts, api.WithMiddlewares(w))...)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats(); st.Written != uint64(b.N) || st.Dropped != 0 {
		b.Fatalf("wal wrote %d lines and dropped %d, want %d and 0", st.Written, st.Dropped, b.N)
	}
}

// benchEmitBatchRate is benchEmitBatch reporting events/s besides ns/op.
func benchEmitBatchRate(b *testing.B, name string, opts ...api.Option) {
	benchEmitBatch(b, name, opts...)
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
}

// benchEmitBatchParallel is benchEmitBatchRate's shape on a bus with
// parallel events (benchEmitBatch's handler sums without a lock, so it
// serves serial buses only): here the handler sums atomically.
func benchEmitBatchParallel(b *testing.B, opts ...api.Option) {
	ctx := context.Background()
	opts = append([]api.Option{api.WithMaxHistory(batchSize), api.WithHistoryDrop(true),
		api.WithEventConcurrency(api.ParallelEvents)}, opts...)
	bus, err := api.NewBus("PerfBatchWALParallel", opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	var sum atomic.Int64
	if _, err := api.On(bus, func(_ context.Context, e *PerfSimpleEvent) (struct{}, error) {
		sum.Add(int64(e.Value))
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*PerfSimpleEvent, 0, batchSize)
	want, i := int64(0), 0
	b.ReportAllocs()
	for b.Loop() {
		e := &PerfSimpleEvent{BatchID: i / batchSize, Value: i%97 + 1}
		want += int64(e.Value)
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
	if got := sum.Load(); got != want {
		b.Fatalf("checksum %d, want %d", got, want)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
}
