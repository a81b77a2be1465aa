package sqlitemirror_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/benchbatch"
	sqlitemirror "github.com/ringbus/ringbus/middleware/sqlite"
)

// BenchmarkEmitBatchSQLiteMirror is the EmitBatch shape of package perf
// (batches of 512 events, each awaited, one handler; one op is one event)
// on a bare bus and on buses mirrored into a SQLite file in a temp
// directory. mirror uses the default options (QueueBlock: the bus waits
// for the writer when the queue is full, so the figure is the mirror's
// sustained rate, six rows per event, all written: the run ends with a
// Flush inside the timed loop). mirror-drop uses QueueDrop: the bus never
// waits for the writer, so the figure is what the hooks cost the bus (the
// snapshot, the encoding, the queue) while the writer competes for the
// CPU; it reports the share of rows written. hooks-only is mirror with
// a writer that takes the batches and discards them (a test hook): the
// hooks' own cost, with the queue and the batching, without SQLite.
func BenchmarkEmitBatchSQLiteMirror(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchBatchBus(b, nil) })
	b.Run("mirror", func(b *testing.B) { benchBatchBus(b, openBench(b)) })
	b.Run("mirror-drop", func(b *testing.B) {
		m := openBench(b, sqlitemirror.WithQueueFullPolicy(sqlitemirror.QueueDrop),
			sqlitemirror.WithLogger(slog.New(slog.DiscardHandler)))
		benchBatchBus(b, m)
		st := m.Stats()
		b.ReportMetric(float64(st.Written)/float64(st.Written+st.Dropped), "written/row")
	})
	b.Run("hooks-only", func(b *testing.B) {
		benchBatchBus(b, openBench(b, sqlitemirror.WithDiscardWrites()))
	})
}

func openBench(b *testing.B, opts ...sqlitemirror.Option) *sqlitemirror.Mirror {
	m, err := sqlitemirror.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

func benchBatchBus(b *testing.B, m *sqlitemirror.Mirror) {
	cfg := benchbatch.Config{Rate: true}
	if m != nil {
		cfg.Options = []api.Option{api.WithMiddlewares(m)}
		cfg.End = func() {
			// Under QueueDrop, Flush returns the drops; they are counted
			// by the caller. The flush is timed: the writing is measured.
			if err := m.Flush(context.Background()); err != nil && !errors.Is(err, sqlitemirror.ErrQueueFull) {
				b.Fatal(err)
			}
		}
	}
	benchbatch.Run(b, "MirrorBench", cfg)
}
