package pgbridge_test

import (
	"context"
	"log"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge/pgbridge"
)

// A service sends every event its bus handles to the table orders_events
// of the database app, announced on the channel orders, and emits on its
// bus what the other services send there.
func Example() {
	ctx := context.Background()
	bus, _ := api.NewBus("Orders")
	b, err := pgbridge.New("postgresql://app:secret@db.internal:5432/app/orders_events?sslmode=require", "orders")
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = b.Close(ctx) }()
	_ = b.Connect(bus)
}
