package wire_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

var lateDeclaredRan bool

type LateDeclared struct {
	api.Event[string]
	N int `json:"n"`
}

// SCHEMA-1, RTYPE-2 (issue 9, 3.5): DeclareFor after events of the type were
// emitted, encoded and decoded attaches the result schema from then on:
// events emitted, decoded (with or without an event_type) and encoded after
// it carry event_result_type, and their handlers' results are checked
// against it.
func TestDeclareForAfterFirstUse_SCHEMA1(t *testing.T) {
	// The declaration is process-wide and cannot be undone: only the first
	// run in a test binary sees the type undeclared (go test -count=1, as
	// make test runs it, always does).
	if lateDeclaredRan {
		t.Skip("LateDeclared was declared by an earlier run in this process (-count > 1)")
	}
	lateDeclaredRan = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := api.NewBus("LateDeclareBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	_, err = api.OnType(bus, api.TypeName[LateDeclared](), func(ctx context.Context, e *api.BaseEvent) (any, error) {
		return 42, nil // not a string
	}, api.WithHandlerName("wrong"))
	require.NoError(t, err)

	// First use: emitted, encoded, decoded (typed), decoded into.
	before := &LateDeclared{N: 1}
	require.NoError(t, bus.Emit(ctx, before))
	require.NoError(t, before.Wait(ctx))
	require.NoError(t, before.Rows()[0].Error(), "no schema yet")
	const noRT = `{"event_type":"LateDeclared","event_timeout":null,"n":5}`
	const noType = `{"event_timeout":null,"n":6}`
	_, err = wire.Unmarshal([]byte(noRT))
	require.NoError(t, err)
	require.NoError(t, wire.UnmarshalInto([]byte(noType), &LateDeclared{}))
	assert.Contains(t, string(mustMarshal(t, wire.Encoder{}, &LateDeclared{})), `"event_result_type":null`)

	_, err = wire.DeclareFor[LateDeclared, string](engine.TypeOptions{})
	require.NoError(t, err)
	const want = `"event_result_type":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`

	assert.Contains(t, string(mustMarshal(t, wire.Encoder{}, &LateDeclared{N: 2})), want, "a new event")
	dec, err := wire.Unmarshal([]byte(noRT))
	require.NoError(t, err)
	assert.Contains(t, string(mustMarshal(t, wire.Encoder{}, dec)), want, "a decoded event")
	into := &LateDeclared{}
	require.NoError(t, wire.UnmarshalInto([]byte(noType), into))
	assert.Contains(t, string(mustMarshal(t, wire.Encoder{}, into)), want, "an event decoded into")

	for _, ev := range []engine.Eventer{&LateDeclared{N: 3}, dec} {
		require.NoError(t, bus.Emit(ctx, ev))
		require.NoError(t, engine.Core(ev).Wait(ctx))
		rows := engine.Core(ev).Rows()
		require.NotEmpty(t, rows)
		require.ErrorIs(t, rows[0].Error(), api.ErrResultSchema, "the late schema is enforced")
	}
}
