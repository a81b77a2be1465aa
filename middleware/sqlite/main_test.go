package sqlitemirror_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/leakcheck"
	sqlitemirror "github.com/ringbus/ringbus/middleware/sqlite"
)

// The environment of a child process that TestThreeProcessesOneFile_MW15
// starts: the database to mirror into and the name of its bus.
const (
	envChildDB  = "RINGBUS_SQLITEMIRROR_CHILD_DB"
	envChildBus = "RINGBUS_SQLITEMIRROR_CHILD_BUS"
)

// TestMain runs a child process's work when the test binary was started as
// one, and otherwise the tests, checking that after every bus and Mirror
// is closed no goroutine is left.
func TestMain(m *testing.M) {
	if path := os.Getenv(envChildDB); path != "" {
		if err := child(path, os.Getenv(envChildBus)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.VerifyTestMain(m)
}

// child is one of the three processes: a bus with one handler mirrored
// into path, one event.
func child(path, name string) error {
	ctx := context.Background()
	m, err := sqlitemirror.Open(ctx, path)
	if err != nil {
		return err
	}
	bus, err := api.NewBus(name, api.WithMiddlewares(m))
	if err != nil {
		return err
	}
	if _, err := api.On(bus, func(context.Context, *mirrorEvent) (string, error) { return "ok from " + name, nil }); err != nil {
		return err
	}
	e := &mirrorEvent{OrderID: name}
	if err := bus.Emit(ctx, e); err != nil {
		return err
	}
	if _, err := e.Result(ctx); err != nil {
		return err
	}
	if err := bus.Close(); err != nil {
		return err
	}
	return m.Close()
}
