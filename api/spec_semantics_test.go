package api_test

// Behavioural tests of the handler lock across buses (LOCK-2), of the
// first-mode cancellation cascade (FIRST-3, AWAIT-9, CANCEL-2) and of first
// mode applied before an event can start (FIRST-5), written against the spec
// (/work/shared/spec/spec.md §7, §8, §16, §25). Event types and helpers are
// prefixed SEM to stay clear of the other test files.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// SEMEvent is the event these tests emit and forward.
type SEMEvent struct {
	api.Event[string]
	Name string `json:"name"`
}

// SEMChild is the child a first-mode loser awaits.
type SEMChild struct {
	api.Event[string]
}

var semBusSeq atomic.Int64

func semBus(t *testing.T, prefix string, opts ...api.Option) *api.Bus {
	t.Helper()
	name := fmt.Sprintf("SEM_%s_%d", prefix, semBusSeq.Add(1))
	all := append([]api.Option{api.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	bus, err := api.NewBus(name, all...)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = bus.Close()
		_ = bus.Stop(context.Background()) // wait for handlers that ignore ctx
	})
	return bus
}

func semReg(t *testing.T) func(*api.Handler, error) *api.Handler {
	return func(h *api.Handler, err error) *api.Handler {
		t.Helper()
		require.NoError(t, err)
		return h
	}
}

func semRow(e api.Eventer, h *api.Handler) *api.Result {
	for _, r := range engine.Core(e).Rows() {
		if r.HandlerID() == h.ID() {
			return r
		}
	}
	return nil
}

// --- LOCK-2 ---

// semOverlap counts the handlers of one event that are running at once, on
// any bus. A handler that enters while another is inside records the
// overlap and releases both at once; a handler alone waits a while for
// company, so that overlapping handlers are caught however they are
// scheduled. With the handler lock held, a handler is never joined, so the
// check cannot fail spuriously.
type semOverlap struct {
	active  atomic.Int32
	max     atomic.Int32
	once    sync.Once
	overlap chan struct{}
	mu      sync.Mutex
	ran     []string
}

func newSemOverlap() *semOverlap { return &semOverlap{overlap: make(chan struct{})} }

func (o *semOverlap) enter(ctx context.Context, name string) {
	o.mu.Lock()
	o.ran = append(o.ran, name)
	o.mu.Unlock()
	n := o.active.Add(1)
	for {
		m := o.max.Load()
		if n <= m || o.max.CompareAndSwap(m, n) {
			break
		}
	}
	if n > 1 {
		o.once.Do(func() { close(o.overlap) })
	}
	select {
	case <-o.overlap:
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
	o.active.Add(-1)
}

func (o *semOverlap) handler(name string) func(context.Context, *api.BaseEvent) (any, error) {
	return func(ctx context.Context, _ *api.BaseEvent) (any, error) {
		o.enter(ctx, name)
		return name, nil
	}
}

func (o *semOverlap) typed(name string) func(context.Context, *SEMEvent) (string, error) {
	return func(ctx context.Context, _ *SEMEvent) (string, error) {
		o.enter(ctx, name)
		return name, nil
	}
}

// TestSpecLock2_ForwardedEventSerialAcrossBuses_LOCK2: with serial handlers,
// the handlers of an event forwarded from bus A to bus B run one at a time
// across both buses, although A started the event before it was forwarded,
// so that A did not yet know the event would span two buses (LOCK-2,
// HCONC-1). Covered: a typed forwarding handler registered first, a "*"
// forwarder followed by another "*" handler, and a handler that forwards by
// emitting the event on B itself, and an event forwarded to two buses.
func TestSpecLock2_ForwardedEventSerialAcrossBuses_LOCK2(t *testing.T) {
	cases := []struct {
		name  string
		wire  func(t *testing.T, a, b *api.Bus, o *semOverlap)
		third bool // A also forwards to a third bus
	}{
		{"typed forwarder first", func(t *testing.T, a, b *api.Bus, o *semOverlap) {
			semReg(t)(a.Forward(api.TypeName[SEMEvent](), b))
			semReg(t)(api.On(a, o.typed("a2")))
			semReg(t)(api.On(b, o.typed("b1")))
		}, false},
		{"wildcard forwarder then wildcard", func(t *testing.T, a, b *api.Bus, o *semOverlap) {
			semReg(t)(a.Forward(api.Wildcard, b))
			semReg(t)(api.OnAll(a, o.handler("a2")))
			semReg(t)(api.OnAll(b, o.handler("b1")))
		}, false},
		{"handler emits on the other bus", func(t *testing.T, a, b *api.Bus, o *semOverlap) {
			semReg(t)(api.OnAll(a, func(ctx context.Context, e *api.BaseEvent) (any, error) {
				return nil, b.Emit(ctx, e.Payload())
			}))
			semReg(t)(api.OnAll(a, o.handler("a2")))
			semReg(t)(api.On(b, o.typed("b1")))
			semReg(t)(api.OnAll(b, o.handler("b2")))
		}, false},
		{"forwarded to two buses", func(t *testing.T, a, b *api.Bus, o *semOverlap) {
			semReg(t)(a.Forward(api.TypeName[SEMEvent](), b))
			semReg(t)(api.On(a, o.typed("a2")))
			semReg(t)(api.On(b, o.typed("b1")))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a := semBus(t, "Lock2A")
			b := semBus(t, "Lock2B")
			c := semBus(t, "Lock2C")
			o := newSemOverlap()
			tc.wire(t, a, b, o)
			if tc.third {
				// Two buses wait for the lock at once; A hands it on in turn.
				semReg(t)(a.Forward(api.TypeName[SEMEvent](), c))
				semReg(t)(api.On(c, o.typed("c1")))
			}
			for i := 0; i < 3; i++ {
				e := &SEMEvent{Name: fmt.Sprint(i)}
				require.NoError(t, a.Emit(ctx, e))
				require.NoError(t, e.Wait(ctx))
				want := 2
				if tc.third {
					want = 3
				}
				assert.Len(t, e.Path(), want, "FWD-1: the event reached every bus")
			}
			assert.Equal(t, int32(1), o.max.Load(),
				"LOCK-2: handlers of a forwarded event ran at once on two serial buses (ran: %v)", o.ran)
		})
	}
}

// --- FIRST-3 with AWAIT-9 and CANCEL-2 ---

// TestSpecFirstLoserAwaitingChildIsCascaded_FIRST3_AWAIT9_CANCEL2: in first
// mode with parallel handlers, a loser that is inside child.Now(ctx) when the
// winner returns is aborted together with the child it queue-jumped: the
// child's running handler is aborted (its ctx is cancelled), its handler
// that has not started yet is cancelled, and First and the parent return
// without waiting for the child (FIRST-3, AWAIT-9, CANCEL-2). Runs on the
// synctest clock: the child's handler would otherwise run for an hour.
func TestSpecFirstLoserAwaitingChildIsCascaded_FIRST3_AWAIT9_CANCEL2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := semBus(t, "FirstCascade", api.WithEventTimeout(0))
		reg := semReg(t)
		childStarted := make(chan struct{})
		childCause := make(chan error, 1)
		var child atomic.Pointer[SEMChild]
		hLoser := reg(api.On(bus, func(hctx context.Context, _ *SEMEvent) (string, error) {
			c := &SEMChild{}
			child.Store(c)
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			if err := c.Now(hctx); err != nil {
				return "", err
			}
			return "loser", nil
		}, api.WithHandlerName("loser")))
		hWinner := reg(api.On(bus, func(hctx context.Context, _ *SEMEvent) (string, error) {
			select {
			case <-childStarted:
			case <-hctx.Done():
				return "", hctx.Err()
			}
			return "win", nil
		}, api.WithHandlerName("winner")))
		hChildRun := reg(api.On(bus, func(hctx context.Context, _ *SEMChild) (string, error) {
			close(childStarted)
			select {
			case <-hctx.Done():
				childCause <- api.Cause(hctx)
				return "", hctx.Err()
			case <-time.After(time.Hour):
				childCause <- nil
				return "child side effect", nil
			}
		}, api.WithHandlerName("child_running")))
		var secondCalled atomic.Bool
		hChildNext := reg(api.On(bus, func(context.Context, *SEMChild) (string, error) {
			secondCalled.Store(true)
			return "child second", nil
		}, api.WithHandlerName("child_next")))

		e := &SEMEvent{}
		e.SetHandlerConcurrency(api.ParallelHandlers) // the child keeps the serial bus default
		e.SetCompletion(api.CompleteFirst)
		require.NoError(t, bus.Emit(ctx, e))
		start := time.Now()
		v, err := e.First(ctx)
		elapsed := time.Since(start)
		require.NoError(t, err)
		assert.Equal(t, "win", v)
		assert.Less(t, elapsed, time.Minute,
			"FIRST-3: First waited %s (synctest clock) for the loser's child instead of cancelling it", elapsed)
		assert.Equal(t, api.StatusCompleted, e.Status(), "CHILD-5: the parent completed, its cancelled child with it")

		var ae *api.HandlerAbortedError
		loser := semRow(e, hLoser)
		require.NotNil(t, loser)
		require.ErrorAs(t, loser.Error(), &ae, "FIRST-3: the started loser is aborted")
		assert.Equal(t, engine.ReasonFirstResult, ae.Reason)
		assert.Equal(t, api.StatusCompleted, semRow(e, hWinner).Status())

		c := child.Load()
		require.NotNil(t, c)
		assert.Equal(t, api.StatusCompleted, c.Status(), "CANCEL-2: the interrupted child completes")
		running := semRow(c, hChildRun)
		require.NotNil(t, running)
		var childAbort *api.HandlerAbortedError
		require.ErrorAs(t, running.Error(), &childAbort, "CANCEL-2: the child's running handler is aborted")
		assert.Equal(t, engine.ReasonParentAborted, childAbort.Reason, "the child was not timed out: its awaiting handler lost")
		assert.ErrorIs(t, <-childCause, api.ErrHandlerAborted, "AWAIT-9: the child's handler ctx was cancelled")
		next := semRow(c, hChildNext)
		require.NotNil(t, next)
		assert.ErrorIs(t, next.Error(), api.ErrHandlerCancelled, "CANCEL-2: the child's unstarted handler is cancelled")
		assert.False(t, secondCalled.Load())
	})
}

// --- FIRST-5 ---

// semFirstTries is how many fresh buses TestSpecFirstAppliesBeforeStart_FIRST5
// tries. Emit followed by First, which cannot close the race, let the second
// handler run in 19 to 44 of 300 tries under -race on two cores.
const semFirstTries = 300

// TestSpecFirstAppliesBeforeStart_FIRST5: EmitFirst sets first mode before
// the event is enqueued, so on an idle bus whose first handler wins, the
// handler after it is never called, however the dispatcher is scheduled
// (FIRST-5, FIRST-2). Setting the completion before Emit and then calling
// First is the other form with the same guarantee.
func TestSpecFirstAppliesBeforeStart_FIRST5(t *testing.T) {
	ways := []struct {
		name string
		run  func(ctx context.Context, bus *api.Bus, e *SEMEvent) (string, error)
	}{
		{"EmitFirst", func(ctx context.Context, bus *api.Bus, e *SEMEvent) (string, error) {
			return api.EmitFirst(ctx, bus, e)
		}},
		{"SetCompletion before Emit", func(ctx context.Context, bus *api.Bus, e *SEMEvent) (string, error) {
			e.SetCompletion(api.CompleteFirst)
			if err := bus.Emit(ctx, e); err != nil {
				return "", err
			}
			return e.First(ctx)
		}},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ran := 0
			for i := 0; i < semFirstTries; i++ {
				bus, err := api.NewBus(fmt.Sprintf("SEM_First5_%d", semBusSeq.Add(1)), api.WithLogger(slog.New(slog.DiscardHandler)))
				require.NoError(t, err)
				var second atomic.Bool
				_, err = api.On(bus, func(context.Context, *SEMEvent) (string, error) { return "win", nil })
				require.NoError(t, err)
				_, err = api.On(bus, func(context.Context, *SEMEvent) (string, error) {
					second.Store(true)
					return "second", nil
				})
				require.NoError(t, err)
				e := &SEMEvent{}
				v, err := way.run(ctx, bus, e)
				require.NoError(t, err)
				require.Equal(t, "win", v)
				require.NoError(t, bus.Close())
				if second.Load() {
					ran++
				}
				assert.Equal(t, api.CompleteFirst, e.Completion(), "FIRST-5: the mode is set on the event")
			}
			assert.Zero(t, ran, "FIRST-5: the handler after the winner ran in %d of %d tries", ran, semFirstTries)
		})
	}
}

// TestSpecEmitFirstBadInput_FIRST5: EmitFirst refuses a nil event and a
// closed bus with the errors Emit returns, without panicking.
func TestSpecEmitFirstBadInput_FIRST5(t *testing.T) {
	ctx := context.Background()
	bus := semBus(t, "EmitFirstBad")
	_, err := api.EmitFirst[string](ctx, bus, nil)
	assert.ErrorIs(t, err, api.ErrNilEvent)
	var nilEvent *SEMEvent
	_, err = api.EmitFirst(ctx, bus, nilEvent)
	assert.ErrorIs(t, err, api.ErrNilEvent)
	require.NoError(t, bus.Close())
	v, err := api.EmitFirst(ctx, bus, &SEMEvent{})
	assert.ErrorIs(t, err, api.ErrBusClosed)
	assert.Empty(t, v)
}

// TestSpecLock2_AwaitOnBusParkedBehindHandlerLock_LOCK2_LOCK3_AWAIT5: bus A
// forwards an event to bus B and a later handler of A awaits a child on B.
// B has dequeued the forwarded event and waits, holding its bus lock, for the
// event's handler lock, which A holds until that very handler returns. The
// child must still run at once (AWAIT-4, AWAIT-5): B's lock holder is parked
// behind the awaiting handler's own lock, so the awaiting handler re-enters
// B's lock rather than waiting for it (LOCK-3) until the event times out.
// Runs on the synctest clock, so a stall shows as the 60 s event timeout.
func TestSpecLock2_AwaitOnBusParkedBehindHandlerLock_LOCK2_LOCK3_AWAIT5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := semBus(t, "Lock2ParkA")
		b := semBus(t, "Lock2ParkB")
		reg := semReg(t)
		reg(a.Forward(api.TypeName[SEMEvent](), b))
		var waited time.Duration
		reg(api.On(a, func(hctx context.Context, _ *SEMEvent) (string, error) {
			synctest.Wait() // B has dequeued the forwarded event and waits for its handler lock
			c := &SEMChild{}
			if err := b.Emit(hctx, c); err != nil {
				return "", err
			}
			start := time.Now()
			err := c.Now(hctx)
			waited = time.Since(start)
			return "a", err
		}))
		var order []string
		var mu sync.Mutex
		note := func(s string) {
			mu.Lock()
			order = append(order, s)
			mu.Unlock()
		}
		reg(api.On(b, func(context.Context, *SEMEvent) (string, error) { note("b_event"); return "b", nil }))
		reg(api.On(b, func(context.Context, *SEMChild) (string, error) { note("b_child"); return "child", nil }))

		e := &SEMEvent{}
		require.NoError(t, a.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Less(t, waited, time.Second, "AWAIT-5: the child waited %s (synctest clock) for a bus parked behind its own parent", waited)
		for _, r := range e.Rows() {
			assert.NoError(t, r.Error(), r.String())
		}
		assert.Equal(t, []string{"b_child", "b_event"}, order, "the awaited child ran inside A's handler, B's handler after A's")
	})
}

// TestSpecLock2_CloseWhileWaitingForHandlerLock_LOCK2: closing bus B while
// it waits for the handler lock of an event that bus A is still handling
// ends B's wait at once: B's rows are cancelled as stopped, A's handlers
// finish normally, the event completes and no goroutine is left behind
// (LOCK-2, STOP).
func TestSpecLock2_CloseWhileWaitingForHandlerLock_LOCK2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := semBus(t, "Lock2CloseA")
		b := semBus(t, "Lock2CloseB")
		reg := semReg(t)
		release := make(chan struct{})
		reg(a.Forward(api.TypeName[SEMEvent](), b))
		reg(api.On(a, func(hctx context.Context, _ *SEMEvent) (string, error) {
			<-release
			return "a", nil
		}))
		var bRan atomic.Bool
		hB := reg(api.On(b, func(context.Context, *SEMEvent) (string, error) {
			bRan.Store(true)
			return "b", nil
		}))
		e := &SEMEvent{}
		require.NoError(t, a.Emit(ctx, e))
		synctest.Wait() // A runs its second handler; B waits for the handler lock
		rowB := semRow(e, hB)
		require.NotNil(t, rowB, "B set up its rows before waiting")
		assert.Equal(t, api.StatusPending, rowB.Status(), "HCONC-5: a row waiting for the handler lock stays pending")
		require.NoError(t, b.Close())
		assert.ErrorIs(t, rowB.Error(), api.ErrStopped, "B's waiting row is cancelled by Close")
		close(release)
		require.NoError(t, e.Wait(ctx))
		assert.False(t, bRan.Load())
		for _, r := range e.Rows() {
			if r != rowB {
				assert.NoError(t, r.Error(), r.String())
			}
		}
	})
}
