package retry_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/leakcheck"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// newBus is a bus closed when the test ends; inside a synctest bubble the
// cleanup runs inside it too.
func newBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	all := append([]api.Option{api.WithLogger(slog.New(slog.DiscardHandler)), api.WithHistoryDrop(true)}, opts...)
	bus, err := api.NewBus(name, all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Stop(context.Background()) })
	return bus
}

// logRec records slog records: level, message and attributes.
type logRec struct {
	mu   sync.Mutex
	recs []rec
}

type rec struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRec) WithGroup(string) slog.Handler            { return l }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]any{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec{level: r.Level, msg: r.Message, attrs: attrs})
	l.mu.Unlock()
	return nil
}

func (l *logRec) records() []rec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rec(nil), l.recs...)
}
