package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/wire"
)

// snapshotBus builds a bus with some of everything a snapshot holds:
// handlers (typed, wildcard), completed events with results, an error, a
// child, rows from another bus (forwarding), and two queued events, one
// with a seeded completed row and a pending one (RT-3's setup).
func snapshotBus(t *testing.T) *engine.Bus {
	t.Helper()
	dom := engine.NewDomain()
	mk := func(name string, opts ...engine.Option) *engine.Bus {
		b, err := engine.NewBus(name, append(opts, engine.WithDomain(dom))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	b := mk("CliBus", engine.WithDetectFilePaths(false), engine.WithMaxHistory(50))
	origin := mk("OriginBus")
	if _, err := origin.Forward("Order", b); err != nil {
		t.Fatal(err)
	}
	save, _ := b.On("Order", func(ctx context.Context, e *engine.Event) (any, error) {
		c, _ := engine.NewEvent("Audit", map[string]any{"what": "order"})
		return map[string]any{"saved": true}, b.Emit(ctx, c)
	}, engine.WithHandlerName("save"), engine.WithHandlerTimeout(1500*time.Millisecond))
	if _, err := b.On("Order", func(context.Context, *engine.Event) (any, error) {
		return nil, os.ErrPermission
	}, engine.WithHandlerName("boom")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.On("*", func(context.Context, *engine.Event) (any, error) { return 1.5, nil }, engine.WithHandlerName("count")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o, _ := engine.NewEvent("Order", map[string]any{"order_id": "o-1", "total": 9.5})
	if err := origin.Emit(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := o.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Queued, never processed: b's dispatcher runs, so the queued events
	// go on a paused copy of b.
	dump, err := wire.MarshalBus(b, wire.Encoder{Mode: wire.Upstream})
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.UnmarshalBus(dump, wire.Paused(), wire.WithEngineOptions(engine.WithDomain(dom)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	now := ident.Now()
	e1 := new(engine.Event)
	if err := engine.Restore(e1, nil, &engine.EventState{Type: "Order", Fields: map[string]any{"order_id": "o-2"},
		Timeout: -1, SlowTimeout: -1, HandlerTimeout: -1, HandlerSlowTimeout: -1,
		Rows: []engine.RowState{{Status: engine.StatusCompleted, Handler: engine.DescOf(save), Value: "seeded", StartedAt: now, CompletedAt: now}}}); err != nil {
		t.Fatal(err)
	}
	e2, _ := engine.NewEvent("Order", map[string]any{"order_id": "o-3"})
	for _, e := range []*engine.Event{e1, e2} {
		if err := engine.RestoreHistory(p, e); err != nil {
			t.Fatal(err)
		}
		if err := engine.Requeue(p, e); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func runBus(t *testing.T, bin, in, out string) []byte {
	t.Helper()
	if msg, err := exec.Command(bin, "bus", in, out).CombinedOutput(); err != nil {
		t.Fatalf("roundtrip bus: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// RT-1 bus mode end to end: a ringbus snapshot in either writer mode comes
// back equal key by key (RT-2's rules), in its shape, with handlers,
// handlers_by_key and pending_event_queue unchanged; a second pass is
// byte-identical.
func TestBusModeRoundTrip(t *testing.T) {
	b := snapshotBus(t)
	bin := build(t)
	dir := t.TempDir()
	for _, enc := range []wire.Encoder{{}, {Mode: wire.Upstream}, {Mode: wire.Upstream, ResultsAsList: true}} {
		snap, err := wire.MarshalBus(b, enc)
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "in.json")
		out := filepath.Join(dir, "out.json")
		if err := os.WriteFile(in, snap, 0o644); err != nil {
			t.Fatal(err)
		}
		got := runBus(t, bin, in, out)
		want := decode(t, snap).(map[string]any)
		have := decode(t, got).(map[string]any)
		if d := rtDiff(want, have); len(d) > 0 {
			t.Errorf("%+v: %s", enc, strings.Join(d, "\n"))
		}
		for _, k := range []string{"handlers", "handlers_by_key", "pending_event_queue"} {
			if !reflect.DeepEqual(want[k], have[k]) {
				t.Errorf("%+v: %s changed:\n%v\n%v", enc, k, want[k], have[k])
			}
		}
		if q := have["pending_event_queue"].([]any); len(q) != 2 {
			t.Errorf("%+v: pending_event_queue %v", enc, q)
		}
		for id, ev := range have["event_history"].(map[string]any) {
			m := ev.(map[string]any)
			_, blocks := m["event_blocks_parent_completion"]
			rows := m["event_results"]
			switch {
			case enc.Mode == wire.Compat242:
				if _, ok := rows.([]any); blocks || !ok {
					t.Errorf("compat242 event %s: blocks=%v rows %T", id, blocks, rows)
				}
			case enc.ResultsAsList:
				if _, ok := rows.([]any); !blocks || rows != nil && !ok {
					t.Errorf("upstream list event %s: blocks=%v rows %T", id, blocks, rows)
				}
			default:
				if _, ok := rows.(map[string]any); !blocks || rows != nil && !ok {
					t.Errorf("upstream event %s: blocks=%v rows %T", id, blocks, rows)
				}
			}
		}
		out2 := filepath.Join(dir, "out2.json")
		if got2 := runBus(t, bin, out, out2); !bytes.Equal(got, got2) {
			t.Errorf("%+v: second pass differs:\n%s\n%s", enc, got, got2)
		}
	}
}

// A snapshot written by another runtime, its history made of the TS
// vectors (upstream events): the events come back equal, the handlers of
// their rows are re-created (WIRE-23), and nothing runs.
func TestBusModeOnVectors(t *testing.T) {
	vecs := vectors(t)
	bin := build(t)
	hist := map[string]any{}
	for _, v := range vecs {
		m := decode(t, v).(map[string]any)
		id := m["event_id"].(string)
		if _, dup := hist[id]; dup {
			continue
		}
		hist[id] = m
	}
	snap := map[string]any{
		"id": "018f8e40-1234-7000-8000-00000000cc33", "name": "VectorBus", "max_history_size": nil,
		"max_history_drop": false, "event_concurrency": "bus-serial", "event_timeout": json.Number("60"),
		"event_slow_timeout": json.Number("300"), "event_handler_concurrency": "serial",
		"event_handler_completion": "all", "event_handler_slow_timeout": json.Number("30"),
		"event_handler_detect_file_paths": true, "handlers": map[string]any{}, "handlers_by_key": map[string]any{},
		"event_history": hist, "pending_event_queue": []any{},
	}
	data, _ := json.Marshal(snap)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got := decode(t, runBus(t, bin, in, filepath.Join(dir, "out.json"))).(map[string]any)
	if d := rtDiff(snap["event_history"], got["event_history"]); len(d) > 0 {
		t.Errorf("event_history: %s", strings.Join(d, "\n"))
	}
	for _, k := range []string{"id", "name", "max_history_size", "pending_event_queue"} {
		if !reflect.DeepEqual(got[k], snap[k]) {
			t.Errorf("%s = %v, want %v", k, got[k], snap[k])
		}
	}
	handlers := got["handlers"].(map[string]any)
	for _, ev := range hist {
		rows, _ := ev.(map[string]any)["event_results"].(map[string]any)
		for hid := range rows {
			if _, ok := handlers[hid]; !ok {
				t.Errorf("handler %s of a row was not re-created", hid)
			}
		}
	}
	if len(handlers) == 0 {
		t.Error("no handlers re-created from the vectors' rows")
	}
}
