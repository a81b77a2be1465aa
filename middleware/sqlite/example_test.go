package sqlitemirror_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
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
	check := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "sqlitemirror")
	check(err)
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "history.db")

	m, err := sqlitemirror.Open(ctx, path)
	check(err)
	defer func() { check(m.Close()) }() // after the bus's Close: deferred calls run last-in first-out
	bus, err := api.NewBus("Orders", api.WithMiddlewares(m))
	check(err)
	defer func() { check(bus.Close()) }()
	_, err = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) {
		return "shipped " + o.OrderID, nil
	})
	check(err)

	order := &OrderPlaced{OrderID: "A-1"}
	check(bus.Emit(ctx, order))
	check(order.Wait(ctx))
	check(m.Flush(ctx)) // every row so far is in the file

	db, err := sql.Open("sqlite", path) // the driver the mirror registers
	check(err)
	defer func() { check(db.Close()) }()
	var events, rows int
	check(db.QueryRow("SELECT count(*) FROM events_log").Scan(&events))
	check(db.QueryRow("SELECT count(*) FROM event_results_log").Scan(&rows))
	fmt.Println("events_log:", events, "event_results_log:", rows)
	r, err := db.Query("SELECT phase, status, coalesce(result_repr, '-') FROM event_results_log ORDER BY id")
	check(err)
	defer func() { check(r.Close()) }()
	for r.Next() {
		var phase, status, repr string
		check(r.Scan(&phase, &status, &repr))
		fmt.Println(phase, status, repr)
	}
	check(r.Err())
	// Output:
	// events_log: 3 event_results_log: 3
	// pending pending -
	// started started -
	// completed completed "shipped A-1"
}
