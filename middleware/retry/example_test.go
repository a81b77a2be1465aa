package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/retry"
)

// ChargeCard is an event whose handlers return a payment id.
type ChargeCard struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

var errGatewayBusy = errors.New("gateway busy")

// A handler wrapped by a policy is retried on the errors the policy names;
// the event's result is the value of the attempt that succeeded.
func ExamplePolicy_Wrap() {
	ctx := context.Background()
	p, err := retry.New(
		retry.Attempts(3),
		retry.Delay(time.Millisecond), retry.Backoff(2), // waits 1ms, then 2ms
		retry.On(errGatewayBusy),
		retry.OnRetry(func(_ context.Context, attempt int, err error, delay time.Duration) {
			fmt.Printf("attempt %d failed (%v); retrying in %v\n", attempt, err, delay)
		}),
	)
	if err != nil {
		panic(err)
	}
	bus, err := api.NewBus("ExampleRetryBus", api.WithHandlerWrappers(p.Wrap()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	calls := 0
	_, err = api.On(bus, func(ctx context.Context, c *ChargeCard) (string, error) {
		if calls++; calls < 3 {
			return "", errGatewayBusy
		}
		return "pay_" + c.OrderID, nil
	})
	if err != nil {
		panic(err)
	}
	payment, err := api.Call(ctx, bus, &ChargeCard{OrderID: "A-1"})
	fmt.Println(payment, err)
	// Output:
	// attempt 1 failed (gateway busy); retrying in 1ms
	// attempt 2 failed (gateway busy); retrying in 2ms
	// pay_A-1 <nil>
}

// Do retries any call. Around an emit and its wait it retries the whole
// dispatch: each attempt is a new event.
func ExampleDo() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleDoBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()
	calls := 0
	_, err = api.On(bus, func(ctx context.Context, c *ChargeCard) (string, error) {
		if calls++; calls == 1 {
			return "", errGatewayBusy
		}
		return "pay_" + c.OrderID, nil
	})
	if err != nil {
		panic(err)
	}

	p, err := retry.New(retry.Attempts(2), retry.Timeout(time.Second))
	if err != nil {
		panic(err)
	}
	payment, err := retry.Do(ctx, p, func(ctx context.Context) (string, error) {
		return api.Call(ctx, bus, &ChargeCard{OrderID: "B-2"})
	})
	fmt.Println(payment, err, calls)
	// Output: pay_B-2 <nil> 2
}

// A semaphore limits how many calls run at once; a strict policy fails
// when it cannot get a place in time.
func ExampleSemaphore() {
	ctx := context.Background()
	p, err := retry.New(retry.Semaphore(1), retry.SemaphoreKey("ledger"),
		retry.SemaphoreTimeout(10*time.Millisecond), retry.SemaphoreLax(false))
	if err != nil {
		panic(err)
	}
	_, err = retry.Do(ctx, p, func(ctx context.Context) (int, error) {
		// A second call while this one holds the only place:
		_, err := retry.Do(context.Background(), p, func(context.Context) (int, error) { return 0, nil })
		fmt.Println(errors.Is(err, retry.ErrSemaphoreTimeout), err)
		return 0, nil
	})
	fmt.Println(err)
	// Output:
	// true ringbus: retry semaphore "ledger" (limit 1) not acquired within 10ms
	// <nil>
}
