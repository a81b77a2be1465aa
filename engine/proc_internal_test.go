package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The dispatcher recovers its serial handlers' panics once for its whole
// loop (callGuard): a panicking handler fails its own row with
// *HandlerPanicError, the event's next handlers still run, and the
// dispatcher goes on with the next events, however many panic.
func TestDispatcherRecoversHandlerPanics(t *testing.T) {
	b, err := NewBus("PanicGuard")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	var after atomic.Int32
	if _, err := b.On("PanicEvent", func(ctx context.Context, e *Event) (any, error) {
		n := fieldN(e)
		if n < 0 {
			return "fine", nil
		}
		panic(fmt.Sprintf("boom %d", n))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.On("PanicEvent", func(ctx context.Context, e *Event) (any, error) {
		after.Add(1)
		return "after", nil
	}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	events := make([]*Event, 0, n)
	for i := range n {
		v := i
		if i%3 == 2 {
			v = -1 // every third event does not panic
		}
		e, err := NewEvent("PanicEvent", map[string]any{"n": v})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	for i, e := range events {
		if err := e.Wait(context.Background()); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		rows := e.Rows()
		if len(rows) != 2 {
			t.Fatalf("event %d: %d rows, want 2", i, len(rows))
		}
		if i%3 == 2 {
			if rows[0].Error() != nil || rows[0].Value() != "fine" {
				t.Fatalf("event %d: first row %v, %v", i, rows[0].Value(), rows[0].Error())
			}
		} else {
			var pe *HandlerPanicError
			if !errors.As(rows[0].Error(), &pe) {
				t.Fatalf("event %d: first row error %v, want a *HandlerPanicError", i, rows[0].Error())
			}
			if want := fmt.Sprintf("boom %d", i); pe.Value != want {
				t.Fatalf("event %d: panic value %v, want %q", i, pe.Value, want)
			}
			if !strings.Contains(string(pe.Stack), "TestDispatcherRecoversHandlerPanics") {
				t.Fatalf("event %d: the stack does not show the handler:\n%s", i, pe.Stack)
			}
		}
		if rows[1].Status() != StatusCompleted || rows[1].Value() != "after" {
			t.Fatalf("event %d: second row %v (%v)", i, rows[1].Status(), rows[1].Error())
		}
	}
	if got := after.Load(); got != n {
		t.Fatalf("the second handler ran %d times, want %d", got, n)
	}
}

// fieldN returns the event's field n.
func fieldN(e *Event) int {
	switch v := e.Fields()["n"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	panic("no field n")
}

// A handler that panics after its timeout handed the dispatcher to another
// goroutine (TIMEOUT-10) keeps its timeout error; the goroutine it ran on
// ends, and the new one goes on with the queue.
func TestPanicAfterTimeoutHandOff(t *testing.T) {
	b, err := NewBus("PanicHandOff")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	release := make(chan struct{})
	if _, err := b.On("HandOffEvent", func(ctx context.Context, e *Event) (any, error) {
		if fieldN(e) == 0 {
			<-ctx.Done() // timed out: the dispatcher moved on
			<-release
			panic("late boom")
		}
		return "ok", nil
	}, WithHandlerTimeout(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var events []*Event
	for i := range 3 {
		e, err := NewEvent("HandOffEvent", map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	for _, e := range events[1:] {
		if err := e.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := events[0].Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := events[0].Rows()[0].Error(); !errors.Is(err, ErrHandlerTimeout) {
		t.Fatalf("the stuck handler's row: %v, want its timeout", err)
	}
	// The bus still works after the late panic.
	e, err := NewEvent("HandOffEvent", map[string]any{"n": 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := e.Rows()[0].Value(); v != "ok" {
		t.Fatalf("event after the late panic: %v", v)
	}
	if err := b.WaitUntilIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The dispatcher's lean path for the common event (setupLone: one handler,
// nothing set on the event) keeps the deadlines and warnings of the general
// one: the bus's handler slow threshold warns once (SLOW-2), the bus's
// event timeout aborts the running handler (TIMEOUT-4), and the next event
// runs as usual. A handler with a timeout of its own takes the general path
// and times out by it (TIMEOUT-6).
func TestLeanPathKeepsDeadlines(t *testing.T) {
	var slow atomic.Int32
	logger := slog.New(countingHandler{match: "Slow event handler", n: &slow})
	b, err := NewBus("LeanDeadlines", WithEventTimeout(60*time.Millisecond), WithDefaultHandlerSlowTimeout(10*time.Millisecond), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if _, err := b.On("LeanEvent", func(ctx context.Context, e *Event) (any, error) {
		if fieldN(e) == 0 {
			<-ctx.Done()
			return nil, context.Cause(ctx)
		}
		return "quick", nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.On("OwnTimeoutEvent", func(ctx context.Context, e *Event) (any, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}, WithHandlerTimeout(5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	emit := func(typ string, n int) *Event {
		t.Helper()
		e, err := NewEvent(typ, map[string]any{"n": n})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	stuck, quick := emit("LeanEvent", 0), emit("LeanEvent", 1)
	for _, e := range []*Event{stuck, quick} {
		if err := e.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var ab *HandlerAbortedError
	if err := stuck.Rows()[0].Error(); !errors.As(err, &ab) || ab.Reason != ReasonEventTimeout {
		t.Fatalf("the stuck handler's row: %v, want an abort by the event timeout", err)
	}
	if v := quick.Rows()[0].Value(); v != "quick" {
		t.Fatalf("the next event's row: %v (%v)", v, quick.Rows()[0].Error())
	}
	if n := slow.Load(); n != 1 {
		t.Fatalf("%d slow-handler warnings, want 1", n)
	}
	own := emit("OwnTimeoutEvent", 2)
	if err := own.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := own.Rows()[0].Error(); !errors.Is(err, ErrHandlerTimeout) {
		t.Fatalf("the handler with its own timeout: %v, want its timeout", err)
	}
}

// The lean path (runLone: one handler) recovers panics through the same
// callGuard: each panicking event fails its row and the next events run,
// and a handler that panics after the bus's event timeout aborted it
// (TIMEOUT-4, the dispatcher handed on) ends only its own goroutine.
func TestLeanPathPanics(t *testing.T) {
	b, err := NewBus("LeanPanics", WithEventTimeout(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	release := make(chan struct{})
	if _, err := b.On("LeanPanicEvent", func(ctx context.Context, e *Event) (any, error) {
		switch n := fieldN(e); {
		case n == 0:
			<-ctx.Done() // aborted by the event timeout
			<-release
			panic("late")
		case n%2 == 1:
			panic(fmt.Sprintf("odd %d", n))
		default:
			return n, nil
		}
	}); err != nil {
		t.Fatal(err)
	}
	var events []*Event
	for i := range 9 {
		e, err := NewEvent("LeanPanicEvent", map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	for _, e := range events {
		if err := e.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	var ab *HandlerAbortedError
	if err := events[0].Rows()[0].Error(); !errors.As(err, &ab) || ab.Reason != ReasonEventTimeout {
		t.Fatalf("the stuck handler's row: %v, want an abort by the event timeout", err)
	}
	for i, e := range events[1:] {
		n := i + 1
		r := e.Rows()[0]
		if n%2 == 1 {
			var pe *HandlerPanicError
			if !errors.As(r.Error(), &pe) || pe.Value != fmt.Sprintf("odd %d", n) {
				t.Fatalf("event %d: row error %v, want its panic", n, r.Error())
			}
		} else if r.Value() != n {
			t.Fatalf("event %d: row value %v (%v)", n, r.Value(), r.Error())
		}
	}
	if err := b.WaitUntilIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
}
