package perf

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/ringbus/ringbus/api"
)

// BusCost is what one short-lived bus costs: created, given one handler,
// sent one event that is awaited, and closed. Bytes and allocations are
// heap figures from runtime.MemStats (TotalAlloc and Mallocs); goroutine
// stacks are not heap and do not count.
type BusCost struct {
	// Buses is how many lifecycles were measured.
	Buses int
	// BytesPerBus is the heap allocated per lifecycle, in bytes.
	BytesPerBus float64
	// AllocsPerBus is the number of heap allocations per lifecycle.
	AllocsPerBus float64
	// TimePerBus is the wall time per lifecycle. It is noisy on a shared
	// machine; the byte and allocation figures are not.
	TimePerBus time.Duration
}

// busCostWarmup is how many lifecycles MeasureBusCost runs before it
// measures, so that per-type caches and pools exist already.
const busCostWarmup = 64

// MeasureBusCost runs n bus lifecycles (NewBus, one typed handler, Emit of
// one PerfSimpleEvent, Wait, Close) on a domain of its own, after a short
// warm-up, and returns the average cost of one. It fails if n is not
// positive or if any step of a lifecycle fails. It is not safe to run
// alongside other work whose allocations should not be counted: MemStats
// are process-wide.
func MeasureBusCost(n int) (BusCost, error) {
	if n <= 0 {
		return BusCost{}, fmt.Errorf("perf: MeasureBusCost needs n > 0, got %d", n)
	}
	ctx := context.Background()
	domain := api.NewDomain()
	for range busCostWarmup {
		if err := busLifecycle(ctx, domain); err != nil {
			return BusCost{}, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for range n {
		if err := busLifecycle(ctx, domain); err != nil {
			return BusCost{}, err
		}
	}
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&after)
	return BusCost{
		Buses:        n,
		BytesPerBus:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
		AllocsPerBus: float64(after.Mallocs-before.Mallocs) / float64(n),
		TimePerBus:   elapsed / time.Duration(n),
	}, nil
}

// busLifecycle creates a bus on domain, registers one handler, emits one
// event and awaits it, and closes the bus.
func busLifecycle(ctx context.Context, domain *api.Domain) error {
	bus, err := api.NewBus("PerfBusCost", api.WithDomain(domain))
	if err != nil {
		return err
	}
	defer func() { _ = bus.Close() }()
	if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
		return struct{}{}, nil
	}); err != nil {
		return err
	}
	e := &PerfSimpleEvent{Value: 1}
	if err := bus.Emit(ctx, e); err != nil {
		return err
	}
	return e.Wait(ctx)
}
