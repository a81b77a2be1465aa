package ringbusprom_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringbus/ringbus/api"
	ringbusprom "github.com/ringbus/ringbus/middleware/prometheus"
)

// OrderPlaced is the example's event; its handlers return a string.
type OrderPlaced struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

// Register a collector, give it to a bus, emit, and read the counts from
// the registry as a scrape would.
func Example() {
	ctx := context.Background()
	collector, err := ringbusprom.New(ringbusprom.WithMaxEventTypes(50))
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector)

	bus, err := api.NewBus("Shop", api.WithMiddlewares(collector))
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()
	_, err = api.On(bus, func(_ context.Context, o *OrderPlaced) (string, error) {
		if o.OrderID == "" {
			return "", errors.New("no order id")
		}
		return "charged " + o.OrderID, nil
	}, api.WithHandlerName("charge"))
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"A-1", "", "A-2"} {
		o := &OrderPlaced{OrderID: id}
		if err := bus.Emit(ctx, o); err != nil {
			panic(err)
		}
		if err := o.Wait(ctx); err != nil {
			panic(err)
		}
	}

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families {
		switch mf.GetName() {
		case "ringbus_events_completed_total":
			for _, m := range mf.GetMetric() {
				fmt.Printf("%s %v: %v\n", mf.GetName(), labels(m.GetLabel()), m.GetCounter().GetValue())
			}
		case "ringbus_handler_duration_seconds":
			for _, m := range mf.GetMetric() {
				fmt.Printf("%s %v: %d runs\n", mf.GetName(), labels(m.GetLabel()), m.GetHistogram().GetSampleCount())
			}
		case "ringbus_history_size":
			for _, m := range mf.GetMetric() {
				fmt.Printf("%s %v: %v\n", mf.GetName(), labels(m.GetLabel()), m.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// ringbus_events_completed_total [event_type=OrderPlaced status=completed]: 2
	// ringbus_events_completed_total [event_type=OrderPlaced status=failed]: 1
	// ringbus_handler_duration_seconds [event_type=OrderPlaced handler=charge]: 3 runs
	// ringbus_history_size [bus=Shop]: 3
}

// labels formats a metric's label pairs.
func labels(ls []*dto.LabelPair) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.GetName() + "=" + l.GetValue()
	}
	return out
}
