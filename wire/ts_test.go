package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/internal/tspeer"
	"github.com/ringbus/ringbus/schema"
	"github.com/ringbus/ringbus/wire"
)

// tsReport is what interop/ts/check.mjs prints.
type tsReport struct {
	Events []struct {
		Name                  string          `json:"name"`
		Error                 string          `json:"error"`
		EventResult           json.RawMessage `json:"eventResult"`
		EventResultError      string          `json:"eventResultError"`
		EventResultsList      json.RawMessage `json:"eventResultsList"`
		EventResultsListError string          `json:"eventResultsListError"`
		JSON                  json.RawMessage `json:"json"`
	} `json:"events"`
	Schemas []struct {
		Name     string `json:"name"`
		Accepted []bool `json:"accepted"`
	} `json:"schemas"`
}

type tsSchemaCase struct {
	Name   string            `json:"name"`
	Schema json.RawMessage   `json:"schema"`
	Values []json.RawMessage `json:"values"`
}

// runTS writes the events and schema cases to a temporary folder and runs
// check.mjs on them with the official TypeScript package, installing it
// into interop/ts first when node_modules is missing. Without node or npm
// the test is skipped, or fails under CI=true.
func runTS(t *testing.T, events map[string][]byte, schemas []tsSchemaCase) *tsReport {
	t.Helper()
	manifest := struct {
		Events  []tspeer.EventFile `json:"events"`
		Schemas []tsSchemaCase     `json:"schemas"`
	}{Events: tspeer.WriteEvents(t, events), Schemas: schemas}
	var rep tsReport
	tspeer.Run(t, "check.mjs", manifest, &rep)
	return &rep
}

type TSOrder struct {
	api.Event[string]
	OrderID string `json:"order_id"`
}

func init() {
	mustDeclare(wire.DeclareFor[TSOrder, string](engine.TypeOptions{}))
}

// RT-6 (b) (issue 9, 4.1-4.3): events ringbus writes in Upstream mode, read
// by the official TypeScript package 2.5.56: a completed event gives its
// handlers' values to eventResult() and eventResultsList(), a failed row
// still fails them, and the fields of 4.2 and 4.3 survive TypeScript's
// fromJSON/toJSON and read back in Go.
func TestTypeScriptReadsRingbusEvents_RT6(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := api.NewBus("TSLiveBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	up := wire.Encoder{Mode: wire.Upstream}
	events := map[string][]byte{}

	_, err = api.OnType(bus, "TSUntyped", func(ctx context.Context, e *api.BaseEvent) (any, error) { return "a", nil },
		api.WithHandlerName("first_handler"))
	require.NoError(t, err)
	_, err = api.OnType(bus, "TSUntyped", func(ctx context.Context, e *api.BaseEvent) (any, error) { return 7, nil },
		api.WithHandlerName("second_handler"))
	require.NoError(t, err)
	// A payload field named first (engine.NewEvent still refuses the name;
	// the decoder accepts it).
	untyped, err := wire.Unmarshal([]byte(`{"event_type":"TSUntyped","event_timeout":null,"first":true,"n":1}`))
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, untyped))
	require.NoError(t, engine.Core(untyped).Wait(ctx))
	events["untyped"] = mustMarshal(t, up, untyped)

	_, err = api.On(bus, func(ctx context.Context, o *TSOrder) (string, error) { return "saved " + o.OrderID, nil })
	require.NoError(t, err)
	order := &TSOrder{OrderID: "o-1"}
	require.NoError(t, bus.Emit(ctx, order))
	require.NoError(t, order.Wait(ctx))
	events["typed"] = mustMarshal(t, up, order)

	_, err = api.OnType(bus, "TSFails", func(ctx context.Context, e *api.BaseEvent) (any, error) {
		return nil, errors.New("card declined")
	})
	require.NoError(t, err)
	fails, err := api.NewEvent("TSFails", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, fails))
	require.NoError(t, fails.Wait(ctx))
	events["failed"] = mustMarshal(t, up, fails)

	for name, row := range map[string]string{
		"string_error": `,"error":"card declined"`,
		"timeout_zero": `,"handler_timeout":0,"result":"x"`,
	} {
		status := "completed"
		if name == "string_error" {
			status = "error"
		}
		ev, err := wire.Unmarshal([]byte(upstreamRow(status, row)))
		require.NoError(t, err)
		events[name] = mustMarshal(t, up, ev)
	}

	rep := runTS(t, events, nil)
	got := map[string]int{}
	for i, e := range rep.Events {
		got[e.Name] = i
		require.Empty(t, e.Error, "%s: TypeScript could not read the event", e.Name)
		back, err := wire.Unmarshal(e.JSON)
		require.NoError(t, err, "%s: TypeScript's toJSON does not read back: %s", e.Name, e.JSON)
		require.Equal(t, engine.StateOf(engine.Core(back)).Status, engine.StatusCompleted, e.Name)
	}
	require.Len(t, got, len(events))
	ev := func(name string) map[string]any { return decodeJSON(t, rep.Events[got[name]].JSON).(map[string]any) }
	row := func(name string) map[string]any {
		for _, r := range ev(name)["event_results"].(map[string]any) {
			return r.(map[string]any)
		}
		t.Fatalf("%s: no result row", name)
		return nil
	}

	u := rep.Events[got["untyped"]]
	assert.Empty(t, u.EventResultError)
	assert.JSONEq(t, `"a"`, string(u.EventResult), "eventResult() of a completed event")
	assert.Empty(t, u.EventResultsListError)
	assert.JSONEq(t, `["a",7]`, string(u.EventResultsList), "eventResultsList() of a completed event")
	assert.Equal(t, true, ev("untyped")["first"], "a payload field named first")

	o := rep.Events[got["typed"]]
	assert.Empty(t, o.EventResultError)
	assert.JSONEq(t, `"saved o-1"`, string(o.EventResult))
	assert.JSONEq(t, `["saved o-1"]`, string(o.EventResultsList))
	assert.Equal(t, "o-1", ev("typed")["order_id"])

	f := rep.Events[got["failed"]]
	// TypeScript makes the {"type","message"} object (WIRE-18) an
	// Error("[object Object]"): the row fails, with an unhelpful text.
	assert.NotEmpty(t, f.EventResultError, "a failed row still fails eventResult()")
	assert.NotEmpty(t, f.EventResultsListError)

	assert.Equal(t, "card declined", row("string_error")["error"], "a string error stays a string")
	assert.Equal(t, json.Number("0"), row("timeout_zero")["handler_timeout"], "handler_timeout 0 stays 0")
	assert.JSONEq(t, `"x"`, string(rep.Events[got["timeout_zero"]].EventResult))
}

// SCHEMA-6, RTYPE-5 (issue 9, 4.5): the official TypeScript package (Zod's
// JSON Schema conversion) and ringbus's validator accept and reject the same
// result values: the integer bounds of derived schemas, the formats Zod
// enforces (date-time, date, time, email, uuid, ipv4, ipv6) and contains.
func TestTypeScriptSchemaAgreement_RT6(t *testing.T) {
	derived := func(s *schema.Schema, err error) json.RawMessage {
		require.NoError(t, err)
		return json.RawMessage(s.String())
	}
	vals := func(vs ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(vs))
		for i, v := range vs {
			out[i] = json.RawMessage(v)
		}
		return out
	}
	str := func(ss ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(ss))
		for i, s := range ss {
			b, _ := json.Marshal(s)
			out[i] = b
		}
		return out
	}
	format := func(f string) json.RawMessage { return json.RawMessage(`{"type":"string","format":"` + f + `"}`) }
	cases := []tsSchemaCase{
		{"int64", derived(schema.For[int64]()), vals("0", "9007199254740991", "9007199254740992", "-9007199254740991", "-9007199254740992", "1.0", "1.5", "1e300")},
		{"int", derived(schema.For[int]()), vals("-9007199254740991", "-9007199254740993", "42")},
		{"int8", derived(schema.For[int8]()), vals("127", "128", "-128", "-129")},
		{"uint64", derived(schema.For[uint64]()), vals("0", "-1", "9007199254740991", "9007199254740992")},
		{"struct with int", derived(schema.For[struct {
			Quota int64 `json:"quota"`
		}]()), vals(`{"quota":1}`, `{"quota":9007199254740993}`, `{}`)},
		{"time.Time", derived(schema.For[time.Time]()), str(
			time.Date(2026, 11, 26, 18, 28, 54, 858160170, time.UTC).Format(time.RFC3339Nano),
			time.Date(2026, 11, 26, 18, 28, 54, 0, time.FixedZone("", 3600)).Format(time.RFC3339Nano),
			"2026-11-26", "yesterday")},
		{"date-time", format("date-time"), str("2026-11-26T18:28:54.858160170Z", "2026-11-26T18:28:54Z", "2026-11-26T18:28Z",
			"2026-11-26T18:28:54+02:00", "2026-11-26T18:28:54-00:00", "2026-11-26t18:28:54z", "2026-11-26 18:28:54Z",
			"2026-13-26T18:28:54Z", "2026-02-30T18:28:54Z", "2024-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
			"2000-02-29T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T23:59:60Z", "2026-11-26T18:28:54.Z",
			"2026-11-26T18:28:54.1234567890123Z", "2026-11-26T18:28:54", "2026-11-26T18:28:54+0200",
			"2026-11-26T18:28:54+24:00", "2026-11-26T18:28:54+02:60", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
			"2026-11-26T18:28:54,1Z", " 2026-11-26T18:28:54Z", "2026-04-31T00:00:00Z", "x", "")},
		{"date", format("date"), str("2026-11-26", "2026-02-30", "2024-02-29", "2023-02-29", "2026-1-2", "2026-11-26T00:00:00Z", "")},
		{"time", format("time"), str("18:28:54Z", "18:28:54.123Z", "18:28:54+02:00", "18:28:54", "18:28Z", "18:28:54.Z", "23:59:60Z", "18:28:54z", "24:00:00Z")},
		{"email", format("email"), str("a@example.com", "a.b@example.com", ".a@example.com", "a..b@example.com", "a.@example.com",
			"a+b@ex-ample.co.uk", "a@example.c", "a@-example.com", "a@example..com", "a@ex_ample.com", "o'neil@example.com",
			"a'@example.com", "A@B.CD", "a b@example.com", "a@example.com.", "ü@example.com", "_a@example.com", "-a@example.com",
			"a%b@example.com", "a@123.com", "a@example.1a", "a@[1.2.3.4]", "a@b", "bad", "a@b@c.de", "@example.com", "a@b-.com")},
		{"uuid", format("uuid"), str("01a2191e-21ca-72bf-8af6-8d08605918e8", "01A2191E-21CA-72BF-8AF6-8D08605918E8",
			"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "01a2191e-21ca-02bf-8af6-8d08605918e8",
			"01a2191e-21ca-92bf-8af6-8d08605918e8", "01a2191e-21ca-72bf-caf6-8d08605918e8", "01a2191e21ca72bf8af68d08605918e8", "zz")},
		{"ipv4", format("ipv4"), str("1.2.3.4", "0.0.0.0", "255.255.255.255", "1.2.3.256", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::1")},
		{"ipv6", format("ipv6"), str("::1", "::", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
			"fe80::1%eth0", "12345::", "x", "1.2.3.4")},
		{"contains", json.RawMessage(`{"type":"array","contains":{"type":"string"}}`), vals(`[1]`, `[1,"a"]`, `[]`)},
		{"minContains", json.RawMessage(`{"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":3}`),
			vals(`["a"]`, `["a","b"]`, `["a","b","c","d"]`)},
		// Keywords both enforced already, checked to agree.
		{"multipleOf", json.RawMessage(`{"type":"number","multipleOf":0.1}`), vals("0.3", "0.35", "3")},
		{"uniqueItems", json.RawMessage(`{"type":"array","uniqueItems":true}`), vals(`[1,1]`, `[1,2]`, `[{"a":1},{"a":1}]`, `[1,1.0]`)},
		{"oneOf", json.RawMessage(`{"oneOf":[{"type":"integer"},{"type":"number"}]}`), vals("1", "1.5", `"x"`)},
		{"propertyNames", json.RawMessage(`{"type":"object","propertyNames":{"pattern":"^a"}}`), vals(`{"a":1}`, `{"b":1}`)},
		{"minLength", json.RawMessage(`{"type":"string","minLength":2}`), str("😀", "😀😀", "ab", "a")},
		{"additionalProperties", json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`),
			vals(`{"a":"x"}`, `{"a":"x","b":1}`, `{}`)},
		{"nullable", json.RawMessage(`{"anyOf":[{"type":"string"},{"type":"null"}]}`), vals(`null`, `"x"`, `1`)},
	}
	rep := runTS(t, nil, cases)
	require.Len(t, rep.Schemas, len(cases))
	for i, c := range cases {
		s, err := schema.Parse(c.Schema)
		require.NoError(t, err, c.Name)
		for j, v := range c.Values {
			goOK := s.Validate(decodeJSON(t, v)) == nil
			assert.Equal(t, rep.Schemas[i].Accepted[j], goOK, "%s: %s (TypeScript accepts: %v)", c.Name, v, rep.Schemas[i].Accepted[j])
		}
	}
}
