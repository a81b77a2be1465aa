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
	"github.com/ringbus/ringbus/wire"
)

// WIRE-18, WIRE-5 (issue 9, 4.1): TypeScript 2.5.56 takes any "error" key
// in a result row, null included, as a failure (its eventResult() throws and
// eventResultsList() returns nothing), and a missing key means null to every
// reader. A row is written with "error" only when it failed and with
// "result" only when it completed (null there is the handler's own nil);
// the other keys whose value is null are left out too, as TypeScript leaves
// them out (but for handler_file_path, started_at and completed_at, which it
// writes as null).
func TestRowWritesOnlyNeededNullKeys_WIRE18(t *testing.T) {
	o, _ := runShop(t)
	m := decodeJSON(t, mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, o)).(map[string]any)
	rows := m["event_results"].(map[string]any)
	require.NotEmpty(t, rows)
	sawOK, sawErr := false, false
	for hid, r := range rows {
		row := r.(map[string]any)
		for k, v := range row {
			// TypeScript writes these three as null too.
			tsNull := k == "handler_file_path" || k == "started_at" || k == "completed_at"
			completedResult := k == "result" && row["status"] == "completed"
			if v == nil && !tsNull && !completedResult {
				t.Errorf("row %s (%v): key %q written as null", hid, row["handler_name"], k)
			}
		}
		switch row["status"] {
		case "completed":
			sawOK = true
			assert.NotContains(t, row, "error", "a completed row has no error key")
			assert.Contains(t, row, "result", "a completed row keeps its result, null included")
		case "error":
			sawErr = true
			assert.NotNil(t, row["error"])
			assert.NotContains(t, row, "result", "a failed row has no result")
		}
	}
	require.True(t, sawOK && sawErr, "the shop run has completed and failed rows")

	// A handler returning nil: the completed row says "result": null.
	ctx := context.Background()
	bus, err := api.NewBus("NilResultBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	_, err = api.OnType(bus, "NilResult", func(ctx context.Context, e *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	ev, err := api.NewEvent("NilResult", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, ev))
	require.NoError(t, ev.Wait(ctx))
	m = decodeJSON(t, mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)).(map[string]any)
	for _, r := range m["event_results"].(map[string]any) {
		row := r.(map[string]any)
		assert.Contains(t, row, "result")
		assert.Nil(t, row["result"])
		assert.NotContains(t, row, "error")
	}
	_ = engine.StatusCompleted
}

// upstreamRow is an Upstream event with one result row whose extra keys are
// row (a JSON fragment starting with a comma).
func upstreamRow(status, row string) string {
	return `{"event_type":"RowProbe","event_timeout":null,"event_blocks_parent_completion":false,` +
		`"event_id":"01a2191e-21ca-72bf-8af6-8d08605918e8","event_status":"completed",` +
		`"event_created_at":"2026-11-26T18:28:54.858160170Z",` +
		`"event_results":{"e0e2ae72-d42d-5dc8-b60c-b68dcc89ae9f":{"id":"01a2191e-21cc-71d3-9b48-fa1356a3d044",` +
		`"status":"` + status + `","event_id":"01a2191e-21ca-72bf-8af6-8d08605918e8",` +
		`"handler_id":"e0e2ae72-d42d-5dc8-b60c-b68dcc89ae9f","handler_name":"h",` +
		`"handler_registered_at":"2026-11-26T18:28:54.857842128Z","handler_event_pattern":"RowProbe",` +
		`"eventbus_id":"01a2191e-21c9-70c4-b620-49ac0b83fb3a","eventbus_name":"WorkBus",` +
		`"started_at":"2026-11-26T18:28:54.861688794Z","completed_at":"2026-11-26T18:28:54.862327880Z",` +
		`"event_children":[]` + row + `}}}`
}

// firstRow decodes in, writes it back in Upstream mode and returns the
// written row.
func firstRow(t *testing.T, in string) map[string]any {
	t.Helper()
	ev, err := wire.Unmarshal([]byte(in))
	require.NoError(t, err)
	out := mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)
	for _, r := range decodeJSON(t, out).(map[string]any)["event_results"].(map[string]any) {
		return r.(map[string]any)
	}
	t.Fatalf("no row in %s", out)
	return nil
}

// WIRE-18 (issue 9, 4.3): a row's error that came as a plain string (the
// form the upstream Go port and Python accept) is written back as that
// string, not turned into an object.
func TestRowStringErrorRoundTrips_WIRE18(t *testing.T) {
	row := firstRow(t, upstreamRow("error", `,"error":"card declined"`))
	assert.Equal(t, "card declined", row["error"])
	ev, err := wire.Unmarshal([]byte(upstreamRow("error", `,"error":"card declined"`)))
	require.NoError(t, err)
	rerr := engine.Core(ev).Rows()[0].Error()
	var re *wire.RemoteError
	require.ErrorAs(t, rerr, &re)
	assert.Equal(t, "card declined", re.Message)
}

// WIRE-4, WIRE-19 (issue 9, 4.3): handler_timeout 0 and null mean different
// things to TypeScript (0 stops the fall-through to event_handler_timeout),
// so 0 comes back as 0, null (or a missing key) as no key, and a value as
// itself; in ringbus both 0 and null leave the handler's timeout unset.
func TestRowHandlerTimeoutZeroIsNotNull_WIRE19(t *testing.T) {
	row := firstRow(t, upstreamRow("completed", `,"handler_timeout":0,"result":1`))
	assert.Equal(t, json.Number("0"), row["handler_timeout"])
	row = firstRow(t, upstreamRow("completed", `,"handler_timeout":null,"result":1`))
	assert.NotContains(t, row, "handler_timeout")
	row = firstRow(t, upstreamRow("completed", `,"handler_timeout":2.5,"result":1`))
	assert.Equal(t, json.Number("2.5"), row["handler_timeout"])

	ev, err := wire.Unmarshal([]byte(upstreamRow("completed", `,"handler_timeout":0,"result":1`)))
	require.NoError(t, err)
	assert.Zero(t, engine.Core(ev).Rows()[0].Handler().Timeout(), "0 leaves the timeout unset (TIMEOUT-3)")
}

// WIRE-4 (issue 9, 4.3): a json.Number beyond the float64 range is Infinity
// to JavaScript and Python, which no JSON can carry back: it is refused like
// NaN, with ErrEncode, in a payload field and in a result.
func TestEncodeRefusesInfiniteNumber_WIRE4(t *testing.T) {
	for _, n := range []string{"1e400", "-1e400", "1" + strings.Repeat("0", 400)} {
		ev, err := engine.NewEvent("BigNumber", map[string]any{"n": json.Number(n)})
		require.NoError(t, err)
		_, err = wire.Marshal(ev)
		require.ErrorIs(t, err, wire.ErrEncode, n)

		ev, err = engine.NewEvent("BigNumber", map[string]any{"n": map[string]any{"deep": []any{json.Number(n)}}})
		require.NoError(t, err)
		_, err = wire.Marshal(ev)
		require.ErrorIs(t, err, wire.ErrEncode, n)
	}
	for _, n := range []string{"1e308", "-1.5e-400", "123456789012345678901234567890"} {
		ev, err := engine.NewEvent("BigNumber", map[string]any{"n": json.Number(n)})
		require.NoError(t, err)
		out, err := wire.Marshal(ev)
		require.NoError(t, err, n)
		assert.Contains(t, string(out), `"n":`+n)
	}
}

type FirstField struct {
	api.Event[string]
	First int `json:"first"`
}

type TSReservedField struct {
	api.Event[string]
	R string `json:"eventResult"`
}

// WIRE-9 (issue 9, 4.2): "first" is reserved only by abxbus 2.4.2: the
// decoder accepts it as a payload field (TypeScript and the current Python
// do), the Upstream writer writes it, and the Compat242 writer, whose reader
// is 2.4.2, refuses it with ErrReservedField.
func TestPayloadFieldFirst_WIRE9(t *testing.T) {
	in := `{"event_type":"HasFirst","event_timeout":null,"first":true,"n":1}`
	ev, err := wire.Unmarshal([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, true, engine.Core(ev).Fields()["first"])
	out, err := wire.Encoder{Mode: wire.Upstream}.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"first":true`)
	_, err = wire.Marshal(ev)
	require.ErrorIs(t, err, wire.ErrReservedField)
	require.ErrorIs(t, err, wire.ErrEncode)

	typed := &FirstField{First: 3}
	out, err = wire.Encoder{Mode: wire.Upstream}.Marshal(typed)
	require.NoError(t, err)
	back, err := wire.Unmarshal(out)
	require.NoError(t, err)
	require.IsType(t, &FirstField{}, back)
	assert.Equal(t, 3, back.(*FirstField).First)
	_, err = wire.Marshal(typed)
	require.ErrorIs(t, err, wire.ErrReservedField)
}

// WIRE-9 (issue 9, 4.2): TypeScript reserves eventResult and
// eventResultsList (its Redis and socket listeners crash on an event that
// has them): such a payload is read, but never written, in either mode;
// a Go type with such a field cannot be declared.
func TestPayloadFieldsTSReserved_WIRE9(t *testing.T) {
	for _, k := range []string{"eventResult", "eventResultsList"} {
		ev, err := wire.Unmarshal([]byte(`{"event_type":"HasReserved","event_timeout":null,"` + k + `":1}`))
		require.NoError(t, err, k)
		for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}} {
			_, err = enc.Marshal(ev)
			require.ErrorIs(t, err, wire.ErrReservedField, k)
			require.ErrorIs(t, err, wire.ErrEncode, k)
		}
		ev, err = engine.NewEvent("HasReserved", map[string]any{"nested": map[string]any{k: 1}})
		require.NoError(t, err)
		_, err = wire.Encoder{Mode: wire.Upstream}.Marshal(ev)
		require.NoError(t, err, "only top-level payload names are reserved")
	}
	_, err := wire.DeclareFor[TSReservedField, string](engine.TypeOptions{})
	require.ErrorIs(t, err, wire.ErrUnsupportedType)
	require.ErrorIs(t, err, wire.ErrReservedField)
	_, err = wire.Encoder{Mode: wire.Upstream}.Marshal(&TSReservedField{R: "x"})
	require.ErrorIs(t, err, wire.ErrReservedField)
}

type NumberPayload struct {
	api.Event[string]
	N json.Number `json:"n"`
}

type NumberComposite struct {
	api.Event[string]
	N    json.Number    `json:"n"`
	Tags map[string]any `json:"tags"`
}

// WIRE-4 (issue 9, 4.3): a json.Number field of a typed payload is written
// as a JSON number (as encoding/json writes it), and refused beyond the
// float64 range, in a typed payload and in a handler result of a Go type.
func TestTypedNumberFields_WIRE4(t *testing.T) {
	out, err := wire.Marshal(&NumberPayload{N: "12.5"})
	require.NoError(t, err)
	assert.Contains(t, string(out), `"n":12.5}`)
	back, err := wire.Unmarshal(out)
	require.NoError(t, err)
	if bp, ok := back.(*NumberPayload); ok {
		assert.Equal(t, json.Number("12.5"), bp.N)
	}

	_, err = wire.Marshal(&NumberPayload{N: "1e400"})
	require.ErrorIs(t, err, wire.ErrEncode)
	_, err = wire.Marshal(&NumberComposite{N: "1", Tags: map[string]any{"x": json.Number("-1e400")}})
	require.ErrorIs(t, err, wire.ErrEncode)
	out, err = wire.Marshal(&NumberComposite{N: "1", Tags: map[string]any{"x": "1e400", "y": json.Number("2e10")}})
	require.NoError(t, err, "a string that looks like a big number is a string")
	assert.Contains(t, string(out), `"tags":{"x":"1e400","y":2e10}`)

	ctx := context.Background()
	bus, err := api.NewBus("BigResultBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	type big struct {
		V json.Number `json:"v"`
	}
	_, err = api.OnType(bus, "BigResult", func(ctx context.Context, e *api.BaseEvent) (any, error) { return big{V: "1e999"}, nil })
	require.NoError(t, err)
	ev, err := api.NewEvent("BigResult", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, ev))
	require.NoError(t, ev.Wait(ctx))
	_, err = wire.Encoder{Mode: wire.Upstream}.Marshal(ev)
	require.ErrorIs(t, err, wire.ErrEncode)
}

// WIRE-21 (issue 9, 4.3): in a bus snapshot too, a handler's
// handler_timeout of 0 is written back as 0 and null as null.
func TestBusHandlerTimeoutZero_WIRE21(t *testing.T) {
	const busID = "01a2191e-21c9-70c4-b620-49ac0b83fb3a"
	handler := func(id, timeout string) string {
		return `"` + id + `":{"id":"` + id + `","handler_name":"h` + id[:2] + `","handler_file_path":null,"handler_timeout":` + timeout +
			`,"handler_slow_timeout":null,"handler_registered_at":"2026-11-26T18:28:54.857842128Z","event_pattern":"X",` +
			`"eventbus_name":"SnapBus","eventbus_id":"` + busID + `"}`
	}
	const zero, null = "e0e2ae72-d42d-5dc8-b60c-b68dcc89ae9f", "abe8a770-9dac-5c96-94f0-356af9e28aa7"
	in := `{"id":"` + busID + `","name":"SnapBus","handlers":{` + handler(zero, "0") + `,` + handler(null, "null") + `}}`
	bus, err := wire.UnmarshalBus([]byte(in))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	out, err := wire.MarshalBus(bus, wire.Encoder{Mode: wire.Upstream})
	require.NoError(t, err)
	hs := decodeJSON(t, out).(map[string]any)["handlers"].(map[string]any)
	assert.Equal(t, json.Number("0"), hs[zero].(map[string]any)["handler_timeout"])
	assert.Nil(t, hs[null].(map[string]any)["handler_timeout"])
	assert.Contains(t, hs[null].(map[string]any), "handler_timeout", "WIRE-21 writes every key")
}
