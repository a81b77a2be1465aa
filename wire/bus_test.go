package wire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/wire"
)

const rt3BusID = "018f8e40-1234-7000-8000-00000000bb22"

// newTestBus creates a bus in its own domain, closed when the test ends.
func newTestBus(t *testing.T, name string, opts ...engine.Option) *engine.Bus {
	t.Helper()
	b, err := engine.NewBus(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func restoreBus(t *testing.T, data []byte, opts ...wire.BusOption) *engine.Bus {
	t.Helper()
	b, err := wire.UnmarshalBus(data, opts...)
	if err != nil {
		t.Fatalf("UnmarshalBus: %v\n%s", err, data)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func marshalBus(t *testing.T, b *engine.Bus, enc wire.Encoder) []byte {
	t.Helper()
	data, err := wire.MarshalBus(b, enc)
	if err != nil {
		t.Fatalf("MarshalBus: %v", err)
	}
	if !json.Valid(data) {
		t.Fatalf("MarshalBus wrote invalid JSON: %s", data)
	}
	return data
}

// objectKeys returns the keys of the JSON object at path (keys of nested
// objects, "" for the top level) in document order.
func objectKeys(t *testing.T, data []byte, path ...string) []string {
	t.Helper()
	var raw json.RawMessage = data
	for _, p := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		raw = m[p]
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%v is not an object: %s", path, raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

type rt3Fixture struct {
	dom        *engine.Domain
	src        *engine.Bus
	h1, h2     *engine.Handler
	e1, e2     *engine.Event
	dump       []byte
	dumpObject map[string]any
}

// newRT3 builds RT-3's source bus: two handlers, event 1 pre-seeded with a
// completed row ("seeded") of handler 1 and a pending row of handler 2,
// events 1 and 2 in the history and queued, never processed; then dumps it.
func newRT3(t *testing.T, enc wire.Encoder) *rt3Fixture {
	t.Helper()
	f := &rt3Fixture{dom: engine.NewDomain()}
	f.src = newTestBus(t, "RT3Source", engine.WithID(rt3BusID), engine.WithDetectFilePaths(false),
		engine.WithDomain(f.dom), engine.WithHandlerConcurrency(engine.SerialHandlers), engine.WithCompletion(engine.CompleteAll))
	var err error
	f.h1, err = f.src.On("RT3Event", func(ctx context.Context, e *engine.Event) (any, error) { return "src-h1", nil }, engine.WithHandlerName("handler_one"))
	if err != nil {
		t.Fatal(err)
	}
	f.h2, err = f.src.On("RT3Event", func(ctx context.Context, e *engine.Event) (any, error) { return "src-h2", nil }, engine.WithHandlerName("handler_two"))
	if err != nil {
		t.Fatal(err)
	}
	now := ident.Now()
	f.e1 = new(engine.Event)
	if err := engine.Restore(f.e1, nil, &engine.EventState{
		Type: "RT3Event", Fields: map[string]any{"label": "e1"},
		Timeout: -1, SlowTimeout: -1, HandlerTimeout: -1, HandlerSlowTimeout: -1,
		Rows: []engine.RowState{
			{Status: engine.StatusCompleted, Handler: engine.DescOf(f.h1), Value: "seeded", StartedAt: now, CompletedAt: now},
			{Status: engine.StatusPending, Handler: engine.DescOf(f.h2)},
		},
	}); err != nil {
		t.Fatal(err)
	}
	f.e2, err = engine.NewEvent("RT3Event", map[string]any{"label": "e2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*engine.Event{f.e1, f.e2} {
		if err := engine.RestoreHistory(f.src, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []*engine.Event{f.e1, f.e2} {
		if err := engine.Requeue(f.src, e); err != nil {
			t.Fatal(err)
		}
	}
	f.dump = marshalBus(t, f.src, enc)
	f.dumpObject = decodeJSON(t, f.dump).(map[string]any)
	if got, want := f.dumpObject["pending_event_queue"], []any{f.e1.ID(), f.e2.ID()}; !reflect.DeepEqual(got, want) {
		t.Fatalf("source pending_event_queue = %v, want %v", got, want)
	}
	return f
}

func labelOf(e *engine.Event) string {
	s, _ := e.Fields()["label"].(string)
	return s
}

// rowOf returns e's row of the handler with the given id.
func rowOf(t *testing.T, e *engine.Event, handlerID string) *engine.Result {
	t.Helper()
	for _, r := range e.Rows() {
		if r.HandlerID() == handlerID {
			return r
		}
	}
	t.Fatalf("%s has no row of handler %s", e.Label(), handlerID)
	return nil
}

func historyByID(b *engine.Bus) map[string]*engine.Event {
	m := map[string]*engine.Event{}
	for _, e := range b.History() {
		m[e.ID()] = e
	}
	return m
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (c *callLog) fn(prefix string) engine.HandlerFunc {
	return func(ctx context.Context, e *engine.Event) (any, error) {
		c.mu.Lock()
		c.calls = append(c.calls, labelOf(e))
		c.mu.Unlock()
		return prefix + ":" + labelOf(e), nil
	}
}

func (c *callLog) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// RT-3 (SER-1..3, ERU-5): a bus with two handlers, event 1 pre-seeded with
// one completed row ('seeded') and one pending row, both events queued, is
// dumped, restored, its handlers re-bound, and a third event is emitted:
// all three complete, the seeded value survives, the pending handler runs,
// the queue ends empty, and handlers, handlers_by_key and
// pending_event_queue of the restored bus equal the original dump.
func TestBusSnapshotRT3Resume(t *testing.T) {
	for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}, {Mode: wire.Upstream, ResultsAsList: true}} {
		t.Run(fmt.Sprintf("%s/list=%v", enc.Mode, enc.ResultsAsList), func(t *testing.T) {
			f := newRT3(t, enc)
			restored := restoreBus(t, f.dump, wire.Paused(), wire.WithEngineOptions(engine.WithDomain(f.dom)))
			if restored.Name() != "RT3Source" || restored.ID() != rt3BusID {
				t.Fatalf("restored bus is %s %s, want RT3Source %s (no conflict renaming)", restored.Name(), restored.ID(), rt3BusID)
			}

			// The restored bus dumps the same handlers, index and queue.
			again := decodeJSON(t, marshalBus(t, restored, enc)).(map[string]any)
			for _, k := range []string{"handlers", "handlers_by_key", "pending_event_queue"} {
				if !reflect.DeepEqual(again[k], f.dumpObject[k]) {
					t.Errorf("%s after restore:\n got %v\nwant %v", k, again[k], f.dumpObject[k])
				}
			}
			if got, want := sortedKeys(again["event_history"].(map[string]any)), sortedKeys(f.dumpObject["event_history"].(map[string]any)); !slices.Equal(got, want) {
				t.Errorf("event_history keys %v, want %v", got, want)
			}
			if d := rtDiff(f.dumpObject["event_history"], again["event_history"]); len(d) > 0 {
				t.Errorf("event_history changed by the round trip:\n%s", strings.Join(d, "\n"))
			}
			hist := historyByID(restored)
			pre := rowOf(t, hist[f.e1.ID()], f.h1.ID())
			if pre.Status() != engine.StatusCompleted || pre.Value() != "seeded" {
				t.Fatalf("seeded row restored as %s %v", pre.Status(), pre.Value())
			}

			// Re-bind the stubs, then emit a third event.
			var one, two callLog
			if _, err := engine.BindHandler(restored, f.h1.ID(), one.fn("h1")); err != nil {
				t.Fatal(err)
			}
			if _, err := engine.BindHandler(restored, f.h2.ID(), two.fn("h2")); err != nil {
				t.Fatal(err)
			}
			e3, _ := engine.NewEvent("RT3Event", map[string]any{"label": "e3"})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := restored.Emit(ctx, e3); err != nil {
				t.Fatal(err)
			}
			if err := e3.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if err := restored.WaitUntilIdle(ctx); err != nil {
				t.Fatal(err)
			}

			hist = historyByID(restored)
			for _, id := range []string{f.e1.ID(), f.e2.ID(), e3.ID()} {
				e := hist[id]
				if e == nil || e.Status() != engine.StatusCompleted {
					t.Fatalf("event %s not completed: %v", id, e)
				}
				for _, r := range e.Rows() {
					if r.Status() != engine.StatusCompleted {
						t.Errorf("%s: row of %s is %s (%v)", e.Label(), r.HandlerName(), r.Status(), r.Error())
					}
				}
			}
			e1 := hist[f.e1.ID()]
			if v := rowOf(t, e1, f.h1.ID()).Value(); v != "seeded" {
				t.Errorf("seeded value became %v", v)
			}
			if v := rowOf(t, e1, f.h2.ID()).Value(); v != "h2:e1" {
				t.Errorf("pending row of event 1 = %v, want h2:e1", v)
			}
			if v := rowOf(t, hist[f.e2.ID()], f.h1.ID()).Value(); v != "h1:e2" {
				t.Errorf("event 2 handler 1 = %v", v)
			}
			// FIFO: the requeued events ran before the new one; handler 1
			// skipped event 1, whose row was terminal.
			if got := one.get(); !slices.Equal(got, []string{"e2", "e3"}) {
				t.Errorf("handler 1 ran for %v, want [e2 e3]", got)
			}
			if got := two.get(); !slices.Equal(got, []string{"e1", "e2", "e3"}) {
				t.Errorf("handler 2 ran for %v, want [e1 e2 e3]", got)
			}
			if n := restored.QueueLen(); n != 0 {
				t.Errorf("queue length %d after resume", n)
			}
			final := decodeJSON(t, marshalBus(t, restored, enc)).(map[string]any)
			if q := final["pending_event_queue"].([]any); len(q) != 0 {
				t.Errorf("pending_event_queue %v after resume", q)
			}
		})
	}
}

// Handlers bound at restore time run for the requeued events at once,
// without a new emit.
func TestBusSnapshotBindAtRestore(t *testing.T) {
	f := newRT3(t, wire.Encoder{})
	var one, two callLog
	restored := restoreBus(t, f.dump, wire.WithEngineOptions(engine.WithDomain(f.dom)),
		wire.WithHandlerFuncs(map[string]engine.HandlerFunc{f.h1.ID(): one.fn("h1")}),
		wire.WithHandlerResolver(func(d engine.HandlerDesc) engine.HandlerFunc {
			if d.Name == "handler_two" {
				return two.fn("h2")
			}
			return nil
		}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := restored.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := one.get(); !slices.Equal(got, []string{"e2"}) {
		t.Errorf("handler 1 ran for %v", got)
	}
	if got := two.get(); !slices.Equal(got, []string{"e1", "e2"}) {
		t.Errorf("handler 2 ran for %v", got)
	}
	e1 := historyByID(restored)[f.e1.ID()]
	if err := e1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v := rowOf(t, e1, f.h1.ID()).Value(); v != "seeded" {
		t.Errorf("seeded value became %v", v)
	}
}

// Unbound handlers are no-op stubs (WIRE-23): the pending row completes
// with a null result, like abxbus's restored stubs.
func TestBusSnapshotStubsAreNoOps(t *testing.T) {
	f := newRT3(t, wire.Encoder{Mode: wire.Upstream})
	restored := restoreBus(t, f.dump, wire.WithEngineOptions(engine.WithDomain(f.dom)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := restored.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	e1 := historyByID(restored)[f.e1.ID()]
	if e1.Status() != engine.StatusCompleted {
		t.Fatalf("event 1 is %s", e1.Status())
	}
	r := rowOf(t, e1, f.h2.ID())
	if r.Status() != engine.StatusCompleted || r.Value() != nil {
		t.Errorf("stub row: %s %v %v", r.Status(), r.Value(), r.Error())
	}
	if v := rowOf(t, e1, f.h1.ID()).Value(); v != "seeded" {
		t.Errorf("seeded value became %v", v)
	}
	if _, err := engine.BindHandler(restored, "not-a-uuid", func(context.Context, *engine.Event) (any, error) { return nil, nil }); !errors.Is(err, engine.ErrUnknownHandler) {
		t.Errorf("BindHandler(bad id) = %v", err)
	}
	if _, err := engine.BindHandler(restored, f.h1.ID(), nil); !errors.Is(err, engine.ErrNilHandler) {
		t.Errorf("BindHandler(nil) = %v", err)
	}
}

// WIRE-20, WIRE-21, WIRE-22: key order, handler JSON, the index, history
// order and the row form of each writer mode.
func TestMarshalBusShape(t *testing.T) {
	b := newTestBus(t, "ShapeBus", engine.WithDomain(engine.NewDomain()), engine.WithMaxHistory(engine.UnlimitedHistory),
		engine.WithHistoryDrop(true), engine.WithEventConcurrency(engine.ParallelEvents), engine.WithEventTimeout(2500*time.Millisecond),
		engine.WithEventSlowTimeout(0), engine.WithDefaultHandlerSlowTimeout(330*time.Millisecond))
	ha, _ := b.On("A", func(context.Context, *engine.Event) (any, error) { return "a", nil }, engine.WithHandlerName("first"), engine.WithHandlerTimeout(1500*time.Millisecond))
	hw, _ := b.On("*", func(context.Context, *engine.Event) (any, error) { return nil, nil }, engine.WithHandlerName("wild"), engine.WithHandlerSlowTimeout(0))
	hb, _ := b.On("A", func(context.Context, *engine.Event) (any, error) { return "b", nil }, engine.WithHandlerName("second"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ids []string
	for i := 0; i < 3; i++ {
		e, _ := engine.NewEvent("A", map[string]any{"n": i})
		if err := b.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID())
	}

	for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}} {
		data := marshalBus(t, b, enc)
		want := []string{"id", "name", "max_history_size", "max_history_drop", "event_concurrency", "event_timeout",
			"event_slow_timeout", "event_handler_concurrency", "event_handler_completion", "event_handler_slow_timeout",
			"event_handler_detect_file_paths", "handlers", "handlers_by_key", "event_history", "pending_event_queue"}
		if got := objectKeys(t, data); !slices.Equal(got, want) {
			t.Fatalf("keys %v\nwant %v", got, want)
		}
		if got := objectKeys(t, data, "handlers"); !slices.Equal(got, []string{ha.ID(), hw.ID(), hb.ID()}) {
			t.Errorf("handlers order %v", got)
		}
		if got := objectKeys(t, data, "handlers", ha.ID()); !slices.Equal(got, []string{"id", "handler_name", "handler_file_path",
			"handler_timeout", "handler_slow_timeout", "handler_registered_at", "event_pattern", "eventbus_name", "eventbus_id"}) {
			t.Errorf("handler keys %v", got)
		}
		if got := objectKeys(t, data, "event_history"); !slices.Equal(got, ids) {
			t.Errorf("history order %v, want %v", got, ids)
		}
		m := decodeJSON(t, data).(map[string]any)
		for k, v := range map[string]any{
			"id": b.ID(), "name": "ShapeBus", "max_history_size": nil, "max_history_drop": true,
			"event_concurrency": "parallel", "event_timeout": json.Number("2.5"), "event_slow_timeout": nil,
			"event_handler_concurrency": "serial", "event_handler_completion": "all",
			"event_handler_slow_timeout": json.Number("0.33"), "event_handler_detect_file_paths": true,
			"pending_event_queue": []any{},
			"handlers_by_key":     map[string]any{"A": []any{ha.ID(), hb.ID()}, "*": []any{hw.ID()}},
		} {
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("%s = %#v, want %#v", k, m[k], v)
			}
		}
		h := m["handlers"].(map[string]any)[ha.ID()].(map[string]any)
		if h["handler_name"] != "first" || h["handler_timeout"] != json.Number("1.5") || h["handler_slow_timeout"] != nil ||
			h["event_pattern"] != "A" || h["eventbus_name"] != "ShapeBus" || h["eventbus_id"] != b.ID() {
			t.Errorf("handler JSON %v", h)
		}
		if w := m["handlers"].(map[string]any)[hw.ID()].(map[string]any); w["handler_slow_timeout"] != json.Number("0") {
			t.Errorf("wildcard handler_slow_timeout %v", w["handler_slow_timeout"])
		}
		ev := m["event_history"].(map[string]any)[ids[0]].(map[string]any)
		switch enc.Mode {
		case wire.Compat242:
			rows, ok := ev["event_results"].([]any)
			if !ok || len(rows) != 3 {
				t.Fatalf("compat242 rows: %#v", ev["event_results"])
			}
			if _, has := ev["event_blocks_parent_completion"]; has {
				t.Error("compat242 snapshot has the blocks flag")
			}
			if r := rows[0].(map[string]any); r["handler_id"] != ha.ID() || r["result"] != "a" {
				t.Errorf("row 0: %v", r)
			}
		case wire.Upstream:
			rows, ok := ev["event_results"].(map[string]any)
			if !ok || len(rows) != 3 {
				t.Fatalf("upstream rows: %#v", ev["event_results"])
			}
			if got := objectKeys(t, data, "event_history", ids[0], "event_results"); !slices.Equal(got, []string{ha.ID(), hb.ID(), hw.ID()}) {
				t.Errorf("row order %v", got)
			}
		}

		// Restoring and dumping again gives the same snapshot.
		restored := restoreBus(t, data, wire.WithEngineOptions(engine.WithDomain(engine.NewDomain())))
		again := marshalBus(t, restored, enc)
		if d := rtDiff(decodeJSON(t, data), decodeJSON(t, again)); len(d) > 0 {
			t.Errorf("%s: snapshot changed by a round trip:\n%s", enc.Mode, strings.Join(d, "\n"))
		}
		if got := objectKeys(t, again, "event_history"); !slices.Equal(got, ids) {
			t.Errorf("history order after restore %v", got)
		}
		if r := restored.HandlersFor("A"); len(r) != 2 || r[0].ID() != ha.ID() || r[1].ID() != hb.ID() {
			t.Errorf("restored index for A: %v", r)
		}
	}
}

// WIRE-23, SER-4: defaults for missing, null and ill-typed settings.
func TestUnmarshalBusDefaults(t *testing.T) {
	for _, c := range []struct {
		name, json string
		check      func(t *testing.T, b *engine.Bus)
	}{
		{"empty", `{}`, func(t *testing.T, b *engine.Bus) {
			if b.EventTimeout() != 60*time.Second || b.EventConcurrency() != engine.BusSerial ||
				b.HandlerConcurrency() != engine.SerialHandlers || b.Completion() != engine.CompleteAll ||
				b.EventSlowTimeout() != engine.DefaultEventSlowTimeout || !b.DetectFilePaths() {
				t.Errorf("defaults: %s", b)
			}
			if n, drop := b.MaxHistory(); n != engine.DefaultMaxHistorySize || drop {
				t.Errorf("history %d %v", n, drop)
			}
			if !strings.HasPrefix(b.Name(), "EventBus_") || len(b.Handlers()) != 0 || b.HistoryLen() != 0 {
				t.Errorf("empty bus: %s", b)
			}
		}},
		{"nulls", `{"id":"` + rt3BusID + `","name":"NullBus","max_history_size":null,"event_timeout":null,"event_slow_timeout":null,
			"event_handler_slow_timeout":null,"handlers":null,"handlers_by_key":null,"event_history":null,"pending_event_queue":null}`,
			func(t *testing.T, b *engine.Bus) {
				if b.ID() != rt3BusID || b.Name() != "NullBus" {
					t.Errorf("identity %s %s", b.ID(), b.Name())
				}
				if b.EventTimeout() != 60*time.Second {
					t.Errorf("null event_timeout gave %s, want 60s", b.EventTimeout())
				}
				if b.EventSlowTimeout() != 0 || b.HandlerSlowTimeout() != 0 {
					t.Errorf("null slow timeouts gave %s %s, want disabled", b.EventSlowTimeout(), b.HandlerSlowTimeout())
				}
				if n, _ := b.MaxHistory(); n >= 0 {
					t.Errorf("null max_history_size gave %d, want unlimited", n)
				}
			}},
		{"bad types", `{"id":7,"name":"not a name","max_history_size":"big","max_history_drop":"yes","event_concurrency":3,
			"event_timeout":"soon","event_slow_timeout":-4,"event_handler_concurrency":"sideways","event_handler_completion":false,
			"event_handler_slow_timeout":[],"event_handler_detect_file_paths":1,"handlers":[],"handlers_by_key":"x",
			"event_history":[],"pending_event_queue":{}}`,
			func(t *testing.T, b *engine.Bus) {
				if b.EventTimeout() != 60*time.Second || b.EventSlowTimeout() != engine.DefaultEventSlowTimeout ||
					b.HandlerSlowTimeout() != engine.DefaultHandlerSlowTimeout || b.EventConcurrency() != engine.BusSerial ||
					!b.DetectFilePaths() || !strings.HasPrefix(b.Name(), "EventBus_") {
					t.Errorf("fallbacks: %s %s %s %s", b, b.EventTimeout(), b.EventSlowTimeout(), b.HandlerSlowTimeout())
				}
				if n, drop := b.MaxHistory(); n != engine.DefaultMaxHistorySize || drop {
					t.Errorf("history %d %v", n, drop)
				}
				if b.HandlerConcurrency() != engine.SerialHandlers || b.Completion() != engine.CompleteAll {
					t.Errorf("bad modes gave %s %s, want the defaults", b.HandlerConcurrency(), b.Completion())
				}
				if u, err := ident.ParseUUID(b.ID()); err != nil || u.IsZero() {
					t.Errorf("a non-string id gave bus id %q, want a fresh one", b.ID())
				}
			}},
		{"duplicate event id", `{"name":"DupBus","event_history":{
			"01a2192b-1d08-77c5-8198-7b710fb90c32":{"event_type":"First","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32"},
			"01a2192b-1d08-77c5-8198-7b710fb90c33":{"event_type":"Second","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32"}}}`,
			func(t *testing.T, b *engine.Bus) {
				// WIRE-23: an event id given twice keeps its first entry.
				if h := b.History(); len(h) != 1 || h[0].Type() != "First" {
					t.Errorf("history %v, want the first entry alone", h)
				}
			}},
		{"integral float", `{"name":"FloatBus","max_history_size":7.0}`,
			func(t *testing.T, b *engine.Bus) {
				if n, _ := b.MaxHistory(); n != 7 {
					t.Errorf("max_history_size 7.0 gave %d, want 7", n)
				}
			}},
		{"values", `{"name":"ValBus","max_history_size":7,"max_history_drop":true,"event_concurrency":"global-serial",
			"event_timeout":0,"event_slow_timeout":1.25,"event_handler_concurrency":"parallel","event_handler_completion":"first",
			"event_handler_slow_timeout":2,"event_handler_detect_file_paths":false}`,
			func(t *testing.T, b *engine.Bus) {
				if b.EventTimeout() != 0 || b.EventSlowTimeout() != 1250*time.Millisecond || b.HandlerSlowTimeout() != 2*time.Second ||
					b.EventConcurrency() != engine.GlobalSerial || b.HandlerConcurrency() != engine.ParallelHandlers ||
					b.Completion() != engine.CompleteFirst || b.DetectFilePaths() {
					t.Errorf("values: %s", b)
				}
				if n, drop := b.MaxHistory(); n != 7 || !drop {
					t.Errorf("history %d %v", n, drop)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, restoreBus(t, []byte(c.json), wire.WithEngineOptions(engine.WithDomain(engine.NewDomain()))))
		})
	}
}

func TestUnmarshalBusMalformed(t *testing.T) {
	for _, in := range []string{``, `[]`, `"bus"`, `{"id":`, `{"handlers":{"a":}}`, `{} {}`} {
		b, err := wire.UnmarshalBus([]byte(in))
		var de *wire.DecodeError
		if err == nil || !errors.Is(err, wire.ErrMalformed) || !errors.As(err, &de) {
			if b != nil {
				_ = b.Close()
			}
			t.Errorf("UnmarshalBus(%q) = %v, want a *DecodeError wrapping ErrMalformed", in, err)
		}
	}
}

// WIRE-23, SER-2: a handler missing from handlers is re-created from its
// rows' metadata (index included); rows from another bus keep that bus's
// identity; event_children are re-linked to history events; unparsable
// events are skipped; queued ids not in the history are ignored; a
// restored bus with the name of a live bus keeps it.
func TestUnmarshalBusRecreatesHandlersAndLinks(t *testing.T) {
	dom := engine.NewDomain()
	src := newTestBus(t, "LinkBus", engine.WithDomain(dom), engine.WithDetectFilePaths(false))
	other := newTestBus(t, "OtherBus", engine.WithDomain(dom))
	var child *engine.Event
	hp, _ := src.On("Parent", func(ctx context.Context, e *engine.Event) (any, error) {
		c, _ := engine.NewEvent("Child", nil)
		child = c
		return "p", src.Emit(ctx, c)
	}, engine.WithHandlerName("parent_handler"))
	ho, _ := other.On("Parent", func(context.Context, *engine.Event) (any, error) { return "o", nil }, engine.WithHandlerName("other_handler"))
	if _, err := other.Forward("Parent", src); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, _ := engine.NewEvent("Parent", nil)
	if err := other.Emit(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}} {
		m := decodeJSON(t, marshalBus(t, src, enc)).(map[string]any)
		m["handlers"] = map[string]any{}
		m["handlers_by_key"] = map[string]any{}
		hist := m["event_history"].(map[string]any)
		hist["01a2192b-1d08-77c5-8198-7b710fb90c32"] = map[string]any{"event_type": "Bad", "event_status": 7}
		hist["01a2192b-1d08-77c5-8198-7b710fb90c33"] = "not an event"
		m["pending_event_queue"] = []any{"01a2192b-1d08-77c5-8198-7b710fb90c34", 5}
		data, _ := json.Marshal(m)
		restored := restoreBus(t, data, wire.WithEngineOptions(engine.WithDomain(dom)))
		if restored.Name() != "LinkBus" {
			t.Errorf("name %s", restored.Name())
		}
		if restored.HistoryLen() != 2 {
			t.Errorf("history has %d events, want 2 (bad ones skipped)", restored.HistoryLen())
		}
		var ids []string
		for _, h := range restored.Handlers() {
			ids = append(ids, h.ID())
		}
		// Rows in history order: the parent's rows (other bus's handler,
		// the forwarder, this bus's handler), then none for the child.
		if !slices.Contains(ids, hp.ID()) || !slices.Contains(ids, ho.ID()) {
			t.Fatalf("handlers %v lack %s or %s", ids, hp.ID(), ho.ID())
		}
		if hs := restored.HandlersFor("Parent"); len(hs) != len(ids) {
			t.Errorf("index for Parent has %d handlers, want %d", len(hs), len(ids))
		}
		out := decodeJSON(t, marshalBus(t, restored, enc)).(map[string]any)
		hj := out["handlers"].(map[string]any)
		if h := hj[ho.ID()].(map[string]any); h["eventbus_name"] != "OtherBus" || h["eventbus_id"] != other.ID() || h["handler_name"] != "other_handler" {
			t.Errorf("re-created foreign handler: %v", h)
		}
		if h := hj[hp.ID()].(map[string]any); h["eventbus_name"] != "LinkBus" || h["eventbus_id"] != src.ID() || h["handler_name"] != "parent_handler" {
			t.Errorf("re-created handler: %v", h)
		}
		if q := out["pending_event_queue"].([]any); len(q) != 0 {
			t.Errorf("queue %v", q)
		}
		rp := historyByID(restored)[p.ID()]
		kids := rp.Children()
		if len(kids) != 1 || kids[0].ID() != child.ID() || engine.IsStub(kids[0]) || kids[0] != historyByID(restored)[child.ID()] {
			t.Errorf("children not re-linked: %v", kids)
		}
	}
}

// Children not in the history stay id-only stubs and are written back.
func TestUnmarshalBusKeepsUnknownChildren(t *testing.T) {
	in := `{"name":"KidsBus","event_history":{"01a2192b-1d08-77c5-8198-7b710fb90c32":{"event_type":"P","event_status":"completed",
		"event_created_at":"2026-11-26T18:43:05.608435292Z","event_completed_at":"2026-11-26T18:43:05.608435292Z",
		"event_results":[{"id":"01a2192b-1d09-75ce-a4c9-1aa7a48232c1","status":"completed","handler_id":"8a0347da-bf30-5b24-9255-f7047adde7f0",
		"handler_name":"h","result":1,"event_children":["01a2192b-1d0a-77b2-814b-42985dc08075"]}]}},"pending_event_queue":[]}`
	b := restoreBus(t, []byte(in), wire.WithEngineOptions(engine.WithDomain(engine.NewDomain())))
	out := decodeJSON(t, marshalBus(t, b, wire.Encoder{})).(map[string]any)
	ev := out["event_history"].(map[string]any)["01a2192b-1d08-77c5-8198-7b710fb90c32"].(map[string]any)
	row := ev["event_results"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(row["event_children"], []any{"01a2192b-1d0a-77b2-814b-42985dc08075"}) {
		t.Errorf("event_children %v", row["event_children"])
	}
	h := out["handlers"].(map[string]any)["8a0347da-bf30-5b24-9255-f7047adde7f0"].(map[string]any)
	if h["event_pattern"] != "P" || h["eventbus_name"] != "KidsBus" || h["eventbus_id"] != b.ID() {
		t.Errorf("handler from a row without bus metadata: %v", h)
	}
}

// An event without event_id takes its event_history key.
func TestUnmarshalBusHistoryKeyAsID(t *testing.T) {
	const id = "01a2192b-1d08-77c5-8198-7b710fb90c32"
	b := restoreBus(t, []byte(`{"event_history":{"`+id+`":{"event_type":"K"}},"pending_event_queue":["`+id+`"]}`),
		wire.Paused(), wire.WithEngineOptions(engine.WithDomain(engine.NewDomain())))
	h := b.History()
	if len(h) != 1 || h[0].ID() != id {
		t.Fatalf("history %v", h)
	}
	if q := engine.QueuedEvents(b); len(q) != 1 || q[0] != h[0] {
		t.Errorf("queued %v", q)
	}
}

// WIRE-22, WIRE-14: a bus snapshot is written back in the shape it was read
// in.
func TestBusShapeOf(t *testing.T) {
	for in, want := range map[string]wire.Encoder{
		`{"event_history":{}}`: {},
		`{"event_history":{"a":{"event_type":"X","event_results":[]}}}`:                       {},
		`{"event_history":{"a":{"event_type":"X"},"b":{"event_results":{}}}}`:                 {Mode: wire.Upstream},
		`{"event_history":{"a":{"event_blocks_parent_completion":false}}}`:                    {Mode: wire.Upstream},
		`{"event_history":{"a":{"event_blocks_parent_completion":false,"event_results":[]}}}`: {Mode: wire.Upstream, ResultsAsList: true},
		`not json`: {},
	} {
		if got := wire.BusShapeOf([]byte(in)); got != want {
			t.Errorf("BusShapeOf(%s) = %+v, want %+v", in, got, want)
		}
	}
}

// UnmarshalBus does not keep the caller's buffer.
func TestUnmarshalBusDoesNotRetainInput(t *testing.T) {
	f := newRT3(t, wire.Encoder{Mode: wire.Upstream})
	buf := slices.Clone(f.dump)
	restored := restoreBus(t, buf, wire.Paused(), wire.WithEngineOptions(engine.WithDomain(f.dom)))
	before := marshalBus(t, restored, wire.Encoder{Mode: wire.Upstream})
	for i := range buf {
		buf[i] = 'x'
	}
	after := marshalBus(t, restored, wire.Encoder{Mode: wire.Upstream})
	if !bytes.Equal(before, after) {
		t.Errorf("the snapshot changed with the input buffer:\n%s\n%s", before, after)
	}
}
