package wal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/middleware/wal"
)

// TestMain checks that no test leaks goroutines. Started with
// childEnv set, the binary is the child of the kill test instead
// (kill_test.go) and runs no test.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(killChild(path))
	}
	leakcheck.VerifyTestMain(m)
}

// walOrder is a typed event with payload fields of several JSON kinds.
type walOrder struct {
	api.Event[string]
	OrderID string         `json:"order_id"`
	Total   float64        `json:"total"`
	Qty     int            `json:"qty"`
	Paid    bool           `json:"paid"`
	Tags    []string       `json:"tags"`
	Meta    map[string]any `json:"meta"`
	Blob    string         `json:"blob,omitempty"`
}

func init() {
	// Declared, so that the decoder rebuilds the Go type.
	if err := api.Declare[walOrder](api.TypeOptions{}); err != nil {
		panic(err)
	}
}

// newBus is a bus closed when the test ends, with history drop so that a
// long test never meets ErrHistoryFull.
func newBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	bus, err := api.NewBus(name, append([]api.Option{api.WithHistoryDrop(true)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// openWAL opens a WAL in the test's temporary directory, closed when the
// test ends.
func openWAL(t *testing.T, opts ...wal.Option) *wal.WAL {
	t.Helper()
	w, err := wal.Open(filepath.Join(t.TempDir(), "sub", "events.wal"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// okHandler registers a handler for walOrder that returns "ok".
func okHandler(t *testing.T, bus *api.Bus) {
	t.Helper()
	_, err := api.On(bus, func(context.Context, *walOrder) (string, error) { return "ok", nil })
	require.NoError(t, err)
}

// fileLines returns the lines of the file at path, without newlines.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(data)
	if s == "" {
		return nil
	}
	require.True(t, strings.HasSuffix(s, "\n"), "the file ends with a newline")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// readAll collects the events and errors Read yields.
func readAll(t *testing.T, path string, opts ...wal.ReadOption) ([]*api.BaseEvent, []error) {
	t.Helper()
	var evs []*api.BaseEvent
	var errs []error
	for e, err := range wal.Read(path, opts...) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, e)
	}
	return evs, errs
}
