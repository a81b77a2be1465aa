package wire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// RTYPE-6: an event decoded from another runtime carries its own
// event_result_type, and handler results are checked against it: a wrong
// shape fails that handler's row with a typed error, a right one passes.
func TestDecodedSchemaIsEnforced_RTYPE6(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := api.NewBus("SchemaEnforceBus")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	_, err = api.OnType(bus, "ScreenshotTaken", func(ctx context.Context, e *api.BaseEvent) (any, error) {
		if e.Fields()["good"] == true {
			return map[string]any{"image_url": "https://x/y.png", "width": 1920}, nil
		}
		return map[string]any{"image_url": 123, "width": "1920"}, nil
	}, api.WithHandlerName("shooter"))
	require.NoError(t, err)

	const schemaJSON = `{"type":"object","properties":{"image_url":{"type":"string"},"width":{"type":"integer"}},"required":["image_url","width"],"$schema":"https://json-schema.org/draft/2020-12/schema"}`
	decode := func(good bool) engine.Eventer {
		g := "false"
		if good {
			g = "true"
		}
		ev, err := wire.Unmarshal([]byte(`{"event_type":"ScreenshotTaken","event_timeout":null,"event_result_type":` + schemaJSON + `,"good":` + g + `}`))
		require.NoError(t, err)
		return ev
	}

	bad := decode(false)
	require.NoError(t, bus.Emit(ctx, bad))
	require.NoError(t, engine.Core(bad).Wait(ctx))
	rows := engine.Core(bad).Rows()
	require.Len(t, rows, 1)
	var se *engine.ResultSchemaError
	require.True(t, errors.As(rows[0].Error(), &se), "got %v", rows[0].Error())
	require.ErrorIs(t, rows[0].Error(), api.ErrResultSchema)
	require.Equal(t, "object", se.Identifier)
	require.Contains(t, rows[0].Error().Error(), "did not match expected event_result_type")
	require.Nil(t, rows[0].Value())
	require.Equal(t, "EventHandlerResultSchemaError", engine.ErrorTypeName(rows[0].Error()))

	good := decode(true)
	require.NoError(t, bus.Emit(ctx, good))
	require.NoError(t, engine.Core(good).Wait(ctx))
	require.NoError(t, engine.Core(good).Rows()[0].Error())
}

type ShortName struct {
	api.Event[string]
	N int `json:"n"`
}

// RTYPE-2: a type declared with a result schema has its handlers' values
// validated; an untyped handler returning a number for a string schema
// fails (the README example), without coercion (RTYPE-5).
func TestDeclaredSchemaIsEnforced_RTYPE2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := wire.DeclareFor[ShortName, string](engine.TypeOptions{})
	require.NoError(t, err)
	bus, err := api.NewBus("SchemaDeclaredBus")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	_, err = api.OnType(bus, api.TypeName[ShortName](), func(ctx context.Context, e *api.BaseEvent) (any, error) {
		return 42, nil
	}, api.WithHandlerName("wrong"))
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *ShortName) (string, error) { return "ok", nil })
	require.NoError(t, err)
	e := &ShortName{N: 1}
	require.NoError(t, bus.Emit(ctx, e))
	vals, err := e.Results(ctx, api.IgnoreErrors())
	require.NoError(t, err)
	require.Equal(t, []string{"ok"}, vals)
	rows := e.Rows()
	require.ErrorIs(t, rows[0].Error(), api.ErrResultSchema)
	_, err = e.Result(ctx)
	require.ErrorIs(t, err, api.ErrResultSchema, "raise_if_any surfaces the schema error")
}
