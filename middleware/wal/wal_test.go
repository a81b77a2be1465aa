package wal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
	"github.com/ringbus/ringbus/wire"
)

// MW-13 (test_wal_persistence_skips_incomplete_events): nothing is written
// while the handler runs; the line appears once the event completes.
func TestOnlyCompletedEventsWritten_MW13(t *testing.T) {
	for _, p := range []wal.SyncPolicy{wal.SyncEvery(), wal.SyncBatch(time.Millisecond, 2), wal.SyncNone()} {
		t.Run(p.String(), func(t *testing.T) {
			ctx := context.Background()
			w := openWAL(t, wal.WithSync(p))
			bus := newBus(t, "WALOnlyCompleted", api.WithMiddlewares(w))
			started, release := make(chan struct{}), make(chan struct{})
			_, err := api.On(bus, func(context.Context, *walOrder) (string, error) {
				close(started)
				<-release
				return "done", nil
			})
			require.NoError(t, err)

			e := &walOrder{OrderID: "A-1"}
			require.NoError(t, bus.Emit(ctx, e))
			<-started
			// The event's pending and started hooks have run: neither wrote.
			require.NoError(t, w.Sync())
			assert.Empty(t, fileLines(t, w.Path()), "no line while the handler runs")
			assert.Zero(t, w.Stats().Written)

			close(release)
			require.NoError(t, e.Wait(ctx))
			require.NoError(t, bus.WaitUntilIdle(ctx))
			require.NoError(t, w.Sync())
			lines := fileLines(t, w.Path())
			require.Len(t, lines, 1)
			assert.Contains(t, lines[0], `"event_id":"`+e.ID()+`"`)
			assert.Contains(t, lines[0], `"event_status":"completed"`)
		})
	}
}

// MW-13 (test_wal_persistence_handler): one line per completed event, with
// every payload field and event_created_at as a string; 2.4.2's JSON, so
// no event_results.
func TestOneLinePerEventWithPayload_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALLines", api.WithMiddlewares(w))
	okHandler(t, bus)
	_, err := api.OnType(bus, "WALUntyped", func(context.Context, *api.BaseEvent) (any, error) { return 1, nil })
	require.NoError(t, err)

	typed := []*walOrder{
		{OrderID: "A-1", Total: 42.5, Qty: 3, Paid: true, Tags: []string{"x", "y"}, Meta: map[string]any{"k": "v"}},
		{OrderID: "A-2", Total: 0.25, Qty: 1, Tags: []string{}, Meta: map[string]any{}},
	}
	for _, e := range typed {
		require.NoError(t, bus.Emit(ctx, e))
	}
	untyped, err := api.NewEvent("WALUntyped", map[string]any{"n": 7, "s": "seven", "list": []any{1, "two"}})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, untyped))
	require.NoError(t, untyped.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())

	lines := fileLines(t, w.Path())
	require.Len(t, lines, 3, "one line per completed event")
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "each line is one JSON object")
		assert.IsType(t, "", m["event_created_at"], "event_created_at is a string")
		assert.IsType(t, "", m["event_completed_at"])
		assert.Equal(t, "completed", m["event_status"])
		assert.NotContains(t, m, "event_results", "2.4.2's JSON has no result rows")
		got = append(got, m)
	}
	assert.Equal(t, typed[0].ID(), got[0]["event_id"])
	assert.Equal(t, "walOrder", got[0]["event_type"])
	assert.Equal(t, "A-1", got[0]["order_id"])
	assert.InDelta(t, 42.5, got[0]["total"], 0)
	assert.InDelta(t, 3, got[0]["qty"], 0)
	assert.Equal(t, true, got[0]["paid"])
	assert.Equal(t, []any{"x", "y"}, got[0]["tags"])
	assert.Equal(t, map[string]any{"k": "v"}, got[0]["meta"])
	assert.Equal(t, false, got[1]["paid"])
	assert.Equal(t, "WALUntyped", got[2]["event_type"])
	assert.InDelta(t, 7, got[2]["n"], 0)
	assert.Equal(t, "seven", got[2]["s"])
	assert.Equal(t, []any{float64(1), "two"}, got[2]["list"])
	ts, ok := got[0]["event_created_at"].(string)
	require.True(t, ok)
	assert.Equal(t, typed[0].CreatedAt().UTC().Format("2006-01-02T15:04:05.000000000Z"), ts)
}

// MW-13, WIRE-14: with the Upstream encoder the lines carry the result rows.
func TestUpstreamEncoderWritesResults_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t, wal.WithEncoder(wire.Encoder{Mode: wire.Upstream}))
	bus := newBus(t, "WALUpstream", api.WithMiddlewares(w))
	okHandler(t, bus)
	e := &walOrder{OrderID: "U-1"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())

	lines := fileLines(t, w.Path())
	require.Len(t, lines, 1)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	rows, ok := m["event_results"].(map[string]any)
	require.True(t, ok, "event_results is an object keyed by handler id")
	require.Len(t, rows, 1)
	for _, r := range rows {
		assert.Equal(t, "ok", r.(map[string]any)["result"])
	}
}

// MW-13: under SyncEvery, once Wait returns the event's line is written and
// fsynced. The engine runs the Completed hooks before the event's waiters
// wake; this fails (now and then) on an engine that wakes them first.
func TestSyncEveryDurableWhenWaitReturns_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALDurable", api.WithMiddlewares(w))
	okHandler(t, bus)
	for i := range 50 {
		e := &walOrder{OrderID: "D", Qty: i}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		st := w.Stats()
		require.Equal(t, uint64(i+1), st.Written, "event %d written when Wait returns", i)
		require.Equal(t, uint64(i+1), st.Synced, "event %d fsynced when Wait returns", i)
	}
}

// blockingFile is a file whose first Sync waits until release is closed,
// and which signals each Write.
type blockingFile struct {
	wal.File
	writes   chan struct{}
	syncing  chan struct{}
	release  chan struct{}
	once     sync.Once
	writeErr error
	syncErr  error
}

func (f *blockingFile) Write(p []byte) (int, error) {
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	n, err := f.File.Write(p)
	if f.writes != nil {
		f.writes <- struct{}{}
	}
	return n, err
}

func (f *blockingFile) Sync() error {
	if f.syncErr != nil {
		return f.syncErr
	}
	if f.release != nil {
		f.once.Do(func() {
			close(f.syncing)
			<-f.release
		})
	}
	return f.File.Sync()
}

// MW-13: SyncEvery commits concurrent events in groups: the lines written
// while an fsync runs share the next one, and each event's Wait returns
// only after the fsync that covers its line.
func TestSyncEveryGroupCommit_MW13(t *testing.T) {
	ctx := context.Background()
	const n = 5
	bf := &blockingFile{writes: make(chan struct{}, n), syncing: make(chan struct{}), release: make(chan struct{})}
	w := openWAL(t, wal.WithFileWrapper(func(f wal.File) wal.File { bf.File = f; return bf }))
	// One bus per event, so that the completions really run at once.
	events := make([]*walOrder, n)
	for i := range events {
		bus := newBus(t, "WALGroup", api.WithMiddlewares(w))
		okHandler(t, bus)
		events[i] = &walOrder{OrderID: "G", Qty: i}
		require.NoError(t, bus.Emit(ctx, events[i]))
		if i == 0 {
			<-bf.writes
			<-bf.syncing // the first event's fsync is running
		}
	}
	releaseOnce := sync.OnceFunc(func() { close(bf.release) })
	t.Cleanup(releaseOnce) // before the buses close, should the test fail
	for range n - 1 {
		<-bf.writes // the others are written and wait for an fsync
	}
	for _, e := range events {
		select {
		case <-e.Done():
			t.Fatalf("event %d done before its line was fsynced", e.Qty)
		default:
		}
	}
	releaseOnce()
	for _, e := range events {
		require.NoError(t, e.Wait(ctx))
	}
	st := w.Stats()
	assert.Equal(t, uint64(n), st.Written)
	assert.Equal(t, uint64(n), st.Synced)
	assert.Equal(t, uint64(2), st.Syncs, "one fsync for the first line, one for the four written during it")
}

// MW-13: SyncBatch fsyncs every maxEvents lines.
func TestSyncBatchByCount_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t, wal.WithSync(wal.SyncBatch(time.Hour, 4)))
	bus := newBus(t, "WALBatchCount", api.WithMiddlewares(w))
	okHandler(t, bus)
	for i := range 8 {
		require.NoError(t, bus.Emit(ctx, &walOrder{Qty: i}))
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())
	st := w.Stats()
	assert.Equal(t, uint64(8), st.Written)
	assert.Equal(t, uint64(8), st.Synced)
	assert.Equal(t, uint64(2), st.Syncs, "two batches of four; nothing left for Close to sync")
	assert.Len(t, fileLines(t, w.Path()), 8)
}

// MW-13: SyncBatch fsyncs interval after the first line not yet synced
// (on synctest's fake clock).
func TestSyncBatchByInterval_MW13(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.wal")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		w, err := wal.Open(path, wal.WithSync(wal.SyncBatch(50*time.Millisecond, 0)))
		require.NoError(t, err)
		bus, err := api.NewBus("WALBatchTime", api.WithMiddlewares(w))
		require.NoError(t, err)
		okHandler(t, bus)

		require.NoError(t, bus.Emit(ctx, &walOrder{Qty: 1}))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		synctest.Wait()
		assert.Equal(t, uint64(1), w.Stats().Written)
		assert.Zero(t, w.Stats().Syncs, "not yet")
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		assert.Zero(t, w.Stats().Syncs, "not yet")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.Equal(t, uint64(1), w.Stats().Syncs, "interval after the line")
		assert.Equal(t, uint64(1), w.Stats().Synced)

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, uint64(1), w.Stats().Syncs, "no fsync without a new line")
		require.NoError(t, bus.Close())
		require.NoError(t, w.Close())
	})
}

// MW-13: SyncNone writes and never fsyncs by itself; Sync and Close do.
func TestSyncNoneLeavesFlushToOS_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t, wal.WithSync(wal.SyncNone()))
	bus := newBus(t, "WALNone", api.WithMiddlewares(w))
	okHandler(t, bus)
	for i := range 3 {
		require.NoError(t, bus.Emit(ctx, &walOrder{Qty: i}))
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Zero(t, w.Stats().Syncs)
	require.NoError(t, w.Sync())
	assert.Equal(t, wal.Stats{Written: 3, Synced: 3, Syncs: 1}, w.Stats())
	require.NoError(t, bus.Emit(ctx, &walOrder{Qty: 3}))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())
	assert.Equal(t, wal.Stats{Written: 4, Synced: 4, Syncs: 2}, w.Stats())
	assert.Len(t, fileLines(t, w.Path()), 4)
}

// errRecorder collects the errors a WAL reports.
type errRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errRecorder) add(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() }

func (r *errRecorder) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

var errDisk = errors.New("disk on fire")

// MW-13: a failed write is reported (the error handler, slog, Close) as an
// *Error naming the event; the WAL then writes nothing more and reports
// each event it loses; the bus goes on.
func TestWriteFailureReported_MW13(t *testing.T) {
	for _, p := range []wal.SyncPolicy{wal.SyncEvery(), wal.SyncBatch(time.Millisecond, 1), wal.SyncNone()} {
		t.Run(p.String(), func(t *testing.T) {
			ctx := context.Background()
			var logs bytes.Buffer
			rec := &errRecorder{}
			bf := &blockingFile{writeErr: errDisk}
			w := openWAL(t, wal.WithSync(p), wal.WithErrorHandler(rec.add),
				wal.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				wal.WithFileWrapper(func(f wal.File) wal.File { bf.File = f; return bf }))
			bus := newBus(t, "WALWriteFail", api.WithMiddlewares(w))
			okHandler(t, bus)
			first, second := &walOrder{Qty: 1}, &walOrder{Qty: 2}
			require.NoError(t, bus.Emit(ctx, first))
			require.NoError(t, first.Wait(ctx))
			require.NoError(t, bus.WaitUntilIdle(ctx))
			require.ErrorIs(t, w.Sync(), errDisk, "the first line failed before Sync returns")
			require.NoError(t, bus.Emit(ctx, second))
			v, err := second.Result(ctx)
			require.NoError(t, err, "the bus goes on")
			assert.Equal(t, "ok", v)
			require.NoError(t, bus.WaitUntilIdle(ctx))

			cerr := w.Close()
			require.ErrorIs(t, cerr, errDisk, "Close returns the first failure")
			var we *wal.Error
			require.ErrorAs(t, cerr, &we)
			assert.Equal(t, wal.OpWrite, we.Op)
			assert.Equal(t, cerr, w.Close(), "Close again returns the same")
			assert.Equal(t, cerr, w.Err())

			errs := rec.all()
			require.Len(t, errs, 2, "one report per lost event")
			require.ErrorAs(t, errs[0], &we)
			assert.Equal(t, first.ID(), we.EventID)
			assert.Equal(t, "walOrder", we.EventType)
			assert.ErrorIs(t, errs[0], errDisk)
			assert.NotErrorIs(t, errs[0], wal.ErrFailed)
			require.ErrorAs(t, errs[1], &we)
			assert.Equal(t, second.ID(), we.EventID)
			assert.ErrorIs(t, errs[1], wal.ErrFailed, "lost to the earlier failure")
			assert.ErrorIs(t, errs[1], errDisk)
			assert.Equal(t, uint64(2), w.Stats().Dropped)
			assert.Contains(t, logs.String(), "ringbus: wal failed, writing stops")
			assert.Contains(t, logs.String(), "event_id="+first.ID())
		})
	}
}

// MW-13: an error handler that panics, on the bus's goroutine or on the
// WAL's, neither ends the process nor stops the bus; the panic is logged.
func TestPanickingErrorHandler_MW13(t *testing.T) {
	for _, p := range []wal.SyncPolicy{wal.SyncEvery(), wal.SyncNone()} {
		t.Run(p.String(), func(t *testing.T) {
			ctx := context.Background()
			var logs syncBuffer
			bf := &blockingFile{writeErr: errDisk}
			w := openWAL(t, wal.WithSync(p), wal.WithErrorHandler(func(error) { panic("handler boom") }),
				wal.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				wal.WithFileWrapper(func(f wal.File) wal.File { bf.File = f; return bf }))
			bus := newBus(t, "WALPanicHandler", api.WithMiddlewares(w))
			okHandler(t, bus)
			for range 3 {
				e := &walOrder{}
				require.NoError(t, bus.Emit(ctx, e))
				v, err := e.Result(ctx)
				require.NoError(t, err)
				assert.Equal(t, "ok", v)
			}
			require.NoError(t, bus.WaitUntilIdle(ctx))
			require.ErrorIs(t, w.Close(), errDisk)
			assert.Contains(t, logs.String(), "ringbus: wal error handler panicked")
			assert.Contains(t, logs.String(), "handler boom")
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the WAL's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// MW-13: a failed fsync under SyncEvery is reported for the event it was
// to cover.
func TestSyncFailureReported_MW13(t *testing.T) {
	ctx := context.Background()
	rec := &errRecorder{}
	bf := &blockingFile{syncErr: errDisk}
	w := openWAL(t, wal.WithErrorHandler(rec.add), wal.WithLogger(slog.New(slog.DiscardHandler)),
		wal.WithFileWrapper(func(f wal.File) wal.File { bf.File = f; return bf }))
	bus := newBus(t, "WALSyncFail", api.WithMiddlewares(w))
	okHandler(t, bus)
	e := &walOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	errs := rec.all()
	require.Len(t, errs, 1)
	var we *wal.Error
	require.ErrorAs(t, errs[0], &we)
	assert.Equal(t, wal.OpSync, we.Op)
	assert.Equal(t, e.ID(), we.EventID)
	assert.ErrorIs(t, w.Sync(), errDisk)
	assert.ErrorIs(t, w.Close(), errDisk)
}

// MW-13: a closed WAL's hook writes nothing, reports the event with
// ErrClosed and harms nothing; Sync says ErrClosed; Close is idempotent.
func TestClosedWALReportsEvents_MW13(t *testing.T) {
	for _, p := range []wal.SyncPolicy{wal.SyncEvery(), wal.SyncNone()} {
		t.Run(p.String(), func(t *testing.T) {
			ctx := context.Background()
			rec := &errRecorder{}
			w := openWAL(t, wal.WithSync(p), wal.WithErrorHandler(rec.add), wal.WithLogger(slog.New(slog.DiscardHandler)))
			bus := newBus(t, "WALClosed", api.WithMiddlewares(w))
			okHandler(t, bus)
			require.NoError(t, w.Close())
			require.NoError(t, w.Close())
			e := &walOrder{}
			require.NoError(t, bus.Emit(ctx, e))
			v, err := e.Result(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ok", v)
			require.NoError(t, bus.WaitUntilIdle(ctx))
			errs := rec.all()
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], wal.ErrClosed)
			assert.ErrorIs(t, w.Sync(), wal.ErrClosed)
			assert.Equal(t, uint64(1), w.Stats().Dropped)
			assert.Empty(t, fileLines(t, w.Path()))
		})
	}
}

// MW-13: an event that cannot be encoded is reported and the others are
// written.
func TestUnencodableEventReported_MW13(t *testing.T) {
	ctx := context.Background()
	rec := &errRecorder{}
	w := openWAL(t, wal.WithErrorHandler(rec.add), wal.WithLogger(slog.New(slog.DiscardHandler)))
	bus := newBus(t, "WALEncode", api.WithMiddlewares(w))
	okHandler(t, bus)
	bad := &walOrder{Meta: map[string]any{"ch": make(chan int)}}
	good := &walOrder{OrderID: "fine"}
	require.NoError(t, bus.Emit(ctx, bad))
	require.NoError(t, bus.Emit(ctx, good))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close(), "an encoding failure does not stop the WAL")
	errs := rec.all()
	require.Len(t, errs, 1)
	var we *wal.Error
	require.ErrorAs(t, errs[0], &we)
	assert.Equal(t, wal.OpEncode, we.Op)
	assert.Equal(t, bad.ID(), we.EventID)
	assert.ErrorIs(t, errs[0], wire.ErrEncode)
	lines := fileLines(t, w.Path())
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], good.ID())
}

// Open validates its options and creates the parent directories.
func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	_, err := wal.Open(filepath.Join(dir, "a.wal"), wal.WithSync(wal.SyncBatch(0, 0)))
	require.ErrorIs(t, err, wal.ErrInvalidOption)
	_, err = wal.Open(filepath.Join(dir, "a.wal"), wal.WithQueueSize(0))
	require.ErrorIs(t, err, wal.ErrInvalidOption)
	_, err = wal.Open(filepath.Join(dir, "a.wal"), wal.WithPerm(os.ModeDir|0o644))
	require.ErrorIs(t, err, wal.ErrInvalidOption)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	_, err = wal.Open(filepath.Join(dir, "file", "x.wal"))
	var we *wal.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wal.OpOpen, we.Op)

	w, err := wal.Open(filepath.Join(dir, "deep", "er", "x.wal"), wal.WithPerm(0o600))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	st, err := os.Stat(filepath.Join(dir, "deep", "er", "x.wal"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Equal(t, "every", w.Policy().String())
	assert.Equal(t, "batch(10ms, 512)", wal.SyncBatch(10*time.Millisecond, 512).String())
}

// MW-13: Open cuts off a torn last line, so the next line starts on a line
// of its own and the file reads back without a torn or corrupt line.
func TestOpenRepairsTornTail_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALRepair", api.WithMiddlewares(w))
	okHandler(t, bus)
	require.NoError(t, bus.Emit(ctx, &walOrder{OrderID: "before"}))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())
	path := w.Path()
	intact, err := os.ReadFile(path)
	require.NoError(t, err)
	torn := intact[:len(intact)/2]
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, intact...), torn...), 0o644))

	var logs bytes.Buffer
	w2, err := wal.Open(path, wal.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.Equal(t, int64(len(torn)), w2.Stats().Repaired)
	assert.Contains(t, logs.String(), "ringbus: wal torn last line removed")
	bus2 := newBus(t, "WALRepair2", api.WithMiddlewares(w2))
	okHandler(t, bus2)
	require.NoError(t, bus2.Emit(ctx, &walOrder{OrderID: "after"}))
	require.NoError(t, bus2.WaitUntilIdle(ctx))
	require.NoError(t, w2.Close())

	evs, errs := readAll(t, path)
	assert.Empty(t, errs)
	require.Len(t, evs, 2)
	assert.Equal(t, "before", evs[0].Payload().(*walOrder).OrderID)
	assert.Equal(t, "after", evs[1].Payload().(*walOrder).OrderID)
}
