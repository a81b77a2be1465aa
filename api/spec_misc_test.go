package api_test

// Spec tests for context propagation (CTX, spec.md §24), find/filter (FIND,
// §18), debouncing (DEB, §19), wait_until_idle (IDLE, §20), the log tree
// (LOG, §27), middleware hooks (MW, §26.1) and the recursion guard (REC,
// §14). Ordering is driven by channels; tests that depend on elapsed time
// (past windows, future timeouts) run in a testing/synctest bubble.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// --- event types and helpers of this file ---

type msEvent struct {
	api.Event[string]
	UserID string `json:"user_id"`
	N      int    `json:"n"`
}

type msChild struct {
	api.Event[string]
	N int `json:"n"`
}

type msGrand struct {
	api.Event[string]
}

type msRec struct {
	api.Event[int]
	Level int `json:"level"`
}

type msKey string

// msValueError has the cross-language type name ValueError (LOG-6).
type msValueError struct{ msg string }

func (e *msValueError) Error() string    { return e.msg }
func (e *msValueError) TypeName() string { return "ValueError" }

// msCtx returns a context that bounds every wait of a real-time test.
func msCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var (
	msTypeEvent = api.TypeName[msEvent]()
	msTypeChild = api.TypeName[msChild]()
	msTypeGrand = api.TypeName[msGrand]()
)

// msGate registers on bus a msEvent handler that blocks events with
// N == gateN until release is closed, and reports each started event.
func msGate(t *testing.T, bus *api.Bus, gateN int) (started <-chan *msEvent, release func()) {
	t.Helper()
	st := make(chan *msEvent, 64)
	rel := make(chan struct{})
	var once sync.Once
	_, err := api.On(bus, func(ctx context.Context, e *msEvent) (string, error) {
		st <- e
		if e.N == gateN {
			select {
			case <-rel:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return fmt.Sprintf("n=%d", e.N), nil
	}, api.WithHandlerName("gate"))
	require.NoError(t, err)
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return st, release
}

// --- CTX-1..6 (and CTX-9): context propagation ---

// CTX-1, CTX-9: values of the emit ctx reach the handlers, also on a bus the
// event is forwarded to; the first capture wins (FWD-10).
func TestSpecCtx1_EmitValuesReachHandlersAndForwardedBus(t *testing.T) {
	ctx := msCtx(t)
	a := spBus(t, "Ctx1BusA")
	b := spBus(t, "Ctx1BusB")
	seen := make(chan string, 4)
	record := func(where string) func(context.Context, *msEvent) (string, error) {
		return func(hctx context.Context, _ *msEvent) (string, error) {
			v, _ := hctx.Value(msKey("request_id")).(string)
			seen <- where + ":" + v
			return v, nil
		}
	}
	_, err := api.On(a, record("a"))
	require.NoError(t, err)
	_, err = api.On(b, record("b"))
	require.NoError(t, err)
	_, err = a.Forward(msTypeEvent, b)
	require.NoError(t, err)

	ectx := context.WithValue(ctx, msKey("request_id"), "req-1")
	e := &msEvent{}
	require.NoError(t, a.Emit(ectx, e))
	require.NoError(t, e.Wait(ctx))
	got := []string{<-seen, <-seen}
	assert.ElementsMatch(t, []string{"a:req-1", "b:req-1"}, got)
	require.NotNil(t, e.Context())
	assert.Equal(t, "req-1", e.Context().Value(msKey("request_id")), "the emit-time ctx is kept")
}

// CTX-2: snapshots are isolated per emit: set A, emit e1, set B, emit e2 →
// e1's handler sees A and e2's sees B, although both ran later.
func TestSpecCtx2_SnapshotsIsolatedPerEmit(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Ctx2Bus")
	started, release := msGate(t, bus, 0)
	seen := map[int]any{}
	var mu sync.Mutex
	_, err := api.On(bus, func(hctx context.Context, e *msEvent) (string, error) {
		mu.Lock()
		seen[e.N] = hctx.Value(msKey("k"))
		mu.Unlock()
		return "", nil
	})
	require.NoError(t, err)

	blocker := &msEvent{N: 0}
	require.NoError(t, bus.Emit(ctx, blocker))
	<-started
	e1 := &msEvent{N: 1}
	e2 := &msEvent{N: 2}
	require.NoError(t, bus.Emit(context.WithValue(ctx, msKey("k"), "A"), e1))
	require.NoError(t, bus.Emit(context.WithValue(ctx, msKey("k"), "B"), e2))
	release()
	require.NoError(t, e1.Wait(ctx))
	require.NoError(t, e2.Wait(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "A", seen[1])
	assert.Equal(t, "B", seen[2])
}

// CTX-3: a child emitted inside a handler captures the handler's ctx (the
// parent's values plus what the handler added); grandchildren inherit the
// chain, and parent tracking works alongside (test_deeply_nested_context_and_parent_tracking).
func TestSpecCtx3_NestedChildrenInheritChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus := spBus(t, "Ctx3Bus")
		type view struct{ req, step1, step2 any }
		childSeen := make(chan view, 1)
		grandSeen := make(chan view, 1)
		var child *msChild
		var grand *msGrand
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			child = &msChild{}
			cctx := context.WithValue(hctx, msKey("step1"), "parent")
			if err := bus.Emit(cctx, child); err != nil {
				return "", err
			}
			return "", child.Now(cctx)
		})
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msChild) (string, error) {
			childSeen <- view{hctx.Value(msKey("req")), hctx.Value(msKey("step1")), hctx.Value(msKey("step2"))}
			grand = &msGrand{}
			gctx := context.WithValue(hctx, msKey("step2"), "child")
			if err := bus.Emit(gctx, grand); err != nil {
				return "", err
			}
			return "", grand.Now(gctx)
		})
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msGrand) (string, error) {
			grandSeen <- view{hctx.Value(msKey("req")), hctx.Value(msKey("step1")), hctx.Value(msKey("step2"))}
			return "", nil
		})
		require.NoError(t, err)

		root := &msEvent{}
		require.NoError(t, bus.Emit(context.WithValue(ctx, msKey("req"), "r-1"), root))
		require.NoError(t, root.Wait(ctx))
		assert.Equal(t, view{"r-1", "parent", nil}, <-childSeen)
		assert.Equal(t, view{"r-1", "parent", "child"}, <-grandSeen)
		assert.Equal(t, root.ID(), child.ParentID())
		assert.Equal(t, child.ID(), grand.ParentID())
	})
}

// CTX-4: handlers run in a copy: a value one handler sets (and passes to a
// child) is seen neither by the next handler of the same event nor by the
// parent handler or the emitter (test_handler_can_modify_context_without_affecting_parent).
func TestSpecCtx4_HandlerValuesDoNotLeakToParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus := spBus(t, "Ctx4Bus")
		parentAfter := make(chan any, 1)
		secondSaw := make(chan any, 1)
		childSaw := make(chan any, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			c := &msChild{}
			if err := bus.Emit(context.WithValue(hctx, msKey("h1"), "set-by-h1"), c); err != nil {
				return "", err
			}
			if err := c.Now(hctx); err != nil {
				return "", err
			}
			parentAfter <- hctx.Value(msKey("child_only"))
			return "", nil
		}, api.WithHandlerName("h1"))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			secondSaw <- hctx.Value(msKey("h1"))
			return "", nil
		}, api.WithHandlerName("h2"))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msChild) (string, error) {
			childSaw <- hctx.Value(msKey("h1"))
			g := &msGrand{}
			gctx := context.WithValue(hctx, msKey("child_only"), "x")
			if err := bus.Emit(gctx, g); err != nil {
				return "", err
			}
			// Awaited: under D2 the child completes only with its children, and
			// an un-awaited grandchild would queue behind the parent.
			return "", g.Now(gctx)
		})
		require.NoError(t, err)

		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Equal(t, "set-by-h1", <-childSaw, "the child sees what its emitter set")
		assert.Nil(t, <-parentAfter, "a child's value does not leak to the parent handler")
		assert.Nil(t, <-secondSaw, "h1's value does not leak to h2")
		assert.Nil(t, ctx.Value(msKey("h1")))
	})
}

// CTX-5: all handlers of a parallel event see the dispatch ctx
// (test_context_propagates_to_parallel_handler_concurrency).
func TestSpecCtx5_ParallelHandlersSeeContext(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Ctx5Bus", api.WithHandlerConcurrency(api.ParallelHandlers))
	seen := make(chan any, 3)
	all := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(3)
	go func() { arrived.Wait(); close(all) }()
	for i := range 3 {
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			arrived.Done()
			<-all // all three run at the same time
			seen <- hctx.Value(msKey("trace"))
			return "", nil
		}, api.WithHandlerName(fmt.Sprintf("p%d", i)))
		require.NoError(t, err)
	}
	e := &msEvent{}
	require.NoError(t, bus.Emit(context.WithValue(ctx, msKey("trace"), "t-9"), e))
	require.NoError(t, e.Wait(ctx))
	for range 3 {
		assert.Equal(t, "t-9", <-seen)
	}
}

// CTX-6: internal values (current bus, event, row) are layered over the
// user values; parent tracking uses them (test_dispatch_context_and_parent_id_both_work).
func TestSpecCtx6_InternalContextAndParentTracking(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Ctx6Bus")
	type obs struct {
		bus   *api.Bus
		event *engine.Event
		row   *api.Result
		user  any
		child *msChild
	}
	got := make(chan obs, 1)
	h, err := api.On(bus, func(hctx context.Context, e *msEvent) (string, error) {
		c := &msChild{}
		if err := bus.Emit(hctx, c); err != nil {
			return "", err
		}
		got <- obs{api.CurrentBus(hctx), engine.CurrentEvent(hctx), engine.CurrentResult(hctx), hctx.Value(msKey("user")), c}
		return "", nil
	})
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(context.WithValue(ctx, msKey("user"), "u"), e))
	require.NoError(t, e.Wait(ctx))
	o := <-got
	assert.Same(t, bus, o.bus)
	require.NotNil(t, o.event)
	assert.Equal(t, e.ID(), o.event.ID())
	require.NotNil(t, o.row)
	assert.Equal(t, h.ID(), o.row.HandlerID())
	assert.Equal(t, "u", o.user)
	assert.Equal(t, e.ID(), o.child.ParentID())
	assert.Equal(t, h.ID(), o.child.EmittedByHandlerID())
	assert.Nil(t, api.CurrentBus(ctx), "outside a handler there is no current bus")
}

// CTX-9: the emitter's cancellation does not cancel queued work: the
// handler's ctx is live, keeps the values and the event completes.
func TestSpecCtx9_EmitterCancellationDoesNotCancelHandlers(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Ctx9Bus")
	started, release := msGate(t, bus, 0)
	type obs struct {
		err, cause error
		done       bool
		val        any
	}
	got := make(chan obs, 1)
	_, err := api.On(bus, func(hctx context.Context, e *msEvent) (string, error) {
		if e.N != 1 {
			return "", nil
		}
		done := false
		select {
		case <-hctx.Done():
			done = true
		default:
		}
		got <- obs{hctx.Err(), api.Cause(hctx), done, hctx.Value(msKey("k"))}
		return "ran", nil
	}, api.WithHandlerName("checker"))
	require.NoError(t, err)

	require.NoError(t, bus.Emit(ctx, &msEvent{N: 0}))
	<-started
	ectx, cancel := context.WithCancel(context.WithValue(ctx, msKey("k"), "v"))
	e := &msEvent{N: 1}
	require.NoError(t, bus.Emit(ectx, e))
	cancel()
	release()
	require.NoError(t, e.Wait(ctx))
	o := <-got
	assert.NoError(t, o.err)
	assert.NoError(t, o.cause, "api.Cause is nil while the handler is live")
	assert.False(t, o.done)
	assert.Equal(t, "v", o.val)
	assert.Equal(t, "ran", spRow(t, e, "checker").Value())
}

// CTX-9, CANCEL-5: context.Cause on a live handler ctx must not report the
// emitter's cancellation.
func TestSpecCtx9_ContextCauseIgnoresEmitterCancellation(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Ctx9CauseBus")
	started, release := msGate(t, bus, 0)
	got := make(chan error, 1)
	_, err := api.On(bus, func(hctx context.Context, e *msEvent) (string, error) {
		if e.N == 1 {
			got <- context.Cause(hctx)
		}
		return "", nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, &msEvent{N: 0}))
	<-started
	ectx, cancel := context.WithCancel(ctx)
	e := &msEvent{N: 1}
	require.NoError(t, bus.Emit(ectx, e))
	cancel()
	release()
	require.NoError(t, e.Wait(ctx))
	assert.NoError(t, <-got)
}

// CANCEL-5, CTX-9: once a handler ctx is done, context.Cause reports a
// non-nil reason even when the emit ctx was a live cancellable ctx.
func TestSpecCtx9_ContextCauseAfterHandlerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := spBus(t, "Ctx9TimeoutCauseBus")
		got := make(chan error, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			<-hctx.Done()
			got <- context.Cause(hctx)
			return "", hctx.Err()
		}, api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		ectx, cancel := context.WithCancel(context.Background())
		defer cancel()
		require.NoError(t, bus.Emit(ectx, &msEvent{}))
		assert.Error(t, <-got)
	})
}

// CANCEL-5, CTX-9: when a handler times out after its emitter's ctx was
// cancelled, context.Cause(handlerCtx) reports the handler's own stop, not
// the emitter's cause (STYLE: "context.Cause(ctx) says whether the handler
// was stopped by its timeout, a parent's timeout or Stop").
func TestSpecCtx9_ContextCauseIsNotTheEmittersCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := spBus(t, "Ctx9EmitterCauseBus")
		emitterGone := errors.New("emitter gone")
		got := make(chan error, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			<-hctx.Done()
			got <- context.Cause(hctx)
			return "", hctx.Err()
		}, api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		ectx, cancel := context.WithCancelCause(context.Background())
		require.NoError(t, bus.Emit(ectx, &msEvent{}))
		cancel(emitterGone)
		cause := <-got
		assert.NotErrorIs(t, cause, emitterGone)
		assert.True(t, errors.Is(cause, context.DeadlineExceeded) || errors.Is(cause, api.ErrHandlerTimeout), "cause %v", cause)
	})
}

// AWAIT-5, STOP-2: closing a bus right after a queue-jump must be safe: the
// dispatcher may still be skipping the queue entry of the event that the
// jump already processed.
func TestSpecCloseAfterQueueJump(t *testing.T) {
	for i := range 300 {
		bus, err := api.NewBus(fmt.Sprintf("CloseAfterJumpBus%d", i), api.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			c := &msChild{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			return "", c.Now(hctx)
		})
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msChild) (string, error) { return "", nil })
		require.NoError(t, err)
		e := &msEvent{}
		require.NoError(t, bus.Emit(context.Background(), e))
		require.NoError(t, e.Wait(context.Background()))
		require.NoError(t, bus.Close())
	}
}

// --- FIND-2..12 ---

// FIND-2: past=whole history by default, newest first; a time window keeps
// only events created within it; NoPast skips history. Real time: the
// event timestamps follow the process clock of TIME-5, not synctest's fake
// clock, so the window needs real elapsed time.
func TestSpecFind2_PastWindowNewestFirst(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Find2Bus")
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil })
	require.NoError(t, err)
	old := &msEvent{UserID: "old"}
	require.NoError(t, bus.Emit(ctx, old))
	require.NoError(t, old.Wait(ctx))
	time.Sleep(500 * time.Millisecond) // ages the old event
	newer := &msEvent{UserID: "new"}
	require.NoError(t, bus.Emit(ctx, newer))
	require.NoError(t, newer.Wait(ctx))

	f, err := api.Find[msEvent](ctx, bus)
	require.NoError(t, err)
	assert.Same(t, newer, f, "most recent match wins")
	f, err = api.Find[msEvent](ctx, bus, api.Past(250*time.Millisecond))
	require.NoError(t, err)
	assert.Same(t, newer, f)
	f, err = api.Find[msEvent](ctx, bus, api.Past(250*time.Millisecond), api.FieldEquals("user_id", "old"))
	require.NoError(t, err)
	assert.Nil(t, f, "outside the window")
	f, err = api.Find[msEvent](ctx, bus, api.Past(time.Minute), api.FieldEquals("user_id", "old"))
	require.NoError(t, err)
	assert.Same(t, old, f)
	f, err = api.Find[msEvent](ctx, bus, api.NoPast())
	require.NoError(t, err)
	assert.Nil(t, f, "past=false, future=false: nothing")
	f, err = api.Find[msEvent](ctx, bus, api.Past(-time.Second))
	require.NoError(t, err)
	assert.Nil(t, f, "negative window searches nothing")
	any1, err := bus.Find(ctx, api.Wildcard)
	require.NoError(t, err)
	assert.Equal(t, newer.ID(), any1.ID(), "FIND-1: '*' matches any type")
}

// FIND-3: future waits up to d for a new match, else returns nil; d == 0
// waits until ctx is done.
func TestSpecFind3_FutureWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Find3Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil })
		require.NoError(t, err)

		start := time.Now()
		f, err := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(100*time.Millisecond))
		require.NoError(t, err)
		assert.Nil(t, f)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))

		e := &msEvent{N: 7}
		go func() {
			time.Sleep(50 * time.Millisecond)
			_ = bus.Emit(ctx, e)
		}()
		start = time.Now()
		f, err = api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(time.Second))
		require.NoError(t, err)
		assert.Same(t, e, f)
		assert.Equal(t, 50*time.Millisecond, time.Since(start))

		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start = time.Now()
		f, err = api.Find[msEvent](cctx, bus, api.NoPast(), api.Future(0))
		assert.Nil(t, f)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 200*time.Millisecond, time.Since(start))
		require.NoError(t, bus.WaitUntilIdle(ctx))
	})
}

// FIND-4: where predicates and exact field equality on payload JSON names
// and built-ins (event_status, event_id); a missing field never matches.
func TestSpecFind4_WhereAndFieldEquality(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Find4Bus")
	started, release := msGate(t, bus, 99)
	done := &msEvent{UserID: "u-1", N: 1}
	require.NoError(t, bus.Emit(ctx, done))
	require.NoError(t, done.Wait(ctx))
	running := &msEvent{UserID: "u-2", N: 99}
	require.NoError(t, bus.Emit(ctx, running))
	for e := range started {
		if e == running {
			break
		}
	}
	queued := &msEvent{UserID: "u-3", N: 3}
	require.NoError(t, bus.Emit(ctx, queued))

	find := func(opts ...api.FindOption) *msEvent {
		t.Helper()
		f, err := api.Find[msEvent](ctx, bus, opts...)
		require.NoError(t, err)
		return f
	}
	assert.Same(t, done, find(api.FieldEquals("user_id", "u-1")), "payload field by JSON name")
	assert.Same(t, done, find(api.FieldEquals("event_status", "completed")))
	assert.Same(t, running, find(api.FieldEquals("event_status", "started")))
	assert.Same(t, queued, find(api.FieldEquals("event_status", "pending")))
	assert.Same(t, running, find(api.FieldEquals("event_id", running.ID())))
	assert.Same(t, running, find(api.FieldEquals("n", 99), api.FieldEquals("user_id", "u-2")))
	assert.Nil(t, find(api.FieldEquals("n", 99), api.FieldEquals("user_id", "u-1")), "all filters must match")
	assert.Nil(t, find(api.FieldEquals("no_such_field", nil)), "a missing field never matches")
	assert.Nil(t, find(api.FieldEquals("no_such_field", "x")))
	assert.Same(t, done, find(engine.Where(func(e *engine.Event) bool {
		p, ok := e.Payload().(*msEvent)
		return ok && p.N == 1
	})))
	assert.Same(t, queued, find(api.Where(func(p *msEvent) bool { return p.UserID != "u-1" })), "typed where, newest first")
	release()
	require.NoError(t, bus.WaitUntilIdle(ctx))
}

// FIND-5: child_of restricts to descendants at any depth, also for events
// forwarded to another bus (test_child_of_works_across_forwarded_buses) and
// with a future wait (test_future_wait_with_child_of).
func TestSpecFind5_ChildOfAcrossForwardedBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		a := spBus(t, "Find5BusA")
		b := spBus(t, "Find5BusB")
		_, err := a.Forward(msTypeChild, b)
		require.NoError(t, err)
		childEmitted := make(chan *msChild, 1)
		gate := make(chan struct{})
		_, err = api.On(a, func(hctx context.Context, _ *msEvent) (string, error) {
			<-gate
			c := &msChild{N: 1}
			if err := a.Emit(hctx, c); err != nil {
				return "", err
			}
			childEmitted <- c
			return "", nil
		})
		require.NoError(t, err)
		_, err = api.On(b, func(hctx context.Context, c *msChild) (string, error) {
			if c.N == 1 {
				return "", b.Emit(hctx, &msGrand{})
			}
			return "", nil
		})
		require.NoError(t, err)

		parent := &msEvent{}
		require.NoError(t, a.Emit(ctx, parent))

		// A future child_of waiter on B, registered before the child exists.
		type res struct {
			e   *engine.Event
			err error
		}
		fut := make(chan res, 1)
		go func() {
			e, err := b.Find(ctx, msTypeChild, api.NoPast(), api.Future(5*time.Second), api.ChildOf(parent))
			fut <- res{e, err}
		}()
		synctest.Wait() // the waiter is registered
		require.Equal(t, 1, b.Waiters())
		// An unrelated root child on B must not resolve it.
		unrelated := &msChild{N: 2}
		require.NoError(t, b.Emit(ctx, unrelated))
		close(gate)
		child := <-childEmitted
		r := <-fut
		require.NoError(t, r.err)
		require.NotNil(t, r.e)
		assert.Equal(t, child.ID(), r.e.ID())

		require.NoError(t, parent.Wait(ctx))
		require.NoError(t, a.WaitUntilIdle(ctx))
		require.NoError(t, b.WaitUntilIdle(ctx))

		f, err := b.Find(ctx, msTypeChild, api.ChildOf(parent)) // a typed event, as the README shows
		require.NoError(t, err)
		require.NotNil(t, f)
		assert.Equal(t, child.ID(), f.ID())
		g, err := b.Find(ctx, msTypeGrand, api.ChildOfEvent(parent))
		require.NoError(t, err)
		require.NotNil(t, g, "descendants at any depth")
		assert.Equal(t, child.ID(), g.ParentID())
		n, err := b.Find(ctx, msTypeChild, api.ChildOfEvent(unrelated))
		require.NoError(t, err)
		assert.Nil(t, n)
		// FIND-7: a returned event keeps its full path.
		assert.Equal(t, []string{a.Label(), b.Label()}, f.Path())
	})
}

// FIND-6, FIND-9: a future find resolves when the event is emitted, before
// any of its handlers runs; the history search includes pending events.
func TestSpecFind6_9_ResolvesAtEmitBeforeHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Find6Bus")
		started, release := msGate(t, bus, 0)
		require.NoError(t, bus.Emit(ctx, &msEvent{N: 0}))
		<-started

		// FIND-9: an in-flight event emitted before the waiter existed is
		// ignored with past=false.
		f, err := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(100*time.Millisecond))
		require.NoError(t, err)
		assert.Nil(t, f)

		got := make(chan *msEvent, 1)
		go func() {
			f, _ := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(time.Minute), api.FieldEquals("n", 1))
			got <- f
		}()
		synctest.Wait()
		require.Equal(t, 1, bus.Waiters())
		e := &msEvent{N: 1}
		require.NoError(t, bus.Emit(ctx, e))
		synctest.Wait()
		select {
		case f := <-got:
			assert.Same(t, e, f)
		default:
			t.Fatal("the waiter is resolved inside Emit")
		}
		assert.Equal(t, api.StatusPending, e.Status(), "resolved before any handler ran")
		assert.Empty(t, e.Rows())

		// FIND-6: the history search sees the pending event too.
		p, err := api.Find[msEvent](ctx, bus, api.FieldEquals("event_status", "pending"))
		require.NoError(t, err)
		assert.Same(t, e, p)
		release()
		require.NoError(t, e.Wait(ctx))
	})
}

// FIND-7: history search is bus-scoped.
func TestSpecFind7_BusScoped(t *testing.T) {
	ctx := msCtx(t)
	x := spBus(t, "Find7BusX")
	y := spBus(t, "Find7BusY")
	e := &msEvent{}
	require.NoError(t, x.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	f, err := api.Find[msEvent](ctx, y)
	require.NoError(t, err)
	assert.Nil(t, f)
	f, err = api.Find[msEvent](ctx, x)
	require.NoError(t, err)
	assert.Same(t, e, f)
}

// FIND-8, FIND-11: with past and future, a history match returns at once,
// and the newest match wins even while it is still in flight.
func TestSpecFind8_11_PastPlusFutureReturnsNewestImmediately(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Find8Bus")
		started, release := msGate(t, bus, 2)
		e1 := &msEvent{N: 1}
		require.NoError(t, bus.Emit(ctx, e1))
		require.NoError(t, e1.Wait(ctx))
		e2 := &msEvent{N: 2}
		require.NoError(t, bus.Emit(ctx, e2))
		<-started
		<-started

		start := time.Now()
		f, err := api.Find[msEvent](ctx, bus, api.Future(0)) // no deadline: must not wait
		require.NoError(t, err)
		assert.Same(t, e2, f, "the in-flight newest match wins")
		assert.Equal(t, api.StatusStarted, f.Status())
		assert.Zero(t, time.Since(start))
		assert.Zero(t, bus.Waiters())
		release()
		require.NoError(t, bus.WaitUntilIdle(ctx))
	})
}

// FIND-10, STOP-4: concurrent future waiters each get their own match;
// waiters are removed after resolution, after timeout, and resolved with
// nil when the bus closes.
func TestSpecFind10_WaiterCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Find10Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil })
		require.NoError(t, err)
		require.Zero(t, bus.Waiters())

		results := make([]chan *msEvent, 3)
		for i := range results {
			results[i] = make(chan *msEvent, 1)
			go func() {
				f, _ := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(time.Minute), api.FieldEquals("n", i))
				results[i] <- f
			}()
		}
		synctest.Wait()
		assert.Equal(t, 3, bus.Waiters())
		events := []*msEvent{{N: 0}, {N: 1}, {N: 2}}
		for _, i := range []int{2, 0, 1} {
			require.NoError(t, bus.Emit(ctx, events[i]))
		}
		for i := range results {
			assert.Same(t, events[i], <-results[i])
		}
		synctest.Wait()
		assert.Zero(t, bus.Waiters(), "resolved waiters are removed")

		f, err := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(50*time.Millisecond), api.FieldEquals("n", 42))
		require.NoError(t, err)
		assert.Nil(t, f)
		assert.Zero(t, bus.Waiters(), "timed-out waiters are removed")

		closed := make(chan *msEvent, 1)
		go func() {
			f, _ := api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(0))
			closed <- f
		}()
		synctest.Wait()
		require.Equal(t, 1, bus.Waiters())
		require.NoError(t, bus.Close())
		assert.Nil(t, <-closed, "STOP-4: Close resolves waiters with nil")
	})
}

// FIND-12: filter returns matches newest first capped by limit; limit <= 0
// returns nothing; a full past result skips the future wait; a future match
// is appended after the past ones; future-only timeout gives nothing;
// find == filter(limit=1)[0].
func TestSpecFind12_Filter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Find12Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil })
		require.NoError(t, err)
		evs := []*msEvent{{N: 1, UserID: "x"}, {N: 2}, {N: 3}}
		for _, e := range evs {
			require.NoError(t, bus.Emit(ctx, e))
			require.NoError(t, e.Wait(ctx))
		}
		ids := func(es []*engine.Event) []string {
			out := make([]string, len(es))
			for i, e := range es {
				out[i] = e.ID()
			}
			return out
		}

		got, err := bus.Filter(ctx, msTypeEvent, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{evs[2].ID(), evs[1].ID()}, ids(got))
		got, err = bus.Filter(ctx, msTypeEvent, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{evs[2].ID(), evs[1].ID(), evs[0].ID()}, ids(got))
		for _, limit := range []int{0, -1} {
			start := time.Now()
			got, err = bus.Filter(ctx, msTypeEvent, limit, api.Future(time.Second))
			require.NoError(t, err)
			assert.Empty(t, got)
			assert.Zero(t, time.Since(start), "limit <= 0 returns without waiting")
		}

		start := time.Now()
		got, err = bus.Filter(ctx, msTypeEvent, 2, api.Future(2*time.Second))
		require.NoError(t, err)
		assert.Len(t, got, 2)
		assert.Zero(t, time.Since(start), "past matches reach the limit: no future wait")

		fut := &msEvent{N: 4, UserID: "x"}
		go func() {
			time.Sleep(100 * time.Millisecond)
			_ = bus.Emit(ctx, fut)
		}()
		got, err = bus.Filter(ctx, msTypeEvent, 5, api.FieldEquals("user_id", "x"), api.Future(time.Second))
		require.NoError(t, err)
		assert.Equal(t, []string{evs[0].ID(), fut.ID()}, ids(got), "[past, future]")

		start = time.Now()
		got, err = bus.Filter(ctx, msTypeEvent, 3, api.NoPast(), api.Future(100*time.Millisecond))
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))

		one, err := bus.Filter(ctx, msTypeEvent, 1)
		require.NoError(t, err)
		f, err := bus.Find(ctx, msTypeEvent)
		require.NoError(t, err)
		require.Len(t, one, 1)
		assert.Equal(t, one[0].ID(), f.ID())
		require.NoError(t, bus.WaitUntilIdle(ctx))
	})
}

// --- DEB-1/2: debouncing pattern ---

// DEB-1, DEB-3: find(past=10s) or emit, then await: a recent event
// (completed or in flight) is reused; a stale one is not (test_dispatches_new_when_stale).
func TestSpecDeb1_SimpleDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Deb1Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) {
			time.Sleep(time.Second)
			return "computed", nil
		})
		require.NoError(t, err)
		debounce := func() *msEvent {
			f, err := api.Find[msEvent](ctx, bus, api.Past(10*time.Second))
			require.NoError(t, err)
			if f != nil {
				return f
			}
			e := &msEvent{}
			require.NoError(t, bus.Emit(ctx, e))
			return e
		}
		e1 := debounce()
		e2 := debounce() // e1 is still in flight
		assert.Same(t, e1, e2)
		v, err := e2.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "computed", v)
		e3 := debounce() // completed, 1s old
		assert.Same(t, e1, e3)
		assert.Equal(t, 1, bus.HistoryLen())
	})
}

// DEB-1: a stale event outside the past window is not reused
// (test_dispatches_new_when_stale). Real time, see FIND-2.
func TestSpecDeb1_StaleEventNotReused(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Deb1StaleBus")
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "computed", nil })
	require.NoError(t, err)
	debounce := func() *msEvent {
		f, err := api.Find[msEvent](ctx, bus, api.Past(250*time.Millisecond))
		require.NoError(t, err)
		if f != nil {
			return f
		}
		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		return e
	}
	e1 := debounce()
	require.NoError(t, e1.Wait(ctx))
	time.Sleep(500 * time.Millisecond) // ages e1 past the window
	e2 := debounce()
	assert.NotSame(t, e1, e2, "stale events outside the window are ignored")
	require.NoError(t, e2.Wait(ctx))
	assert.Equal(t, 2, bus.HistoryLen())
}

// DEB-2: find(past) or find(future=5s) or emit: prefers history, uses a
// future match arriving within the window instead of emitting
// (test_debounce_uses_future_match_before_dispatch_fallback), else emits;
// past-only find returns without waiting.
func TestSpecDeb2_AdvancedDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Deb2Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
		require.NoError(t, err)
		debounce := func(userID string) *msEvent {
			f, err := api.Find[msEvent](ctx, bus, api.Past(10*time.Second), api.FieldEquals("user_id", userID))
			require.NoError(t, err)
			if f != nil {
				return f
			}
			f, err = api.Find[msEvent](ctx, bus, api.NoPast(), api.Future(5*time.Second), api.FieldEquals("user_id", userID))
			require.NoError(t, err)
			if f != nil {
				return f
			}
			e := &msEvent{UserID: userID}
			require.NoError(t, bus.Emit(ctx, e))
			return e
		}

		// Future match within the window.
		arriving := &msEvent{UserID: "a"}
		go func() {
			time.Sleep(time.Second)
			_ = bus.Emit(ctx, arriving)
		}()
		start := time.Now()
		got := debounce("a")
		assert.Same(t, arriving, got)
		assert.Equal(t, time.Second, time.Since(start))
		require.NoError(t, got.Wait(ctx))
		assert.Equal(t, 1, bus.HistoryLen(), "no fallback emit")

		// Prefers recent history, without waiting.
		start = time.Now()
		assert.Same(t, arriving, debounce("a"))
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 1, bus.HistoryLen())

		// Nothing arrives: falls through to emit after the future window.
		start = time.Now()
		b := debounce("b")
		assert.Equal(t, 5*time.Second, time.Since(start))
		require.NoError(t, b.Wait(ctx))
		assert.Equal(t, 2, bus.HistoryLen())

		// A past-only find returns at once.
		start = time.Now()
		f, err := api.Find[msEvent](ctx, bus, api.Past(10*time.Second), api.FieldEquals("user_id", "zzz"))
		require.NoError(t, err)
		assert.Nil(t, f)
		assert.Zero(t, time.Since(start))
	})
}

// DEB-2: debouncing with child_of reuses a recent child of the current
// event (test_simple_debounce_with_child_of_reuses_recent_event).
func TestSpecDeb2_DebounceWithChildOf(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus := spBus(t, "Deb2ChildBus")
		_, err := api.On(bus, func(context.Context, *msChild) (string, error) { return "child", nil })
		require.NoError(t, err)
		var reused bool
		_, err = api.On(bus, func(hctx context.Context, e *msEvent) (string, error) {
			get := func() (*msChild, error) {
				f, err := api.Find[msChild](hctx, bus, api.Past(10*time.Second), api.ChildOfEvent(e))
				if err != nil || f != nil {
					return f, err
				}
				c := &msChild{}
				return c, bus.Emit(hctx, c)
			}
			c1, err := get()
			if err != nil {
				return "", err
			}
			if err := c1.Now(hctx); err != nil {
				return "", err
			}
			c2, err := get()
			if err != nil {
				return "", err
			}
			reused = c1 == c2
			return "", nil
		})
		require.NoError(t, err)
		old := &msChild{} // a recent child of nobody: not reused
		require.NoError(t, bus.Emit(ctx, old))
		require.NoError(t, old.Wait(ctx))
		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.True(t, reused)
		n := 0
		for _, r := range e.Rows() {
			n += len(r.Children())
		}
		assert.Equal(t, 1, n, "one child emitted")
	})
}

// --- IDLE-1..5 ---

// IDLE-1: a fresh bus is idle; after work the bus becomes idle with every
// event processed.
func TestSpecIdle1_FreshAndAfterWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Idle1Bus")
		start := time.Now()
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Zero(t, time.Since(start))

		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) {
			time.Sleep(10 * time.Millisecond)
			return "", nil
		})
		require.NoError(t, err)
		evs := make([]*msEvent, 5)
		for i := range evs {
			evs[i] = &msEvent{N: i}
			require.NoError(t, bus.Emit(ctx, evs[i]))
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Equal(t, 50*time.Millisecond, time.Since(start))
		for _, e := range evs {
			assert.Equal(t, api.StatusCompleted, e.Status())
		}
		assert.Zero(t, bus.QueueLen())
	})
}

// IDLE-2, IDLE-4: idleness is per bus: a bus that forwarded an event (or
// whose event waits for a child on another bus) is idle while the other bus
// is still busy.
func TestSpecIdle2_4_PerBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := spBus(t, "Idle2BusA")
		b := spBus(t, "Idle2BusB")
		release := make(chan struct{})
		_, err := api.On(a, func(hctx context.Context, _ *msEvent) (string, error) {
			return "", b.Emit(hctx, &msChild{})
		})
		require.NoError(t, err)
		_, err = api.On(b, func(hctx context.Context, _ *msChild) (string, error) {
			<-release
			return "", nil
		})
		require.NoError(t, err)
		_, err = a.Forward(msTypeGrand, b)
		require.NoError(t, err)
		_, err = api.On(b, func(context.Context, *msGrand) (string, error) {
			<-release
			return "", nil
		})
		require.NoError(t, err)

		parent := &msEvent{}
		require.NoError(t, a.Emit(ctx, parent))
		fwd := &msGrand{}
		require.NoError(t, a.Emit(ctx, fwd))
		require.NoError(t, a.WaitUntilIdle(ctx), "A is idle although B still works")
		assert.NotEqual(t, api.StatusCompleted, parent.Status(), "IDLE-4: the parent waits for its child on B")
		assert.NotEqual(t, api.StatusCompleted, fwd.Status())

		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, b.WaitUntilIdle(tctx), context.DeadlineExceeded)
		close(release)
		require.NoError(t, b.WaitUntilIdle(ctx))
		require.NoError(t, parent.Wait(ctx))
		require.NoError(t, fwd.Wait(ctx))
	})
}

// IDLE-3: a bounded WaitUntilIdle returns the ctx error after the deadline
// (the event is still running) and a later call succeeds
// (test_wait_until_idle_timeout_path_recovers_after_inflight_handler_finishes).
func TestSpecIdle3_TimeoutThenRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Idle3Bus")
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) {
			time.Sleep(100 * time.Millisecond)
			return "", nil
		})
		require.NoError(t, err)
		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		start := time.Now()
		require.ErrorIs(t, bus.WaitUntilIdle(tctx), context.DeadlineExceeded)
		assert.Equal(t, 10*time.Millisecond, time.Since(start))
		assert.NotEqual(t, api.StatusCompleted, e.Status())
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Equal(t, api.StatusCompleted, e.Status())
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
	})
}

// IDLE-5: idleness is computed robustly: many rounds of emits with several
// concurrent waiters never get stuck.
func TestSpecIdle5_ConcurrentWaitersManyRounds(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Idle5Bus", api.WithMaxHistory(api.UnlimitedHistory))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil })
	require.NoError(t, err)
	for round := range 30 {
		for i := range 5 {
			require.NoError(t, bus.Emit(ctx, &msEvent{N: round*10 + i}))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Go(func() { errs <- bus.WaitUntilIdle(ctx) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		assert.Zero(t, bus.QueueLen())
	}
	assert.Len(t, bus.EventsByStatus(api.StatusCompleted), 150)
}

// --- LOG-1..6 ---

func msEmitUntyped(t *testing.T, ctx context.Context, bus *api.Bus, typ string) *api.BaseEvent {
	t.Helper()
	e, err := api.NewEvent(typ, nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, e))
	return e
}

// LOG-1: an empty history prints "(No events in history)".
func TestSpecLog1_EmptyHistory(t *testing.T) {
	bus := spBus(t, "Log1Bus")
	assert.Equal(t, "(No events in history)", bus.LogTree())
}

// LOG-2, LOG-3, LOG-6: a single root prints "└── RootEvent#id4 [time (d.ddds)]"
// and its handler line "└── ✅ {bus.label}.test_handler#id4 ... → value".
func TestSpecLog2_3_6_SingleRootAndHandlerLine(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Log2Bus")
	h, err := api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) {
		return "status: success", nil
	}, api.WithHandlerName("test_handler"))
	require.NoError(t, err)
	e := msEmitUntyped(t, ctx, bus, "RootEvent")
	require.NoError(t, e.Wait(ctx))
	tree := bus.LogTree()
	t.Log("\n" + tree)
	id4 := e.ID()[len(e.ID())-4:]
	assert.Contains(t, tree, "└── RootEvent#"+id4)
	assert.Contains(t, tree, "└── ✅ "+bus.Label()+".test_handler#")
	assert.Contains(t, tree, "."+h.Label()) // name#id4 of the handler
	assert.Contains(t, tree, "status: success")
	assert.Contains(t, tree, "(")
	assert.Contains(t, tree, "s)")
	assert.Regexp(t, regexp.MustCompile(`RootEvent#`+id4+` \[\d{2}:\d{2}:\d{2}\.\d{3} \(\d+\.\d{3}s\)\]`), tree, "LOG-2 event line timing")
	assert.Regexp(t, regexp.MustCompile(`test_handler#\w{4} \[\d{2}:\d{2}:\d{2}\.\d{3} \(\d+\.\d{3}s\)\]`), tree, "LOG-3 row line timing")
}

// LOG-6: two roots print "├── RootEvent#" once and "└── RootEvent#" once.
func TestSpecLog6_TwoRoots(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Log6TwoRootsBus")
	_, err := api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil }, api.WithHandlerName("test_handler"))
	require.NoError(t, err)
	e1 := msEmitUntyped(t, ctx, bus, "RootEvent")
	e2 := msEmitUntyped(t, ctx, bus, "RootEvent")
	require.NoError(t, e1.Wait(ctx))
	require.NoError(t, e2.Wait(ctx))
	tree := bus.LogTree()
	assert.Equal(t, 1, strings.Count(tree, "├── RootEvent#"), tree)
	assert.Equal(t, 1, strings.Count(tree, "└── RootEvent#"), tree)
}

// LOG-3, LOG-6: an error row prints "❌ ... ☠️ ValueError: Test error message".
func TestSpecLog6_ErrorLine(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Log6ErrorBus")
	_, err := api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) {
		return nil, &msValueError{"Test error message"}
	}, api.WithHandlerName("failing_handler"))
	require.NoError(t, err)
	e := msEmitUntyped(t, ctx, bus, "RootEvent")
	require.NoError(t, e.Wait(ctx))
	tree := bus.LogTree()
	assert.Contains(t, tree, "❌ "+bus.Label()+".failing_handler#")
	assert.Contains(t, tree, "ValueError: Test error message")
}

// LOG-4, LOG-6: a list result prints "list(3 items)"; a map "dict(N items)".
func TestSpecLog4_6_ValueFormatting(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Log4Bus")
	_, err := api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) {
		return []any{1, 2, 3}, nil
	}, api.WithHandlerName("list_handler"))
	require.NoError(t, err)
	_, err = api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) {
		return map[string]any{"a": 1, "b": 2}, nil
	}, api.WithHandlerName("dict_handler"))
	require.NoError(t, err)
	e := msEmitUntyped(t, ctx, bus, "RootEvent")
	require.NoError(t, e.Wait(ctx))
	tree := bus.LogTree()
	assert.Contains(t, tree, "list(3 items)")
	assert.Contains(t, tree, "dict(2 items)")
}

// LOG-6: a started row prints "🏃 {bus.label}.running_handler#".
func TestSpecLog6_RunningHandler(t *testing.T) {
	ctx := msCtx(t)
	bus := spBus(t, "Log6RunningBus")
	started := make(chan struct{})
	release := make(chan struct{})
	_, err := api.OnType(bus, "RootEvent", func(context.Context, *api.BaseEvent) (any, error) {
		close(started)
		<-release
		return nil, nil
	}, api.WithHandlerName("running_handler"))
	require.NoError(t, err)
	e := msEmitUntyped(t, ctx, bus, "RootEvent")
	<-started
	tree := bus.LogTree()
	close(release)
	assert.Contains(t, tree, "🏃 "+bus.Label()+".running_handler#")
	require.NoError(t, e.Wait(ctx))
}

// LOG-5: a handler's children are nested under its row line.
func TestSpecLog5_ChildrenNestedUnderHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus := spBus(t, "Log5Bus")
		_, err := api.OnType(bus, "RootEvent", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
			c, err := api.NewEvent("ChildEvent", nil)
			if err != nil {
				return nil, err
			}
			if err := bus.Emit(hctx, c); err != nil {
				return nil, err
			}
			return "parent done", c.Now(hctx)
		}, api.WithHandlerName("parent_handler"))
		require.NoError(t, err)
		_, err = api.OnType(bus, "ChildEvent", func(context.Context, *api.BaseEvent) (any, error) {
			return "child done", nil
		}, api.WithHandlerName("child_handler"))
		require.NoError(t, err)
		e := msEmitUntyped(t, ctx, bus, "RootEvent")
		require.NoError(t, e.Wait(ctx))
		tree := bus.LogTree()
		lines := strings.Split(tree, "\n")
		idx := func(sub string) int {
			for i, l := range lines {
				if strings.Contains(l, sub) {
					return i
				}
			}
			return -1
		}
		root, parentRow, child, childRow := idx("RootEvent#"), idx(".parent_handler#"), idx("ChildEvent#"), idx(".child_handler#")
		require.True(t, root >= 0 && parentRow > root && child > parentRow && childRow > child, tree)
		indent := func(i int) int { return strings.Index(lines[i], "──") }
		assert.Less(t, indent(root), indent(parentRow))
		assert.Less(t, indent(parentRow), indent(child))
		assert.Less(t, indent(child), indent(childRow))
		assert.Equal(t, 1, strings.Count(tree, "ChildEvent#"), "the child is printed once, under its handler")
	})
}

// --- MW-1..5, MW-7, MW-9 ---

// msRecorder records hook calls as strings.
type msRecorder struct {
	api.NopMiddleware
	name  string
	mu    *sync.Mutex
	calls *[]string
	onEv  func(bus *api.Bus, e *api.BaseEvent, s api.Status)
}

func newMsRecorder(name string) *msRecorder {
	return &msRecorder{name: name, mu: &sync.Mutex{}, calls: &[]string{}}
}

func (m *msRecorder) add(s string) {
	m.mu.Lock()
	*m.calls = append(*m.calls, s)
	m.mu.Unlock()
}

func (m *msRecorder) prefix() string {
	if m.name == "" {
		return ""
	}
	return m.name + " "
}

func (m *msRecorder) OnEventChange(_ context.Context, bus *api.Bus, e *api.BaseEvent, s api.Status) {
	m.add(fmt.Sprintf("%sevent %s %s", m.prefix(), e.Type(), s))
	if m.onEv != nil {
		m.onEv(bus, e, s)
	}
}

func (m *msRecorder) OnResultChange(_ context.Context, _ *api.Bus, _ *api.BaseEvent, r *api.Result, s api.Status) {
	m.add(fmt.Sprintf("%sresult %s %s(%s)", m.prefix(), r.HandlerName(), s, r.Status()))
}

func (m *msRecorder) snapshot() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), *m.calls...)
}

// MW-1, MW-2: exact hook order for h1 (ok) and h2 (error) on a serial bus;
// statuses are only pending/started/completed.
func TestSpecMw1_2_HookOrder(t *testing.T) {
	ctx := msCtx(t)
	rec := newMsRecorder("")
	bus := spBus(t, "Mw2Bus", api.WithMiddlewares(rec))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil }, api.WithHandlerName("h1"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *msEvent) (string, error) { return "", errors.New("boom") }, api.WithHandlerName("h2"))
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, []string{
		"event msEvent pending",
		"result h1 pending(pending)",
		"result h2 pending(pending)",
		"result h1 started(started)",
		"event msEvent started",
		"result h1 completed(completed)",
		"result h2 started(started)",
		"result h2 completed(error)",
		"event msEvent completed",
	}, rec.snapshot())
	for _, c := range rec.snapshot() {
		f := strings.Fields(c)
		hook, _, _ := strings.Cut(f[len(f)-1], "(")
		assert.Contains(t, []string{"pending", "started", "completed"}, hook, "MW-1: hook status is never error: %s", c)
	}
}

// MW-2: in 2.4.2 a parent's completed hook fires after its child's whole
// lifecycle.
func TestSpecMw2_ParentCompletedAfterChild(t *testing.T) {
	ctx := msCtx(t)
	rec := newMsRecorder("")
	bus := spBus(t, "Mw2ChildBus", api.WithMiddlewares(rec))
	_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
		return "", bus.Emit(hctx, &msChild{}) // not awaited
	}, api.WithHandlerName("parent"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *msChild) (string, error) { return "", nil }, api.WithHandlerName("child"))
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	calls := rec.snapshot()
	require.NotEmpty(t, calls)
	assert.Equal(t, "event msEvent completed", calls[len(calls)-1], calls)
	assert.Less(t, indexOf(calls, "event msChild completed"), indexOf(calls, "event msEvent completed"))
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// MW-3: an event without handlers fires only event pending and completed.
func TestSpecMw3_NoHandlerEvent(t *testing.T) {
	ctx := msCtx(t)
	rec := newMsRecorder("")
	bus := spBus(t, "Mw3Bus", api.WithMiddlewares(rec))
	e := &msGrand{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, []string{"event msGrand pending", "event msGrand completed"}, rec.snapshot())
}

// MW-4, MW-7: on an event timeout the rows' hooks stay monotonic: the slow
// row pending, started, completed(error); the never-started row pending,
// completed(error); the event pending, started, completed
// (test_middleware_event_and_result_lifecycle_remains_monotonic_on_timeout).
func TestSpecMw4_7_MonotonicOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := newMsRecorder("")
		bus := spBus(t, "Mw4Bus", api.WithMiddlewares(rec))
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) {
			time.Sleep(time.Second) // ignores ctx
			return "late", nil
		}, api.WithHandlerName("slow"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msEvent) (string, error) { return "", nil }, api.WithHandlerName("never"))
		require.NoError(t, err)
		e := &msEvent{}
		e.SetTimeout(50 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		time.Sleep(2 * time.Second) // let the slow handler return late
		per := map[string][]string{}
		for _, c := range rec.snapshot() {
			f := strings.Fields(c)
			per[f[1]] = append(per[f[1]], f[2])
		}
		assert.Equal(t, []string{"pending(pending)", "started(started)", "completed(error)"}, per["slow"])
		assert.Equal(t, []string{"pending(pending)", "completed(error)"}, per["never"])
		assert.Equal(t, []string{"pending", "started", "completed"}, per["msEvent"])
	})
}

// MW-4: per event the event hook sequence is exactly pending, started,
// completed even under 5×50 concurrent emits on a parallel bus
// (test_middleware_event_status_order_is_deterministic_for_each_event).
func TestSpecMw4_EventOrderUnderConcurrency(t *testing.T) {
	ctx := msCtx(t)
	var mu sync.Mutex
	seq := map[*api.BaseEvent][]api.Status{}
	rec := &msHookFunc{ev: func(_ *api.Bus, e *api.BaseEvent, s api.Status) {
		mu.Lock()
		seq[e] = append(seq[e], s)
		mu.Unlock()
	}}
	bus := spBus(t, "Mw4ConcurrentBus", api.WithMiddlewares(rec), api.WithEventConcurrency(api.ParallelEvents), api.WithMaxHistory(api.UnlimitedHistory))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 5 {
		wg.Go(func() {
			for i := range 50 {
				assert.NoError(t, bus.Emit(ctx, &msEvent{N: g*100 + i}))
			}
		})
	}
	wg.Wait()
	require.NoError(t, bus.WaitUntilIdle(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seq, 250)
	for e, s := range seq {
		assert.Equal(t, []api.Status{api.StatusPending, api.StatusStarted, api.StatusCompleted}, s, e.Label())
	}
}

type msHookFunc struct {
	api.NopMiddleware
	ev func(*api.Bus, *api.BaseEvent, api.Status)
}

func (m *msHookFunc) OnEventChange(_ context.Context, b *api.Bus, e *api.BaseEvent, s api.Status) {
	m.ev(b, e, s)
}

// MW-5: middlewares run sequentially in registration order for each hook.
func TestSpecMw5_RegistrationOrder(t *testing.T) {
	ctx := msCtx(t)
	m1 := newMsRecorder("m1")
	m2 := &msRecorder{name: "m2", mu: m1.mu, calls: m1.calls} // shared log
	bus := spBus(t, "Mw5Bus", api.WithMiddlewares(m1, m2))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil }, api.WithHandlerName("h"))
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	calls := m1.snapshot()
	require.Len(t, calls, 2*6) // event ×3 + row ×3, each for m1 then m2
	for i := 0; i < len(calls); i += 2 {
		assert.True(t, strings.HasPrefix(calls[i], "m1 "), calls[i])
		assert.Equal(t, "m2 "+strings.TrimPrefix(calls[i], "m1 "), calls[i+1])
	}
}

// MW-7, FIRST-2: a first-mode winner cancels the rest; the cancelled row
// fires pending then completed (runtime status error).
func TestSpecMw7_FirstModeCancellationHooks(t *testing.T) {
	ctx := msCtx(t)
	rec := newMsRecorder("")
	bus := spBus(t, "Mw7Bus", api.WithMiddlewares(rec))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "win", nil }, api.WithHandlerName("winner"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *msEvent) (string, error) { return "never", nil }, api.WithHandlerName("loser"))
	require.NoError(t, err)
	e := &msEvent{}
	e.SetCompletion(api.CompleteFirst)
	require.NoError(t, bus.Emit(ctx, e))
	v, err := e.First(ctx)
	require.NoError(t, err)
	assert.Equal(t, "win", v)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	var loser []string
	for _, c := range rec.snapshot() {
		if f := strings.Fields(c); f[1] == "loser" {
			loser = append(loser, f[2])
		}
	}
	assert.Equal(t, []string{"pending(pending)", "completed(error)"}, loser)
	requireCancelled(t, spRow(t, e, "loser"))
}

// msPanicky panics in every hook.
type msPanicky struct{}

func (msPanicky) OnEventChange(context.Context, *api.Bus, *api.BaseEvent, api.Status) {
	panic("event hook")
}
func (msPanicky) OnResultChange(context.Context, *api.Bus, *api.BaseEvent, *api.Result, api.Status) {
	panic("result hook")
}
func (msPanicky) OnHandlersChange(*api.Bus, *api.Handler, bool) { panic("handlers hook") }

// MW-9: a panicking middleware is recovered and logged and never kills the
// bus; a later middleware still runs; a hook may emit events (no bus lock
// is held during hooks).
func TestSpecMw9_PanickingMiddlewareAndEmitFromHook(t *testing.T) {
	ctx := msCtx(t)
	l := &spLog{}
	after := newMsRecorder("")
	after.onEv = func(bus *api.Bus, e *api.BaseEvent, s api.Status) {
		if s == api.StatusCompleted && e.Type() == msTypeEvent {
			assert.NoError(t, bus.Emit(context.Background(), &msChild{N: 1}))
		}
	}
	bus := spBus(t, "Mw9Bus", api.WithMiddlewares(msPanicky{}, after), api.WithLogger(slog.New(l)))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
	require.NoError(t, err, "a panicking OnHandlersChange does not break On")
	childRan := make(chan struct{}, 1)
	_, err = api.On(bus, func(context.Context, *msChild) (string, error) {
		childRan <- struct{}{}
		return "child", nil
	})
	require.NoError(t, err)
	for range 2 {
		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		v, err := e.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ok", v)
		select {
		case <-childRan:
		case <-ctx.Done():
			t.Fatal("the event emitted from a hook was not processed")
		}
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	recs := l.records("ringbus: middleware panicked")
	require.NotEmpty(t, recs, "the panic is logged")
	assert.Equal(t, slog.LevelError, recs[0].level, "nobody else is told: Error")
	assert.Equal(t, bus.Label(), recs[0].str("bus"))
	assert.NotEmpty(t, recs[0].str("panic"))
	assert.Contains(t, recs[0].str("stack"), "goroutine")
	assert.Contains(t, after.snapshot(), "event msEvent completed", "later middlewares still run")
}

// --- REC-1..3 ---

// msRecBus registers a handler that recursively emits and awaits msRec
// events up to maxLevel and reports the levels that ran and the errors its
// Now calls returned.
func msRecBus(t *testing.T, name string, maxLevel int, opts ...api.Option) (*api.Bus, *spLog, func() ([]int, []error)) {
	l := &spLog{}
	bus := spBus(t, name, append(opts, api.WithLogger(slog.New(l)))...)
	var mu sync.Mutex
	var levels []int
	var nowErrs []error
	_, err := api.On(bus, func(hctx context.Context, e *msRec) (int, error) {
		mu.Lock()
		levels = append(levels, e.Level)
		mu.Unlock()
		if e.Level >= maxLevel {
			return e.Level, nil
		}
		child := &msRec{Level: e.Level + 1}
		if err := bus.Emit(hctx, child); err != nil {
			return 0, err
		}
		if err := child.Now(hctx); err != nil {
			mu.Lock()
			nowErrs = append(nowErrs, err)
			mu.Unlock()
			return 0, err
		}
		return e.Level, nil
	}, api.WithHandlerName("recursive_handler"))
	require.NoError(t, err)
	return bus, l, func() ([]int, []error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), levels...), append([]error(nil), nowErrs...)
	}
}

// REC-1, REC-2, REC-3: with the default depth 2, a handler that recursively
// emits and awaits its own event type runs levels 0..2; the deepest Now
// returns an error matching ErrRecursion ("infinite loop detected"), the
// offending event gets no rows, and the bus keeps working
// (test_default_handler_recursion_depth_still_catches_runaway_loops).
func TestSpecRec1_2_3_DefaultDepthCatchesRunaway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus, logs, got := msRecBus(t, "Rec1Bus", 3)
		assert.Equal(t, 2, bus.MaxRecursionDepth())
		root := &msRec{Level: 0}
		require.NoError(t, bus.Emit(ctx, root))
		require.NoError(t, root.Wait(ctx))
		levels, errs := got()
		assert.Equal(t, []int{0, 1, 2}, levels)
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], api.ErrRecursion)
		var re *api.RecursionError
		require.ErrorAs(t, errs[0], &re)
		assert.Contains(t, errs[0].Error(), "infinite loop detected")
		assert.Contains(t, errs[0].Error(), bus.Label()+".recursive_handler#", "names the bus and handler")

		// REC-2: the awaiting (level 2) handler records the error as its own.
		found := false
		for _, e := range bus.History() {
			for _, r := range e.Rows() {
				if errors.Is(r.Error(), api.ErrRecursion) {
					found = true
					assert.Equal(t, 2, e.Payload().(*msRec).Level)
				}
			}
		}
		assert.True(t, found, "some row in history holds the recursion error")
		// REC-3: the level-3 event's rows were not created.
		for _, e := range bus.History() {
			if e.Payload().(*msRec).Level == 3 {
				assert.Empty(t, e.Rows())
			}
		}
		// REC-1: reaching the limit is logged, at Debug in Go: one level
		// more fails with the RecursionError, which the awaiting handler
		// gets, so the event left unprocessed is logged at Debug too.
		at := logs.records("recursion depth limit")
		require.NotEmpty(t, at)
		assert.Equal(t, slog.LevelDebug, at[0].level)
		assert.Equal(t, int64(2), at[0].attrs["depth"].Int64())
		assert.Equal(t, int64(2), at[0].attrs["limit"].Int64())
		assert.Contains(t, at[0].str("handler"), "recursive_handler#")
		skipped := logs.records("ringbus: event not processed")
		require.Len(t, skipped, 1)
		assert.Equal(t, slog.LevelDebug, skipped[0].level, "returned to the awaiting handler: not an error log")
		assert.Equal(t, bus.Label(), skipped[0].str("bus"))
		assert.Contains(t, skipped[0].str("error"), "infinite loop detected")

		// The bus still works.
		ok := &msRec{Level: 3}
		require.NoError(t, bus.Emit(ctx, ok))
		v, err := ok.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, v)
	})
}

// REC-2: with WithMaxRecursionDepth(5) levels 0..5 all run
// (test_custom_handler_recursion_depth_allows_deeper_nested_handlers).
func TestSpecRec2_CustomDepthAllowsDeeperNesting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := msCtx(t)
		bus, _, got := msRecBus(t, "Rec2Bus", 5, api.WithMaxRecursionDepth(5))
		root := &msRec{Level: 0}
		require.NoError(t, bus.Emit(ctx, root))
		require.NoError(t, root.Wait(ctx))
		levels, errs := got()
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, levels)
		assert.Empty(t, errs)
		for _, e := range bus.History() {
			for _, r := range e.Rows() {
				assert.Equal(t, api.StatusCompleted, r.Status(), "row %s: %v", r, r.Error())
			}
		}
	})
}

// CANCEL-5, CTX-9: api.Cause on a context derived from a handler ctx
// reports the derived context's own stop while the handler runs on, and
// the handler's cause once the handler ctx is stopped.
func TestSpecCancel5_CauseOnDerivedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := spBus(t, "Cancel5DerivedCauseBus")
		own, inherited := make(chan error, 1), make(chan error, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			short, cancel := context.WithTimeout(hctx, 5*time.Millisecond)
			defer cancel()
			<-short.Done()
			own <- api.Cause(short)
			live, cancel2 := context.WithCancel(hctx)
			defer cancel2()
			if api.Cause(live) != nil {
				return "", errors.New("a live derived ctx has a cause")
			}
			<-live.Done() // the handler's timeout
			inherited <- api.Cause(live)
			return "", hctx.Err()
		}, api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		e := &msEvent{}
		require.NoError(t, bus.Emit(context.Background(), e))
		assert.ErrorIs(t, <-own, context.DeadlineExceeded, "the derived ctx's own deadline")
		var te *api.HandlerTimeoutError
		assert.ErrorAs(t, <-inherited, &te, "the handler's timeout, through the derived ctx")
		require.NoError(t, e.Wait(context.Background()))
	})
}
