package api_test

import (
	"context"
	"fmt"

	"github.com/ringbus/ringbus/api"
)

// exLookup asks several resolvers for an address; the first answer wins. A
// resolver without an answer returns a nil *string, which does not win.
type exLookup struct {
	api.Event[*string]
	Host string `json:"host"`
}

// Emit an event in first mode: the first handler that returns a value wins
// and the handlers after it do not run.
func ExampleEmitFirst() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleEmitFirstBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	resolvers := []func(string) string{
		func(string) string { return "" }, // no answer: the next resolver is asked
		func(host string) string { return "10.0.0.7" },
		func(string) string { panic("not called: an earlier resolver answered") },
	}
	for i, resolve := range resolvers {
		_, err := api.On(bus, func(ctx context.Context, e *exLookup) (*string, error) {
			if addr := resolve(e.Host); addr != "" {
				return &addr, nil
			}
			return nil, nil
		}, api.WithHandlerName(fmt.Sprintf("resolver_%d", i)))
		if err != nil {
			panic(err)
		}
	}

	addr, err := api.EmitFirst(ctx, bus, &exLookup{Host: "db.internal"})
	fmt.Println(*addr, err)
	// Output: 10.0.0.7 <nil>
}
