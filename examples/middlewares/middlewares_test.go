package middlewares_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/examples/middlewares"
	"github.com/ringbus/ringbus/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// mustOn registers a typed handler and panics if it cannot.
func mustOn[E any, R any, P interface {
	*E
	api.Typed[R]
}](bus *api.Bus, h func(ctx context.Context, e P) (R, error), opts ...api.HandlerOption) {
	if _, err := api.On(bus, h, opts...); err != nil {
		panic(err)
	}
}

type Charge struct {
	api.Event[string]
	Amount int `json:"amount"`
}

func TestTransitionCounterCountsEveryRowTransition(t *testing.T) {
	ctx := context.Background()
	counter := &middlewares.TransitionCounter{}
	bus, err := api.NewBus("CounterBus", api.WithMiddlewares(counter), api.WithHistoryDrop(true),
		api.WithHandlerConcurrency(api.ParallelHandlers), api.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	mustOn(bus, func(ctx context.Context, c *Charge) (string, error) { return "ok", nil })
	mustOn(bus, func(ctx context.Context, c *Charge) (string, error) {
		if c.Amount < 0 {
			return "", errors.New("negative amount")
		}
		return "ok", nil
	})
	for i := range 50 {
		e := &Charge{Amount: i - 10}
		if err := bus.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pending, started, completed, failed := counter.Counts()
	if pending != 100 || started != 100 || completed != 100 || failed != 10 {
		t.Fatalf("counts pending=%d started=%d completed=%d failed=%d, want 100 100 100 10", pending, started, completed, failed)
	}
}

func TestTimingMeasuresAndPutsTheStartInTheContext(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	var failures int
	timing := middlewares.Timing(func(handler string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if d < 0 {
			t.Errorf("negative duration for %s", handler)
		}
		seen[handler]++
		if err != nil {
			failures++
		}
	})
	bus, err := api.NewBus("TimingBus", api.WithHandlerWrappers(timing), api.WithHistoryDrop(true),
		api.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	mustOn(bus, func(ctx context.Context, c *Charge) (string, error) {
		start, ok := middlewares.StartTime(ctx)
		if !ok || start.IsZero() {
			return "", errors.New("no start time in the handler's ctx")
		}
		return "charged", nil
	}, api.WithHandlerName("charge"))
	mustOn(bus, func(ctx context.Context, c *Charge) (string, error) { return "", errors.New("audit down") },
		api.WithHandlerName("audit"))
	for range 20 {
		e := &Charge{Amount: 5}
		if err := bus.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Rows()[0].Error(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["charge"] != 20 || seen["audit"] != 20 || failures != 20 {
		t.Fatalf("observed %v with %d failures, want 20 calls of each and 20 failures", seen, failures)
	}
}

// A bus with both: the counter hooks into the lifecycle, the timing
// wrapper wraps each handler.
func Example() {
	ctx := context.Background()
	counter := &middlewares.TransitionCounter{}
	var mu sync.Mutex
	var calls []string
	timing := middlewares.Timing(func(handler string, d time.Duration, err error) {
		mu.Lock()
		calls = append(calls, handler)
		mu.Unlock()
	})
	bus, _ := api.NewBus("ShopBus", api.WithMiddlewares(counter), api.WithHandlerWrappers(timing))
	defer func() { _ = bus.Close() }()
	if _, err := api.On(bus, func(ctx context.Context, c *Charge) (string, error) {
		return fmt.Sprintf("charged %d", c.Amount), nil
	}, api.WithHandlerName("payments.charge")); err != nil {
		fmt.Println(err)
		return
	}

	e := &Charge{Amount: 42}
	_ = bus.Emit(ctx, e)
	result, _ := e.Result(ctx)
	fmt.Println(result)
	pending, started, completed, failed := counter.Counts()
	fmt.Println("rows:", pending, started, completed, failed)
	sort.Strings(calls)
	fmt.Println("timed:", calls)
	// Output:
	// charged 42
	// rows: 1 1 1 0
	// timed: [payments.charge]
}
