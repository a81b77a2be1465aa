package sqlitemirror_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringbus/ringbus/api"
	sqlitemirror "github.com/ringbus/ringbus/middleware/sqlite"
)

type OrderPlaced struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

// A bus mirrored into a SQLite file: Flush waits until the rows are
// written, and any SQLite reader sees them.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlitemirror")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.db")

	m, err := sqlitemirror.Open(ctx, path)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	bus, _ := api.NewBus("Orders", api.WithMiddlewares(m))
	defer bus.Close()
	api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) {
		return "shipped " + o.OrderID, nil
	})

	order := &OrderPlaced{OrderID: "A-1"}
	bus.Emit(ctx, order)
	order.Wait(ctx)
	if err := m.Flush(ctx); err != nil {
		panic(err)
	}

	db, err := sql.Open("sqlite", path) // the driver the mirror registers
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var events, rows int
	db.QueryRow("SELECT count(*) FROM events_log").Scan(&events)
	db.QueryRow("SELECT count(*) FROM event_results_log").Scan(&rows)
	fmt.Println("events_log:", events, "event_results_log:", rows)
	r, _ := db.Query("SELECT phase, status, coalesce(result_repr, '-') FROM event_results_log ORDER BY id")
	defer r.Close()
	for r.Next() {
		var phase, status, repr string
		r.Scan(&phase, &status, &repr)
		fmt.Println(phase, status, repr)
	}
	// Output:
	// events_log: 3 event_results_log: 3
	// pending pending -
	// started started -
	// completed completed "shipped A-1"
}
