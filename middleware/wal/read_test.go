package wal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
	"github.com/ringbus/ringbus/wire"
)

// orderData is the payload of a walOrder, comparable by value.
type orderData struct {
	OrderID string
	Total   float64
	Qty     int
	Paid    bool
	Tags    []string
	Meta    map[string]any
}

func dataOf(e *walOrder) orderData {
	return orderData{OrderID: e.OrderID, Total: e.Total, Qty: e.Qty, Paid: e.Paid, Tags: e.Tags, Meta: e.Meta}
}

var parentData = orderData{OrderID: "parent", Total: 9.75, Qty: 1, Paid: true, Tags: []string{"p"}, Meta: map[string]any{"a": "b"}}

// seen records what the handlers of a replay bus receive.
type seen struct {
	mu     sync.Mutex
	orders []orderData
	ids    []string
	paths  [][]string
	parent []string
	untyp  []map[string]any
}

func (s *seen) handlers(t *testing.T, bus *api.Bus) {
	t.Helper()
	_, err := api.On(bus, func(_ context.Context, e *walOrder) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.orders = append(s.orders, dataOf(e))
		s.ids = append(s.ids, e.ID())
		s.paths = append(s.paths, e.Path())
		s.parent = append(s.parent, e.ParentID())
		return "replayed", nil
	})
	require.NoError(t, err)
	_, err = api.OnType(bus, "WALUntyped", func(_ context.Context, e *api.BaseEvent) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.untyp = append(s.untyp, e.Fields())
		s.ids = append(s.ids, e.ID())
		return nil, nil
	})
	require.NoError(t, err)
}

// logSample writes a parent with a child (emitted by the parent's handler)
// and an untyped event to a new WAL, and returns the WAL's path and the
// events in the order they completed.
func logSample(t *testing.T) (string, []*api.BaseEvent) {
	t.Helper()
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALSample", api.WithMiddlewares(w))
	var child *walOrder
	_, err := api.On(bus, func(hctx context.Context, e *walOrder) (string, error) {
		if e.OrderID != "parent" {
			return "child", nil
		}
		child = &walOrder{OrderID: "child", Qty: 2, Tags: []string{"c"}}
		if err := bus.Emit(hctx, child); err != nil {
			return "", err
		}
		return "parent", child.Now(hctx)
	})
	require.NoError(t, err)
	_, err = api.OnType(bus, "WALUntyped", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	parent := &walOrder{OrderID: "parent", Total: 9.75, Qty: 1, Paid: true, Tags: []string{"p"}, Meta: map[string]any{"a": "b"}}
	require.NoError(t, bus.Emit(ctx, parent))
	untyped, err := api.NewEvent("WALUntyped", map[string]any{"note": "hi"})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, untyped))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())
	return w.Path(), []*api.BaseEvent{&child.Event.Event, &parent.Event.Event, untyped}
}

// MW-13: Read yields the logged events as they completed (a child before
// its parent), typed when their type is declared, with their ids, times
// and payloads.
func TestReadYieldsLoggedEvents_MW13(t *testing.T) {
	path, want := logSample(t)
	evs, errs := readAll(t, path)
	require.Empty(t, errs)
	require.Len(t, evs, 3)
	for i, e := range evs {
		assert.Equal(t, want[i].ID(), e.ID())
		assert.Equal(t, want[i].Type(), e.Type())
		assert.Equal(t, api.StatusCompleted, e.Status())
		assert.True(t, want[i].CreatedAt().Equal(e.CreatedAt()), "event_created_at kept")
		assert.Equal(t, want[i].ParentID(), e.ParentID())
	}
	child, ok := evs[0].Payload().(*walOrder)
	require.True(t, ok, "a declared type decodes as its Go type")
	assert.Equal(t, "child", child.OrderID)
	assert.Equal(t, evs[1].ID(), evs[0].ParentID(), "the child's line comes first and names its parent")
	parent := evs[1].Payload().(*walOrder)
	assert.Equal(t, parentData, dataOf(parent))
	assert.Equal(t, map[string]any{"note": "hi"}, evs[2].Fields())
}

// MW-13: Replay emits fresh copies of the logged events on a bus, in file
// order: new ids, the payload, event_parent_id and event_created_at kept,
// an event_path of the new bus only; each completes.
func TestReplayRoundTrip_MW13(t *testing.T) {
	ctx := context.Background()
	path, orig := logSample(t)
	bus := newBus(t, "WALReplayed")
	var s seen
	s.handlers(t, bus)
	rep, err := wal.Replay(ctx, path, bus)
	require.NoError(t, err)
	assert.Equal(t, wal.Report{Lines: 3, Replayed: 3}, rep)

	require.Len(t, s.orders, 2)
	assert.Equal(t, "child", s.orders[0].OrderID)
	assert.Equal(t, []string{"c"}, s.orders[0].Tags)
	assert.Equal(t, parentData, s.orders[1])
	assert.Equal(t, []map[string]any{{"note": "hi"}}, s.untyp)
	for i, id := range s.ids {
		assert.NotEqual(t, orig[i].ID(), id, "a replayed event has a new id")
	}
	assert.Equal(t, [][]string{{bus.Label()}, {bus.Label()}}, s.paths, "the path starts afresh")
	assert.Equal(t, orig[1].ID(), s.parent[0], "event_parent_id kept")

	// Replayed events are in the bus's history, completed.
	hist, err := bus.Filter(ctx, "walOrder", 10)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	for _, e := range hist {
		assert.Equal(t, api.StatusCompleted, e.Status())
		assert.True(t, e.CreatedAt().Equal(orig[0].CreatedAt()) || e.CreatedAt().Equal(orig[1].CreatedAt()))
	}
}

// MW-13: WithOriginalIDs keeps the logged ids; WithFilter skips events (here
// the children, which the parents' handlers would emit again).
func TestReplayOptions_MW13(t *testing.T) {
	ctx := context.Background()
	path, orig := logSample(t)
	bus := newBus(t, "WALReplayIDs")
	var s seen
	s.handlers(t, bus)
	rep, err := wal.Replay(ctx, path, bus, wal.WithOriginalIDs(), wal.WithInFlight(8),
		wal.WithFilter(func(e *api.BaseEvent) bool { return e.ParentID() == "" }))
	require.NoError(t, err)
	assert.Equal(t, wal.Report{Lines: 3, Replayed: 2, Filtered: 1}, rep)
	assert.ElementsMatch(t, []string{orig[1].ID(), orig[2].ID()}, s.ids)
}

// MW-13: replaying into the bus that wrote the log runs its handlers again
// (the emptied path), and does not replay the lines the replay itself
// appends.
func TestReplayIntoWritingBus_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALSelf", api.WithMiddlewares(w))
	var s seen
	s.handlers(t, bus)
	for i := range 3 {
		require.NoError(t, bus.Emit(ctx, &walOrder{OrderID: "self", Qty: i}))
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	rep, err := wal.Replay(ctx, w.Path(), bus)
	require.NoError(t, err)
	assert.Equal(t, wal.Report{Lines: 3, Replayed: 3}, rep)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())
	assert.Len(t, s.orders, 6, "each event ran twice")
	assert.Len(t, fileLines(t, w.Path()), 6, "the replayed events are logged too")
}

// MW-13: a corrupt line in the middle is reported with its line number and
// offset and reading goes on; a torn last line is skipped and reported,
// never a crash; blank lines are skipped.
func TestReadTornAndCorruptLines_MW13(t *testing.T) {
	ctx := context.Background()
	src, _ := logSample(t)
	good := fileLines(t, src)
	require.Len(t, good, 3)
	parts := []string{
		good[0],
		`not json {`,
		good[1],
		`{"event_type":"walOrder","event_id":"not-a-uuid"}`,
		``,
		good[2],
	}
	content := strings.Join(parts, "\n") + "\n"
	tornAt := len(content)
	content += good[0][:len(good[0])/2]
	path := filepath.Join(t.TempDir(), "damaged.wal")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	offset := func(line int) int64 { return int64(len(strings.Join(parts[:line-1], "\n")) + 1) }

	evs, errs := readAll(t, path)
	require.Len(t, evs, 3, "every intact line is read")
	require.Len(t, errs, 3)
	var le *wal.LineError
	require.ErrorAs(t, errs[0], &le)
	assert.Equal(t, 2, le.Line)
	assert.Equal(t, offset(2), le.Offset)
	assert.Equal(t, len(parts[1]), le.Len)
	assert.ErrorIs(t, errs[0], wal.ErrCorrupt)
	assert.ErrorIs(t, errs[0], wire.ErrMalformed)
	var de *wire.DecodeError
	assert.ErrorAs(t, errs[0], &de, "the decoder's error is inside")
	require.ErrorAs(t, errs[1], &le)
	assert.Equal(t, 4, le.Line)
	assert.ErrorIs(t, errs[1], wal.ErrCorrupt)
	assert.ErrorIs(t, errs[1], wire.ErrBadUUID)
	require.ErrorAs(t, errs[2], &le)
	assert.Equal(t, 7, le.Line)
	assert.Equal(t, int64(tornAt), le.Offset)
	assert.Equal(t, len(good[0])/2, le.Len)
	assert.ErrorIs(t, errs[2], wal.ErrTorn)
	assert.Contains(t, errs[2].Error(), "line 7")

	bus := newBus(t, "WALDamaged")
	var s seen
	s.handlers(t, bus)
	rep, err := wal.Replay(ctx, path, bus)
	require.NoError(t, err, "damaged lines are reported, not fatal")
	assert.Equal(t, 5, rep.Lines)
	assert.Equal(t, 3, rep.Replayed)
	assert.Equal(t, 2, rep.Corrupt)
	require.Len(t, rep.Errors, 2)
	assert.Equal(t, 2, rep.Errors[0].Line)
	assert.Equal(t, 4, rep.Errors[1].Line)
	require.NotNil(t, rep.Torn)
	assert.Equal(t, 7, rep.Torn.Line)
	assert.Len(t, s.ids, 3)
}

// MW-13: lines far beyond bufio.Scanner's 64 KiB are read; a line over
// WithMaxLineBytes is skipped with ErrLineTooLong, and the next is read.
func TestLongLines_MW13(t *testing.T) {
	ctx := context.Background()
	w := openWAL(t)
	bus := newBus(t, "WALLong", api.WithMiddlewares(w))
	okHandler(t, bus)
	blob := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB
	require.NoError(t, bus.Emit(ctx, &walOrder{OrderID: "long", Blob: blob}))
	require.NoError(t, bus.Emit(ctx, &walOrder{OrderID: "short"}))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	require.NoError(t, w.Close())

	evs, errs := readAll(t, w.Path())
	require.Empty(t, errs)
	require.Len(t, evs, 2)
	assert.Equal(t, blob, evs[0].Payload().(*walOrder).Blob)

	evs, errs = readAll(t, w.Path(), wal.WithMaxLineBytes(64<<10))
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], wal.ErrLineTooLong)
	var le *wal.LineError
	require.ErrorAs(t, errs[0], &le)
	assert.Equal(t, 1, le.Line)
	assert.Greater(t, le.Len, 3<<20)
	require.Len(t, evs, 1)
	assert.Equal(t, "short", evs[0].Payload().(*walOrder).OrderID)
}

// Read and Replay report a missing file, bad options and a cancelled ctx;
// Replay stops at an Emit error with the report so far.
func TestReadAndReplayErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "none.wal")
	_, errs := readAll(t, missing)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], os.ErrNotExist)
	_, errs = readAll(t, missing, wal.WithMaxLineBytes(-1))
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], wal.ErrInvalidOption)

	path, _ := logSample(t)
	bus := newBus(t, "WALReplayErr")
	_, err := wal.Replay(ctx, missing, bus)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = wal.Replay(ctx, path, bus, wal.WithInFlight(0))
	assert.ErrorIs(t, err, wal.ErrInvalidOption)
	_, err = wal.Replay(ctx, path, nil)
	assert.ErrorIs(t, err, wal.ErrInvalidOption)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = wal.Replay(cctx, path, bus)
	assert.ErrorIs(t, err, context.Canceled)

	small, err := api.NewBus("WALReplayFull", api.WithMaxHistory(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = small.Close() })
	rep, err := wal.Replay(ctx, path, small)
	require.ErrorIs(t, err, api.ErrHistoryFull)
	assert.Contains(t, err.Error(), "line 3")
	assert.Equal(t, 2, rep.Replayed)

	// Breaking out of Read early is fine.
	for e, err := range wal.Read(path) {
		require.NoError(t, err)
		require.NotNil(t, e)
		break
	}
	assert.False(t, errors.Is(nil, wal.ErrTorn))
}
