// Command quickstart shows ringbus's event model in one page: typed events
// with typed handler results, a child event that jumps the queue, and the
// event tree the bus keeps.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/ringbus/ringbus/api"
)

// OrderPlaced is emitted when a customer places an order. Its handlers
// return an order summary string.
type OrderPlaced struct {
	api.Event[string]
	OrderID string  `json:"order_id"`
	Total   float64 `json:"total"`
}

// ChargeCard asks the payment service to charge a card; handlers return
// the payment id.
type ChargeCard struct {
	api.Event[string]
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
}

func main() {
	ctx := context.Background()
	// Keep the demo output clean: only errors go to the log.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	// WithHistoryDrop(true) keeps the newest 100 events. Without it a bus, like
	// an abxbus bus, rejects its 101st Emit with ErrHistoryFull even when every
	// earlier event has completed: a long-running service wants this option.
	shop, err := api.NewBus("ShopBus", api.WithLogger(logger), api.WithHistoryDrop(true))
	if err != nil {
		log.Fatal(err)
	}

	// The payment handler: a typed handler returns a typed result.
	_, err = api.On(shop, func(ctx context.Context, c *ChargeCard) (string, error) {
		return fmt.Sprintf("pay_%s_%.2f", c.OrderID, c.Amount), nil
	}, api.WithHandlerName("payments.charge"))
	if err != nil {
		log.Fatal(err)
	}

	// The order handler emits a child event with its own ctx and awaits its
	// result: the child runs at once, ahead of anything queued.
	_, err = api.On(shop, func(ctx context.Context, o *OrderPlaced) (string, error) {
		charge := &ChargeCard{OrderID: o.OrderID, Amount: o.Total}
		if err := shop.Emit(ctx, charge); err != nil {
			return "", err
		}
		payment, err := charge.Result(ctx)
		if err != nil {
			return "", err
		}
		return "order " + o.OrderID + " paid with " + payment, nil
	}, api.WithHandlerName("orders.place"))
	if err != nil {
		log.Fatal(err)
	}

	order := &OrderPlaced{OrderID: "A-1001", Total: 42.5}
	if err := shop.Emit(ctx, order); err != nil {
		log.Fatal(err)
	}
	summary, err := order.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(summary)

	children := order.Children()
	fmt.Printf("%s has %d child: %s (child of it: %t)\n", order.Label(), len(children), children[0].Label(), children[0].ParentID() == order.ID())

	fmt.Println("\nEvent tree:")
	fmt.Println(stripTimes(shop.LogTree()))

	if err := shop.Close(); err != nil {
		log.Fatal(err)
	}
}

// stripTimes removes the clock readings so the output is the same each run.
func stripTimes(tree string) string {
	var out []string
	for _, line := range strings.Split(tree, "\n") {
		if i := strings.Index(line, " ["); i >= 0 {
			if j := strings.Index(line[i:], "]"); j >= 0 {
				line = line[:i] + line[i+j+1:]
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
