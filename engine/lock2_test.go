package engine

// Regression tests for the wait for an event's handler lock (LOCK-2): the
// waiting processing keeps its bus lock, only the chain holding the handler
// lock borrows it (AWAIT-5, LOCK-3), and the wait ends on the event's own
// timeout, the awaiting handler's timeout and Stop (TIMEOUT-4, CANCEL-2,
// AWAIT-9). All but the stress test run on the synctest clock.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func lock2Bus(t *testing.T, name string, opts ...Option) *Bus {
	t.Helper()
	all := append([]Option{WithHistoryDrop(true), WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	b, err := NewBus(name, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		_ = b.Stop(context.Background())
	})
	return b
}

func lock2On(t *testing.T, b *Bus, pattern string, fn HandlerFunc, opts ...HandlerOption) *Handler {
	t.Helper()
	h, err := b.On(pattern, fn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func lock2Event(t *testing.T, typ string) *Event {
	t.Helper()
	e, err := NewEvent(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lock2Row(e *Event, h *Handler) *Result {
	for _, r := range e.Rows() {
		if r.handler == h {
			return r
		}
	}
	return nil
}

// TestLock2_JumpOutsideTheChainDoesNotOvertake_LOCK2_AWAIT5: event E runs on
// bus A, which holds E's handler lock; bus B has dequeued E and waits for
// that lock. A handler on a third bus awaits F on B, and F's handler waits
// for E. F is not in the chain holding E's handler lock, so it waits for
// B's lock: E finishes on B first, then F runs. When B let its lock go while
// waiting, F took it and B, handed the handler lock, waited for F, which
// waited for E: a deadlock until the timeouts.
func TestLock2_JumpOutsideTheChainDoesNotOvertake_LOCK2_AWAIT5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := lock2Bus(t, "L2DeadA")
		b := lock2Bus(t, "L2DeadB")
		x := lock2Bus(t, "L2DeadX")
		var mu sync.Mutex
		var order []string
		note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		aStarted := make(chan struct{})
		lock2On(t, a, "E", func(ctx context.Context, e *Event) (any, error) {
			close(aStarted)
			time.Sleep(300 * time.Millisecond)
			note("a_E")
			return "a", nil
		})
		lock2On(t, b, "E", func(ctx context.Context, e *Event) (any, error) { note("b_E"); return "b", nil })
		ev := lock2Event(t, "E")
		var fErr error
		fDone := make(chan struct{})
		lock2On(t, b, "F", func(ctx context.Context, f *Event) (any, error) {
			defer close(fDone)
			note("b_F")
			wctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			fErr = ev.Wait(wctx)
			return nil, fErr
		})
		lock2On(t, x, "Go", func(ctx context.Context, g *Event) (any, error) {
			f := lock2Event(t, "F")
			if err := b.Emit(ctx, f); err != nil {
				return nil, err
			}
			return nil, f.Now(ctx)
		})
		if err := a.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		<-aStarted
		if err := b.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // B has dequeued E and waits for its handler lock
		g := lock2Event(t, "Go")
		if err := x.Emit(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		<-fDone
		if fErr != nil {
			t.Errorf("F's handler waited for E in vain (deadlock): %v", fErr)
		}
		for _, r := range append(ev.Rows(), g.Rows()...) {
			if r.Error() != nil {
				t.Errorf("row %s on %s: %v", r.handler.Label(), r.handler.bus.Label(), r.Error())
			}
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"a_E", "b_E", "b_F"}
		if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
			t.Errorf("order %v, want %v: F must not overtake E on B", order, want)
		}
	})
}

// TestLock2_GlobalSerialWaitKeepsTheDomainLock_LOCK2_CONC: with
// global-serial buses, a bus waiting for an event's handler lock keeps the
// domain lock, so another bus of the domain does not run an event emitted
// after it meanwhile (CONC-2).
func TestLock2_GlobalSerialWaitKeepsTheDomainLock_LOCK2_CONC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d := NewDomain()
		a := lock2Bus(t, "L2GsA")
		b := lock2Bus(t, "L2GsB", WithDomain(d), WithEventConcurrency(GlobalSerial))
		c := lock2Bus(t, "L2GsC", WithDomain(d), WithEventConcurrency(GlobalSerial))
		var mu sync.Mutex
		var order []string
		note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		started := make(chan struct{})
		lock2On(t, a, "E", func(ctx context.Context, e *Event) (any, error) {
			close(started)
			time.Sleep(300 * time.Millisecond)
			return 1, nil
		})
		lock2On(t, b, "E", func(ctx context.Context, e *Event) (any, error) { note("b_E"); return 1, nil })
		lock2On(t, c, "G", func(ctx context.Context, e *Event) (any, error) { note("c_G"); return 1, nil })
		ev := lock2Event(t, "E")
		if err := a.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		<-started
		if err := b.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // B holds the domain lock and waits for E's handler lock
		g := lock2Event(t, "G")
		if err := c.Emit(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 2 || order[0] != "b_E" {
			t.Errorf("order %v: G on C ran while B held the domain lock waiting for E", order)
		}
	})
}

// TestLock2_JumpWaitingForHandlerLockEndsOnParentTimeout_CANCEL2_AWAIT9: a
// queue-jump waiting for its event's handler lock (held by another bus for
// 1.5 s) ends when the handler awaiting it times out (200 ms): Now returns
// then with the deadline error, and the jump's row that never started is
// cancelled for the parent's timeout (CANCEL-2, AWAIT-9, TIMEOUT-6).
func TestLock2_JumpWaitingForHandlerLockEndsOnParentTimeout_CANCEL2_AWAIT9(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := lock2Bus(t, "L2PtoA")
		b := lock2Bus(t, "L2PtoB")
		started := make(chan struct{})
		lock2On(t, a, "Child", func(ctx context.Context, e *Event) (any, error) {
			close(started)
			time.Sleep(1500 * time.Millisecond) // holds the child's handler lock
			return "a", nil
		})
		var bRan atomic.Bool
		hB := lock2On(t, b, "Child", func(ctx context.Context, e *Event) (any, error) { bRan.Store(true); return "b", nil })
		child := lock2Event(t, "Child")
		var waited time.Duration
		var nowErr error
		done := make(chan struct{})
		lock2On(t, b, "Parent", func(ctx context.Context, e *Event) (any, error) {
			defer close(done)
			if err := a.Emit(ctx, child); err != nil {
				return nil, err
			}
			<-started
			if err := b.Emit(ctx, child); err != nil {
				return nil, err
			}
			t0 := time.Now()
			nowErr = child.Now(ctx)
			waited = time.Since(t0)
			return nil, nowErr
		}, WithHandlerTimeout(200*time.Millisecond))
		parent := lock2Event(t, "Parent")
		if err := b.Emit(ctx, parent); err != nil {
			t.Fatal(err)
		}
		if err := parent.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := child.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		<-done // the timed-out handler returns after the parent completed
		if waited >= time.Second {
			t.Errorf("Now waited %s (synctest clock) for the handler lock past the parent's 200ms timeout", waited)
		}
		if !errors.Is(nowErr, context.DeadlineExceeded) {
			t.Errorf("Now returned %v, want the handler's deadline", nowErr)
		}
		if bRan.Load() {
			t.Error("the child's handler on B ran although its awaiting handler timed out before it started")
		}
		r := lock2Row(child, hB)
		if r == nil {
			t.Fatal("no row for B's child handler")
		}
		var ce *HandlerCancelledError
		if !errors.As(r.Error(), &ce) || ce.Reason != ReasonParentTimeout {
			t.Errorf("B's child row: %v, want cancelled for the parent's timeout", r.Error())
		}
	})
}

// TestLock2_EventTimeoutWhileWaitingForHandlerLock_TIMEOUT4: a bus's own
// event timeout (200 ms) applies while it waits for the handler lock that
// another bus holds for 1.5 s: its row, never started, is cancelled for the
// event timeout and its handler never runs (TIMEOUT-4, HCONC-5).
func TestLock2_EventTimeoutWhileWaitingForHandlerLock_TIMEOUT4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := lock2Bus(t, "L2EtoA")
		b := lock2Bus(t, "L2EtoB", WithEventTimeout(200*time.Millisecond))
		started := make(chan struct{})
		hA := lock2On(t, a, "E", func(ctx context.Context, e *Event) (any, error) {
			close(started)
			time.Sleep(1500 * time.Millisecond)
			return "a", nil
		})
		var bRan atomic.Bool
		hB := lock2On(t, b, "E", func(ctx context.Context, e *Event) (any, error) { bRan.Store(true); return "b", nil })
		ev := lock2Event(t, "E")
		if err := a.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		<-started
		if err := b.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // past B's event timeout, A still runs
		r := lock2Row(ev, hB)
		if r == nil {
			t.Fatal("no row for B's handler")
		}
		var ce *HandlerCancelledError
		if !errors.As(r.Error(), &ce) || ce.Reason != ReasonEventTimeout {
			t.Errorf("B's row after its event timeout: %v %v, want cancelled for the event timeout", r.Status(), r.Error())
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if bRan.Load() {
			t.Error("B's handler ran after its event timed out")
		}
		if err := lock2Row(ev, hA).Error(); err != nil {
			t.Errorf("A's row: %v", err)
		}
	})
}

// TestLock2_CloseEndsABorrowingWait_LOCK2_STOP2: the awaiting handler's
// child borrows B's lock while B waits for the handler lock; closing B then
// ends both and leaves no goroutine behind.
func TestLock2_CloseEndsABorrowingWait_LOCK2_STOP2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := lock2Bus(t, "L2CloseA")
		b := lock2Bus(t, "L2CloseB")
		if _, err := a.Forward("E", b); err != nil {
			t.Fatal(err)
		}
		childIn := make(chan struct{})
		lock2On(t, a, "E", func(hctx context.Context, e *Event) (any, error) {
			synctest.Wait() // B waits for E's handler lock
			c := lock2Event(t, "C")
			if err := b.Emit(hctx, c); err != nil {
				return nil, err
			}
			return nil, c.Now(hctx)
		})
		lock2On(t, b, "E", func(context.Context, *Event) (any, error) { return "b", nil })
		lock2On(t, b, "C", func(hctx context.Context, _ *Event) (any, error) {
			close(childIn)
			<-hctx.Done()
			return nil, hctx.Err()
		})
		ev := lock2Event(t, "E")
		if err := a.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		<-childIn // the child runs on B's borrowed lock
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFIFOLockBorrowWhileParked_LOCK2_LOCK3: a waiter queued before the
// holder parks is woken by the park and borrows the lock when its chain
// holds the parked event's handler lock; a waiter outside the chain stays
// queued and gets the lock, in order, when the holder lets it go. The
// holder's unpark returns only after the borrower gave the lock back.
func TestFIFOLockBorrowWhileParked_LOCK2_LOCK3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l fifoLock
		if !l.lock(nil) {
			t.Fatal("lock failed")
		}
		ev := lock2Event(t, "E")
		other := lock2Event(t, "O")
		inChain := &Result{event: ev, flags: rowHoldsEventLock}
		outside := &Result{event: other, flags: rowHoldsEventLock}
		type got struct{ held, borrowed bool }
		outCh := make(chan got, 1)
		go func() {
			h, b := l.lockOrBorrow(nil, outside)
			outCh <- got{h, b}
		}()
		synctest.Wait()
		inCh := make(chan got, 1)
		go func() {
			h, b := l.lockOrBorrow(nil, inChain)
			inCh <- got{h, b}
		}()
		synctest.Wait() // both queued, the holder not parked yet
		if !l.parkOn(ev) {
			t.Fatal("parkOn refused an unparked lock")
		}
		synctest.Wait()
		select {
		case g := <-inCh:
			if g.held || !g.borrowed {
				t.Fatalf("the chain's waiter got held=%v borrowed=%v, want a borrow", g.held, g.borrowed)
			}
		default:
			t.Fatal("the chain's waiter was not woken by the park")
		}
		select {
		case g := <-outCh:
			t.Fatalf("the waiter outside the chain got %+v while the holder was parked", g)
		default:
		}
		unparked := make(chan struct{})
		go func() {
			l.unpark(nil)
			close(unparked)
		}()
		synctest.Wait()
		select {
		case <-unparked:
			t.Fatal("unpark returned while a borrower still ran")
		default:
		}
		l.giveBack()
		<-unparked
		l.unlock()
		if g := <-outCh; !g.held || g.borrowed {
			t.Fatalf("the waiter outside the chain got %+v, want the lock", g)
		}
		l.unlock()
	})
}

// TestLock2_JumpWaitingForHandlerLockEndsOnFirstModeLoss_FIRST3_CANCEL2: a
// first-mode loser awaiting a child that waits for its handler lock (held
// by another bus) is aborted when the winner returns, and the child's wait
// ends with it: its unstarted row on the loser's bus is cancelled and never
// runs (FIRST-3, AWAIT-9, CANCEL-2).
func TestLock2_JumpWaitingForHandlerLockEndsOnFirstModeLoss_FIRST3_CANCEL2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := lock2Bus(t, "L2FirstA", WithEventTimeout(0))
		b := lock2Bus(t, "L2FirstB", WithEventTimeout(0))
		started := make(chan struct{})
		release := make(chan struct{})
		lock2On(t, a, "Child", func(ctx context.Context, e *Event) (any, error) {
			close(started)
			<-release // holds the child's handler lock
			return "a", nil
		})
		var bRan atomic.Bool
		hB := lock2On(t, b, "Child", func(ctx context.Context, e *Event) (any, error) { bRan.Store(true); return "b", nil })
		child := lock2Event(t, "Child")
		loserDone := make(chan struct{})
		lock2On(t, b, "Parent", func(ctx context.Context, e *Event) (any, error) {
			defer close(loserDone)
			if err := a.Emit(ctx, child); err != nil {
				return nil, err
			}
			<-started
			if err := b.Emit(ctx, child); err != nil {
				return nil, err
			}
			return nil, child.Now(ctx)
		})
		lock2On(t, b, "Parent", func(ctx context.Context, e *Event) (any, error) {
			<-started
			time.Sleep(100 * time.Millisecond) // the loser is inside child.Now
			return "win", nil
		})
		parent := lock2Event(t, "Parent")
		parent.SetHandlerConcurrency(ParallelHandlers)
		parent.SetCompletion(CompleteFirst)
		if err := b.Emit(ctx, parent); err != nil {
			t.Fatal(err)
		}
		select {
		case <-loserDone: // aborted by the winner, although A still holds the child's handler lock
		case <-time.After(time.Minute):
			close(release)
			t.Fatal("the loser's child.Now still waits for the handler lock a minute after the winner (synctest clock)")
		}
		// The abort that ended the loser's wait also cancels the child's
		// row, on the aborting goroutine, which may not have got there yet
		// when the loser returns: let the bubble settle first.
		synctest.Wait()
		r := lock2Row(child, hB)
		if r == nil {
			t.Fatal("no row for B's child handler")
		}
		var ce *HandlerCancelledError
		if !errors.As(r.Error(), &ce) || ce.Reason != ReasonParentAborted {
			t.Errorf("B's child row: %v %v, want cancelled for the parent's abort", r.Status(), r.Error())
		}
		close(release) // the parent completes with its child (CHILD-5)
		v, err := parent.First(ctx)
		if err != nil || v != "win" {
			t.Fatalf("First = %v, %v; want win", v, err)
		}
		if bRan.Load() {
			t.Error("the child's handler on B ran although its awaiting handler lost")
		}
	})
}

// TestLock2_BorrowStress_LOCK2_AWAIT5: many events forwarded from A to B,
// each awaiting a child on B from A's handler while B waits for its handler
// lock, mixed with queue-jumps onto B from another bus that are outside the
// chain. Everything completes without error, and B never runs two handlers
// at once: a borrower runs only while B's parked processing runs none.
func TestLock2_BorrowStress_LOCK2_AWAIT5(t *testing.T) {
	for round := 0; round < 5; round++ {
		a := lock2Bus(t, fmt.Sprintf("L2StressA%d", round))
		b := lock2Bus(t, fmt.Sprintf("L2StressB%d", round))
		x := lock2Bus(t, fmt.Sprintf("L2StressX%d", round))
		if _, err := a.Forward("E", b); err != nil {
			t.Fatal(err)
		}
		var active atomic.Int32
		var bad atomic.Int32
		serialB := func() {
			if active.Add(1) > 1 {
				bad.Add(1)
			}
			time.Sleep(10 * time.Microsecond)
			active.Add(-1)
		}
		lock2On(t, a, "E", func(hctx context.Context, e *Event) (any, error) {
			c := lock2Event(t, "C")
			if err := b.Emit(hctx, c); err != nil {
				return nil, err
			}
			return nil, c.Now(hctx)
		})
		lock2On(t, b, "E", func(context.Context, *Event) (any, error) { serialB(); return "b", nil })
		lock2On(t, b, "C", func(context.Context, *Event) (any, error) { serialB(); return "c", nil })
		lock2On(t, b, "F", func(context.Context, *Event) (any, error) { serialB(); return "f", nil })
		lock2On(t, x, "G", func(hctx context.Context, e *Event) (any, error) {
			f := lock2Event(t, "F")
			if err := b.Emit(hctx, f); err != nil {
				return nil, err
			}
			return nil, f.Now(hctx)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var evs []*Event
		for i := 0; i < 50; i++ {
			e := lock2Event(t, "E")
			g := lock2Event(t, "G")
			_ = a.Emit(ctx, e)
			_ = x.Emit(ctx, g)
			evs = append(evs, e, g)
		}
		for _, e := range evs {
			if err := e.Wait(ctx); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, r := range e.Rows() {
				if r.Error() != nil {
					t.Fatalf("round %d: %s %v", round, r.handler.Label(), r.Error())
				}
			}
		}
		cancel()
		if bad.Load() > 0 {
			t.Errorf("round %d: %d overlaps on B", round, bad.Load())
		}
	}
}
