package sqlitebridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge/sqlitebridge"
)

// Two services share events through one SQLite table; here both run in
// one process, each with its own bus and bridge.
func Example() {
	dir, _ := os.MkdirTemp("", "sqlite-example")
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "events.sqlite3")
	ctx := context.Background()

	orders, _ := api.NewBus("Orders", api.WithMaxHistory(0))
	billing, _ := api.NewBus("Billing", api.WithMaxHistory(0))
	done := make(chan struct{})
	_, _ = api.OnType(billing, "OrderPlaced", func(_ context.Context, e *api.BaseEvent) (any, error) {
		id, _ := e.Field("order_id")
		fmt.Println("billing got order", id)
		close(done)
		return nil, nil
	})

	for _, bus := range []*api.Bus{orders, billing} {
		b, err := sqlitebridge.New(path, "", sqlitebridge.WithPollInterval(5*time.Millisecond))
		if err != nil {
			panic(err)
		}
		if err := b.Start(ctx); err != nil {
			panic(err)
		}
		_ = b.Connect(bus) // send what bus handles; emit on bus what arrives
		defer func() { _ = b.Close(ctx) }()
	}

	e, _ := api.NewEvent("OrderPlaced", map[string]any{"order_id": "A-17"})
	_ = orders.Emit(ctx, e)
	<-done
	_ = orders.Stop(ctx)
	_ = billing.Stop(ctx)
	// Output:
	// billing got order A-17
}
