package wire_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

type (
	OrderPlaced struct {
		api.Event[string]
		OrderID string         `json:"order_id"`
		Total   float64        `json:"total"`
		Items   []string       `json:"items"`
		Meta    map[string]int `json:"meta,omitempty"`
		Note    *string        `json:"note"`
		secret  int
	}
	ChargeCard struct {
		api.Event[float64]
		OrderID string  `json:"order_id"`
		Amount  float64 `json:"amount"`
	}
	declinedError struct{ code string }
)

func (e *declinedError) Error() string    { return "card declined: " + e.code }
func (e *declinedError) TypeName() string { return "CardDeclinedError" }

// quiet keeps the expected handler failures out of the test output.
var quiet = engine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func init() {
	mustDeclare(wire.DeclareFor[OrderPlaced, string](engine.TypeOptions{}))
	mustDeclare(wire.DeclareFor[ChargeCard, float64](engine.TypeOptions{}))
}

// runShop processes an OrderPlaced on two buses (forwarded) with a child
// event, a failing handler and a wildcard handler returning a map (which
// fails the declared string schema, RTYPE-2).
func runShop(t *testing.T) (*OrderPlaced, *ChargeCard) {
	t.Helper()
	ctx := context.Background()
	// The buses stay open until the test ends: a stopped bus is renamed
	// (STOP-3), and rows report their bus's current name.
	shop, err := api.NewBus("ShopBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, shop.Close()) })
	audit, err := api.NewBus("AuditBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, audit.Close()) })

	var charge *ChargeCard
	_, err = api.On(shop, func(ctx context.Context, c *ChargeCard) (float64, error) { return c.Amount * 2, nil })
	require.NoError(t, err)
	_, err = api.On(shop, func(ctx context.Context, o *OrderPlaced) (string, error) {
		charge = &ChargeCard{OrderID: o.OrderID, Amount: o.Total}
		if err := shop.Emit(ctx, charge); err != nil {
			return "", err
		}
		// The wildcard audit handler's map fails ChargeCard's number schema
		// (RTYPE-2): read the typed handler's value past that error.
		v, err := charge.Result(ctx, api.IgnoreErrors())
		return "paid " + o.OrderID + " " + time.Duration(v).String(), err
	}, engine.WithHandlerName("orders.place"), engine.WithHandlerTimeout(1500*time.Millisecond))
	require.NoError(t, err)
	_, err = api.On(shop, func(ctx context.Context, o *OrderPlaced) (string, error) {
		return "", &declinedError{code: "51"}
	}, engine.WithHandlerName("orders.decline"))
	require.NoError(t, err)
	_, err = api.OnAll(shop, func(ctx context.Context, e *api.BaseEvent) (any, error) {
		return map[string]any{"seen": e.Type(), "n": 1}, nil
	}, engine.WithHandlerName("audit.all"))
	require.NoError(t, err)
	_, err = shop.Forward("OrderPlaced", audit)
	require.NoError(t, err)
	_, err = api.OnType(audit, "OrderPlaced", func(ctx context.Context, e *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)

	note := "leave at door"
	o := &OrderPlaced{OrderID: "A-1", Total: 42.5, Items: []string{"x", "ü"}, Meta: map[string]int{"b": 2, "a": 1}, Note: &note, secret: 7}
	o.SetTimeout(90 * time.Second)
	o.SetHandlerSlowTimeout(2500 * time.Millisecond)
	o.SetConcurrency(engine.ParallelEvents)
	require.NoError(t, shop.Emit(ctx, o))
	require.NoError(t, o.Wait(ctx))
	require.NotNil(t, charge)
	require.NoError(t, charge.Wait(ctx))
	return o, charge
}

// Events written by ringbus decode to equal values, in both modes, and a
// second encoding is byte-identical to the first.
func TestRingbusEventsRoundTrip(t *testing.T) {
	o, charge := runShop(t)
	for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}, {Mode: wire.Upstream, ResultsAsList: true}} {
		for _, ev := range []engine.Eventer{o, charge} {
			out, err := enc.Marshal(ev)
			require.NoError(t, err)
			back, err := wire.Unmarshal(out)
			require.NoError(t, err, "%s", out)
			out2, err := enc.Marshal(back)
			require.NoError(t, err)
			assert.Equal(t, string(out), string(out2))

			a, b := engine.StateOf(engine.Core(ev)), engine.StateOf(engine.Core(back))
			assert.Equal(t, a.ID, b.ID)
			assert.Equal(t, a.Type, b.Type)
			assert.Equal(t, a.CreatedAt, b.CreatedAt)
			assert.Equal(t, a.StartedAt, b.StartedAt)
			assert.Equal(t, a.CompletedAt, b.CompletedAt)
			assert.Equal(t, a.Status, b.Status)
			assert.Equal(t, a.Path, b.Path)
			assert.Equal(t, a.ParentID, b.ParentID)
			assert.Equal(t, a.EmittedBy, b.EmittedBy)
			assert.Equal(t, a.Timeout, b.Timeout)
			assert.Equal(t, a.HandlerSlowTimeout, b.HandlerSlowTimeout)
			assert.Equal(t, a.Concurrency, b.Concurrency)
			if enc.Mode == wire.Compat242 {
				assert.Empty(t, b.Rows)
				continue
			}
			require.Len(t, b.Rows, len(a.Rows))
			for i := range a.Rows {
				ra, rb := a.Rows[i], b.Rows[i]
				assert.Equal(t, ra.ID, rb.ID)
				assert.Equal(t, ra.Status, rb.Status)
				assert.Equal(t, ra.Handler, rb.Handler)
				assert.Equal(t, ra.StartedAt, rb.StartedAt)
				assert.Equal(t, ra.CompletedAt, rb.CompletedAt)
				assert.Equal(t, ra.Children, rb.Children)
				if ra.Err != nil {
					assert.Equal(t, engine.ErrorTypeName(ra.Err), engine.ErrorTypeName(rb.Err))
					assert.Equal(t, ra.Err.Error(), rb.Err.(*wire.RemoteError).Message)
				}
			}
		}
	}
	back, err := wire.Unmarshal(mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, o))
	require.NoError(t, err)
	bo := back.(*OrderPlaced)
	assert.Equal(t, o.OrderID, bo.OrderID)
	assert.Equal(t, o.Total, bo.Total)
	assert.Equal(t, o.Items, bo.Items)
	assert.Equal(t, o.Meta, bo.Meta)
	assert.Equal(t, *o.Note, *bo.Note)
	assert.Zero(t, bo.secret, "unexported fields are not on the wire")
}

func mustMarshal(t *testing.T, enc wire.Encoder, e engine.Eventer) []byte {
	t.Helper()
	out, err := enc.Marshal(e)
	require.NoError(t, err)
	return out
}

// rowKeys are the keys of an EventResult (wire.md §3).
var rowKeys = []string{"id", "status", "event_id", "handler_id", "handler_name", "handler_file_path", "handler_timeout",
	"handler_slow_timeout", "handler_registered_at", "handler_event_pattern", "eventbus_id", "eventbus_name",
	"started_at", "completed_at", "result", "error", "event_children"}

// The JSON ringbus writes for a processed event: the fields of wire.md §2.1
// and §3, with the values the engine holds.
func TestRingbusEventJSON(t *testing.T) {
	o, charge := runShop(t)
	m := decodeJSON(t, mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, o)).(map[string]any)
	assert.Equal(t, map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}, m["event_result_type"])
	assert.Equal(t, json.Number("90"), m["event_timeout"])
	assert.Equal(t, json.Number("2.5"), m["event_handler_slow_timeout"])
	assert.Equal(t, "parallel", m["event_concurrency"])
	assert.Nil(t, m["event_handler_completion"])
	assert.Equal(t, false, m["event_blocks_parent_completion"])
	assert.Equal(t, []any{"x", "ü"}, m["items"])
	assert.Equal(t, map[string]any{"a": json.Number("1"), "b": json.Number("2")}, m["meta"])
	assert.Equal(t, "completed", m["event_status"])
	for _, k := range []string{"event_created_at", "event_started_at", "event_completed_at"} {
		s := m[k].(string)
		assert.Len(t, s, 30, k)
		assert.True(t, strings.HasSuffix(s, "Z"))
	}
	path := m["event_path"].([]any)
	require.Len(t, path, 2)
	assert.True(t, strings.HasPrefix(path[0].(string), "ShopBus#"))
	assert.True(t, strings.HasPrefix(path[1].(string), "AuditBus#"))

	results := m["event_results"].(map[string]any)
	byName := map[string]map[string]any{}
	for hid, r := range results {
		row := r.(map[string]any)
		assert.Equal(t, hid, row["handler_id"])
		for k := range row {
			assert.Contains(t, rowKeys, k, "only the keys of §3")
		}
		byName[row["handler_name"].(string)] = row
	}
	place := byName["orders.place"]
	require.NotNil(t, place)
	assert.Equal(t, "completed", place["status"])
	assert.Equal(t, json.Number("1.5"), place["handler_timeout"])
	assert.Equal(t, []any{charge.ID()}, place["event_children"])
	assert.Equal(t, "ShopBus", place["eventbus_name"])
	assert.Equal(t, map[string]any{"type": "CardDeclinedError", "message": "card declined: 51"}, byName["orders.decline"]["error"])
	assert.Equal(t, "error", byName["audit.all"]["status"], "a map is not a string (RTYPE-2)")
	assert.Equal(t, "EventHandlerResultSchemaError", byName["audit.all"]["error"].(map[string]any)["type"])
	for name, row := range byName {
		if strings.Contains(name, "Forward") || strings.Contains(name, "forward") {
			assert.Nil(t, row["result"], "a forwarding row's value is the event itself: written as null")
		}
	}

	c := decodeJSON(t, mustMarshal(t, wire.Encoder{}, charge)).(map[string]any)
	assert.Equal(t, o.ID(), c["event_parent_id"])
	assert.Equal(t, place["handler_id"], c["event_emitted_by_handler_id"])
	assert.Equal(t, map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "number"}, c["event_result_type"])
}

// Untyped events keep their payload losslessly (json.Number) and can be
// read raw.
func TestUntypedPayload(t *testing.T) {
	ev, err := engine.NewEvent("LooseEvent", map[string]any{
		"big": json.Number("12345678901234567890"), "f": 1.25, "s": "a\"b<\u2028", "nested": map[string]any{"z": []any{true, nil}},
		"when": time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
	})
	require.NoError(t, err)
	out, err := wire.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"big":12345678901234567890`)
	assert.Contains(t, string(out), `"s":"a\"b<\u2028"`)
	assert.Contains(t, string(out), `"when":"2030-01-02T03:04:05.000000006Z"`)

	back, err := wire.Unmarshal(out)
	require.NoError(t, err)
	f := engine.Core(back).Fields()
	assert.Equal(t, json.Number("12345678901234567890"), f["big"])
	assert.Equal(t, json.Number("1.25"), f["f"])
	assert.Equal(t, "a\"b<\u2028", f["s"])
	assert.Equal(t, map[string]any{"z": []any{true, nil}}, f["nested"])
	out2, err := wire.Marshal(back)
	require.NoError(t, err)
	assert.Equal(t, string(out), string(out2))

	raw, err := wire.Decoder{RawFields: true}.Unmarshal(out)
	require.NoError(t, err)
	assert.Equal(t, json.RawMessage(`{"z":[true,null]}`), engine.Core(raw).Fields()["nested"])
	out3, err := wire.Marshal(raw)
	require.NoError(t, err)
	assert.Equal(t, string(out), string(out3))
}

// Typed events keep unknown payload keys verbatim.
func TestTypedUnknownPayloadKept(t *testing.T) {
	in := `{"event_type":"WorkEvent","job":"j","extra_key":{"b":[1,2.50]}}`
	ev, err := wire.Unmarshal([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, "j", ev.(*WorkEvent).Job)
	out, err := wire.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"extra_key":{"b":[1,2.50]}`)
}

// Decoding never retains the input buffer.
func TestDecodeDoesNotRetainInput(t *testing.T) {
	vecs := loadVectors(t)
	for _, name := range sortedKeys(vecs) {
		for _, dec := range []wire.Decoder{{}, {Untyped: true}, {Untyped: true, RawFields: true}} {
			buf := append([]byte(nil), vecs[name]...)
			ev, err := dec.Unmarshal(buf)
			require.NoError(t, err)
			want := mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)
			for i := range buf {
				buf[i] = 'x'
			}
			assert.Equal(t, string(want), string(mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)), name)
		}
	}
}

func TestUnmarshalInto(t *testing.T) {
	var w WorkEvent
	require.NoError(t, wire.UnmarshalInto([]byte(`{"event_type":"WorkEvent","job":"j9","event_version":"2.0"}`), &w))
	assert.Equal(t, "j9", w.Job)
	assert.Equal(t, "2.0", w.Version())

	// A different event_type becomes the instance's type.
	var p ParentEvent
	require.NoError(t, wire.UnmarshalInto([]byte(`{"event_type":"RenamedParent","order_id":"o"}`), &p))
	assert.Equal(t, "RenamedParent", p.Type())
	assert.Equal(t, "o", p.OrderID)

	var u engine.Event
	require.NoError(t, wire.UnmarshalInto([]byte(`{"event_type":"Loose","x":1}`), &u))
	assert.Equal(t, json.Number("1"), u.Fields()["x"])

	// Not into an emitted event.
	bus, err := api.NewBus("IntoBus", quiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	e2 := &WorkEvent{Job: "a"}
	require.NoError(t, bus.Emit(context.Background(), e2))
	require.NoError(t, e2.Wait(context.Background()))
	err = wire.UnmarshalInto([]byte(`{"event_type":"WorkEvent","job":"b"}`), e2)
	assert.ErrorIs(t, err, wire.ErrBadValue)
}

// RESET-2..4: a reset copy of a received event runs on a new bus; the
// original keeps its results; unexported payload is copied too.
func TestResetAndReemit(t *testing.T) {
	o, _ := runShop(t)
	fresh, err := wire.Reset(o)
	require.NoError(t, err)
	fo := fresh.(*OrderPlaced)
	assert.Equal(t, 7, fo.secret)
	assert.Equal(t, o.Items, fo.Items)
	assert.Equal(t, engine.StatusPending, fo.Status())
	assert.Empty(t, fo.Rows())
	assert.Equal(t, o.Path(), fo.Path())
	assert.Equal(t, o.CreatedTime(), fo.CreatedTime())
	to, ok := fo.Timeout()
	assert.True(t, ok)
	assert.Equal(t, 90*time.Second, to)

	bus, err := api.NewBus("ResetBus", quiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	_, err = api.On(bus, func(ctx context.Context, o *OrderPlaced) (string, error) { return "again " + o.OrderID, nil })
	require.NoError(t, err)
	require.NoError(t, bus.Emit(context.Background(), fo))
	v, err := fo.Result(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "again A-1", v)
	assert.Len(t, fo.Path(), 3)
	assert.Len(t, o.Path(), 2)

	// A received (decoded) event, reset, runs the same way.
	back, err := wire.Unmarshal(mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, o))
	require.NoError(t, err)
	again, err := wire.Reset(back)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(context.Background(), again))
	v, err = again.(*OrderPlaced).Result(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "again A-1", v)
}

// The bus of a row read from the wire is a closed placeholder on which
// every Bus method is safe.
func TestRemoteBusIsSafe(t *testing.T) {
	vecs := loadVectors(t)
	ev, err := wire.Unmarshal(vecs["04_parent_forwarded.json"])
	require.NoError(t, err)
	r := engine.Core(ev).Rows()[0]
	b := r.Bus()
	require.NotNil(t, b)
	assert.Equal(t, "OriginBus", b.Name())
	assert.Equal(t, "OriginBus#0030", b.Label())
	assert.True(t, b.IsClosed())
	assert.True(t, engine.IsDetached(r.Handler()))
	ctx := context.Background()
	assert.ErrorIs(t, b.Emit(ctx, &WorkEvent{}), engine.ErrBusClosed)
	_, err = b.On("X", func(context.Context, *engine.Event) (any, error) { return nil, nil })
	assert.Error(t, err)
	_ = b.String()
	_ = b.LogTree()
	_ = b.History()
	_ = b.Handlers()
	_ = b.HandlersFor("*")
	_ = b.QueueLen()
	_, _ = b.Find(ctx, "*")
	require.NoError(t, b.WaitUntilIdle(ctx))
	require.NoError(t, b.Close())
	_ = b.Stop(ctx)
	_ = r.String()
	_ = r.Timeout()
	r.Handler().Off()
	assert.Equal(t, "OriginBus", engine.Core(ev).Rows()[0].Bus().Name(), "still named after Close")
	for _, k := range engine.Core(ev).Children() {
		_ = k.String()
		_ = k.Label()
	}
}

// ERU-5 with a live handler: a pending row seeded from the wire for a
// handler the processing bus has is run by that handler. This needs the
// engine to bind a seeded row to the live handler (makeRows keeps the
// detached one today); see the wire issue report.
func TestSeededPendingRowRuns(t *testing.T) {
	bus, err := api.NewBus("SeedBus", quiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	h, err := api.On(bus, func(ctx context.Context, w *WorkEvent) (string, error) { return "ran", nil })
	require.NoError(t, err)
	d := engine.DescOf(h)
	in := `{"event_type":"WorkEvent","job":"s","event_results":{"` + d.ID.String() + `":{"status":"pending","handler_name":"` + d.Name +
		`","eventbus_id":"` + bus.ID() + `","eventbus_name":"SeedBus"}}}`
	ev, err := wire.Unmarshal([]byte(in))
	require.NoError(t, err)
	require.NoError(t, bus.Emit(context.Background(), ev))
	require.NoError(t, engine.Core(ev).Wait(context.Background()))
	rows := engine.Core(ev).Rows()
	require.Len(t, rows, 1)
	require.NoError(t, rows[0].Error(), "ERU-5: a seeded pending row runs the live handler")
	assert.Equal(t, "ran", rows[0].Value())
}

// Encoding and decoding are safe for concurrent use, also on an event in
// flight.
func TestConcurrentCodec(t *testing.T) {
	vecs := loadVectors(t)
	o, _ := runShop(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for _, data := range vecs {
					ev, err := wire.Unmarshal(data)
					if !assert.NoError(t, err) {
						return
					}
					_, err = wire.ShapeOf(data).Marshal(ev)
					assert.NoError(t, err)
				}
				_, err := wire.Encoder{Mode: wire.Upstream}.Marshal(o)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
}

// Encoding an event while it runs gives valid JSON at every moment.
func TestEncodeInFlight(t *testing.T) {
	bus, err := api.NewBus("FlightBus", quiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	release := make(chan struct{})
	_, err = api.On(bus, func(ctx context.Context, w *WorkEvent) (string, error) { <-release; return "ok", nil })
	require.NoError(t, err)
	w := &WorkEvent{Job: "f"}
	require.NoError(t, bus.Emit(context.Background(), w))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			out, err := wire.Encoder{Mode: wire.Upstream}.Marshal(w)
			if !assert.NoError(t, err) || !assert.True(t, json.Valid(out)) {
				return
			}
			_, err = wire.Unmarshal(out)
			assert.NoError(t, err)
		}
	}()
	time.Sleep(time.Millisecond)
	close(release)
	<-done
	require.NoError(t, w.Wait(context.Background()))
}

// WIRE-1: the *api.BaseEvent of a typed event (what a middleware's hook
// receives) encodes the typed payload, byte for byte as the typed value.
func TestBaseEventOfTypedEventKeepsPayload(t *testing.T) {
	bus, err := api.NewBus("BaseOfTypedBus")
	require.NoError(t, err)
	defer func() { _ = bus.Close() }()
	var got *api.BaseEvent
	_, err = api.OnType(bus, "OrderPlaced", func(_ context.Context, e *api.BaseEvent) (any, error) {
		got = e
		return nil, nil
	})
	require.NoError(t, err)
	o := &OrderPlaced{OrderID: "o-1", Total: 9.5, Items: []string{"a"}}
	require.NoError(t, bus.Emit(context.Background(), o))
	require.NoError(t, o.Wait(context.Background()))
	require.NotNil(t, got)
	base := decodeJSON(t, mustMarshal(t, wire.Encoder{}, got)).(map[string]any)
	assert.Equal(t, "o-1", base["order_id"])
	assert.Equal(t, decodeJSON(t, mustMarshal(t, wire.Encoder{}, o)), base)
}

func TestDecoderResetEqualsResetOfDecoded_RESET1(t *testing.T) {
	// Decoder.Reset gives what Unmarshal then Reset gives, but for the id:
	// for a completed typed event with rows and for an untyped one.
	o, _ := runShop(t)
	untyped, err := api.NewEvent("Loose", map[string]any{"k": []any{1, "x"}})
	require.NoError(t, err)
	for _, src := range []engine.Eventer{o, untyped} {
		data := mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, src)
		plain, err := wire.Unmarshal(data)
		require.NoError(t, err)
		want, err := wire.Reset(plain)
		require.NoError(t, err)
		got, err := wire.Decoder{Reset: true}.Unmarshal(data)
		require.NoError(t, err)
		assert.NotEqual(t, engine.Core(plain).ID(), engine.Core(got).ID(), "a new id")
		assert.Equal(t, engine.StatusPending, engine.Core(got).Status())
		assert.Empty(t, engine.Core(got).Rows())
		var w, g map[string]any
		require.NoError(t, json.Unmarshal(mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, want), &w))
		require.NoError(t, json.Unmarshal(mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, got), &g))
		delete(w, "event_id")
		delete(g, "event_id")
		assert.Equal(t, w, g)
	}
}
