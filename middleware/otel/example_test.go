package ringbusotel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ringbus/ringbus/api"
	ringbusotel "github.com/ringbus/ringbus/middleware/otel"
)

type (
	OrderPlaced struct {
		api.Event[string]
		OrderID string `json:"order_id"`
	}
	ChargeCard struct {
		api.Event[string]
		OrderID string `json:"order_id"`
	}
)

// A handler that emits and awaits a child event: the child's span is a
// child of the handler's span, which is a child of the event's span. The
// spans go to an in-memory recorder here; a program gives the Tracer its
// own provider, with an exporter.
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := ringbusotel.New(ringbusotel.WithTracerProvider(tp))

	shop, err := api.NewBus("Shop", tr.Option())
	if err != nil {
		panic(err)
	}
	defer func() { _ = shop.Close() }()
	_, _ = api.On(shop, func(ctx context.Context, c *ChargeCard) (string, error) {
		return "pay_" + c.OrderID, nil
	}, api.WithHandlerName("payments.charge"))
	_, _ = api.On(shop, func(ctx context.Context, o *OrderPlaced) (string, error) {
		charge := &ChargeCard{OrderID: o.OrderID}
		if err := shop.Emit(ctx, charge); err != nil { // ctx carries this handler's span
			return "", err
		}
		return charge.Result(ctx)
	}, api.WithHandlerName("orders.place"))

	ctx := context.Background()
	order := &OrderPlaced{OrderID: "A-1001"}
	_ = shop.Emit(ctx, order)
	_, _ = order.Result(ctx)
	_ = shop.WaitUntilIdle(ctx) // every span has ended

	printTree(rec.Ended())
	// Output:
	// abxbus.event.OrderPlaced
	//   abxbus.handler.orders.place
	//     abxbus.event.ChargeCard
	//       abxbus.handler.payments.charge
}

// printTree prints the spans as a tree, each under its parent, siblings in
// the order they started.
func printTree(spans []sdktrace.ReadOnlySpan) {
	slices.SortFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			if p := s.Parent(); (p.IsValid() && p.SpanID().String() == parent) || (!p.IsValid() && parent == "") {
				fmt.Println(strings.Repeat("  ", depth) + s.Name())
				walk(s.SpanContext().SpanID().String(), depth+1)
			}
		}
	}
	walk("", 0)
}
