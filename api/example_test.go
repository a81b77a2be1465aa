package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ringbus/ringbus/api"
)

// exGreet is an event whose handlers return a string.
type exGreet struct {
	api.Event[string]
	Name string `json:"name"`
}

// Emit an event and read its handler's result (EMIT, RES).
func ExampleOn() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleOnBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	// The handler's event type and result type are checked at compile time.
	_, err = api.On(bus, func(ctx context.Context, e *exGreet) (string, error) {
		return "hello, " + e.Name, nil
	})
	if err != nil {
		panic(err)
	}

	e := &exGreet{Name: "ada"}
	if err := bus.Emit(ctx, e); err != nil {
		panic(err)
	}
	greeting, err := e.Result(ctx) // waits for the handlers
	fmt.Println(greeting, err)
	// Output: hello, ada <nil>
}

type exOrder struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

type exCharge struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

type exAudit struct {
	api.Event[string]
}

// A handler emits child events with its ctx, which links them to the event
// being handled (CHILD-1). Awaiting a child inside the handler processes it
// at once, ahead of events already queued (AWAIT-4); the parent completes
// only after all its children (CHILD-5).
func Example_childEvent() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleChildBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	var mu sync.Mutex
	var steps []string
	step := func(s string) {
		mu.Lock()
		steps = append(steps, s)
		mu.Unlock()
	}
	var charge *exCharge

	_, _ = api.On(bus, func(ctx context.Context, e *exOrder) (string, error) {
		step("order " + e.OrderID + " start")
		charge = &exCharge{OrderID: e.OrderID}
		if err := bus.Emit(ctx, charge); err != nil {
			return "", err
		}
		_ = bus.Emit(ctx, &exAudit{})      // queued: runs after this handler
		receipt, err := charge.Result(ctx) // queue-jump: runs now
		step("order got " + receipt)
		return "done", err
	})
	_, _ = api.On(bus, func(ctx context.Context, e *exCharge) (string, error) {
		step("charge " + e.OrderID)
		return "receipt-1", nil
	})
	_, _ = api.On(bus, func(ctx context.Context, e *exAudit) (string, error) {
		step("audit")
		return "", nil
	})

	order := &exOrder{OrderID: "o-1"}
	if err := bus.Emit(ctx, order); err != nil {
		panic(err)
	}
	if err := order.Wait(ctx); err != nil { // includes the children
		panic(err)
	}
	for _, s := range steps {
		fmt.Println(s)
	}
	fmt.Println("charge is a child of the order:", charge.ParentID() == order.ID())
	// Output:
	// order o-1 start
	// charge o-1
	// order got receipt-1
	// audit
	// charge is a child of the order: true
}

type exSlow struct {
	api.Event[string]
}

// A handler that outlives its own timeout fails with *HandlerTimeoutError;
// its ctx is cancelled so it can stop early (TIMEOUT-6, CANCEL-5).
func Example_timeout() {
	ctx := context.Background()
	// Handler failures are logged; keep them out of the example's output.
	bus, err := api.NewBus("ExampleTimeoutBus", api.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	_, _ = api.On(bus, func(ctx context.Context, e *exSlow) (string, error) {
		select {
		case <-time.After(time.Minute):
			return "finished", nil
		case <-ctx.Done():
			return "", ctx.Err() // the bus gave up on us
		}
	}, api.WithHandlerTimeout(20*time.Millisecond))

	e := &exSlow{}
	if err := bus.Emit(ctx, e); err != nil {
		panic(err)
	}
	_, err = e.Result(ctx)
	fmt.Println("timed out:", errors.Is(err, api.ErrHandlerTimeout))
	var te *api.HandlerTimeoutError
	if errors.As(err, &te) {
		fmt.Println("after", te.Timeout)
	}
	fmt.Println("row status:", e.Rows()[0].Status())
	// Output:
	// timed out: true
	// after 20ms
	// row status: error
}

type exUserCreated struct {
	api.Event[string]
	Name string `json:"name"`
}

// Find looks for events in the history (newest first) and, with Future,
// waits for the next matching emit (FIND-2, FIND-3, FIND-4).
func Example_find() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleFindBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()
	_, _ = api.On(bus, func(ctx context.Context, e *exUserCreated) (string, error) {
		return "welcome " + e.Name, nil
	})
	for _, name := range []string{"ada", "bob"} {
		e := &exUserCreated{Name: name}
		_ = bus.Emit(ctx, e)
		_ = e.Wait(ctx)
	}

	latest, _ := api.Find[exUserCreated](ctx, bus)
	fmt.Println("latest:", latest.Name)
	ada, _ := api.Find[exUserCreated](ctx, bus, api.FieldEquals("name", "ada"))
	fmt.Println("by field:", ada.Name)

	found := make(chan *exUserCreated, 1)
	go func() {
		f, _ := api.Find[exUserCreated](ctx, bus, api.NoPast(), api.Future(5*time.Second))
		found <- f
	}()
	for bus.Waiters() == 0 { // wait until the finder is listening
		time.Sleep(time.Millisecond)
	}
	_ = bus.Emit(ctx, &exUserCreated{Name: "cy"})
	next := <-found // resolved at emit, before its handler ran
	welcome, _ := next.Result(ctx)
	fmt.Println("future:", next.Name, "/", welcome)
	// Output:
	// latest: bob
	// by field: ada
	// future: cy / welcome cy
}
