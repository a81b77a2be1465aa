package middleware_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/leakcheck"
	"github.com/ringbus/ringbus/middleware"
)

// TestMain checks that no test leaves a goroutine behind once its buses
// are closed (the two goroutines ants starts at import are ignored).
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// UserActionEvent is the source event of the abxbus middleware tests.
type UserActionEvent struct {
	api.Event[any]
	Action string `json:"action"`
	UserID string `json:"user_id"`
}

// UserActionEventErrorEvent reads the event AutoError emits for a
// UserActionEvent (REG-2: handlers match by event_type).
type UserActionEventErrorEvent struct {
	api.Event[any]
	Error     middleware.EventError `json:"error"`
	ErrorType string                `json:"error_type"`
}

// UserActionEventResultEvent reads the event AutoReturn emits.
type UserActionEventResultEvent struct {
	api.Event[any]
	Data int `json:"data"`
}

// ValueError and RuntimeError are named like the Python exceptions of the
// abxbus tests, so their type names read the same.
type ValueError struct{ msg string }

func (e *ValueError) Error() string { return e.msg }

type RuntimeError struct{ msg string }

func (e *RuntimeError) Error() string { return e.msg }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newBus returns a bus closed at the end of the test.
func newBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	bus, err := api.NewBus(name, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// record is one slog record, with its attributes by key.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
	order []string
}

func (r record) str(key string) string {
	v, ok := r.attrs[key]
	if !ok {
		return ""
	}
	return v.String()
}

// recorder is a slog.Handler that keeps every record at or above its
// level, and counts the Enabled calls and the records handled.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []record
	asked int
}

func (h *recorder) Enabled(_ context.Context, l slog.Level) bool {
	h.mu.Lock()
	h.asked++
	h.mu.Unlock()
	return l >= h.level
}

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve() // as every handler does: the ids are LogValuers
		rec.order = append(rec.order, a.Key)
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h *recorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler      { return h }

// records returns the records with message msg, or all for "".
func (h *recorder) records(msg string) []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []record
	for _, r := range h.recs {
		if msg == "" || r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}
