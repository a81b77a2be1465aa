package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
)

// syncBuffer is a bytes.Buffer safe for the test goroutine to read while
// hooks write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// summaryOf checks that line is "[label] {json}" and returns the object.
func summaryOf(t *testing.T, line, label string) map[string]any {
	t.Helper()
	prefix := "[" + label + "] "
	require.True(t, strings.HasPrefix(line, prefix), "line %q starts with %q", line, prefix)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line[len(prefix):]), &m), line)
	return m
}

// MW-14 (test_logger_middleware_writes_file): the file, in folders that
// did not exist, gets one line per completed event; its last line holds
// the event type. The line is "[bus label] {summary}" with the event's
// event_* fields except the results, and no payload.
func TestLoggerWritesFile_MW14(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "logs", "nested", "events.log")
	out := &syncBuffer{}
	lg, err := middleware.Logger(middleware.WithFile(path), middleware.WithOutput(out))
	require.NoError(t, err)
	bus := newBus(t, "LoggerFileBus", api.WithMiddlewares(lg))
	_, err = api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "logged", nil })
	require.NoError(t, err)

	e := &UserActionEvent{Action: "log", UserID: "user"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx)) // the completion hooks have run when Wait returns
	require.NoError(t, lg.Close())
	require.NoError(t, lg.Close(), "Close is idempotent")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 1)
	last := lines[len(lines)-1]
	assert.Contains(t, last, "UserActionEvent")
	assert.Equal(t, string(data), out.String(), "the same line on the output")

	m := summaryOf(t, last, bus.Label())
	assert.Equal(t, "UserActionEvent", m["event_type"])
	assert.Equal(t, e.ID(), m["event_id"])
	assert.Equal(t, "completed", m["event_status"])
	assert.Equal(t, []any{bus.Label()}, m["event_path"])
	for k := range m {
		assert.True(t, strings.HasPrefix(k, "event_"), "only event_* fields: %s", k)
		assert.NotContains(t, k, "results")
	}
	assert.NotContains(t, m, "action", "no payload")
	assert.Contains(t, m, "event_created_at")
	assert.Contains(t, m, "event_completed_at")

	// After Close the file gets nothing more; the output still does.
	e2 := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e2))
	require.NoError(t, e2.Wait(ctx))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, after)
	assert.Equal(t, 2, strings.Count(out.String(), "\n"))
}

// MW-14 (test_logger_middleware_stdout_only): without options the line
// goes to stdout, and nothing to stderr.
func TestLoggerStdoutOnly_MW14(t *testing.T) {
	ctx := testCtx(t)
	stdout, stderr := os.Stdout, os.Stderr
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	errR, errW, err := os.Pipe()
	require.NoError(t, err)
	os.Stdout, os.Stderr = outW, errW
	lg, err := middleware.Logger()
	os.Stdout, os.Stderr = stdout, stderr
	require.NoError(t, err)
	var captured [2][]byte
	var wg sync.WaitGroup
	for i, r := range []*os.File{outR, errR} {
		wg.Go(func() { captured[i], _ = io.ReadAll(r) })
	}

	bus, err := api.NewBus("LoggerStdoutBus", api.WithMiddlewares(lg))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "stdout", nil })
	require.NoError(t, err)
	e := &UserActionEvent{Action: "log", UserID: "user"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	label := bus.Label()
	require.NoError(t, bus.Close())
	require.NoError(t, lg.Close())
	require.NoError(t, outW.Close())
	require.NoError(t, errW.Close())
	wg.Wait()

	assert.Contains(t, string(captured[0]), "UserActionEvent")
	assert.Contains(t, string(captured[0]), "["+label+"] ")
	assert.NotContains(t, string(captured[1]), "stdout")
	assert.Empty(t, captured[1])
}

// MW-14: a log file that cannot be opened fails Logger with the os error;
// an empty path is a bad option.
func TestLoggerBadFile_MW14(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := middleware.Logger(middleware.WithFile(filepath.Join(blocker, "events.log")))
	require.Error(t, err, "a parent that is a file")
	assert.True(t, strings.HasPrefix(err.Error(), "ringbus: "), err.Error())
	_, err = middleware.Logger(middleware.WithFile(""))
	require.ErrorIs(t, err, api.ErrBadOption)
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// MW-14, MW-9: a write that fails is logged on the bus's logger at Warn
// and the bus goes on.
func TestLoggerWriteFailureLogged_MW14(t *testing.T) {
	ctx := testCtx(t)
	lg, err := middleware.Logger(middleware.WithOutput(failingWriter{}))
	require.NoError(t, err)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "LoggerFailBus", api.WithMiddlewares(lg), api.WithLogger(slog.New(logs)))
	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	recs := logs.records("ringbus: logger middleware could not write")
	require.Len(t, recs, 1)
	assert.Equal(t, slog.LevelWarn, recs[0].level)
	assert.Equal(t, e.ID(), recs[0].str("event_id"))
}

// MW-14: a payload the codec cannot write still gives a line naming the
// event.
func TestLoggerUnencodablePayload_MW14(t *testing.T) {
	ctx := testCtx(t)
	out := &syncBuffer{}
	lg, err := middleware.Logger(middleware.WithOutput(out))
	require.NoError(t, err)
	bus := newBus(t, "LoggerOddBus", api.WithMiddlewares(lg))
	e, err := api.NewEvent("OddEvent", map[string]any{"ch": make(chan int)})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	m := summaryOf(t, strings.TrimSpace(out.String()), bus.Label())
	assert.Equal(t, map[string]any{"event_type": "OddEvent", "event_id": e.ID()}, m)
}
