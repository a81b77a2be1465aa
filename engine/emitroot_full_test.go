package engine

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// A full history (HIST-4) refuses a fresh event on Emit's short path: the
// error names the bus, the event is left unemitted and nothing is queued.
func TestRootEmitHistoryFull(t *testing.T) {
	ctx := context.Background()
	b, err := NewBus("RootFull", WithLogger(slog.New(slog.DiscardHandler)), WithMaxHistory(1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	first, _ := NewEvent("RootFullEvent", nil)
	if err := b.Emit(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	second, _ := NewEvent("RootFullEvent", nil)
	err = b.Emit(ctx, second)
	var full *HistoryFullError
	if !errors.As(err, &full) {
		t.Fatalf("second emit: %v, want a *HistoryFullError", err)
	}
	if full.Bus != b.Label() || full.Len != 1 || full.Limit != 1 {
		t.Fatalf("error %+v, want bus %q, len 1, limit 1", *full, b.Label())
	}
	if err := second.Wait(ctx); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("refused event's Wait: %v, want ErrNotAttached", err)
	}
	if n := len(b.hist.snapshot()); n != 1 {
		t.Fatalf("history holds %d events, want 1", n)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
}
