package leakcheck_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/leakcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

type leakEvent struct {
	api.Event[int]
	N int `json:"n"`
}

// useBus runs one bus through its whole life: handlers, parallel work,
// Close.
func useBus(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	bus, err := api.NewBus("LeakCheckBus", api.WithHistoryDrop(true),
		api.WithHandlerConcurrency(api.ParallelHandlers))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := api.On(bus, func(ctx context.Context, e *leakEvent) (int, error) { return e.N, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		e := &leakEvent{N: i}
		if err := bus.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Results(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// The ignore list is exact: without it goleak reports the two ants
// goroutines (so the names are right and they really run); with it, nothing.
func TestOptionsIgnoreExactlyTheImportGoroutines(t *testing.T) {
	useBus(t)
	err := goleak.Find()
	if err == nil {
		t.Fatal("goleak found no goroutine without the options: the ants import goroutines are gone, so IgnoredFunctions is stale")
	}
	for _, fn := range leakcheck.IgnoredFunctions() {
		if !strings.Contains(err.Error(), fn) {
			t.Errorf("goleak did not report %s; it reported:\n%v", fn, err)
		}
	}
	if err := goleak.Find(leakcheck.Options()...); err != nil {
		t.Fatalf("after Close, goroutines other than the ignored ones run:\n%v", err)
	}
}

// The options ignore nothing else: a goroutine a test leaves behind is
// still reported.
func TestOptionsStillReportOtherGoroutines(t *testing.T) {
	stop := make(chan struct{})
	go func() { <-stop }()
	defer close(stop)
	if err := goleak.Find(leakcheck.Options()...); err == nil {
		t.Fatal("a leaked goroutine was not reported with leakcheck.Options")
	}
}

func TestVerifyNoneAfterClose(t *testing.T) {
	useBus(t)
	leakcheck.VerifyNone(t)
}

// A test of a program that uses ringbus checks that no goroutine is left
// once its buses are closed. (goleak.Find here stands for the
// goleak.VerifyNone(t, leakcheck.Options()...) a test defers; an example
// cannot call it, because the example runner has goroutines of its own.)
func ExampleOptions() {
	bus, _ := api.NewBus("ExampleLeakBus")
	// ... emit events, wait for them ...
	_ = bus.Close()
	if err := goleak.Find(leakcheck.Options()...); err != nil {
		fmt.Println("leaked:", err)
	}
}
