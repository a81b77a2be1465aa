package mwbench

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/benchbatch"
	"github.com/ringbus/ringbus/middleware/wal"
	"github.com/ringbus/ringbus/perf"
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

// benchEmitBatchRate is perf.BenchEmitBatchWith reporting events/s
// besides ns/op.
func benchEmitBatchRate(b *testing.B, name string, opts ...api.Option) {
	perf.BenchEmitBatchWith(b, name, opts...)
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
}

// benchEmitBatchParallel is benchEmitBatchRate's shape on a bus with
// parallel events (benchbatch's handler sums atomically;
// perf.BenchEmitBatchWith's serves serial buses only).
func benchEmitBatchParallel(b *testing.B, opts ...api.Option) {
	opts = append([]api.Option{api.WithEventConcurrency(api.ParallelEvents)}, opts...)
	benchbatch.Run(b, "PerfBatchWALParallel", benchbatch.Config{Options: opts, Rate: true})
}
