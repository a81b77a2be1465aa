package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
)

// The root emit (context.Background(), no queue limit) takes Emit's short
// path for a fresh event; a second Emit of the same event takes the general
// path. Both must leave the event as the general path always did: EMIT-8
// makes a repeat on the same bus a no-op, another bus adds to event_path
// (EVT-13), and the captured context carries the emitter's values (CTX-1).
func TestRootEmitPaths(t *testing.T) {
	ctx := context.Background()
	a, err := NewBus("RootA", WithLogger(slog.New(slog.DiscardHandler)), WithHistoryDrop(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := NewBus("RootB", WithLogger(slog.New(slog.DiscardHandler)), WithHistoryDrop(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	runs := 0
	if _, err := a.On("RootEvent", func(context.Context, *Event) (any, error) { runs++; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	e, err := NewEvent("RootEvent", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := a.Emit(ctx, e); err != nil { // EMIT-8: a no-op
		t.Fatal(err)
	}
	if err := b.Emit(nil, e); err != nil { //nolint:staticcheck // a nil ctx is Background
		t.Fatal(err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Path(); !slices.Equal(got, []string{a.Label(), b.Label()}) {
		t.Fatalf("path %v, want [%s %s]", got, a.Label(), b.Label())
	}
	if runs != 1 {
		t.Fatalf("handler ran %d times, want 1", runs)
	}
	if e.Context() == nil || e.Parent() != nil || e.Status() != StatusCompleted {
		t.Fatalf("context %v, parent %v, status %v", e.Context(), e.Parent(), e.Status())
	}
	if a.hist.len() != 1 || b.hist.len() != 1 {
		t.Fatalf("history lengths %d and %d, want 1 and 1", a.hist.len(), b.hist.len())
	}

	// A values context takes the general path and is the one captured.
	type key struct{}
	f, _ := NewEvent("RootEvent", nil)
	if err := a.Emit(context.WithValue(ctx, key{}, 7), f); err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Context().Value(key{}).(int); v != 7 {
		t.Fatalf("captured value %v, want 7", f.Context().Value(key{}))
	}
}

// The root emit's short path leaves the errors to the general path: a nil
// event, a typed nil and a closed bus fail as before.
func TestRootEmitErrors(t *testing.T) {
	ctx := context.Background()
	a, err := NewBus("RootErr", WithLogger(slog.New(slog.DiscardHandler)), WithHistoryDrop(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Emit(ctx, nil); !errors.Is(err, ErrNilEvent) {
		t.Fatalf("nil event: %v", err)
	}
	if err := a.Emit(ctx, (*Event)(nil)); !errors.Is(err, ErrNilEvent) {
		t.Fatalf("typed nil: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	e, _ := NewEvent("RootEvent", nil)
	if err := a.Emit(ctx, e); !errors.Is(err, ErrBusClosed) {
		t.Fatalf("closed bus: %v", err)
	}
}
