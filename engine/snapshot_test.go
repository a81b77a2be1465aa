package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/ident"
)

func snapBus(t *testing.T, name string, opts ...Option) *Bus {
	t.Helper()
	b, err := NewBus(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// WIRE-23: a restored bus keeps its name, without renaming or a warning;
// the name stays registered to the bus that had it.
func TestRestoreBusKeepsName(t *testing.T) {
	d := NewDomain()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	first := snapBus(t, "Dup", WithDomain(d), WithLogger(logger))
	r, err := RestoreBus("Dup", WithDomain(d), WithLogger(logger), WithID(first.ID()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if r.Name() != "Dup" || r.Label() != first.Label() || r.ID() != first.ID() {
		t.Errorf("restored as %s (%s)", r.Name(), r.Label())
	}
	if logs.Len() != 0 {
		t.Errorf("restore logged: %s", logs.String())
	}
	third := snapBus(t, "Dup", WithDomain(d), WithLogger(logger))
	if third.Name() == "Dup" {
		t.Error("a new bus took the name of a live bus")
	}
	if len(d.Buses()) != 3 {
		t.Errorf("domain has %d buses", len(d.Buses()))
	}

	def, err := RestoreBus("", WithDomain(d))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = def.Close() }()
	if id := def.ID(); def.Name() != "EventBus_"+id[len(id)-8:] {
		t.Errorf("default name %s", def.Name())
	}
	if _, err := RestoreBus("not a name", WithDomain(d)); !errors.Is(err, ErrBadOption) {
		t.Errorf("invalid name: %v", err)
	}
	if _, err := RestoreBus("Ok", WithDomain(d), WithID("nope")); !errors.Is(err, ErrBadOption) {
		t.Errorf("invalid option: %v", err)
	}
}

// SER-2, SER-3, ERU-5: a requeued event waits for Resume (or the next
// Emit), is counted by WaitUntilIdle, skips handlers with a terminal row and
// runs a seeded pending row with the live handler.
func TestRequeueAndResume(t *testing.T) {
	b := snapBus(t, "RequeueBus", WithDomain(NewDomain()))
	var n1, n2 atomic.Int32
	h1, _ := b.On("R", func(context.Context, *Event) (any, error) { n1.Add(1); return "one", nil })
	h2, _ := b.On("R", func(context.Context, *Event) (any, error) { n2.Add(1); return "two", nil })
	e := new(Event)
	if err := Restore(e, nil, &EventState{Type: "R", Timeout: -1, SlowTimeout: -1, HandlerTimeout: -1, HandlerSlowTimeout: -1,
		Rows: []RowState{
			{Status: StatusCompleted, Handler: DescOf(h1), Value: "seeded", StartedAt: ident.Now(), CompletedAt: ident.Now()},
			{Status: StatusPending, Handler: DescOf(h2)},
		}}); err != nil {
		t.Fatal(err)
	}
	if err := RestoreHistory(b, e); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second Requeue is a no-op: still queued
		if err := Requeue(b, e); err != nil {
			t.Fatal(err)
		}
	}
	if q := QueuedEvents(b); len(q) != 1 || q[0] != e || b.QueueLen() != 1 {
		t.Fatalf("queued %v (len %d)", q, b.QueueLen())
	}
	if got := e.Path(); len(got) != 1 || got[0] != b.Label() {
		t.Errorf("path %v", got)
	}
	if e.PendingBusCount() != 1 {
		t.Errorf("pending bus count %d", e.PendingBusCount())
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.WaitUntilIdle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitUntilIdle before Resume = %v; the requeued event must count", err)
	}
	if n1.Load()+n2.Load() != 0 {
		t.Fatal("a requeued event ran before Resume")
	}
	Resume(b)
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n1.Load() != 0 || n2.Load() != 1 {
		t.Errorf("handler runs %d %d, want 0 1", n1.Load(), n2.Load())
	}
	rows := e.Rows()
	if len(rows) != 2 || rows[0].Value() != "seeded" || rows[1].Value() != "two" || rows[1].Handler() != h2 {
		t.Errorf("rows %v", rows)
	}
	if q := QueuedEvents(b); len(q) != 0 {
		t.Errorf("still queued: %v", q)
	}

	// A completed event requeued runs again (EMIT-9); its rows are all
	// terminal now, so no handler runs.
	if err := Requeue(b, e); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Status() != StatusCompleted || n1.Load() != 0 || n2.Load() != 1 {
		t.Errorf("after a second requeue: %s %d %d", e.Status(), n1.Load(), n2.Load())
	}

	if err := Requeue(b, nil); !errors.Is(err, ErrNilEvent) {
		t.Errorf("Requeue(nil) = %v", err)
	}
	_ = b.Close()
	other, _ := NewEvent("R", nil)
	if err := Requeue(b, other); !errors.Is(err, ErrBusClosed) {
		t.Errorf("Requeue on a closed bus = %v", err)
	}
	Resume(b) // no-op on a closed bus
}

// SER-2, CONC-1: an Emit starts a bus whose requeued events wait, and they
// run first.
func TestRequeuedRunBeforeEmitted(t *testing.T) {
	b := snapBus(t, "FifoBus", WithDomain(NewDomain()))
	var order []string
	done := make(chan struct{}, 3)
	if _, err := b.On("F", func(_ context.Context, e *Event) (any, error) {
		order = append(order, e.Fields()["n"].(string))
		done <- struct{}{}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		e, _ := NewEvent("F", map[string]any{"n": n})
		_ = RestoreHistory(b, e)
		if err := Requeue(b, e); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := NewEvent("F", map[string]any{"n": "c"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Emit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[0] != "a" || order[1] != "b" || order[2] != "c" {
		t.Errorf("order %v", order)
	}
}

// WIRE-21, WIRE-23, ERU-5: RestoreHandler keeps the metadata; BindHandler
// swaps the function and keeps the handler's place; a handler re-created for
// another bus keeps that bus in SnapshotDescOf.
func TestRestoreAndBindHandler(t *testing.T) {
	b := snapBus(t, "BindBus", WithDomain(NewDomain()))
	a, _ := b.On("X", func(context.Context, *Event) (any, error) { return "a", nil })
	reg := ident.Now()
	id := ident.NewV5(ident.UUID{}, "stub")
	foreign := ident.NewV7()
	stub, err := RestoreHandler(b, HandlerDesc{ID: id, Name: "mod.stub", FilePath: "app.py:7", Pattern: "X",
		Timeout: 2 * time.Second, SlowTimeout: 0, RegisteredAt: reg, BusID: foreign, BusName: "Elsewhere"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := b.On("X", func(context.Context, *Event) (any, error) { return "c", nil })
	if again, _ := RestoreHandler(b, HandlerDesc{ID: id, Pattern: "Y"}, nil); again != stub {
		t.Error("RestoreHandler registered a second handler with the same id")
	}
	if b.HandlerByID(id.String()) != stub || b.HandlerByID("bad") != nil {
		t.Error("HandlerByID")
	}
	d := SnapshotDescOf(stub)
	if d.ID != id || d.Name != "mod.stub" || d.FilePath != "app.py:7" || d.Pattern != "X" || d.Timeout != 2*time.Second ||
		d.SlowTimeout != 0 || d.RegisteredAt != reg || d.BusID != foreign || d.BusName != "Elsewhere" {
		t.Errorf("SnapshotDescOf %+v", d)
	}
	if d := DescOf(stub); d.BusName != "BindBus" {
		t.Errorf("DescOf reports bus %s", d.BusName)
	}
	if d := SnapshotDescOf(a); d != DescOf(a) {
		t.Errorf("SnapshotDescOf of a live handler %+v", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	run := func() []any {
		e, _ := NewEvent("X", nil)
		if err := b.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		var out []any
		for _, r := range e.Rows() {
			out = append(out, r.Value())
		}
		return out
	}
	if got := run(); len(got) != 3 || got[0] != "a" || got[1] != nil || got[2] != "c" {
		t.Errorf("with the stub: %v", got)
	}
	bound, err := BindHandler(b, id.String(), func(context.Context, *Event) (any, error) { return "bound", nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := run(); len(got) != 3 || got[0] != "a" || got[1] != "bound" || got[2] != "c" {
		t.Errorf("after binding: %v", got)
	}
	hs := b.Handlers()
	if len(hs) != 3 || hs[0] != a || hs[1] != bound || hs[2] != c {
		t.Errorf("registration order %v", hs)
	}
	if SnapshotDescOf(bound) != d {
		t.Errorf("bound handler desc %+v, want %+v", SnapshotDescOf(bound), d)
	}
	stub.Off() // the replaced value is detached: no effect
	if len(b.HandlersFor("X")) != 3 {
		t.Error("Off on the replaced stub removed something")
	}
	bound.Off()
	if hs := b.HandlersFor("X"); len(hs) != 2 || hs[0] != a || hs[1] != c {
		t.Errorf("after Off: %v", hs)
	}
	if _, err := BindHandler(b, id.String(), func(context.Context, *Event) (any, error) { return nil, nil }); !errors.Is(err, ErrUnknownHandler) {
		t.Errorf("binding a removed handler: %v", err)
	}
	w, _ := RestoreHandler(b, HandlerDesc{}, nil)
	if w.Pattern() != Wildcard || w.Name() != "anonymous" || w.ID() == "" || SnapshotDescOf(w).BusName != "BindBus" {
		t.Errorf("defaults: %+v", SnapshotDescOf(w))
	}
	if _, err := BindHandler(b, w.ID(), func(context.Context, *Event) (any, error) { return nil, nil }); err != nil {
		t.Errorf("binding a wildcard stub: %v", err)
	}
	// An Off that has begun (removed is set before hmu is taken) wins over
	// a BindHandler that gets hmu first: the handler is not re-bound.
	a.removed.Store(true)
	if _, err := BindHandler(b, a.ID(), func(context.Context, *Event) (any, error) { return nil, nil }); !errors.Is(err, ErrUnknownHandler) {
		t.Errorf("binding a handler whose Off has begun: %v", err)
	}
	a.removed.Store(false)
	_ = b.Close()
	if _, err := BindHandler(b, a.ID(), func(context.Context, *Event) (any, error) { return nil, nil }); !errors.Is(err, ErrBusClosed) {
		t.Errorf("bind on a closed bus: %v", err)
	}
}

// WIRE-23: RelinkChildren swaps id-only children for history events it knows.
func TestRelinkChildren(t *testing.T) {
	known, unknown := ident.NewV7(), ident.NewV7()
	child := new(Event)
	if err := Restore(child, nil, &EventState{ID: known, Type: "C", Status: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	p := new(Event)
	if err := Restore(p, nil, &EventState{Type: "P", Status: StatusCompleted, Rows: []RowState{{
		Status: StatusCompleted, Handler: HandlerDesc{Name: "h"}, Children: []ident.UUID{known, unknown}}}}); err != nil {
		t.Fatal(err)
	}
	RelinkChildren(p, func(id ident.UUID) *Event {
		if id == known {
			return child
		}
		return nil
	})
	kids := p.Children()
	if len(kids) != 2 || kids[0] != child || !IsStub(kids[1]) || kids[1].UUID() != unknown {
		t.Errorf("children %v", kids)
	}
	// Linked children are left alone; stubs are looked up again.
	RelinkChildren(p, func(id ident.UUID) *Event {
		if id != unknown {
			t.Errorf("lookup for linked child %s", id)
		}
		return nil
	})
}
