package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
)

type OrderPlaced struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

// OrderPlacedErrorEvent reads the event AutoError emits when a handler of
// an OrderPlaced fails.
type OrderPlacedErrorEvent struct {
	api.Event[any]
	Error     middleware.EventError `json:"error"`
	ErrorType string                `json:"error_type"`
}

// A failing handler of OrderPlaced makes AutoError emit an
// OrderPlacedErrorEvent, which a handler on the bus (or, through a bridge,
// in another runtime) reacts to.
func ExampleAutoError() {
	ctx := context.Background()
	bus, _ := api.NewBus("Shop", api.WithMiddlewares(middleware.AutoError()))
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) {
		return "", errors.New("card declined")
	})
	_, _ = api.On(bus, func(ctx context.Context, e *OrderPlacedErrorEvent) (any, error) {
		fmt.Println(e.Type(), e.ErrorType, e.Error.Message)
		return nil, nil
	})

	o := &OrderPlaced{OrderID: "A-1"}
	_ = bus.Emit(ctx, o)
	_ = o.Wait(ctx)
	_ = bus.WaitUntilIdle(ctx)
	// Output: OrderPlacedErrorEvent Error card declined
}

// The value a handler returns reaches other handlers as the data field of
// an OrderPlacedResultEvent.
func ExampleAutoReturn() {
	ctx := context.Background()
	bus, _ := api.NewBus("Shop", api.WithMiddlewares(middleware.AutoReturn()))
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) {
		return "receipt for " + o.OrderID, nil
	})
	_, _ = api.OnType(bus, "OrderPlacedResultEvent", func(ctx context.Context, e *api.BaseEvent) (any, error) {
		fmt.Println(e.Type()+":", e.Fields()["data"])
		return nil, nil
	})

	o := &OrderPlaced{OrderID: "A-1"}
	_ = bus.Emit(ctx, o)
	_ = o.Wait(ctx)
	_ = bus.WaitUntilIdle(ctx)
	// Output: OrderPlacedResultEvent: receipt for A-1
}

// Every registration, the listener's own included, is announced on the bus.
func ExampleAutoHandlerChange() {
	ctx := context.Background()
	bus, _ := api.NewBus("Shop", api.WithMiddlewares(middleware.AutoHandlerChange()))
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, e *middleware.BusHandlerRegisteredEvent) (any, error) {
		fmt.Printf("registered %s for %s on %s\n", e.Handler.Name, e.Handler.Pattern, e.Handler.BusName)
		return nil, nil
	}, api.WithHandlerName("announcer"))
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) { return "ok", nil },
		api.WithHandlerName("charge"))
	_ = bus.WaitUntilIdle(ctx)
	// Output:
	// registered announcer for BusHandlerRegisteredEvent on Shop
	// registered charge for OrderPlaced on Shop
}

// Logger writes one line per completed event: the bus label and the
// event's event_* fields as JSON.
func ExampleLogger() {
	ctx := context.Background()
	var out bytes.Buffer
	logger, _ := middleware.Logger(middleware.WithOutput(&out)) // os.Stdout by default
	defer func() { _ = logger.Close() }()
	bus, _ := api.NewBus("Shop", api.WithMiddlewares(logger), api.WithID("0190a000-0000-7000-8000-00000000ab12"))
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) { return "ok", nil })

	o := &OrderPlaced{OrderID: "A-1"}
	_ = bus.Emit(ctx, o)
	_ = o.Wait(ctx)
	_ = bus.WaitUntilIdle(ctx)

	label, summary, _ := strings.Cut(strings.TrimSpace(out.String()), " ")
	var fields map[string]any
	_ = json.Unmarshal([]byte(summary), &fields)
	_, hasPayload := fields["order_id"]
	fmt.Println(label, fields["event_type"], fields["event_status"], hasPayload)
	// Output: [Shop#ab12] OrderPlaced completed false
}

// Slog writes each transition as a structured record. Here completions
// are raised to Info and the handler prints Info and above; the
// ReplaceAttr function only drops what changes from run to run.
func ExampleSlog() {
	ctx := context.Background()
	handler := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "event_id", "elapsed":
				return slog.Attr{}
			case "handler":
				name, _, _ := strings.Cut(a.Value.String(), "#")
				return slog.String("handler", name)
			}
			return a
		},
	})
	logger := middleware.Slog(slog.New(handler), middleware.WithCompletedLevel(slog.LevelInfo))
	bus, _ := api.NewBus("Shop", api.WithMiddlewares(logger), api.WithID("0190a000-0000-7000-8000-00000000ab12"))
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) { return "ok", nil },
		api.WithHandlerName("charge"))
	_, _ = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) { return "", errors.New("out of stock") },
		api.WithHandlerName("reserve"))

	o := &OrderPlaced{OrderID: "A-1"}
	_ = bus.Emit(ctx, o)
	_ = o.Wait(ctx)
	_ = bus.WaitUntilIdle(ctx)
	// Output:
	// level=INFO msg="ringbus: handler completed" bus=Shop#ab12 event_type=OrderPlaced handler=charge
	// level=WARN msg="ringbus: handler failed" bus=Shop#ab12 event_type=OrderPlaced handler=reserve error="out of stock"
	// level=INFO msg="ringbus: event completed" bus=Shop#ab12 event_type=OrderPlaced
}
