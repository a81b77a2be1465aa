package engine

import (
	"context"
	"log/slog"
	"testing"
)

type rootCtxKey struct{}

// Emit's short path marks any caller ctx live and leaves the question of
// its cancellation to the first use (valuesCtx): a ctx that cannot be
// cancelled stays as it is, a cancellable one is detached (CTX-9), and
// both keep their values (CTX-1), in hooks and handlers as in
// Event.Context.
func TestRootEmitCallerCtxDetach(t *testing.T) {
	b, err := NewBus("RootCtx", WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	seen := make(chan any, 2)
	if _, err := b.On("RootCtxEvent", func(ctx context.Context, _ *Event) (any, error) {
		seen <- ctx.Value(rootCtxKey{})
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}

	plain := context.WithValue(context.Background(), rootCtxKey{}, "plain")
	e1, _ := NewEvent("RootCtxEvent", nil)
	if err := b.Emit(plain, e1); err != nil {
		t.Fatal(err)
	}
	if err := e1.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "plain" {
		t.Fatalf("handler saw %v, want plain", got)
	}
	if e1.Context() != plain {
		t.Fatal("a ctx that cannot be cancelled was replaced")
	}

	cctx, cancel := context.WithCancel(context.WithValue(context.Background(), rootCtxKey{}, "cancellable"))
	e2, _ := NewEvent("RootCtxEvent", nil)
	if err := b.Emit(cctx, e2); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := e2.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "cancellable" {
		t.Fatalf("handler saw %v, want cancellable", got)
	}
	got := e2.Context()
	if got.Done() != nil || got.Err() != nil {
		t.Fatalf("the emitter's cancellation reaches the event: Done %v, Err %v", got.Done(), got.Err())
	}
	if got.Value(rootCtxKey{}) != "cancellable" {
		t.Fatal("the detached ctx lost its values")
	}
}
