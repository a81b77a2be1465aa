package wire_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/schema"
	"github.com/ringbus/ringbus/wire"
)

// Go types for the event types of the vectors; declared once for the
// whole test binary, so the default Decoder rebuilds them as these types.
type (
	SimpleEvent struct {
		api.Event[any]
		K      int    `json:"k"`
		Text   string `json:"text"`
		Nested struct {
			List []any `json:"list"`
			Flag bool  `json:"flag"`
		} `json:"nested"`
	}
	CreateUserResult struct {
		UserID string   `json:"user_id"`
		Quota  int      `json:"quota"`
		Tags   []string `json:"tags,omitempty"`
	}
	CreateUserEvent struct {
		api.Event[CreateUserResult]
		Email string `json:"email"`
	}
	WorkEvent struct {
		api.Event[string]
		Job string `json:"job"`
	}
	ParentEvent struct {
		api.Event[string]
		OrderID string `json:"order_id"`
	}
	ChildEvent struct {
		api.Event[float64]
		OrderID string `json:"order_id"`
		Step    int    `json:"step"`
	}
)

func init() {
	mustDeclare(wire.DeclareFor[SimpleEvent, any](engine.TypeOptions{}))
	mustDeclare(wire.DeclareFor[CreateUserEvent, CreateUserResult](engine.TypeOptions{}))
	mustDeclare(wire.DeclareFor[WorkEvent, string](engine.TypeOptions{}))
	mustDeclare(wire.DeclareFor[ParentEvent, string](engine.TypeOptions{}))
	mustDeclare(wire.DeclareFor[ChildEvent, float64](engine.TypeOptions{}))
}

func mustDeclare(_ *engine.TypeMeta, err error) {
	if err != nil {
		panic(err)
	}
}

// WIRE-14, RT-2: every vector decodes (untyped and typed), re-encodes in
// the shape it came in, and equals the original key by key; a second round
// trip is byte-identical.
func TestVectorsRoundTrip(t *testing.T) {
	vecs := loadVectors(t)
	for _, name := range sortedKeys(vecs) {
		data := vecs[name]
		for _, dec := range []struct {
			name string
			d    wire.Decoder
		}{{"untyped", wire.Decoder{Untyped: true}}, {"typed", wire.Decoder{}}} {
			t.Run(name+"/"+dec.name, func(t *testing.T) {
				ev, err := dec.d.Unmarshal(data)
				require.NoError(t, err)
				if dec.name == "typed" && !strings.Contains(name, "02b") {
					assert.NotEqual(t, "*engine.Event", typeName(ev), "declared types decode typed")
				}
				enc := wire.ShapeOf(data)
				assert.Equal(t, wire.Upstream, enc.Mode, "TS vectors carry the blocks flag")
				out, err := enc.Marshal(ev)
				require.NoError(t, err)
				assert.Empty(t, rtDiff(decodeJSON(t, data), decodeJSON(t, out)), "out: %s", out)

				ev2, err := dec.d.Unmarshal(out)
				require.NoError(t, err)
				out2, err := enc.Marshal(ev2)
				require.NoError(t, err)
				assert.Equal(t, string(out), string(out2))
			})
		}
	}
}

// WIRE-14: the default mode drops exactly the keys 2.4.2 rejects.
func TestVectorsCompat242(t *testing.T) {
	vecs := loadVectors(t)
	for _, name := range sortedKeys(vecs) {
		data := vecs[name]
		ev, err := wire.Unmarshal(data)
		require.NoError(t, err, name)
		out, err := wire.Marshal(ev)
		require.NoError(t, err)
		got := decodeJSON(t, out).(map[string]any)
		assert.NotContains(t, got, "event_blocks_parent_completion", name)
		assert.NotContains(t, got, "event_results", name)
		want := without(decodeJSON(t, data), "event_blocks_parent_completion", "event_results")
		assert.Empty(t, rtDiff(want, got), "%s: %s", name, out)
		// Every built-in key is written, null when unset (WIRE-5).
		for _, k := range []string{"event_timeout", "event_slow_timeout", "event_concurrency", "event_handler_timeout",
			"event_handler_slow_timeout", "event_handler_concurrency", "event_handler_completion", "event_result_type",
			"event_parent_id", "event_emitted_by_handler_id", "event_started_at", "event_completed_at"} {
			assert.Contains(t, got, k, name)
		}
	}
}

// WIRE-12, WIRE-22, §2.5 last row: event_results as a list reads like the
// map form.
func TestVectorsResultsAsList(t *testing.T) {
	vecs := loadVectors(t)
	data := vecs["04_parent_forwarded.json"]
	require.NotNil(t, data)
	ev, err := wire.Unmarshal(data)
	require.NoError(t, err)
	list, err := wire.Encoder{Mode: wire.Upstream, ResultsAsList: true}.Marshal(ev)
	require.NoError(t, err)
	rows, ok := decodeJSON(t, list).(map[string]any)["event_results"].([]any)
	require.True(t, ok, "event_results is an array: %s", list)
	require.Len(t, rows, 3)
	assert.Equal(t, wire.Encoder{Mode: wire.Upstream, ResultsAsList: true}, wire.ShapeOf(list))

	back, err := wire.Unmarshal(list)
	require.NoError(t, err)
	out, err := wire.Encoder{Mode: wire.Upstream}.Marshal(back)
	require.NoError(t, err)
	assert.Empty(t, rtDiff(decodeJSON(t, data), decodeJSON(t, out)))
}

// Typed decoding fills the Go struct and keeps the rows' values.
func TestVectorsTypedValues(t *testing.T) {
	vecs := loadVectors(t)
	ev, err := wire.Unmarshal(vecs["02c_typed_result_completed.json"])
	require.NoError(t, err)
	cu, ok := ev.(*CreateUserEvent)
	require.True(t, ok, "%T", ev)
	assert.Equal(t, "b@example.com", cu.Email)
	assert.Equal(t, "CreateUserEvent", cu.Type())
	assert.Equal(t, engine.StatusCompleted, cu.Status())
	assert.Equal(t, []string{"TypedBus#0b3b"}, cu.Path())
	// WIRE-13: a completed event needs no bus to be waited on.
	require.NoError(t, cu.Wait(context.Background()))
	rows := cu.Rows()
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, "create_user", r.HandlerName())
	assert.Equal(t, "58ccf7af-eed9-5e92-9605-14a07afa073b", r.HandlerID())
	assert.Equal(t, "TypedBus", r.Bus().Name())
	assert.Equal(t, "01a2191e-21c0-76fc-97fc-8fd797d00b3b", r.Bus().ID())
	assert.Equal(t, map[string]any{"user_id": "user:b@example.com", "quota": json.Number("10")}, r.Value())
	// The TS schema differs from the Go one (bounds, additionalProperties),
	// so the event keeps the one it came with.
	st := engine.StateOf(engine.Core(cu))
	sch, ok := st.Extra["event_result_type"].(*schema.Schema)
	require.True(t, ok)
	assert.Contains(t, sch.String(), "9007199254740991")
	require.NoError(t, sch.Validate(r.Value()))

	ev, err = wire.Unmarshal(vecs["04b_child_forwarded.json"])
	require.NoError(t, err)
	child := ev.(*ChildEvent)
	assert.Equal(t, 1, child.Step)
	assert.Equal(t, "01a2191e-2215-72e8-bb3d-d90d66e60fdd", child.ParentID())
	assert.Equal(t, "51ab8415-a85b-50f0-8f94-1a134e50c8c0", child.EmittedByHandlerID())
	assert.Equal(t, true, engine.StateOf(engine.Core(child)).Extra["event_blocks_parent_completion"])

	ev, err = wire.Unmarshal(vecs["03_completed_two_results_one_error.json"])
	require.NoError(t, err)
	rows = engine.Core(ev).Rows()
	require.Len(t, rows, 2)
	assert.Equal(t, engine.StatusError, rows[1].Status())
	var re *wire.RemoteError
	require.ErrorAs(t, rows[1].Error(), &re)
	assert.Equal(t, "Error", engine.ErrorTypeName(rows[1].Error()))
	assert.Equal(t, "{}", string(re.Raw))

	ev, err = wire.Unmarshal(vecs["04_parent_forwarded.json"])
	require.NoError(t, err)
	kids := engine.Core(ev).Children()
	require.Len(t, kids, 1)
	assert.Equal(t, "01a2191e-2219-729b-bb05-46ec3d1ada03", kids[0].ID())
	assert.True(t, engine.IsStub(kids[0]))
}

// RESET-2, RESET-3, and the bridge-receive vector 04c: the reset copy of
// the parent equals what TypeScript produced, except for the new id.
func TestVectorResetMatchesBridgeReceive(t *testing.T) {
	vecs := loadVectors(t)
	for _, dec := range []wire.Decoder{{Untyped: true}, {}} {
		ev, err := dec.Unmarshal(vecs["04_parent_forwarded.json"])
		require.NoError(t, err)
		fresh, err := wire.Reset(ev)
		require.NoError(t, err)
		assert.IsType(t, ev, fresh)
		out, err := wire.Encoder{Mode: wire.Upstream}.Marshal(fresh)
		require.NoError(t, err)
		want := without(decodeJSON(t, vecs["04c_parent_after_bridge_receive.json"]), "event_id")
		got := without(decodeJSON(t, out), "event_id")
		assert.Empty(t, rtDiff(want, got), "%s", out)

		c := engine.Core(fresh)
		assert.NotEqual(t, engine.Core(ev).ID(), c.ID())
		u, err := ident.ParseUUID(c.ID())
		require.NoError(t, err)
		assert.Equal(t, byte(7), u[6]>>4, "a fresh UUIDv7")
		assert.Equal(t, engine.Core(ev).CreatedTime(), c.CreatedTime())
		assert.Empty(t, c.Rows())
		// The original is unchanged.
		assert.Equal(t, engine.StatusCompleted, engine.Core(ev).Status())
		assert.Len(t, engine.Core(ev).Rows(), 3)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *engine.Event:
		return "*engine.Event"
	}
	return "typed"
}
