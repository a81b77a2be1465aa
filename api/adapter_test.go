package api_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// On builds one adapter per kind of result type: R without size (no
// value), R that may be nil (a nil one is no value), and any other R. Each
// passes the handler's value and error to the row as the single adapter
// did.
type (
	adNothing struct {
		api.Event[struct{}]
		N int `json:"n"`
	}
	adNillable struct {
		api.Event[*int]
		N int `json:"n"`
	}
	adPlain struct {
		api.Event[int]
		N int `json:"n"`
	}
)

var errAdapter = errors.New("adapter test failure")

func adapterRow(t *testing.T, e engine.Eventer) *engine.Result {
	t.Helper()
	ev := engine.Core(e)
	if err := ev.Wait(context.Background()); err != nil {
		t.Fatalf("wait: %v", err)
	}
	rows := ev.Rows()
	if len(rows) != 1 {
		t.Fatalf("rows: %d, want 1", len(rows))
	}
	return rows[0]
}

func TestOnAdapters(t *testing.T) {
	ctx := context.Background()
	bus, err := api.NewBus("AdapterBus")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	if _, err := api.On(bus, func(ctx context.Context, e *adNothing) (struct{}, error) {
		if e.N < 0 {
			return struct{}{}, errAdapter
		}
		return struct{}{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.On(bus, func(ctx context.Context, e *adNillable) (*int, error) {
		switch {
		case e.N < 0:
			return nil, errAdapter
		case e.N == 0:
			return nil, nil
		}
		n := e.N
		return &n, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.On(bus, func(ctx context.Context, e *adPlain) (int, error) {
		if e.N < 0 {
			return 0, errAdapter
		}
		return e.N * 2, nil
	}); err != nil {
		t.Fatal(err)
	}

	for _, n := range []int{1, -1} {
		e, err := api.Emit(ctx, bus, &adNothing{N: n})
		if err != nil {
			t.Fatal(err)
		}
		r := adapterRow(t, e)
		if r.Value() != nil {
			t.Errorf("nothing %d: value %v, want nil", n, r.Value())
		}
		if wantErr := n < 0; (r.Error() != nil) != wantErr || wantErr && !errors.Is(r.Error(), errAdapter) {
			t.Errorf("nothing %d: error %v", n, r.Error())
		}
	}
	for _, n := range []int{3, 0, -1} {
		e, err := api.Emit(ctx, bus, &adNillable{N: n})
		if err != nil {
			t.Fatal(err)
		}
		r := adapterRow(t, e)
		switch {
		case n > 0:
			if p, ok := r.Value().(*int); !ok || p == nil || *p != n {
				t.Errorf("nillable %d: value %#v", n, r.Value())
			}
		case n == 0:
			if r.Value() != nil {
				t.Errorf("nillable 0: value %#v, want untyped nil", r.Value())
			}
		default:
			if !errors.Is(r.Error(), errAdapter) || r.Value() != nil {
				t.Errorf("nillable %d: value %#v, error %v", n, r.Value(), r.Error())
			}
		}
	}
	for _, n := range []int{0, 4, -1} {
		e, err := api.Emit(ctx, bus, &adPlain{N: n})
		if err != nil {
			t.Fatal(err)
		}
		r := adapterRow(t, e)
		if n < 0 {
			if !errors.Is(r.Error(), errAdapter) || r.Value() != nil {
				t.Errorf("plain %d: value %#v, error %v", n, r.Value(), r.Error())
			}
			continue
		}
		if v, ok := r.Value().(int); !ok || v != 2*n {
			t.Errorf("plain %d: value %#v, want %d", n, r.Value(), 2*n)
		}
	}
}
