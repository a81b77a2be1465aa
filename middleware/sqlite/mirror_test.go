package sqlitemirror_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	sqlitemirror "github.com/ringbus/ringbus/middleware/sqlite"
)

type mirrorEvent struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

type mirrorChild struct {
	api.Event[string]
}

type mirrorFloat struct {
	api.Event[float64]
}

// eventRow and resultRow are the rows of the two tables, as a separate
// reader sees them.
type eventRow struct {
	ID                              int64
	EventID, EventType, EventStatus string
	BusID, BusName                  string
	Phase                           sql.NullString
	JSON                            string
	InsertedAt                      sql.NullString
}

type resultRow struct {
	ID                                       int64
	ResultID, EventID, HandlerID, Handler    string
	BusID, BusName, EventType, Status        string
	Phase, ResultRepr, ErrorRepr, ResultJSON sql.NullString
	InsertedAt                               sql.NullString
}

// readDB opens path with a database/sql connection of its own, independent
// of any Mirror, and returns both tables in insertion order.
func readDB(t *testing.T, path string) ([]eventRow, []resultRow) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	ctx := context.Background()

	rows, err := db.QueryContext(ctx, `SELECT id, event_id, event_type, event_status, eventbus_id, eventbus_name,
		phase, event_json, inserted_at FROM events_log ORDER BY id`)
	require.NoError(t, err)
	var evs []eventRow
	for rows.Next() {
		var r eventRow
		require.NoError(t, rows.Scan(&r.ID, &r.EventID, &r.EventType, &r.EventStatus, &r.BusID, &r.BusName,
			&r.Phase, &r.JSON, &r.InsertedAt))
		evs = append(evs, r)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	rows, err = db.QueryContext(ctx, `SELECT id, event_result_id, event_id, handler_id, handler_name, eventbus_id,
		eventbus_name, event_type, status, phase, result_repr, error_repr, event_result_json, inserted_at
		FROM event_results_log ORDER BY id`)
	require.NoError(t, err)
	var res []resultRow
	for rows.Next() {
		var r resultRow
		require.NoError(t, rows.Scan(&r.ID, &r.ResultID, &r.EventID, &r.HandlerID, &r.Handler, &r.BusID,
			&r.BusName, &r.EventType, &r.Status, &r.Phase, &r.ResultRepr, &r.ErrorRepr, &r.ResultJSON, &r.InsertedAt))
		res = append(res, r)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	return evs, res
}

func phases[R any](rows []R, get func(R) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = get(r)
	}
	return out
}

func evPhase(r eventRow) string   { return r.Phase.String }
func evStatus(r eventRow) string  { return r.EventStatus }
func resPhase(r resultRow) string { return r.Phase.String }
func resStat(r resultRow) string  { return r.Status }

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "history.db") }

func openMirror(t *testing.T, path string, opts ...sqlitemirror.Option) *sqlitemirror.Mirror {
	t.Helper()
	m, err := sqlitemirror.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func newBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	bus, err := api.NewBus(name, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

var labelRE = regexp.MustCompile(`^MirrorOne#[0-9a-f]{4}$`)

// MW-15, MW-1, MW-2: one handler that returns "ok": the events_log rows
// have phases and event statuses [pending, started, completed], the
// event_results_log rows phases and statuses [pending, started,
// completed]; eventbus_name is the bus label; result_repr is "ok" (quoted)
// on the completed row only; each JSON is the snapshot at its hook, read
// back by a separate reader after Close.
func TestSingleHandlerRows_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	m := openMirror(t, path)
	bus := newBus(t, "MirrorOne", api.WithMiddlewares(m))
	h, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil },
		api.WithHandlerName("charge"))
	require.NoError(t, err)
	e := &mirrorEvent{OrderID: "A-1"}
	require.NoError(t, bus.Emit(ctx, e))
	got, err := e.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", got)
	label := bus.Label() // Close renames a bus (its name is free again)
	require.NoError(t, bus.Close())
	require.NoError(t, m.Close())

	evs, res := readDB(t, path)
	require.Len(t, evs, 3)
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(evs, evPhase))
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(evs, evStatus))
	for _, r := range evs {
		assert.Equal(t, e.ID(), r.EventID)
		assert.Equal(t, "mirrorEvent", r.EventType)
		assert.Equal(t, bus.ID(), r.BusID)
		assert.Equal(t, label, r.BusName)
		assert.Regexp(t, labelRE, r.BusName, "eventbus_name holds the label Name#abcd")
		assert.True(t, r.InsertedAt.Valid)
		var j map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.JSON), &j), r.JSON)
		assert.Equal(t, e.ID(), j["event_id"])
		assert.Equal(t, "A-1", j["order_id"])
		assert.Equal(t, r.EventStatus, j["event_status"], "event_json is the snapshot at the hook")
	}

	require.Len(t, res, 3)
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(res, resPhase))
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(res, resStat))
	row := e.Rows()[0]
	for i, r := range res {
		assert.Equal(t, row.ID(), r.ResultID)
		assert.Equal(t, e.ID(), r.EventID)
		assert.Equal(t, h.ID(), r.HandlerID)
		assert.Equal(t, "charge", r.Handler)
		assert.Equal(t, bus.ID(), r.BusID)
		assert.Equal(t, label, r.BusName)
		assert.Equal(t, "mirrorEvent", r.EventType)
		assert.False(t, r.ErrorRepr.Valid)
		require.True(t, r.ResultJSON.Valid, "row %d", i)
		var j map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.ResultJSON.String), &j))
		assert.Equal(t, row.ID(), j["id"])
		assert.Equal(t, r.Status, j["status"], "event_result_json is the snapshot at the hook")
		assert.Equal(t, "charge", j["handler_name"])
	}
	assert.False(t, res[0].ResultRepr.Valid)
	assert.False(t, res[1].ResultRepr.Valid)
	assert.Equal(t, sql.NullString{String: `"ok"`, Valid: true}, res[2].ResultRepr)
	var done map[string]any
	require.NoError(t, json.Unmarshal([]byte(res[2].ResultJSON.String), &done))
	assert.Equal(t, "ok", done["result"])
}

// MW-15, MW-1, MW-4: a failing handler: the row hooks report phases
// [pending, started, completed] and the runtime statuses [pending, started,
// error]; error_repr names the error's type and message, result_repr is
// NULL, event_result_json carries the error.
func TestFailingHandlerRows_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	m := openMirror(t, path)
	bus := newBus(t, "MirrorFail", api.WithMiddlewares(m))
	_, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) {
		return "", errors.New("handler boom")
	})
	require.NoError(t, err)
	e := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	_, err = e.Result(ctx)
	require.ErrorContains(t, err, "handler boom")
	require.NoError(t, bus.Close())
	require.NoError(t, m.Close())

	evs, res := readDB(t, path)
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(evs, evPhase))
	require.Len(t, res, 3)
	assert.Equal(t, []string{"pending", "started", "completed"}, phases(res, resPhase))
	assert.Equal(t, []string{"pending", "started", "error"}, phases(res, resStat))
	last := res[2]
	require.True(t, last.ErrorRepr.Valid)
	assert.Contains(t, last.ErrorRepr.String, "Error('handler boom')")
	assert.False(t, last.ResultRepr.Valid)
	var j struct {
		Status string `json:"status"`
		Error  struct {
			Type, Message string
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(last.ResultJSON.String), &j))
	assert.Equal(t, "error", j.Status)
	assert.Equal(t, "Error", j.Error.Type)
	assert.Equal(t, "handler boom", j.Error.Message)
}

// MW-15: three processes, each with one bus and one handler, mirror one
// event each into the same file at the same time: 9 result rows, from 3
// buses with 3 distinct labels. The children are this test binary started
// again (TestMain runs their part).
func TestThreeProcessesOneFile_MW15(t *testing.T) {
	path := dbPath(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	var wg sync.WaitGroup
	outs := make([][]byte, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), envChildDB+"="+path, envChildBus+"=MirrorWorker")
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range 3 {
		require.NoError(t, errs[i], "child %d: %s", i, outs[i])
	}

	evs, res := readDB(t, path)
	assert.Len(t, evs, 9)
	require.Len(t, res, 9)
	labels, ids, events := map[string]bool{}, map[string]bool{}, map[string][]string{}
	for _, r := range res {
		labels[r.BusName] = true
		ids[r.BusID] = true
		events[r.EventID] = append(events[r.EventID], r.Phase.String+"/"+r.Status)
		assert.Equal(t, "MirrorWorker#"+r.BusID[len(r.BusID)-4:], r.BusName)
	}
	assert.Len(t, ids, 3, "three buses")
	assert.Len(t, labels, 3, "three distinct bus labels")
	require.Len(t, events, 3)
	for id, seq := range events {
		assert.Equal(t, []string{"pending/pending", "started/started", "completed/completed"}, seq, id)
	}
}

// MW-15: Close is idempotent; after it Flush fails with ErrClosed, and a
// hook that runs after it (a bus still emitting) writes nothing: the row
// is counted as dropped and reported as ErrClosed.
func TestCloseIdempotent_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	var mu sync.Mutex
	var reported []error
	m := openMirror(t, path, sqlitemirror.WithErrorHandler(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	}), sqlitemirror.WithLogger(slog.New(slog.DiscardHandler)))
	bus := newBus(t, "MirrorClose", api.WithMiddlewares(m))
	_, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)

	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	require.ErrorIs(t, m.Flush(ctx), sqlitemirror.ErrClosed)

	e := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	_, err = e.Result(ctx)
	require.NoError(t, err, "the bus works on without its mirror")
	require.NoError(t, bus.Close())
	assert.Equal(t, uint64(6), m.Stats().Dropped)
	assert.Equal(t, uint64(0), m.Stats().Written)
	mu.Lock()
	require.Len(t, reported, 6)
	for _, err := range reported {
		require.ErrorIs(t, err, sqlitemirror.ErrClosed)
		var me *sqlitemirror.Error
		require.ErrorAs(t, err, &me)
		assert.Equal(t, "enqueue", me.Op)
		assert.Equal(t, e.ID(), me.EventID)
	}
	mu.Unlock()
	require.NoError(t, m.Close(), "Close after dropped rows still returns what the first Close returned")

	evs, res := readDB(t, path)
	assert.Empty(t, evs)
	assert.Empty(t, res)
}

// outcome is what a program sees of one event without the mirror.
type outcome struct {
	Type, Status string
	Rows         []string
	Children     int
}

func observe(e *api.BaseEvent) outcome {
	o := outcome{Type: e.Type(), Status: e.Status().String(), Children: len(e.Children())}
	for _, r := range e.Rows() {
		s := r.HandlerName() + " " + r.Status().String()
		if err := r.Error(); err != nil {
			s += " " + err.Error()
		} else {
			s += " " + sqlitemirror.ResultRepr(r.Value())
		}
		o.Rows = append(o.Rows, s)
	}
	return o
}

// scenario runs the same events on a bus with opts: a child awaited from
// its parent's handler, a failing handler, parallel handlers.
func scenario(t *testing.T, name string, opts ...api.Option) []outcome {
	ctx := context.Background()
	bus := newBus(t, name, opts...)
	_, err := api.On(bus, func(hctx context.Context, e *mirrorEvent) (string, error) {
		c := &mirrorChild{}
		if err := bus.Emit(hctx, c); err != nil {
			return "", err
		}
		v, err := c.Result(hctx)
		return "parent saw " + v + " for " + e.OrderID, err
	}, api.WithHandlerName("parent"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *mirrorEvent) (string, error) {
		return "", errors.New("second fails")
	}, api.WithHandlerName("failing"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *mirrorChild) (string, error) { return "child", nil },
		api.WithHandlerName("child"))
	require.NoError(t, err)

	var events []*api.BaseEvent
	for i := range 5 {
		e := &mirrorEvent{OrderID: string(rune('A' + i))}
		if i%2 == 1 {
			e.SetHandlerConcurrency(api.ParallelHandlers)
		}
		require.NoError(t, bus.Emit(ctx, e))
		events = append(events, &e.Event.Event)
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	var out []outcome
	for _, e := range events {
		require.NoError(t, e.Wait(ctx))
		out = append(out, observe(e))
		for _, c := range e.Children() {
			out = append(out, observe(c))
		}
	}
	return out
}

// MW-15 (test_sqlite_mirror_matches_inmemory_*): mirroring does not change
// what the bus does: the same events give the same results, errors and
// statuses with and without the mirror, and the mirror's last row for each
// result row is the row's final status.
func TestMirrorMatchesInMemory_MW15(t *testing.T) {
	path := dbPath(t)
	m := openMirror(t, path)
	bare := scenario(t, "MirrorBare")
	mirrored := scenario(t, "MirrorSame", api.WithMiddlewares(m))
	assert.Equal(t, bare, mirrored)
	require.NoError(t, m.Close())

	evs, res := readDB(t, path)
	completed := 0
	for _, r := range evs {
		if r.Phase.String == "completed" {
			completed++
			assert.Equal(t, "completed", r.EventStatus)
		}
	}
	assert.Equal(t, len(mirrored), completed, "one completed row per event")
	final := map[string]string{}
	for _, r := range res {
		final[r.Handler+" "+r.EventID] = r.Status
	}
	assert.Len(t, final, 5*2+5, "two rows per parent, one per child")
	counts := map[string]int{}
	for _, st := range final {
		counts[st]++
	}
	assert.Equal(t, map[string]int{"completed": 10, "error": 5}, counts)
}

// MW-15, MW-5: a slow disk does not slow the bus while the queue has room:
// with the writer stuck before its first transaction, every event
// completes, a separate reader sees none of their rows yet, and once the
// writer goes on Flush writes all of them. A reader opened while the
// Mirror is open (WAL) sees them after Flush.
func TestSlowDiskDoesNotStallBus_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var held int // rows of the stuck batch
	m := openMirror(t, path, sqlitemirror.WithQueueSize(256), sqlitemirror.WithBeforeWrite(func(rows int) {
		once.Do(func() { held = rows; close(entered); <-release })
	}))
	var unblock sync.Once
	free := func() { unblock.Do(func() { close(release) }) }
	bus := newBus(t, "MirrorSlow", api.WithMiddlewares(m))
	t.Cleanup(free) // before the bus's and the Mirror's Close, even when the test fails
	_, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)

	first := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, first))
	require.NoError(t, first.Wait(ctx)) // its completion hook has run: its 6 rows are queued
	<-entered                           // the writer is stuck in its first batch: the disk is "slow"

	wctx, cancel := context.WithTimeout(ctx, time.Minute) // a stalled bus fails here instead of hanging
	defer cancel()
	const n = 20 // 6 rows each: well inside the queue of 256
	events := make([]*mirrorEvent, n)
	for i := range events {
		events[i] = &mirrorEvent{}
		require.NoError(t, bus.Emit(wctx, events[i]))
	}
	for _, e := range events {
		require.NoError(t, e.Wait(wctx), "the bus completes events while the writer is stuck")
	}
	assert.Equal(t, uint64(0), m.Stats().Written)
	assert.Equal(t, (n+1)*6-held, m.Stats().Queued)

	evs, res := readDB(t, path) // nothing committed yet
	assert.Empty(t, evs)
	assert.Empty(t, res)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, m.Flush(cctx), context.Canceled, "Flush's wait is bounded by its ctx")

	free()
	require.NoError(t, m.Flush(ctx))
	assert.Equal(t, uint64((n+1)*6), m.Stats().Written)
	evs, res = readDB(t, path) // the Mirror is still open
	assert.Len(t, evs, (n+1)*3)
	assert.Len(t, res, (n+1)*3)
}

// MW-15: with QueueBlock (the default) no row is lost: when the queue is
// full the hook waits, and so the bus; once the writer goes on, every row
// is written.
func TestQueueFullBlocksWithoutLoss_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	m := openMirror(t, path, sqlitemirror.WithQueueSize(2), sqlitemirror.WithBatchSize(1),
		sqlitemirror.WithBeforeWrite(func(int) { once.Do(func() { close(entered); <-release }) }))
	var unblock sync.Once
	free := func() { unblock.Do(func() { close(release) }) }
	bus := newBus(t, "MirrorBlock", api.WithMiddlewares(m))
	t.Cleanup(free) // before the bus's and the Mirror's Close, even when the test fails
	_, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)

	e := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	<-entered
	require.Eventually(t, func() bool { return m.Stats().Queued == 2 }, time.Minute, time.Millisecond)
	select {
	case <-e.Done():
		t.Fatal("the event completed although its rows could not be queued")
	default:
	}
	free()
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, m.Flush(ctx))
	assert.Equal(t, sqlitemirror.Stats{Written: 6}, m.Stats())
}

// MW-15: with QueueDrop the bus never waits for the disk: rows that find
// the queue full are dropped, counted and reported as ErrQueueFull.
func TestQueueFullDrops_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var reported []error
	m := openMirror(t, path, sqlitemirror.WithQueueSize(4), sqlitemirror.WithBatchSize(1),
		sqlitemirror.WithQueueFullPolicy(sqlitemirror.QueueDrop),
		sqlitemirror.WithBeforeWrite(func(int) { <-release }),
		sqlitemirror.WithLogger(slog.New(slog.DiscardHandler)),
		sqlitemirror.WithErrorHandler(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err)
		}))
	bus := newBus(t, "MirrorDrop", api.WithMiddlewares(m))
	var unblock sync.Once
	free := func() { unblock.Do(func() { close(release) }) }
	t.Cleanup(free) // before the bus's and the Mirror's Close, even when the test fails
	_, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)

	const n = 10
	for range n {
		e := &mirrorEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
	}
	st := m.Stats()
	assert.GreaterOrEqual(t, st.Dropped, uint64(n*6-4-1), "all but the queue and the row the writer holds")
	free()
	err = m.Flush(ctx)
	require.ErrorIs(t, err, sqlitemirror.ErrQueueFull, "Flush returns the drops since the last Flush")
	st = m.Stats()
	assert.Equal(t, uint64(n*6), st.Written+st.Dropped)
	mu.Lock()
	assert.Len(t, reported, int(st.Dropped))
	for _, err := range reported {
		assert.ErrorIs(t, err, sqlitemirror.ErrQueueFull)
	}
	mu.Unlock()
	require.NoError(t, m.Flush(ctx), "failures are returned once")
}

// MW-15: a batch the database refuses (its table was dropped by another
// connection) is reported to the error handler, logged at Error with its
// attributes and returned by Flush, as an *Error matching ErrWrite; the
// Mirror goes on, and Close returns only what Flush has not.
func TestWriteErrorReported_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	var reported []error
	m := openMirror(t, path,
		sqlitemirror.WithLogger(slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))),
		sqlitemirror.WithErrorHandler(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err)
		}))
	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = other.ExecContext(ctx, "DROP TABLE events_log")
	require.NoError(t, err)
	require.NoError(t, other.Close())

	bus := newBus(t, "MirrorBroken", api.WithMiddlewares(m))
	_, err = api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)
	e := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx), "a failing mirror does not fail the bus")

	err = m.Flush(ctx)
	require.ErrorIs(t, err, sqlitemirror.ErrWrite)
	var me *sqlitemirror.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "write", me.Op)
	assert.Equal(t, path, me.Path)
	assert.Positive(t, me.Rows)
	assert.Contains(t, err.Error(), "events_log")
	assert.Equal(t, uint64(6), m.Stats().Failed)
	mu.Lock()
	assert.NotEmpty(t, reported)
	mu.Unlock()
	out := logs.String()
	assert.Contains(t, out, `"level":"ERROR"`)
	assert.Contains(t, out, `"msg":"ringbus: sqlite mirror write failed"`)
	assert.Contains(t, out, `"op":"write"`)
	assert.Contains(t, out, `"path":`)
	require.NoError(t, bus.Close())
	require.NoError(t, m.Close())
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// MW-15: a result that has no JSON (NaN) is reported as ErrEncode; its row
// is still mirrored, with a NULL event_result_json.
func TestUnencodableResult_MW15(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	m := openMirror(t, path, sqlitemirror.WithLogger(slog.New(slog.DiscardHandler)))
	bus := newBus(t, "MirrorNaN", api.WithMiddlewares(m))
	_, err := api.On(bus, func(context.Context, *mirrorFloat) (float64, error) { return math.NaN(), nil })
	require.NoError(t, err)
	e := &mirrorFloat{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.Close())
	err = m.Close()
	require.ErrorIs(t, err, sqlitemirror.ErrEncode)

	_, res := readDB(t, path)
	require.Len(t, res, 3)
	assert.True(t, res[0].ResultJSON.Valid)
	assert.False(t, res[2].ResultJSON.Valid)
	assert.Equal(t, "NaN", res[2].ResultRepr.String)
}

// Open rejects bad options and paths it cannot use, with typed errors.
func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, opt := range []sqlitemirror.Option{
		sqlitemirror.WithQueueSize(0),
		sqlitemirror.WithBatchSize(0),
		sqlitemirror.WithFlushInterval(-time.Second),
		sqlitemirror.WithBusyTimeout(-time.Second),
		sqlitemirror.WithQueueFullPolicy(7),
	} {
		_, err := sqlitemirror.Open(ctx, filepath.Join(dir, "a.db"), opt)
		require.ErrorIs(t, err, sqlitemirror.ErrInvalidOption)
	}
	for _, p := range []string{"", filepath.Join(dir, "a?b.db"), filepath.Join(dir, "missing", "dir", "a.db")} {
		_, err := sqlitemirror.Open(ctx, p)
		require.ErrorIs(t, err, sqlitemirror.ErrOpen, p)
		var me *sqlitemirror.Error
		require.ErrorAs(t, err, &me)
		assert.Equal(t, "open", me.Op)
	}
	// A file that is not a database.
	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 100), 0o600))
	_, err := sqlitemirror.Open(ctx, junk)
	require.ErrorIs(t, err, sqlitemirror.ErrOpen)
}

// MW-15: the file reads with the sqlite3 command-line tool, another SQLite
// implementation than the driver's: the database is in WAL mode and the
// rows the spec pins are there. Skipped where sqlite3 is not installed.
func TestSQLite3CLIReads_MW15(t *testing.T) {
	cli, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 command-line tool not installed")
	}
	ctx := context.Background()
	path := dbPath(t)
	m := openMirror(t, path)
	bus := newBus(t, "MirrorCLI", api.WithMiddlewares(m))
	_, err = api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)
	e := &mirrorEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	label := bus.Label()
	require.NoError(t, bus.Close())
	require.NoError(t, m.Close())

	query := func(q string) string {
		out, err := exec.Command(cli, "-readonly", path, q).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "wal", query("PRAGMA journal_mode"))
	assert.Equal(t, "pending|pending\nstarted|started\ncompleted|completed",
		query("SELECT phase, event_status FROM events_log ORDER BY id"))
	assert.Equal(t, "pending|pending|\nstarted|started|\ncompleted|completed|\"ok\"",
		query("SELECT phase, status, coalesce(result_repr, '') FROM event_results_log ORDER BY id"))
	assert.Equal(t, label, query("SELECT DISTINCT eventbus_name FROM event_results_log"))
	assert.Equal(t, "text|text", query("SELECT DISTINCT typeof(event_json), typeof(inserted_at) FROM events_log"))
	assert.Equal(t, "text|text", query("SELECT DISTINCT typeof(event_result_json), typeof(inserted_at) FROM event_results_log"))
}

// The repr forms of result_repr and error_repr.
func TestRepr(t *testing.T) {
	assert.Equal(t, `"ok"`, sqlitemirror.ResultRepr("ok"))
	assert.Equal(t, `"say \"hi\"\n"`, sqlitemirror.ResultRepr("say \"hi\"\n"))
	assert.Equal(t, "nil", sqlitemirror.ResultRepr(nil))
	assert.Equal(t, "123", sqlitemirror.ResultRepr(123))
	assert.Equal(t, "true", sqlitemirror.ResultRepr(true))
	assert.Equal(t, `map[string]interface {}{"a":1}`, sqlitemirror.ResultRepr(map[string]any{"a": 1}))
	c := &mirrorChild{}
	assert.Equal(t, "Event("+c.Label()+")", sqlitemirror.ResultRepr(c))

	assert.Equal(t, `'it'`, sqlitemirror.PyQuote("it"))
	assert.Equal(t, `"it's"`, sqlitemirror.PyQuote("it's"))
	assert.Equal(t, `'it\'s "x"'`, sqlitemirror.PyQuote(`it's "x"`))
	assert.Equal(t, `'a\\b\n\x01é'`, sqlitemirror.PyQuote("a\\b\n\x01é"))
	assert.Equal(t, "Error('handler boom')", sqlitemirror.ErrorRepr(errors.New("handler boom")))
	assert.True(t, strings.HasPrefix(sqlitemirror.ErrorRepr(context.DeadlineExceeded), "deadlineExceededError("))
}

// The scan that takes a row out of its event's JSON finds the top-level
// key only: not one nested in the payload, not one inside a string.
func TestTopLevelScan(t *testing.T) {
	js := `{"a":"x\\\"],\"event_results\":[1]","b":{"event_results":[2],"c":[{"d":"}]"}]},` +
		`"n":-1.5e3,"t":true,"z":null,"event_results":[{"id":"r1","v":"]"},{"id":"r2","e":{"k":[1,{}]}}]}`
	v, ok := sqlitemirror.TopLevel(js, "event_results")
	require.True(t, ok)
	assert.Equal(t, `[{"id":"r1","v":"]"},{"id":"r2","e":{"k":[1,{}]}}]`, v)
	v, ok = sqlitemirror.TopLevel(js, "n")
	require.True(t, ok)
	assert.Equal(t, "-1.5e3", v)
	_, ok = sqlitemirror.TopLevel(js, "c")
	assert.False(t, ok)
	for _, bad := range []string{"", "{", `{"a"`, `{"a":`, `{"a":"`, `{"a":[`, `[1]`} {
		_, ok = sqlitemirror.TopLevel(bad, "a")
		assert.False(t, ok, bad)
	}
	assert.Equal(t, `{"id":"r2","e":{"k":[1,{}]}}`, sqlitemirror.RowJSON(js, "r2"))
	assert.Equal(t, ``, sqlitemirror.RowJSON(js, "r3"))
	assert.Equal(t, ``, sqlitemirror.RowJSON(`{"event_results":[{"id":"r1"`, "r1"))
}
