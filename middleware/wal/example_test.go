package wal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
)

// exPlaced is the example's event.
type exPlaced struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

// Log a bus's completed events, read the log back, and replay it into a
// new bus, as a restarted process would.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wal-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "events.wal")
	// Declared, so that reading the log rebuilds *exPlaced values.
	if err := api.Declare[exPlaced](api.TypeOptions{}); err != nil {
		panic(err)
	}

	w, err := wal.Open(path) // SyncEvery: a line is on disk before Wait returns
	if err != nil {
		panic(err)
	}
	bus, err := api.NewBus("Shop", api.WithMiddlewares(w))
	if err != nil {
		panic(err)
	}
	if _, err := api.On(bus, func(_ context.Context, e *exPlaced) (string, error) {
		return "placed " + e.OrderID, nil
	}); err != nil {
		panic(err)
	}
	for _, id := range []string{"A-1", "A-2"} {
		e := &exPlaced{OrderID: id}
		if err := bus.Emit(ctx, e); err != nil {
			panic(err)
		}
		if err := e.Wait(ctx); err != nil {
			panic(err)
		}
	}
	_ = bus.Close()
	if err := w.Close(); err != nil {
		panic(err)
	}

	for e, err := range wal.Read(path) {
		if errors.Is(err, wal.ErrTorn) {
			continue // a crash cut the last line short
		}
		if err != nil {
			panic(err)
		}
		fmt.Println("logged", e.Type(), e.Payload().(*exPlaced).OrderID, e.Status())
	}

	restarted, err := api.NewBus("Shop", api.WithHistoryDrop(true))
	if err != nil {
		panic(err)
	}
	defer func() { _ = restarted.Close() }()
	if _, err := api.On(restarted, func(_ context.Context, e *exPlaced) (string, error) {
		fmt.Println("replayed", e.OrderID)
		return "", nil
	}); err != nil {
		panic(err)
	}
	rep, err := wal.Replay(ctx, path, restarted)
	fmt.Println(rep.Replayed, "events replayed, torn line:", rep.Torn != nil, err)
	// Output:
	// logged exPlaced A-1 completed
	// logged exPlaced A-2 completed
	// replayed A-1
	// replayed A-2
	// 2 events replayed, torn line: false <nil>
}
