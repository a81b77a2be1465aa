package perf

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
)

// BenchmarkBusLifecycle measures one short-lived bus: NewBus, one typed
// handler, Emit of one event and its Wait, Close. One op is one bus; B/op
// and allocs/op are what target 3 of issue 13 bounds (8 KB per bus).
// MeasureBusCost reports the same lifecycle outside the testing framework.
func BenchmarkBusLifecycle(b *testing.B) {
	ctx := context.Background()
	domain := api.NewDomain()
	b.ReportAllocs()
	for b.Loop() {
		if err := busLifecycle(ctx, domain); err != nil {
			b.Fatal(err)
		}
	}
}
