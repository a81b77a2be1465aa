package engine

// Internal memory and timer tests (issue 9, part 2). The public-API
// measurements are in api/memory_test.go.

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// No timer of a bus fires after Close: parallel events and queue-jumps are
// watched by the bus's shared watchdog, which Close stops, like the
// dispatcher's (TIMEOUT-4, AWAIT-4, STOP-2).
func TestNoWatchdogFiresAfterClose_TIMEOUT4_AWAIT4_STOP2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		ctx := context.Background()
		quiet := WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
		drop := WithHistoryDrop(true)
		par, err := NewBus("WdParallel", quiet, drop, WithEventConcurrency(ParallelEvents), WithEventTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = par.Close() }()
		ser, err := NewBus("WdJump", quiet, drop, WithEventTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ser.Close() }()
		nop := func(context.Context, *Event) (any, error) { return nil, nil }
		if _, err := par.On("WdPar", nop); err != nil {
			t.Fatal(err)
		}
		if _, err := ser.On("WdChild", nop); err != nil {
			t.Fatal(err)
		}
		if _, err := ser.On("WdParent", func(ctx context.Context, _ *Event) (any, error) {
			c, err := NewEvent("WdChild", nil)
			if err != nil {
				return nil, err
			}
			if err := ser.Emit(ctx, c); err != nil {
				return nil, err
			}
			return nil, c.Now(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		for range n {
			e, _ := NewEvent("WdPar", nil)
			if err := par.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			p, _ := NewEvent("WdParent", nil)
			if err := ser.Emit(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := par.WaitUntilIdle(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ser.WaitUntilIdle(ctx); err != nil {
			t.Fatal(err)
		}
		_ = par.Close()
		_ = ser.Close()
		synctest.Wait()
		before := watchdogFires.Load()
		time.Sleep(time.Minute) // past every deadline armed above
		synctest.Wait()
		if fired := watchdogFires.Load() - before; fired != 0 {
			t.Errorf("%d watchdog timers fired after Close", fired)
		}
	})
}
