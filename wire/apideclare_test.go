package wire_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/schema"
	"github.com/ringbus/ringbus/wire"
)

type declaredResult struct {
	Total int    `json:"total"`
	Note  string `json:"note"`
}

type DeclaredByAPI struct {
	api.Event[declaredResult]
	N int `json:"n"`
}

type DeclaredAny struct {
	api.Event[any]
	N int `json:"n"`
}

type DeclaredChan struct {
	api.Event[chan int]
}

// SCHEMA-1, RTYPE-2: api.Declare takes the result schema from the event's
// own Event[R]: encoded events carry R's schema as event_result_type, and
// a handler result of another shape fails its row.
func TestAPIDeclareTakesResultFromEvent_SCHEMA1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, api.Declare[DeclaredByAPI](api.TypeOptions{Version: "1.2.0"}))

	data, err := wire.Marshal(&DeclaredByAPI{N: 1})
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, "1.2.0", doc["event_version"])
	rt, ok := doc["event_result_type"].(map[string]any)
	require.True(t, ok, "event_result_type in %s", data)
	require.Equal(t, "object", rt["type"])
	props, _ := rt["properties"].(map[string]any)
	require.Contains(t, props, "total")
	require.Contains(t, props, "note")

	bus, err := api.NewBus("APIDeclareBus", api.WithHistoryDrop(true))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	_, err = api.OnType(bus, api.TypeName[DeclaredByAPI](), func(context.Context, *api.BaseEvent) (any, error) {
		return map[string]any{"total": "three"}, nil
	}, api.WithHandlerName("wrong_shape"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *DeclaredByAPI) (declaredResult, error) {
		return declaredResult{Total: 3, Note: "ok"}, nil
	}, api.WithHandlerName("typed"))
	require.NoError(t, err)
	e := &DeclaredByAPI{N: 2}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	rows := e.Rows()
	require.Len(t, rows, 2)
	require.ErrorIs(t, rows[0].Error(), api.ErrResultSchema)
	require.NoError(t, rows[1].Error())
	require.Equal(t, declaredResult{Total: 3, Note: "ok"}, rows[1].Value())

	// A pointer type argument declares the same type.
	require.NoError(t, api.Declare[*DeclaredByAPI](api.TypeOptions{Version: "1.2.0"}))
}

// Event[any] declares no result schema; a result type with no JSON form
// is refused with a typed error.
func TestAPIDeclareWithoutSchema_SCHEMA1(t *testing.T) {
	require.NoError(t, api.Declare[DeclaredAny](api.TypeOptions{}))
	data, err := wire.Marshal(&DeclaredAny{N: 1})
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Nil(t, doc["event_result_type"], "no schema for Event[any]: %s", data)

	err = api.Declare[DeclaredChan](api.TypeOptions{})
	require.ErrorIs(t, err, schema.ErrUnsupportedType)
}
