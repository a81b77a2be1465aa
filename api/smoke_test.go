package api_test

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
)

type Ping struct {
	api.Event[string]
	N int `json:"n"`
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	bus, err := api.NewBus("Smoke")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	_, err = api.On(bus, func(ctx context.Context, e *Ping) (string, error) {
		return "pong", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &Ping{N: 1}
	if err := bus.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	r, err := e.Result(ctx)
	if err != nil || r != "pong" {
		t.Fatalf("%q %v", r, err)
	}
	t.Log(bus.LogTree())
}
