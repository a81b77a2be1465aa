package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

type (
	callPrice struct {
		api.Event[float64]
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	callParent struct {
		api.Event[string]
	}
	callQuote struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	callTypedQuote struct {
		api.Event[any]
		SKU string `json:"sku"`
		Qty string `json:"qty"` // a string where callQuote has an int
	}
)

// SUCK-4: Call is emit + await + the typed first result, with the result
// options; inside a handler it runs the child at once and links it.
func TestCallReturnsTypedResult_SUCK4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "CallTyped", api.WithHistoryDrop(true))
	fail := errors.New("out of stock")
	_, err := api.On(bus, func(ctx context.Context, e *callPrice) (float64, error) {
		if e.SKU == "gone" {
			return 0, fail
		}
		return 2.5 * float64(e.Qty), nil
	})
	require.NoError(t, err)

	total, err := api.Call(ctx, bus, &callPrice{SKU: "x", Qty: 4})
	require.NoError(t, err)
	assert.InDelta(t, 10.0, total, 0)

	_, err = api.Call(ctx, bus, &callPrice{SKU: "gone"})
	require.ErrorIs(t, err, fail)

	var child *callPrice
	_, err = api.On(bus, func(ctx context.Context, e *callParent) (string, error) {
		child = &callPrice{SKU: "y", Qty: 1}
		v, err := api.Call(ctx, bus, child) // would deadlock behind the parent without the queue-jump
		return fmt.Sprint(v), err
	})
	require.NoError(t, err)
	parent := &callParent{}
	v, err := api.Call(ctx, bus, parent)
	require.NoError(t, err)
	assert.Equal(t, "2.5", v)
	assert.Equal(t, parent.ID(), child.ParentID())

	_, err = api.Call(ctx, bus, &callTypedQuote{})
	require.ErrorIs(t, err, api.ErrNoResult, "no handler")
	none, err := api.Call(ctx, bus, &callTypedQuote{}, api.AllowEmpty())
	require.NoError(t, err)
	assert.Nil(t, none)

	_, err = api.Call[float64](ctx, nil, &callPrice{})
	require.ErrorIs(t, err, api.ErrBadOption)
	var nilEvent *callPrice
	_, err = api.Call(ctx, bus, nilEvent)
	require.ErrorIs(t, err, api.ErrNilEvent)
}

// SUCK-4: CallPayload emits an untyped event carrying the payload's fields
// and OnPayload hands them to a plain function as its struct.
func TestCallPayloadRoundTrip_SUCK4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "CallPayload", api.WithHistoryDrop(true))
	var got []callQuote
	_, err := api.OnPayload(bus, "PriceQuote", func(ctx context.Context, q callQuote) (float64, error) {
		got = append(got, q)
		return 9.5 * float64(q.Qty), nil
	})
	require.NoError(t, err)

	price, err := api.CallPayload[float64](ctx, bus, "PriceQuote", callQuote{SKU: "x", Qty: 2})
	require.NoError(t, err)
	assert.InDelta(t, 19.0, price, 0)
	e, err := bus.Find(ctx, "PriceQuote")
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, map[string]any{"sku": "x", "qty": json.Number("2")}, e.Fields(), "the struct's fields, numbers as json.Number")

	m := map[string]any{"sku": "m", "qty": 3}
	price, err = api.CallPayload[float64](ctx, bus, "PriceQuote", m)
	require.NoError(t, err)
	assert.InDelta(t, 28.5, price, 0)
	m["qty"] = 100 // the event does not share the caller's map

	price, err = api.CallPayload[float64](ctx, bus, "PriceQuote", (*callQuote)(nil))
	require.NoError(t, err, "null: no fields, the zero struct")
	assert.Zero(t, price)
	assert.Equal(t, []callQuote{{SKU: "x", Qty: 2}, {SKU: "m", Qty: 3}, {}}, got)

	_, err = api.CallPayload[float64](ctx, bus, "PriceQuote", []int{1})
	require.ErrorIs(t, err, api.ErrPayloadType, "not an object")
	_, err = api.CallPayload[float64](ctx, bus, "PriceQuote", func() {})
	require.ErrorIs(t, err, api.ErrPayloadType, "no JSON form")
	_, err = api.CallPayload[float64](ctx, bus, "PriceQuote", map[string]any{"event_id": "x"})
	require.ErrorIs(t, err, api.ErrBadOption, "a reserved field name")
	_, err = api.CallPayload[float64](ctx, bus, "", callQuote{})
	require.ErrorIs(t, err, api.ErrBadOption, "a bad event type")
	_, err = api.CallPayload[float64](ctx, nil, "PriceQuote", callQuote{})
	require.ErrorIs(t, err, api.ErrBadOption)
	_, err = api.CallPayload[string](ctx, bus, "PriceQuote", callQuote{Qty: 1})
	require.ErrorIs(t, err, api.ErrResultType, "the handler's float64 is not a string")
}

// SUCK-4: OnPayload decodes typed events too, fails a payload that does
// not fit with ErrPayloadType, stores "no value" as On does, and takes a
// map as its payload type.
func TestOnPayloadDecodes_SUCK4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "OnPayload", api.WithHistoryDrop(true))
	name := api.TypeName[callTypedQuote]()
	_, err := api.OnPayload(bus, name, func(ctx context.Context, q callQuote) (*callQuote, error) {
		return nil, nil
	}, api.WithHandlerName("strict"))
	require.NoError(t, err)
	_, err = api.OnPayload(bus, name, func(ctx context.Context, m map[string]any) (string, error) {
		return fmt.Sprint(m["sku"], "/", m["qty"]), nil
	}, api.WithHandlerName("loose"))
	require.NoError(t, err)

	e := &callTypedQuote{SKU: "t", Qty: "three"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	rows := e.Rows()
	require.Len(t, rows, 2)
	require.ErrorIs(t, rows[0].Error(), api.ErrPayloadType, "qty is a string, callQuote wants an int")
	assert.Equal(t, "t/three", rows[1].Value())

	bus2 := saBus(t, "OnPayloadNil", api.WithHistoryDrop(true))
	_, err = api.OnPayload(bus2, "Ping", func(ctx context.Context, q callQuote) (*callQuote, error) { return nil, nil })
	require.NoError(t, err)
	_, err = api.OnPayload(bus2, "Ping", func(ctx context.Context, q callQuote) (struct{}, error) { return struct{}{}, nil })
	require.NoError(t, err)
	_, err = api.CallPayload[*callQuote](ctx, bus2, "Ping", callQuote{})
	require.ErrorIs(t, err, api.ErrNoResult, "a nil pointer and struct{} are no value")

	_, err = api.OnPayload[callQuote, int](bus2, "Ping", nil)
	require.ErrorIs(t, err, api.ErrNilHandler)
	_, err = api.OnPayload(nil, "Ping", func(context.Context, callQuote) (int, error) { return 0, nil })
	require.ErrorIs(t, err, api.ErrBadOption)
}

// exQuote is a request struct with no event type of its own.
type exQuote struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// exPrice is a typed event whose handlers return a float64.
type exPrice struct {
	api.Event[float64]
	SKU string `json:"sku"`
}

// Call emits an event and returns its handler's typed result in one call.
func ExampleCall() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleCallBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	_, err = api.On(bus, func(ctx context.Context, e *exPrice) (float64, error) {
		return 9.5, nil
	})
	if err != nil {
		panic(err)
	}
	price, err := api.Call(ctx, bus, &exPrice{SKU: "tea"})
	fmt.Println(price, err)
	// Output: 9.5 <nil>
}

// OnPayload makes a handler of a plain function of a request struct, and
// CallPayload calls it through the bus.
func ExampleCallPayload() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleCallPayloadBus")
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	_, err = api.OnPayload(bus, "Quote", func(ctx context.Context, q exQuote) (float64, error) {
		return 2.5 * float64(q.Qty), nil
	})
	if err != nil {
		panic(err)
	}
	total, err := api.CallPayload[float64](ctx, bus, "Quote", exQuote{SKU: "tea", Qty: 4})
	fmt.Println(total, err)
	// Output: 10 <nil>
}
