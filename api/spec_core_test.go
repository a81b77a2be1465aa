package api_test

// Behavioural tests of the core dispatch semantics, written against the spec
// (the team's abxbus spec, spec.md §0.5, §4-11, §17, §21, §34). Every test name
// ends with the requirement IDs it covers.
//
// Rules followed here (AWAIT-13, NONREQ-3): orderings are established with
// channels, never with sleeps; a sleep only makes a handler "slow". Every
// bus is closed by t.Cleanup so that goleak (main_test.go) passes.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// --- event types (prefixed SC to stay clear of other test files) ---

// SCStep is the general-purpose typed event: handlers switch on Name.
type SCStep struct {
	api.Event[string]
	Name string `json:"name"`
}

// SCAny is an event whose handlers may return any value, including nil.
type SCAny struct {
	api.Event[any]
	Name string `json:"name"`
}

// SCNum carries a sequence number N emitted by goroutine G.
type SCNum struct {
	api.Event[int]
	N int `json:"n"`
	G int `json:"g"`
}

// scCodeErr is a user error type, to check errors.As on returned errors.
type scCodeErr struct{ Code int }

func (e *scCodeErr) Error() string { return fmt.Sprintf("code %d", e.Code) }

// --- helpers ---

const scLimit = 5 * time.Second // upper bound for any wait; only hit on failure

var (
	scBusSeq atomic.Int64
	scQuiet  = slog.New(slog.DiscardHandler)
)

// scBus returns a new bus with a unique name, closed at cleanup.
func scBus(t *testing.T, prefix string, opts ...api.Option) *api.Bus {
	t.Helper()
	name := fmt.Sprintf("SC_%s_%d", prefix, scBusSeq.Add(1))
	bus, err := api.NewBus(name, append([]api.Option{api.WithLogger(scQuiet)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

func scCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scReg checks a registration: reg(api.On(...)).
func scReg(t *testing.T) func(*api.Handler, error) *api.Handler {
	return func(h *api.Handler, err error) *api.Handler {
		t.Helper()
		require.NoError(t, err)
		require.NotNil(t, h)
		return h
	}
}

func scEmit(t *testing.T, ctx context.Context, bus *api.Bus, evs ...api.Eventer) {
	t.Helper()
	for _, e := range evs {
		require.NoError(t, bus.Emit(ctx, e))
	}
}

// scBlock blocks a handler until ch is closed (or its ctx ends).
func scBlock(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(scLimit):
		return errors.New("test signal never came")
	}
}

// scRecv receives from ch in the test goroutine, failing after scLimit.
func scRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(scLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func scClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// scLog is an ordered, goroutine-safe record of what handlers did.
type scLog struct {
	mu    sync.Mutex
	items []string
}

func (l *scLog) add(s string) {
	l.mu.Lock()
	l.items = append(l.items, s)
	l.mu.Unlock()
}

func (l *scLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

// scMax tracks the number of handlers in flight and its maximum.
type scMax struct{ cur, max atomic.Int32 }

func (m *scMax) enter() {
	n := m.cur.Add(1)
	for {
		old := m.max.Load()
		if n <= old || m.max.CompareAndSwap(old, n) {
			return
		}
	}
}

func (m *scMax) exit() { m.cur.Add(-1) }

func scIDs(evs []*api.BaseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID()
	}
	return out
}

// scWaitParked waits (by observation) until some goroutine's stack contains
// all the given function names, for at most one second. It only narrows a
// window the engine leaves open; if the names changed it just returns.
func scWaitParked(t *testing.T, funcs ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			all := true
			for _, f := range funcs {
				if !strings.Contains(g, f) {
					all = false
					break
				}
			}
			if all {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("no goroutine parked in %v; continuing", funcs)
}

func scRowByHandler(e api.Eventer, h *api.Handler) *api.Result {
	for _, r := range engine.Core(e).Rows() {
		if r.HandlerID() == h.ID() {
			return r
		}
	}
	return nil
}

// --- EMIT ---

func TestSpecEmitReturnsSameEventPendingAndReEmitIsNoop_EMIT1_EMIT3_EMIT8(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "Emit")
	reg := scReg(t)
	release := make(chan struct{})
	started := make(chan struct{})
	var runs atomic.Int32
	var seen atomic.Pointer[SCStep]
	reg(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name == "blocker" {
			close(started)
			return "", scBlock(hctx, release)
		}
		runs.Add(1)
		seen.Store(e)
		return "ok:" + e.Name, nil
	}))

	// Hold the bus so that the event under test stays queued.
	scEmit(t, ctx, bus, &SCStep{Name: "blocker"})
	scRecv(t, started, "blocker start")

	e := &SCStep{Name: "e"}
	got, err := api.Emit(ctx, bus, e)
	require.NoError(t, err)
	require.Same(t, e, got, "EMIT-1: Emit returns the same event")
	assert.Equal(t, api.StatusPending, e.Status(), "EMIT-1: pending after emit")
	assert.True(t, e.StartedAt().IsZero(), "EMIT-1: not started")
	assert.True(t, e.CompletedAt().IsZero(), "EMIT-1: not completed")
	assert.Equal(t, []string{bus.Label()}, e.Path(), "EMIT-3: path holds the bus label")

	// EMIT-8: re-emit while still queued on the same bus is a no-op.
	require.NoError(t, bus.Emit(ctx, e))
	assert.Equal(t, []string{bus.Label()}, e.Path(), "EMIT-3: label never duplicated")

	close(release)
	r, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ok:e", r)
	assert.Same(t, e, seen.Load(), "the handler receives the emitted pointer (EVT-14)")
	assert.Same(t, e, e.Payload())

	// EMIT-8: re-emit after completion is a no-op too.
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, int32(1), runs.Load(), "EMIT-8: handlers ran once")
	assert.Len(t, e.Rows(), 1)
	assert.Equal(t, api.StatusCompleted, e.Status())
	assert.Equal(t, []string{bus.Label()}, e.Path())
}

func TestSpecEmitNilEvent_EMIT1(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "EmitNil")
	assert.ErrorIs(t, bus.Emit(ctx, nil), api.ErrNilEvent)
	var typedNil *SCStep
	assert.ErrorIs(t, bus.Emit(ctx, typedNil), api.ErrNilEvent)
	_, err := api.ResultOf[string](ctx, nil)
	assert.ErrorIs(t, err, api.ErrNilEvent)
	assert.Equal(t, 0, bus.HistoryLen())
}

// --- REG ---

func TestSpecTypedHandlersRunBeforeWildcard_REG3_RES1(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "RegOrder")
	reg := scReg(t)
	var log scLog
	// A wildcard handler registered first still runs after the typed ones.
	reg(api.OnAll(bus, func(context.Context, *api.BaseEvent) (any, error) { log.add("wild1"); return "wild1", nil }))
	reg(api.On(bus, func(context.Context, *SCStep) (string, error) { log.add("typed"); return "typed", nil }))
	reg(api.OnType(bus, api.TypeName[SCStep](), func(context.Context, *api.BaseEvent) (any, error) {
		log.add("string")
		return "string", nil
	}))
	reg(api.OnAll(bus, func(context.Context, *api.BaseEvent) (any, error) { log.add("wild2"); return "wild2", nil }))

	e := &SCStep{}
	scEmit(t, ctx, bus, e)
	vals, err := e.Results(ctx)
	require.NoError(t, err)
	want := []string{"typed", "string", "wild1", "wild2"}
	assert.Equal(t, want, log.get(), "REG-3: exact-type handlers (by type or by name) first, then '*'")
	assert.Equal(t, want, vals, "RES-1: results in execution order")
	first, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "typed", first, "RES-1: Result is the first row's value")
}

func TestSpecHandlerRegistrationAndOff_REG5_REG6(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "RegOff")
	reg := scReg(t)
	var log scLog
	fn := func(_ context.Context, e *SCStep) (string, error) { log.add("same:" + e.Name); return "", nil }
	h1 := reg(api.On(bus, fn))
	h2 := reg(api.On(bus, fn))
	require.NotEqual(t, h1.ID(), h2.ID(), "REG-5: the same func registered twice gives two handlers")
	wild := reg(api.OnAll(bus, func(_ context.Context, e *api.BaseEvent) (any, error) {
		log.add("wild")
		return nil, nil
	}))

	run := func(name string) []string {
		t.Helper()
		before := len(log.get())
		e := &SCStep{Name: name}
		scEmit(t, ctx, bus, e)
		require.NoError(t, e.Wait(ctx))
		return log.get()[before:]
	}

	assert.Equal(t, []string{"same:e1", "same:e1", "wild"}, run("e1"), "REG-5: both registrations run")

	h1.Off()
	h1.Off() // idempotent
	assert.Equal(t, []string{"same:e2", "wild"}, run("e2"), "REG-6: Off by handle removes only that handler")

	bus.Off("Nothing") // removing nothing is a no-op
	bus.Off(api.TypeName[SCStep]())
	assert.Empty(t, bus.HandlersFor(api.TypeName[SCStep]()), "REG-6: Off(pattern) removes every handler of the key")
	assert.Len(t, bus.HandlersFor(api.Wildcard), 1, "REG-6: Off only looks under the given key")
	assert.Equal(t, []string{"wild"}, run("e3"))

	bus.OffID(api.Wildcard, wild.ID())
	assert.Empty(t, bus.HandlersFor(api.Wildcard), "REG-6: OffID removes by id")
	assert.Empty(t, run("e4"))
}

func TestSpecHandlerChangesAffectOnlyLaterEvents_REG7(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "RegSnap")
	reg := scReg(t)
	var log scLog
	release := make(chan struct{})
	started := make(chan struct{})
	reg(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		log.add("block:" + e.Name)
		if e.Name == "e1" {
			close(started)
			if err := scBlock(hctx, release); err != nil {
				return "", err
			}
		}
		return "", nil
	}))
	gone := reg(api.On(bus, func(_ context.Context, e *SCStep) (string, error) { log.add("gone:" + e.Name); return "", nil }))

	e1, e2 := &SCStep{Name: "e1"}, &SCStep{Name: "e2"}
	scEmit(t, ctx, bus, e1, e2)
	scRecv(t, started, "e1 start")
	// e1 is being processed; e2 (already emitted) starts processing later.
	gone.Off()
	reg(api.On(bus, func(_ context.Context, e *SCStep) (string, error) { log.add("late:" + e.Name); return "", nil }))
	close(release)
	require.NoError(t, e2.Wait(ctx))
	require.NoError(t, e1.Wait(ctx))
	assert.Equal(t, []string{"block:e1", "gone:e1", "block:e2", "late:e2"}, log.get(),
		"REG-7: the handler set is snapshotted when a bus starts processing an event")
}

// --- CONC ---

func TestSpecFIFOWithAlternatingSlowFastHandlers_CONC1(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "Fifo")
	reg := scReg(t)
	var log scLog
	var inflight scMax
	reg(api.On(bus, func(_ context.Context, e *SCNum) (int, error) {
		inflight.enter()
		defer inflight.exit()
		log.add(fmt.Sprintf("start%d", e.N))
		if e.N%2 == 0 {
			time.Sleep(15 * time.Millisecond) // slow handler
		} else {
			time.Sleep(time.Millisecond) // fast handler
		}
		log.add(fmt.Sprintf("end%d", e.N))
		return e.N, nil
	}))
	const n = 20
	evs := make([]*SCNum, n)
	for i := range evs {
		evs[i] = &SCNum{N: i}
		scEmit(t, ctx, bus, evs[i])
	}
	var want []string
	for i, e := range evs {
		require.NoError(t, e.Wait(ctx))
		want = append(want, fmt.Sprintf("start%d", i), fmt.Sprintf("end%d", i))
	}
	assert.Equal(t, want, log.get(), "CONC-1: events start and finish in emit order, one at a time")
	assert.Equal(t, int32(1), inflight.max.Load(), "CONC-1: bus-serial never overlaps events")
	for i := 1; i < n; i++ {
		assert.False(t, evs[i].StartedAt().Before(evs[i-1].StartedAt()), "CONC-1: start times are non-decreasing")
	}
}

func TestSpecFIFOAcrossGoroutinesFollowsHappensBefore_CONC1(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "FifoGo", api.WithMaxHistory(api.UnlimitedHistory))
	reg := scReg(t)
	var mu sync.Mutex
	var order []int
	perG := map[int][]int{}
	reg(api.On(bus, func(_ context.Context, e *SCNum) (int, error) {
		mu.Lock()
		if e.G < 0 {
			order = append(order, e.N)
		} else {
			perG[e.G] = append(perG[e.G], e.N)
		}
		mu.Unlock()
		return e.N, nil
	}))

	// Part 1: a token passed over channels orders the Emit calls of four
	// goroutines: emit k happens-before emit k+1, so k starts first.
	const gs, per = 4, 10
	tokens := make([]chan int, gs)
	for i := range tokens {
		tokens[i] = make(chan int, 1)
	}
	chained := make([]*SCNum, gs*per)
	var wg sync.WaitGroup
	for g := 0; g < gs; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				k := <-tokens[g]
				e := &SCNum{N: k, G: -1}
				chained[k] = e
				if err := bus.Emit(ctx, e); err != nil {
					t.Errorf("emit %d: %v", k, err)
				}
				tokens[(g+1)%gs] <- k + 1
			}
		}()
	}
	tokens[0] <- 0
	wg.Wait()
	for _, e := range chained {
		require.NoError(t, e.Wait(ctx))
	}
	want := make([]int, gs*per)
	for i := range want {
		want[i] = i
	}
	mu.Lock()
	assert.Equal(t, want, order, "CONC-1: emits ordered by happens-before start in that order")
	mu.Unlock()

	// Part 2: goroutines emitting concurrently keep each goroutine's order.
	const n2 = 25
	start := make(chan struct{})
	all := make([][]*SCNum, gs)
	for g := 0; g < gs; g++ {
		all[g] = make([]*SCNum, n2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range n2 {
				e := &SCNum{N: i, G: g}
				all[g][i] = e
				if err := bus.Emit(ctx, e); err != nil {
					t.Errorf("emit g%d/%d: %v", g, i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for g := range all {
		for _, e := range all[g] {
			require.NoError(t, e.Wait(ctx))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for g := 0; g < gs; g++ {
		assert.Equal(t, want[:n2], perG[g], "CONC-1: per-goroutine emit order kept (goroutine %d)", g)
	}
}

func TestSpecBusSerialOverlapsAcrossBuses_CONC2(t *testing.T) {
	ctx := scCtx(t)
	a := scBus(t, "SerialA")
	b := scBus(t, "SerialB")
	reg := scReg(t)
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	var logA, logB scLog
	var inA, inB scMax
	handler := func(log *scLog, in *scMax, mine, other chan struct{}) func(context.Context, *SCNum) (int, error) {
		return func(hctx context.Context, e *SCNum) (int, error) {
			in.enter()
			defer in.exit()
			log.add(fmt.Sprint(e.N))
			if e.N == 0 {
				// Each bus's first event waits for the other bus's first event
				// to have started: only possible if the buses overlap.
				close(mine)
				if err := scBlock(hctx, other); err != nil {
					return 0, err
				}
			}
			time.Sleep(2 * time.Millisecond)
			return e.N, nil
		}
	}
	reg(api.On(a, handler(&logA, &inA, aStarted, bStarted)))
	reg(api.On(b, handler(&logB, &inB, bStarted, aStarted)))
	var evs []*SCNum
	for i := range 3 {
		ea, eb := &SCNum{N: i}, &SCNum{N: i}
		scEmit(t, ctx, a, ea)
		scEmit(t, ctx, b, eb)
		evs = append(evs, ea, eb)
	}
	for _, e := range evs {
		_, err := e.Result(ctx)
		require.NoError(t, err, "CONC-2: different buses run concurrently")
	}
	assert.Equal(t, int32(1), inA.max.Load(), "CONC-2: one event at a time per bus")
	assert.Equal(t, int32(1), inB.max.Load())
	assert.Equal(t, []string{"0", "1", "2"}, logA.get())
	assert.Equal(t, []string{"0", "1", "2"}, logB.get())
}

func TestSpecGlobalSerialAcrossBuses_CONC3(t *testing.T) {
	ctx := scCtx(t)
	dom := api.NewDomain()
	a := scBus(t, "GlobalA", api.WithDomain(dom), api.WithEventConcurrency(api.GlobalSerial))
	b := scBus(t, "GlobalB", api.WithDomain(dom), api.WithEventConcurrency(api.GlobalSerial))
	reg := scReg(t)
	var in scMax
	var logA, logB scLog
	h := func(log *scLog) func(context.Context, *SCNum) (int, error) {
		return func(_ context.Context, e *SCNum) (int, error) {
			in.enter()
			defer in.exit()
			log.add(fmt.Sprint(e.N))
			time.Sleep(3 * time.Millisecond) // slow enough to overlap if allowed
			return e.N, nil
		}
	}
	reg(api.On(a, h(&logA)))
	reg(api.On(b, h(&logB)))
	var evs []*SCNum
	for i := range 3 {
		ea, eb := &SCNum{N: i}, &SCNum{N: i}
		scEmit(t, ctx, a, ea)
		scEmit(t, ctx, b, eb)
		evs = append(evs, ea, eb)
	}
	for _, e := range evs {
		require.NoError(t, e.Wait(ctx))
	}
	assert.Equal(t, int32(1), in.max.Load(), "CONC-3: at most one event in flight across the domain")
	assert.Equal(t, []string{"0", "1", "2"}, logA.get(), "CONC-3: per-bus FIFO")
	assert.Equal(t, []string{"0", "1", "2"}, logB.get(), "CONC-3: per-bus FIFO")
}

// scPairHandler returns a handler for two events N=0 and N=1 where each one
// waits until the other has started: it only completes if they overlap.
func scPairHandler() func(context.Context, *SCNum) (int, error) {
	started := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	return func(hctx context.Context, e *SCNum) (int, error) {
		close(started[e.N])
		if err := scBlock(hctx, started[1-e.N]); err != nil {
			return 0, err
		}
		return e.N, nil
	}
}

func TestSpecParallelEventsOverlap_CONC4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "ParEvents", api.WithEventConcurrency(api.ParallelEvents))
	scReg(t)(api.On(bus, scPairHandler()))
	e0, e1 := &SCNum{N: 0}, &SCNum{N: 1}
	scEmit(t, ctx, bus, e0, e1)
	for _, e := range []*SCNum{e0, e1} {
		_, err := e.Result(ctx)
		require.NoError(t, err, "CONC-4: parallel events of one bus overlap")
	}
}

func TestSpecPerEventConcurrencyOverride_CONC5_EVT6(t *testing.T) {
	ctx := scCtx(t)

	t.Run("parallel event on a bus-serial bus", func(t *testing.T) {
		bus := scBus(t, "OverridePar")
		scReg(t)(api.On(bus, scPairHandler()))
		e0, e1 := &SCNum{N: 0}, &SCNum{N: 1}
		e0.SetConcurrency(api.ParallelEvents)
		e1.SetConcurrency(api.ParallelEvents)
		scEmit(t, ctx, bus, e0, e1)
		for _, e := range []*SCNum{e0, e1} {
			_, err := e.Result(ctx)
			require.NoError(t, err, "CONC-5: a per-event parallel overrides a bus-serial bus")
		}
		assert.Equal(t, api.ParallelEvents, e0.Concurrency())
	})

	t.Run("bus-serial events on a parallel bus", func(t *testing.T) {
		bus := scBus(t, "OverrideSerial", api.WithEventConcurrency(api.ParallelEvents))
		var in scMax
		var log scLog
		scReg(t)(api.On(bus, func(_ context.Context, e *SCNum) (int, error) {
			in.enter()
			defer in.exit()
			log.add(fmt.Sprint(e.N))
			time.Sleep(5 * time.Millisecond) // slow enough to overlap if allowed
			return e.N, nil
		}))
		var evs []*SCNum
		for i := range 3 {
			e := &SCNum{N: i}
			e.SetConcurrency(api.BusSerial)
			evs = append(evs, e)
			scEmit(t, ctx, bus, e)
		}
		for _, e := range evs {
			require.NoError(t, e.Wait(ctx))
		}
		assert.Equal(t, int32(1), in.max.Load(), "CONC-5: a per-event bus-serial overrides a parallel bus")
		assert.Equal(t, []string{"0", "1", "2"}, log.get())

		unset := &SCNum{N: 3}
		scEmit(t, ctx, bus, unset)
		require.NoError(t, unset.Wait(ctx))
		assert.Equal(t, engine.EventConcurrency(0), unset.Concurrency(),
			"CONC-5/EVT-6: an unset event_concurrency stays unset after processing")
	})
}

// --- HCONC ---

func TestSpecSerialHandlersRunInOrderAndErrorsDoNotStopOthers_HCONC1_HCONC6(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "HSerial")
	reg := scReg(t)
	var log scLog
	boom := errors.New("boom")
	mk := func(name string, err error) func(context.Context, *SCStep) (string, error) {
		return func(context.Context, *SCStep) (string, error) {
			log.add("start:" + name)
			time.Sleep(2 * time.Millisecond)
			log.add("end:" + name)
			return name, err
		}
	}
	h1 := reg(api.On(bus, mk("h1", boom), api.WithHandlerName("h1")))
	reg(api.On(bus, mk("h2", nil), api.WithHandlerName("h2")))
	reg(api.On(bus, mk("h3", nil), api.WithHandlerName("h3")))
	e := &SCStep{}
	scEmit(t, ctx, bus, e)
	vals, err := e.Results(ctx, api.IgnoreErrors())
	require.NoError(t, err)
	assert.Equal(t, []string{"start:h1", "end:h1", "start:h2", "end:h2", "start:h3", "end:h3"}, log.get(),
		"HCONC-1: one at a time, in registration order")
	assert.Equal(t, []string{"h2", "h3"}, vals, "HCONC-6: an error does not stop later handlers")
	r1 := scRowByHandler(e, h1)
	require.NotNil(t, r1)
	assert.Equal(t, api.StatusError, r1.Status())
	assert.ErrorIs(t, r1.Error(), boom)
}

func TestSpecParallelHandlersStartTogether_HCONC2_HCONC3_HCONC6(t *testing.T) {
	ctx := scCtx(t)
	boom := errors.New("boom")
	setup := func(t *testing.T, bus *api.Bus) {
		reg := scReg(t)
		s1, s2 := make(chan struct{}), make(chan struct{})
		// Each handler waits until the other has started: both must start
		// before either finishes.
		reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
			close(s1)
			return "h1", scBlock(hctx, s2)
		}, api.WithHandlerName("h1")))
		reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
			close(s2)
			return "h2", scBlock(hctx, s1)
		}, api.WithHandlerName("h2")))
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "", boom }, api.WithHandlerName("h3")))
	}
	check := func(t *testing.T, e *SCStep) {
		vals, err := e.Results(ctx, api.IgnoreErrors())
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"h1", "h2"}, vals, "HCONC-2: both ran concurrently; HCONC-6: error isolated")
		assert.Equal(t, api.StatusCompleted, e.Status(), "HCONC-2: event waits for all handlers")
		_, err = e.Result(ctx)
		assert.ErrorIs(t, err, boom)
	}

	t.Run("bus default", func(t *testing.T) {
		bus := scBus(t, "HParallel", api.WithHandlerConcurrency(api.ParallelHandlers))
		setup(t, bus)
		e := &SCStep{}
		scEmit(t, ctx, bus, e)
		check(t, e)
	})
	t.Run("per-event override", func(t *testing.T) {
		bus := scBus(t, "HParallelEv")
		setup(t, bus)
		e := &SCStep{}
		e.SetHandlerConcurrency(api.ParallelHandlers)
		scEmit(t, ctx, bus, e)
		check(t, e)
	})
}

// HCONC-2 with many handlers: every handler waits until all of them have
// started, so none can finish before the last one starts. ringbus starts
// large groups through a few pulling workers; this fails (each handler's
// wait runs out) unless the rows no worker could take get goroutines of
// their own.
func TestSpecManyParallelHandlersAllStart_HCONC2(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "HParallelMany", api.WithHandlerConcurrency(api.ParallelHandlers))
	reg := scReg(t)
	const n = 100
	var started atomic.Int32
	all := make(chan struct{})
	for i := range n {
		reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
			if started.Add(1) == n {
				close(all)
			}
			return fmt.Sprint(i), scBlock(hctx, all)
		}, api.WithHandlerName(fmt.Sprintf("wait_for_all_%d", i))))
	}
	e := &SCStep{}
	scEmit(t, ctx, bus, e)
	vals, err := e.Results(ctx)
	require.NoError(t, err, "HCONC-2: every handler started while the others were running")
	assert.Len(t, vals, n)
	assert.Equal(t, int32(n), started.Load())
}

// --- FIRST ---

// scFirstQueued emits e behind a blocker on bus and calls e.First while e is
// still queued: First only has effect before the bus starts processing the
// event (FIRST-5), and in Go the dispatcher may start it right after Emit.
func scFirstQueued(t *testing.T, ctx context.Context, bus *api.Bus, e *SCAny) (any, error) {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	scReg(t)(api.OnType(bus, "SCFirstBlocker", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
		close(started)
		return nil, scBlock(hctx, release)
	}))
	blocker, err := api.NewEvent("SCFirstBlocker", nil)
	require.NoError(t, err)
	scEmit(t, ctx, bus, blocker)
	scRecv(t, started, "blocker start")
	scEmit(t, ctx, bus, e)
	type res struct {
		v   any
		err error
	}
	out := make(chan res, 1)
	go func() {
		v, err := e.First(ctx)
		out <- res{v, err}
	}()
	require.Eventually(t, func() bool { return e.Completion() == api.CompleteFirst }, scLimit, time.Millisecond,
		"FIRST-5: First sets the completion mode on the event")
	close(release)
	r := scRecv(t, out, "First")
	return r.v, r.err
}

func TestSpecFirstFalsyValuesWinAndNilIsSkipped_FIRST1_FIRST2_FIRST5(t *testing.T) {
	for _, tc := range []struct {
		name string
		val  any
	}{{"zero", 0}, {"empty string", ""}, {"false", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := scCtx(t)
			bus := scBus(t, "FirstFalsy")
			reg := scReg(t)
			var lateCalled atomic.Bool
			hNil := reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return nil, nil }, api.WithHandlerName("nil")))
			hEvent := reg(api.On(bus, func(context.Context, *SCAny) (any, error) {
				return &SCStep{Name: "not-a-winner"}, nil // returned events never win
			}, api.WithHandlerName("event")))
			hWin := reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return tc.val, nil }, api.WithHandlerName("win")))
			hLate := reg(api.On(bus, func(context.Context, *SCAny) (any, error) {
				lateCalled.Store(true)
				return "late", nil
			}, api.WithHandlerName("late")))

			e := &SCAny{}
			got, err := scFirstQueued(t, ctx, bus, e)
			require.NoError(t, err)
			assert.Equal(t, tc.val, got, "FIRST-1: falsy values win")
			assert.Equal(t, api.CompleteFirst, e.Completion(), "FIRST-5: First sets the mode on the event")
			assert.False(t, lateCalled.Load(), "FIRST-2: handlers after the winner are never called")

			assert.Equal(t, api.StatusCompleted, scRowByHandler(e, hNil).Status(), "FIRST-1: nil is skipped, not failed")
			assert.Equal(t, api.StatusCompleted, scRowByHandler(e, hEvent).Status())
			assert.Equal(t, api.StatusCompleted, scRowByHandler(e, hWin).Status())
			late := scRowByHandler(e, hLate)
			require.NotNil(t, late)
			assert.Equal(t, api.StatusError, late.Status())
			assert.ErrorIs(t, late.Error(), api.ErrHandlerCancelled, "FIRST-2: serial losers are Cancelled")
			var ce *api.HandlerCancelledError
			assert.ErrorAs(t, late.Error(), &ce)

			// §34 #8: with raise_if_any the cancelled loser makes Result fail.
			_, err = e.Result(ctx)
			assert.ErrorIs(t, err, api.ErrHandlerCancelled)
		})
	}
}

func TestSpecFirstParallelLoserIsAborted_FIRST3(t *testing.T) {
	ctx := scCtx(t)
	// Parallel handlers for this event only (HCONC-3): a bus-level default
	// would also apply to the blocker of scFirstQueued (see the skipped
	// back-to-back test for the engine race this avoids).
	bus := scBus(t, "FirstParallel")
	reg := scReg(t)
	slowStarted := make(chan struct{})
	slowReturned := make(chan struct{})
	var sideEffect atomic.Bool
	hSlow := reg(api.On(bus, func(hctx context.Context, _ *SCAny) (any, error) {
		defer close(slowReturned)
		close(slowStarted)
		select {
		case <-hctx.Done():
			return nil, hctx.Err()
		case <-time.After(scLimit):
			sideEffect.Store(true) // must not happen: the loser was cancelled
			return "slow", nil
		}
	}, api.WithHandlerName("slow")))
	hFast := reg(api.On(bus, func(hctx context.Context, _ *SCAny) (any, error) {
		if err := scBlock(hctx, slowStarted); err != nil {
			return nil, err
		}
		return "fast", nil
	}, api.WithHandlerName("fast")))

	e := &SCAny{}
	e.SetHandlerConcurrency(api.ParallelHandlers)
	got, err := scFirstQueued(t, ctx, bus, e)
	require.NoError(t, err)
	assert.Equal(t, "fast", got)
	scRecv(t, slowReturned, "slow handler to observe cancellation")
	assert.False(t, sideEffect.Load(), "FIRST-3: the loser's side effect after cancellation does not happen")

	slow := scRowByHandler(e, hSlow)
	require.NotNil(t, slow)
	assert.Equal(t, api.StatusError, slow.Status())
	assert.ErrorIs(t, slow.Error(), api.ErrHandlerAborted, "FIRST-3: a started parallel loser is Aborted")
	var ae *api.HandlerAbortedError
	require.ErrorAs(t, slow.Error(), &ae)
	assert.Equal(t, engine.ReasonFirstResult, ae.Reason)
	assert.Nil(t, slow.Value(), "TIMEOUT-8: a late return is discarded")
	assert.Equal(t, api.StatusCompleted, scRowByHandler(e, hFast).Status())
}

func TestSpecFirstWithNoWinnerRunsAll_FIRST4_FIRST6(t *testing.T) {
	ctx := scCtx(t)

	t.Run("no winner", func(t *testing.T) {
		bus := scBus(t, "FirstNone")
		reg := scReg(t)
		var calls atomic.Int32
		boom := errors.New("boom")
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { calls.Add(1); return nil, nil }, api.WithHandlerName("a")))
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { calls.Add(1); return nil, boom }, api.WithHandlerName("b")))
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { calls.Add(1); return nil, nil }, api.WithHandlerName("c")))
		e := &SCAny{}
		got, err := scFirstQueued(t, ctx, bus, e)
		require.NoError(t, err, "FIRST-4: First ignores errors")
		assert.Nil(t, got, "FIRST-4: no winner gives nil")
		assert.Equal(t, int32(3), calls.Load(), "FIRST-4: every handler ran")
		assert.Equal(t, api.StatusCompleted, e.Status())
		for _, r := range e.Rows() {
			assert.NotErrorIs(t, r.Error(), api.ErrHandlerCancelled)
		}
	})

	t.Run("bus default first", func(t *testing.T) {
		bus := scBus(t, "FirstBusDefault", api.WithCompletion(api.CompleteFirst))
		reg := scReg(t)
		var lateCalled atomic.Bool
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "win", nil }, api.WithHandlerName("win")))
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { lateCalled.Store(true); return "late", nil }, api.WithHandlerName("late")))
		e := &SCStep{}
		scEmit(t, ctx, bus, e)
		require.NoError(t, e.Wait(ctx))
		vals, err := e.Results(ctx, api.IgnoreErrors())
		require.NoError(t, err)
		assert.Equal(t, []string{"win"}, vals)
		assert.False(t, lateCalled.Load())
		assert.Equal(t, engine.Completion(0), e.Completion(), "FIRST-6: a bus default leaves the event field unset")
	})
}

// --- AWAIT: queue jump ---

func TestSpecQueueJumpSameBus_AWAIT4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "JumpSame")
	var log scLog
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name != "parent" {
			log.add(e.Name)
			return e.Name, nil
		}
		log.add("parent_start")
		if err := bus.Emit(hctx, &SCStep{Name: "sibling"}); err != nil {
			return "", err
		}
		child := &SCStep{Name: "child"}
		if err := bus.Emit(hctx, child); err != nil {
			return "", err
		}
		if err := child.Now(hctx); err != nil {
			return "", err
		}
		log.add("parent_end")
		return "parent", nil
	}))
	parent := &SCStep{Name: "parent"}
	scEmit(t, ctx, bus, parent)
	_, err := parent.Result(ctx)
	require.NoError(t, err)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, []string{"parent_start", "child", "parent_end", "sibling"}, log.get(),
		"AWAIT-4: the awaited child jumps the queue, the sibling keeps its place")
}

func TestSpecQueueJumpNoOvershootE1E2E3_AWAIT4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "JumpQueue")
	var log scLog
	gate := make(chan struct{})
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name != "E1" {
			log.add(e.Name)
			return e.Name, nil
		}
		log.add("E1_start")
		// Start only once E2 and E3 are queued behind E1.
		if err := scBlock(hctx, gate); err != nil {
			return "", err
		}
		child := &SCStep{Name: "E1_child"}
		if err := bus.Emit(hctx, child); err != nil {
			return "", err
		}
		if err := child.Now(hctx); err != nil {
			return "", err
		}
		log.add("E1_end")
		return "E1", nil
	}))
	e1, e2, e3 := &SCStep{Name: "E1"}, &SCStep{Name: "E2"}, &SCStep{Name: "E3"}
	scEmit(t, ctx, bus, e1, e2, e3)
	close(gate)
	require.NoError(t, e1.Wait(ctx))
	require.NoError(t, e3.Wait(ctx))
	require.NoError(t, e2.Wait(ctx))
	assert.Equal(t, []string{"E1_start", "E1_child", "E1_end", "E2", "E3"}, log.get(),
		"AWAIT-4: the child runs inside E1; E2 then E3 afterwards")
}

func TestSpecQueueJumpAwaitOnlyOneOfThree_AWAIT4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "JumpOne")
	var log scLog
	gate := make(chan struct{})
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name != "E1" {
			log.add(e.Name)
			return e.Name, nil
		}
		log.add("E1_start")
		if err := scBlock(hctx, gate); err != nil {
			return "", err
		}
		a, b, c := &SCStep{Name: "A"}, &SCStep{Name: "B"}, &SCStep{Name: "C"}
		for _, ch := range []*SCStep{a, b, c} {
			if err := bus.Emit(hctx, ch); err != nil {
				return "", err
			}
		}
		if err := b.Now(hctx); err != nil {
			return "", err
		}
		log.add("E1_end")
		return "E1", nil
	}))
	e1, e2, e3 := &SCStep{Name: "E1"}, &SCStep{Name: "E2"}, &SCStep{Name: "E3"}
	scEmit(t, ctx, bus, e1, e2, e3)
	close(gate)
	require.NoError(t, e1.Wait(ctx)) // D2: E1 completes after A, B and C
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, []string{"E1_start", "B", "E1_end", "E2", "E3", "A", "C"}, log.get(),
		"AWAIT-4: no overshoot, only the awaited event jumps")
}

func TestSpecQueueJumpTwoBuses_AWAIT4(t *testing.T) {
	ctx := scCtx(t)
	bus1 := scBus(t, "JumpTwo1")
	bus2 := scBus(t, "JumpTwo2")
	var log1, log2 scLog
	gate := make(chan struct{})
	bus2Done := make(chan struct{})
	scReg(t)(api.On(bus1, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name != "E1" {
			log1.add(e.Name)
			return e.Name, nil
		}
		log1.add("E1_start")
		if err := scBlock(hctx, gate); err != nil {
			return "", err
		}
		child := &SCStep{Name: "E1_child"}
		if err := bus1.Emit(hctx, child); err != nil {
			return "", err
		}
		if err := child.Now(hctx); err != nil {
			return "", err
		}
		// bus2 keeps processing its own queue while E1 is still running.
		if err := scBlock(hctx, bus2Done); err != nil {
			return "", err
		}
		log1.add("E1_end")
		return "E1", nil
	}))
	scReg(t)(api.On(bus2, func(_ context.Context, e *SCStep) (string, error) {
		log2.add(e.Name)
		if e.Name == "F2" {
			close(bus2Done)
		}
		return e.Name, nil
	}))
	e1, e2 := &SCStep{Name: "E1"}, &SCStep{Name: "E2"}
	f1, f2 := &SCStep{Name: "F1"}, &SCStep{Name: "F2"}
	scEmit(t, ctx, bus1, e1, e2)
	scEmit(t, ctx, bus2, f1, f2)
	close(gate)
	for _, e := range []*SCStep{e1, e2, f1, f2} {
		_, err := e.Result(ctx)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"E1_start", "E1_child", "E1_end", "E2"}, log1.get(), "AWAIT-4: E2 waits for E1")
	assert.Equal(t, []string{"F1", "F2"}, log2.get(), "AWAIT-4: the other bus runs independently")
}

func TestSpecQueueJumpDeeplyNested_AWAIT4_CHILD9(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "JumpDeep")
	var log scLog
	var c1, c2 atomic.Pointer[SCStep]
	awaitChild := func(hctx context.Context, name string, keep *atomic.Pointer[SCStep]) error {
		c := &SCStep{Name: name}
		keep.Store(c)
		if err := bus.Emit(hctx, c); err != nil {
			return err
		}
		return c.Now(hctx)
	}
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		switch e.Name {
		case "E1":
			log.add("E1_start")
			if err := awaitChild(hctx, "C1", &c1); err != nil {
				return "", err
			}
			log.add("E1_end")
		case "C1":
			log.add("C1_start")
			if err := awaitChild(hctx, "C2", &c2); err != nil {
				return "", err
			}
			log.add("C1_end")
		default:
			log.add(e.Name)
		}
		return e.Name, nil
	}))
	e1 := &SCStep{Name: "E1"}
	scEmit(t, ctx, bus, e1)
	_, err := e1.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"E1_start", "C1_start", "C2", "C1_end", "E1_end"}, log.get(),
		"AWAIT-4: nested awaits complete in nesting order")
	require.NotNil(t, c1.Load())
	require.NotNil(t, c2.Load())
	assert.Equal(t, []string{c1.Load().ID()}, scIDs(e1.Children()))
	assert.Equal(t, []string{c2.Load().ID()}, scIDs(c1.Load().Children()), "CHILD-9: nested children reachable")
	assert.True(t, api.EventIsChildOf(c2.Load(), e1))
}

func TestSpecQueueJumpOnOtherBusySerialBus_AWAIT5(t *testing.T) {
	ctx := scCtx(t)
	src := scBus(t, "JumpSrc")
	dst := scBus(t, "JumpDst")
	var log scLog
	xStarted, releaseX := make(chan struct{}), make(chan struct{})
	childCh := make(chan *SCStep, 1)
	scReg(t)(api.On(dst, func(hctx context.Context, e *SCStep) (string, error) {
		log.add(e.Name + "_start")
		if e.Name == "X" {
			close(xStarted)
			if err := scBlock(hctx, releaseX); err != nil {
				return "", err
			}
		}
		log.add(e.Name + "_end")
		return e.Name, nil
	}))
	scReg(t)(api.On(src, func(hctx context.Context, e *SCStep) (string, error) {
		c := &SCStep{Name: "C"}
		if err := dst.Emit(hctx, c); err != nil {
			return "", err
		}
		childCh <- c
		return "P", c.Now(hctx)
	}))
	x, y := &SCStep{Name: "X"}, &SCStep{Name: "Y"}
	scEmit(t, ctx, dst, x)
	scRecv(t, xStarted, "X start")
	scEmit(t, ctx, dst, y) // queued behind X
	p := &SCStep{Name: "P"}
	scEmit(t, ctx, src, p)
	c := scRecv(t, childCh, "child emitted")
	// Wait (by observation, not by sleeping) until the queue-jump is queued
	// for dst's event lock: it takes the lock before it claims the child, so
	// once it holds it the child runs before dst's queued events.
	scWaitParked(t, "engine.(*Bus).processNested", "engine.(*fifoLock).lock")
	assert.NotEqual(t, api.StatusCompleted, c.Status(), "AWAIT-5: the jump does not preempt X")
	close(releaseX)
	_, err := p.Result(ctx)
	require.NoError(t, err)
	require.NoError(t, y.Wait(ctx))
	assert.Equal(t, []string{"X_start", "X_end", "C_start", "C_end", "Y_start", "Y_end"}, log.get(),
		"AWAIT-5: the child waits for the busy bus's current event, then runs before its queued ones")
}

func TestSpecManyAwaitersOneExecution_AWAIT6_AWAIT7(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "Awaiters")
	src := scBus(t, "AwaitersSrc", api.WithHandlerConcurrency(api.ParallelHandlers))
	reg := scReg(t)
	var runs atomic.Int32
	blockerStarted, releaseBlocker := make(chan struct{}), make(chan struct{})
	reg(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name == "blocker" {
			close(blockerStarted)
			return "", scBlock(hctx, releaseBlocker)
		}
		runs.Add(1)
		return "target", nil
	}))
	target := &SCStep{Name: "target"}
	const inside = 3
	ready := make(chan struct{}, inside)
	for i := range inside {
		reg(api.On(src, func(hctx context.Context, e *SCStep) (string, error) {
			if e.Name == "first" {
				ready <- struct{}{}
			}
			if err := target.Now(hctx); err != nil { // concurrent queue-jump attempts
				return "", err
			}
			return "awaited", nil
		}, api.WithHandlerName(fmt.Sprintf("awaiter%d", i))))
	}

	scEmit(t, ctx, bus, &SCStep{Name: "blocker"})
	scRecv(t, blockerStarted, "blocker start")
	scEmit(t, ctx, bus, target)

	const outside = 10
	outErrs := make(chan error, outside)
	for i := range outside {
		go func() {
			if i%2 == 0 {
				outErrs <- target.Wait(ctx)
			} else {
				outErrs <- target.Now(ctx)
			}
		}()
	}
	p := &SCStep{Name: "first"}
	scEmit(t, ctx, src, p)
	for range inside {
		scRecv(t, ready, "awaiter ready")
	}
	close(releaseBlocker)

	for range outside {
		require.NoError(t, scRecv(t, outErrs, "outside awaiter"), "AWAIT-7: every awaiter resumes")
	}
	vals, err := p.Results(ctx)
	require.NoError(t, err)
	assert.Len(t, vals, inside, "AWAIT-7: every handler awaiter resumes")
	assert.Equal(t, int32(1), runs.Load(), "AWAIT-7: the handler ran once")
	assert.Len(t, target.Rows(), 1)

	// AWAIT-6: awaiting a completed event returns at once, processing
	// nothing, from outside and from inside a handler.
	require.NoError(t, target.Now(ctx))
	require.NoError(t, target.Wait(ctx))
	later := scBus(t, "AwaitersLater")
	reg(api.On(later, func(hctx context.Context, _ *SCStep) (string, error) {
		return "again", target.Now(hctx)
	}))
	again := &SCStep{Name: "again"}
	scEmit(t, ctx, later, again)
	_, err = again.Results(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(1), runs.Load(), "AWAIT-6: no re-processing")
	assert.Len(t, target.Rows(), 1)
}

func TestSpecWaitInsideHandlerDoesNotQueueJump_AWAIT2(t *testing.T) {
	ctx := scCtx(t)

	t.Run("parallel bus, sibling emitted earlier starts first", func(t *testing.T) {
		bus := scBus(t, "WaitPar", api.WithEventConcurrency(api.ParallelEvents))
		var log scLog
		scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
			switch e.Name {
			case "parent":
				// The sibling is bus-serial: the bus's dispatcher processes it
				// inline, so nothing queued behind it can start before it ends
				// unless someone jumps the queue.
				sib := &SCStep{Name: "sibling"}
				sib.SetConcurrency(api.BusSerial)
				if err := bus.Emit(hctx, sib); err != nil {
					return "", err
				}
				child := &SCStep{Name: "child"}
				if err := bus.Emit(hctx, child); err != nil {
					return "", err
				}
				if err := child.Wait(hctx); err != nil {
					return "", err
				}
				log.add("parent_end")
			case "sibling":
				log.add("sibling_start")
				time.Sleep(20 * time.Millisecond) // slow handler
				log.add("sibling_end")
			default:
				log.add(e.Name + "_start")
			}
			return e.Name, nil
		}))
		parent := &SCStep{Name: "parent"}
		scEmit(t, ctx, bus, parent)
		_, err := parent.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"sibling_start", "sibling_end", "child_start", "parent_end"}, log.get(),
			"AWAIT-2: Wait inside a handler keeps queue order")
	})

	t.Run("busy bus-serial bus keeps queue order", func(t *testing.T) {
		src := scBus(t, "WaitSrc")
		dst := scBus(t, "WaitDst")
		var log scLog
		xStarted, releaseX, waiting := make(chan struct{}), make(chan struct{}), make(chan struct{})
		scReg(t)(api.On(dst, func(hctx context.Context, e *SCStep) (string, error) {
			log.add(e.Name)
			if e.Name == "X" {
				close(xStarted)
				if err := scBlock(hctx, releaseX); err != nil {
					return "", err
				}
			}
			return e.Name, nil
		}))
		scReg(t)(api.On(src, func(hctx context.Context, e *SCStep) (string, error) {
			c := &SCStep{Name: "C"}
			if err := dst.Emit(hctx, c); err != nil {
				return "", err
			}
			close(waiting)
			return "P", c.Wait(hctx)
		}))
		x, y := &SCStep{Name: "X"}, &SCStep{Name: "Y"}
		scEmit(t, ctx, dst, x)
		scRecv(t, xStarted, "X start")
		scEmit(t, ctx, dst, y)
		p := &SCStep{Name: "P"}
		scEmit(t, ctx, src, p)
		scRecv(t, waiting, "P waiting")
		close(releaseX)
		_, err := p.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"X", "Y", "C"}, log.get(), "AWAIT-2: Wait never changes scheduling")
	})
}

func TestSpecAwaitForwardedEventWaitsForTargets_AWAIT8_FWD7(t *testing.T) {
	ctx := scCtx(t)
	src := scBus(t, "AwaitFwdSrc")
	dst := scBus(t, "AwaitFwdDst")
	scReg(t)(src.Forward(api.Wildcard, dst))
	var done atomic.Bool
	scReg(t)(api.On(dst, func(context.Context, *SCStep) (string, error) {
		time.Sleep(30 * time.Millisecond) // slow target handler
		done.Store(true)
		return "dst", nil
	}))
	e := &SCStep{}
	scEmit(t, ctx, src, e)
	require.NoError(t, e.Wait(ctx))
	assert.True(t, done.Load(), "AWAIT-8/FWD-7: awaiting on the source waits for the target's handlers")
	assert.Equal(t, api.StatusCompleted, e.Status())
	v, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "dst", v)
}

func TestSpecAwaitNeverEmittedEvent_AWAIT10(t *testing.T) {
	ctx := scCtx(t)
	e := &SCStep{}
	assert.ErrorIs(t, e.Wait(ctx), api.ErrNotAttached)
	assert.ErrorIs(t, e.Now(ctx), api.ErrNotAttached)
	_, err := e.Result(ctx)
	assert.ErrorIs(t, err, api.ErrNotAttached)

	// Inside a handler too.
	bus := scBus(t, "NotAttached")
	scReg(t)(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
		return "", (&SCStep{}).Now(hctx)
	}))
	p := &SCStep{}
	scEmit(t, ctx, bus, p)
	_, err = p.Result(ctx)
	assert.ErrorIs(t, err, api.ErrNotAttached)
}

// --- CHILD ---

// SCChild is emitted by handlers of SCStep in the CHILD tests.
type SCChild struct {
	api.Event[string]
	Name string `json:"name"`
}

func TestSpecChildLinksFromHandlerContext_CHILD1_CHILD2_CHILD9_EVT12(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "ChildLink")
	other := scBus(t, "ChildLinkOther")
	reg := scReg(t)
	boom := errors.New("boom")
	kids := map[string]*SCChild{"c1": {Name: "c1"}, "c2": {Name: "c2"}, "c3": {Name: "c3"}}
	hA := reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
		if err := bus.Emit(hctx, kids["c1"]); err != nil {
			return "", err
		}
		// CHILD-2: a child emitted on another bus still links.
		return "a", other.Emit(hctx, kids["c2"])
	}, api.WithHandlerName("hA")))
	hB := reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) {
		if err := bus.Emit(hctx, kids["c3"]); err != nil {
			return "", err
		}
		return "", boom // CHILD-2: failing handlers keep their children linked
	}, api.WithHandlerName("hB")))
	for _, b := range []*api.Bus{bus, other} {
		reg(api.On(b, func(_ context.Context, c *SCChild) (string, error) { return c.Name, nil }))
	}

	parent := &SCStep{Name: "parent"}
	scEmit(t, ctx, bus, parent)
	require.NoError(t, parent.Wait(ctx))

	assert.Empty(t, parent.ParentID(), "a root event has no parent")
	for name, hid := range map[string]string{"c1": hA.ID(), "c2": hA.ID(), "c3": hB.ID()} {
		c := kids[name]
		assert.Equal(t, parent.ID(), c.ParentID(), "CHILD-1: %s parent id", name)
		assert.Equal(t, hid, c.EmittedByHandlerID(), "CHILD-1: %s emitted-by handler", name)
		assert.Same(t, engine.Core(parent), c.Parent())
		assert.Equal(t, api.StatusCompleted, c.Status())
	}
	rA, rB := scRowByHandler(parent, hA), scRowByHandler(parent, hB)
	assert.Equal(t, []string{kids["c1"].ID(), kids["c2"].ID()}, scIDs(rA.Children()), "CHILD-1: children on the handler row")
	assert.Equal(t, []string{kids["c3"].ID()}, scIDs(rB.Children()))
	assert.ErrorIs(t, rB.Error(), boom)
	assert.Equal(t, []string{kids["c1"].ID(), kids["c2"].ID(), kids["c3"].ID()}, scIDs(parent.Children()),
		"CHILD-9/EVT-12: event children in result-row order")
}

func TestSpecChildLinksFromParallelHandlers_CHILD2(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "ChildPar", api.WithHandlerConcurrency(api.ParallelHandlers))
	kids := scBus(t, "ChildParKids")
	reg := scReg(t)
	ca, cb := &SCChild{Name: "a"}, &SCChild{Name: "b"}
	hA := reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) { return "", kids.Emit(hctx, ca) }, api.WithHandlerName("hA")))
	hB := reg(api.On(bus, func(hctx context.Context, _ *SCStep) (string, error) { return "", kids.Emit(hctx, cb) }, api.WithHandlerName("hB")))
	reg(api.On(kids, func(_ context.Context, c *SCChild) (string, error) { return c.Name, nil }))
	parent := &SCStep{}
	scEmit(t, ctx, bus, parent)
	require.NoError(t, parent.Wait(ctx))
	assert.Equal(t, hA.ID(), ca.EmittedByHandlerID(), "CHILD-2: each child linked to its own handler")
	assert.Equal(t, hB.ID(), cb.EmittedByHandlerID())
	assert.Equal(t, []string{ca.ID()}, scIDs(scRowByHandler(parent, hA).Children()))
	assert.Equal(t, []string{cb.ID()}, scIDs(scRowByHandler(parent, hB).Children()))
	assert.ElementsMatch(t, []string{ca.ID(), cb.ID()}, scIDs(parent.Children()))
}

func TestSpecParentCompletesAfterAllChildren_CHILD5_CHILD6_CHILD7_D2_STAT3(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "ChildDone")
	other := scBus(t, "ChildDoneOther")
	reg := scReg(t)
	grandStarted, releaseGrand := make(chan struct{}), make(chan struct{})
	var mid, grand atomic.Pointer[SCStep]
	reg(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		switch e.Name {
		case "root": // emits mid without awaiting it
			m := &SCStep{Name: "mid"}
			mid.Store(m)
			return "root", bus.Emit(hctx, m)
		case "mid": // emits grand on another bus without awaiting it
			g := &SCStep{Name: "grand"}
			grand.Store(g)
			return "mid", other.Emit(hctx, g)
		}
		return "", nil
	}))
	reg(api.On(other, func(hctx context.Context, e *SCStep) (string, error) {
		close(grandStarted)
		return "grand", scBlock(hctx, releaseGrand)
	}))

	root := &SCStep{Name: "root"}
	scEmit(t, ctx, bus, root)
	scRecv(t, grandStarted, "grandchild start")
	// IDLE-4: bus has finished root and mid, whose children are still open.
	require.NoError(t, bus.WaitUntilIdle(ctx))
	m, g := mid.Load(), grand.Load()
	require.NotNil(t, m)
	require.NotNil(t, g)

	assert.Equal(t, api.StatusCompleted, root.Rows()[0].Status(), "CHILD-7: the handler row completes when the handler returns")
	assert.Equal(t, api.StatusCompleted, m.Rows()[0].Status())
	assert.NotEqual(t, api.StatusCompleted, root.Status(), "CHILD-5/D2: root waits for its un-awaited descendants")
	assert.NotEqual(t, api.StatusCompleted, m.Status(), "CHILD-5/D2: mid waits for grand")
	assert.False(t, scClosed(root.Done()))
	assert.False(t, scClosed(m.Done()))

	close(releaseGrand)
	require.NoError(t, root.Wait(ctx))
	assert.True(t, scClosed(m.Done()), "CHILD-6: completion propagates upward")
	assert.True(t, scClosed(g.Done()))
	for _, e := range []*SCStep{root, m, g} {
		assert.Equal(t, api.StatusCompleted, e.Status())
	}
	assert.Equal(t, root.Rows()[0].CompletedAt(), root.CompletedAt(),
		"STAT-3: completed_at is the last handler's finish, not the last child's")
	assert.True(t, root.CompletedAt().Before(g.CompletedAt()))
}

func TestSpecEventIsChildOfAcrossBuses_CHILD8(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "ChildOf")
	other := scBus(t, "ChildOfOther")
	reg := scReg(t)
	var child, grand atomic.Pointer[SCChild]
	reg(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name != "root" {
			return "", nil
		}
		c := &SCChild{Name: "child"}
		child.Store(c)
		return "", other.Emit(hctx, c)
	}))
	reg(api.On(other, func(hctx context.Context, c *SCChild) (string, error) {
		if c.Name != "child" {
			return "", nil
		}
		g := &SCChild{Name: "grand"}
		grand.Store(g)
		return "", bus.Emit(hctx, g)
	}))
	reg(api.On(bus, func(context.Context, *SCChild) (string, error) { return "", nil }))
	root, unrelated := &SCStep{Name: "root"}, &SCStep{Name: "unrelated"}
	scEmit(t, ctx, bus, root, unrelated)
	require.NoError(t, root.Wait(ctx))
	require.NoError(t, unrelated.Wait(ctx))
	c, g := child.Load(), grand.Load()
	require.NotNil(t, g)

	assert.True(t, api.EventIsChildOf(c, root))
	assert.True(t, api.EventIsChildOf(g, root), "CHILD-8: walks across buses, any depth")
	assert.True(t, api.EventIsChildOf(g, c))
	assert.False(t, api.EventIsChildOf(root, c), "CHILD-8: reversed relation is false")
	assert.False(t, api.EventIsChildOf(root, root), "CHILD-8: not a child of itself")
	assert.False(t, api.EventIsChildOf(g, unrelated))
	assert.True(t, api.EventIsParentOf(root, g))
	assert.False(t, api.EventIsParentOf(g, root))
}

// --- FWD ---

func TestSpecForwardingCycleProcessesOncePerBus_FWD1_FWD2_FWD5_FWD6_EMIT3_CHILD4_RES5(t *testing.T) {
	ctx := scCtx(t)
	a := scBus(t, "FwdA")
	b := scBus(t, "FwdB")
	c := scBus(t, "FwdC")
	reg := scReg(t)
	reg(a.Forward(api.Wildcard, b))
	reg(b.Forward(api.Wildcard, c))
	reg(c.Forward(api.Wildcard, a))
	var mu sync.Mutex
	counts := map[string]int{}
	seen := map[string][]*SCStep{}
	for tag, bus := range map[string]*api.Bus{"a": a, "b": b, "c": c} {
		reg(api.On(bus, func(_ context.Context, e *SCStep) (string, error) {
			mu.Lock()
			counts[tag]++
			seen[tag] = append(seen[tag], e)
			mu.Unlock()
			return tag, nil
		}))
	}

	e := &SCStep{Name: "fromA"}
	scEmit(t, ctx, a, e)
	vals, err := e.Results(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{a.Label(), b.Label(), c.Label()}, e.Path(), "FWD-2/EMIT-3: path [A,B,C]")
	assert.Equal(t, []string{"a", "b", "c"}, vals, "FWD-5: flattened results, source bus first")
	mu.Lock()
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, counts, "FWD-2: each bus processes the event once")
	for tag, evs := range seen {
		assert.Same(t, e, evs[0], "FWD-1: bus %s receives the same event object", tag)
	}
	mu.Unlock()

	// FWD-5: each row records its bus; FWD-6: forwarder rows hold the event.
	var rowBuses []*api.Bus
	for _, r := range e.Rows() {
		rowBuses = append(rowBuses, r.Bus())
		if r.IsForwarder() {
			assert.Same(t, e, r.Value(), "FWD-6: the forwarder's raw value is the event")
		}
	}
	assert.Equal(t, []*api.Bus{a, a, b, b, c, c}, rowBuses)
	// RES-5: even an include accepting every row sees nil for event values.
	all, _, err := e.ResultValues(api.Include(func(any, *api.Result) bool { return true }))
	require.NoError(t, err)
	assert.Equal(t, []any{"a", nil, "b", nil, "c", nil}, all)
	// CHILD-4: forwarding never makes the event its own parent or child.
	assert.Empty(t, e.ParentID())
	assert.Empty(t, e.Children())

	// Starting from B gives path [B, C, A].
	e2 := &SCStep{Name: "fromB"}
	scEmit(t, ctx, b, e2)
	require.NoError(t, e2.Wait(ctx))
	assert.Equal(t, []string{b.Label(), c.Label(), a.Label()}, e2.Path())
	mu.Lock()
	assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, counts)
	mu.Unlock()
}

func TestSpecReEmitHandledEventIsNotItsOwnChild_CHILD4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "SelfFwd")
	other := scBus(t, "SelfFwdOther")
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		return "bus", other.Emit(hctx, e) // forward the event being handled
	}))
	scReg(t)(api.On(other, func(context.Context, *SCStep) (string, error) { return "other", nil }))
	e := &SCStep{}
	scEmit(t, ctx, bus, e)
	vals, err := e.Results(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"bus", "other"}, vals)
	assert.Empty(t, e.ParentID(), "CHILD-4: not its own parent")
	assert.Empty(t, e.Children(), "CHILD-4: not its own child")
	assert.Equal(t, []string{bus.Label(), other.Label()}, e.Path())
}

// --- RES ---

func TestSpecResultErrors_RES1_RES3(t *testing.T) {
	ctx := scCtx(t)

	t.Run("one error is returned as-is", func(t *testing.T) {
		bus := scBus(t, "ResOneErr")
		reg := scReg(t)
		orig := &scCodeErr{Code: 7}
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "x", nil }))
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "", orig }))
		e := &SCStep{}
		scEmit(t, ctx, bus, e)
		_, err := e.Result(ctx)
		require.Error(t, err)
		var ce *scCodeErr
		require.ErrorAs(t, err, &ce, "RES-3: the original error type")
		assert.Same(t, orig, ce)
		var group *api.HandlerErrors
		assert.False(t, errors.As(err, &group), "RES-3: a single error is not wrapped in a group")
		_, err = e.Results(ctx)
		assert.ErrorIs(t, err, orig)
		vals, err := e.Results(ctx, api.IgnoreErrors())
		require.NoError(t, err)
		assert.Equal(t, []string{"x"}, vals)
	})

	t.Run("two errors are grouped", func(t *testing.T) {
		bus := scBus(t, "ResTwoErr")
		reg := scReg(t)
		errA := errors.New("a failed")
		errB := &scCodeErr{Code: 9}
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "", errA }))
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "ok", nil }))
		reg(api.On(bus, func(context.Context, *SCStep) (string, error) { return "", errB }))
		e := &SCStep{}
		scEmit(t, ctx, bus, e)
		_, err := e.Result(ctx)
		var group *api.HandlerErrors
		require.ErrorAs(t, err, &group, "RES-3: two errors give *HandlerErrors")
		assert.ErrorIs(t, err, errA)
		assert.ErrorIs(t, err, errB)
		var ce *scCodeErr
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 9, ce.Code)
		require.Len(t, group.Errors, 2)
		assert.Same(t, errA, group.Errors[0], "RES-3: errors in row order")
		assert.True(t, strings.HasPrefix(err.Error(), "ringbus: event "+e.Label()+" had 2 handler error(s): a failed; "), err.Error())
	})
}

func TestSpecResultNoneAndOptions_RES2_RES4(t *testing.T) {
	ctx := scCtx(t)

	t.Run("all nil", func(t *testing.T) {
		bus := scBus(t, "ResNone")
		scReg(t)(api.On(bus, func(context.Context, *SCAny) (any, error) { return nil, nil }))
		scReg(t)(api.On(bus, func(context.Context, *SCAny) (any, error) { return nil, nil }))
		e := &SCAny{}
		scEmit(t, ctx, bus, e)
		_, err := e.Result(ctx)
		assert.ErrorIs(t, err, api.ErrNoResult, "RES-4: raise_if_none defaults to true (D5)")
		_, err = e.Results(ctx)
		assert.ErrorIs(t, err, api.ErrNoResult)
		v, err := e.Result(ctx, api.AllowEmpty())
		require.NoError(t, err)
		assert.Nil(t, v)
		vals, err := e.Results(ctx, api.AllowEmpty())
		require.NoError(t, err)
		assert.Empty(t, vals)
		// RES-2: a custom include can accept the nil rows.
		vals, err = e.Results(ctx, api.Include(func(_ any, r *api.Result) bool { return r.Status() == api.StatusCompleted }))
		require.NoError(t, err)
		assert.Equal(t, []any{nil, nil}, vals)
	})

	t.Run("all failed", func(t *testing.T) {
		bus := scBus(t, "ResAllFail")
		boom := errors.New("boom")
		scReg(t)(api.On(bus, func(context.Context, *SCAny) (any, error) { return nil, boom }))
		e := &SCAny{}
		scEmit(t, ctx, bus, e)
		_, err := e.Result(ctx, api.AllowEmpty())
		assert.ErrorIs(t, err, boom, "RES-4: raise_if_any is checked first")
		_, err = e.Result(ctx, api.IgnoreErrors())
		assert.ErrorIs(t, err, api.ErrNoResult)
		v, err := e.Result(ctx, api.IgnoreErrors(), api.AllowEmpty())
		require.NoError(t, err, "RES-4: only both options together return nothing")
		assert.Nil(t, v)
	})

	t.Run("default include", func(t *testing.T) {
		bus := scBus(t, "ResInclude")
		reg := scReg(t)
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return nil, nil }))
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return 0, nil }))
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return &SCStep{}, nil }))
		reg(api.On(bus, func(context.Context, *SCAny) (any, error) { return "s", nil }))
		e := &SCAny{}
		scEmit(t, ctx, bus, e)
		vals, err := e.Results(ctx)
		require.NoError(t, err)
		assert.Equal(t, []any{0, "s"}, vals, "RES-2: nil and event values are excluded by default")
		v, err := e.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, v, "RES-1: the first included value")
		vals, err = e.Results(ctx, api.Include(func(v any, _ *api.Result) bool { return v == "s" }))
		require.NoError(t, err)
		assert.Equal(t, []any{"s"}, vals)
	})
}

// --- HIST ---

func TestSpecUnlimitedHistory_HIST2(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "HistUnlimited", api.WithMaxHistory(api.UnlimitedHistory))
	var runs atomic.Int32
	scReg(t)(api.On(bus, func(context.Context, *SCNum) (int, error) { runs.Add(1); return 1, nil }))
	for i := range 150 {
		require.NoError(t, bus.Emit(ctx, &SCNum{N: i}), "HIST-2: never rejects")
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, int32(150), runs.Load())
	assert.Equal(t, 150, bus.HistoryLen())
}

func TestSpecHistoryFullRejects_HIST4(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "HistFull", api.WithMaxHistory(3))
	var runs atomic.Int32
	scReg(t)(api.On(bus, func(context.Context, *SCNum) (int, error) { runs.Add(1); return 1, nil }))
	var kept []*SCNum
	for i := range 3 {
		e := &SCNum{N: i}
		scEmit(t, ctx, bus, e)
		require.NoError(t, e.Wait(ctx))
		kept = append(kept, e)
	}
	// All three are completed, yet they are not evicted (§34 #1).
	e4 := &SCNum{N: 3}
	err := bus.Emit(ctx, e4)
	require.ErrorIs(t, err, api.ErrHistoryFull, "HIST-4: a full history rejects")
	var hf *api.HistoryFullError
	require.ErrorAs(t, err, &hf)
	assert.Equal(t, 3, hf.Limit)
	assert.Contains(t, err.Error(), "history limit reached (3/3)")
	assert.Contains(t, err.Error(), "api.WithHistoryDrop(true)", "the error names the Go option that lifts the limit")
	assert.Contains(t, err.Error(), "api.WithMaxHistory")
	assert.NotContains(t, err.Error(), "max_history", "no Python option names in a Go error")
	assert.ErrorIs(t, bus.Emit(ctx, &SCNum{N: 4}), api.ErrHistoryFull, "HIST-4: and keeps rejecting")

	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, int32(3), runs.Load(), "HIST-4: the rejected event is not queued")
	assert.Equal(t, api.StatusPending, e4.Status())
	assert.Empty(t, e4.Rows())
	assert.Equal(t, 0, bus.QueueLen())
	assert.Equal(t, 3, bus.HistoryLen())
	for i, e := range bus.History() {
		assert.Same(t, engine.Core(kept[i]), e, "HIST-4: the rejected event is not recorded")
	}
}

func TestSpecHistoryDropKeepsNewest_HIST5_HIST6(t *testing.T) {
	ctx := scCtx(t)

	t.Run("awaited one by one", func(t *testing.T) {
		bus := scBus(t, "HistDrop", api.WithMaxHistory(5), api.WithHistoryDrop(true))
		scReg(t)(api.On(bus, func(_ context.Context, e *SCNum) (int, error) { return e.N, nil }))
		var evs []*SCNum
		for i := range 20 {
			e := &SCNum{N: i}
			require.NoError(t, bus.Emit(ctx, e), "HIST-5: dropping never rejects")
			require.NoError(t, e.Wait(ctx))
			evs = append(evs, e)
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
		hist := bus.History()
		require.Len(t, hist, 5, "HIST-6: len(history) <= N after idle")
		for i, e := range hist {
			assert.Same(t, engine.Core(evs[15+i]), e, "HIST-5: the oldest completed events were dropped")
		}
	})

	t.Run("flood with in-flight events", func(t *testing.T) {
		bus := scBus(t, "HistFlood", api.WithMaxHistory(5), api.WithHistoryDrop(true))
		started, release := make(chan struct{}), make(chan struct{})
		var runs atomic.Int32
		scReg(t)(api.On(bus, func(hctx context.Context, e *SCNum) (int, error) {
			runs.Add(1)
			if e.N == 0 {
				close(started)
				return 0, scBlock(hctx, release)
			}
			return e.N, nil
		}))
		first := &SCNum{N: 0}
		scEmit(t, ctx, bus, first)
		scRecv(t, started, "blocker start")
		evs := []*SCNum{first}
		for i := 1; i <= 30; i++ {
			e := &SCNum{N: i}
			require.NoError(t, bus.Emit(ctx, e), "HIST-5: never rejects")
			evs = append(evs, e)
			assert.LessOrEqual(t, bus.HistoryLen(), 6, "HIST-6: emit trims above the soft limit max(N, 1.2N)")
		}
		close(release)
		for _, e := range evs {
			require.NoError(t, e.Wait(ctx), "HIST-5: dropped events still complete and can be awaited")
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Equal(t, int32(31), runs.Load())
		assert.LessOrEqual(t, bus.HistoryLen(), 5, "HIST-6: len(history) <= N after idle")
	})
}

func TestSpecZeroHistoryKeepsOnlyInFlight_HIST3(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "HistZero", api.WithMaxHistory(0))
	started, release := make(chan struct{}), make(chan struct{})
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCNum) (int, error) {
		if e.N == 0 {
			close(started)
			return 0, scBlock(hctx, release)
		}
		return e.N, nil
	}))
	e0, e1, e2 := &SCNum{N: 0}, &SCNum{N: 1}, &SCNum{N: 2}
	scEmit(t, ctx, bus, e0)
	scRecv(t, started, "e0 start")
	scEmit(t, ctx, bus, e1, e2)
	assert.Equal(t, 3, bus.HistoryLen(), "HIST-3: pending and started events are kept")
	close(release)
	for _, e := range []*SCNum{e0, e1, e2} {
		require.NoError(t, e.Wait(ctx))
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, 0, bus.HistoryLen(), "HIST-3: completed events leave the history")

	for i := range 150 {
		require.NoError(t, bus.Emit(ctx, &SCNum{N: 10 + i}), "HIST-3: never rejects for size")
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, 0, bus.HistoryLen())

	// Past search sees nothing; a future waiter still resolves.
	found, err := bus.Find(ctx, api.TypeName[SCNum]())
	require.NoError(t, err)
	assert.Nil(t, found, "HIST-3: completed events are not findable")
	type res struct {
		e   *api.BaseEvent
		err error
	}
	out := make(chan res, 1)
	go func() {
		e, err := bus.Find(ctx, api.TypeName[SCNum](), api.NoPast(), api.Future(scLimit))
		out <- res{e, err}
	}()
	require.Eventually(t, func() bool { return bus.Waiters() == 1 }, scLimit, time.Millisecond)
	fut := &SCNum{N: 999}
	scEmit(t, ctx, bus, fut)
	r := scRecv(t, out, "future find")
	require.NoError(t, r.err)
	assert.Same(t, engine.Core(fut), r.e, "HIST-3: future waiters still resolve")
}

// --- STOP ---

func TestSpecCloseAbandonsQueuedEvents_STOP2_STOP3_STOP4_STOP6_STOP7(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "CloseQ")
	started := make(chan struct{})
	scReg(t)(api.On(bus, func(hctx context.Context, e *SCStep) (string, error) {
		if e.Name == "E1" {
			close(started)
			return "", scBlock(hctx, nil) // runs until Close aborts it
		}
		return e.Name, nil
	}))
	e1, e2, e3 := &SCStep{Name: "E1"}, &SCStep{Name: "E2"}, &SCStep{Name: "E3"}
	scEmit(t, ctx, bus, e1, e2, e3)
	scRecv(t, started, "E1 start")

	type res struct {
		e   *api.BaseEvent
		err error
	}
	out := make(chan res, 1)
	go func() {
		e, err := bus.Find(ctx, "Nothing", api.NoPast(), api.Future(0))
		out <- res{e, err}
	}()
	require.Eventually(t, func() bool { return bus.Waiters() == 1 }, scLimit, time.Millisecond)

	require.NoError(t, bus.Close())
	r := scRecv(t, out, "find waiter")
	assert.NoError(t, r.err)
	assert.Nil(t, r.e, "STOP-4: future waiters resolve with nil")

	rows := e1.Rows()
	require.Len(t, rows, 1)
	assert.ErrorIs(t, rows[0].Error(), api.ErrHandlerAborted, "STOP-2: the running handler is aborted")
	for _, e := range []*SCStep{e2, e3} {
		assert.Equal(t, api.StatusPending, e.Status(), "STOP-2: queued events stay pending")
		assert.Empty(t, e.Rows())
		assert.ErrorIs(t, e.Wait(ctx), api.ErrBusClosed, "waiting on an abandoned event fails instead of hanging")
	}
	assert.ErrorIs(t, bus.Emit(ctx, &SCStep{}), api.ErrBusClosed, "STOP-2: later emit fails")
	_, err := api.On(bus, func(context.Context, *SCStep) (string, error) { return "", nil })
	assert.ErrorIs(t, err, api.ErrBusClosed)
	assert.True(t, bus.IsClosed())
	assert.True(t, strings.HasPrefix(bus.Name(), "_stopped_"), "STOP-3: renamed, got %q", bus.Name())

	assert.NoError(t, bus.Close(), "STOP-6: idempotent")
	assert.NoError(t, bus.Stop(ctx))
}

func TestSpecStopDrainsQueue_STOP1(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "StopDrain")
	scReg(t)(api.On(bus, func(_ context.Context, e *SCNum) (int, error) {
		time.Sleep(3 * time.Millisecond) // slow handler
		return e.N, nil
	}))
	var evs []*SCNum
	for i := range 5 {
		e := &SCNum{N: i}
		evs = append(evs, e)
		scEmit(t, ctx, bus, e)
	}
	require.NoError(t, bus.Stop(ctx), "STOP-1: graceful stop drains")
	for i, e := range evs {
		assert.Equal(t, api.StatusCompleted, e.Status())
		v, err := e.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, i, v)
	}
	assert.ErrorIs(t, bus.Emit(ctx, &SCNum{}), api.ErrBusClosed)

	// A drain bounded by a short ctx returns its error and still shuts down.
	bus2 := scBus(t, "StopBounded")
	started := make(chan struct{})
	scReg(t)(api.On(bus2, func(hctx context.Context, _ *SCNum) (int, error) {
		close(started)
		return 0, scBlock(hctx, nil) // runs until Stop aborts it
	}))
	blocked := &SCNum{}
	scEmit(t, ctx, bus2, blocked)
	scRecv(t, started, "handler start")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, bus2.Stop(short), context.DeadlineExceeded)
	assert.True(t, bus2.IsClosed())
	require.Len(t, blocked.Rows(), 1)
	assert.ErrorIs(t, blocked.Rows()[0].Error(), api.ErrHandlerAborted)
}

// --- panics ---

func TestSpecPanickingHandlerFailsOnlyItsRow_ERR1_HCONC6(t *testing.T) {
	ctx := scCtx(t)
	bus := scBus(t, "Panic")
	reg := scReg(t)
	sentinel := errors.New("sentinel")
	hPanic := reg(api.On(bus, func(_ context.Context, e *SCStep) (string, error) {
		switch e.Name {
		case "bad":
			panic("boom")
		case "bad-error":
			panic(sentinel)
		}
		return "fine", nil
	}, api.WithHandlerName("panicky")))
	var others atomic.Int32
	reg(api.On(bus, func(context.Context, *SCStep) (string, error) { others.Add(1); return "other", nil }, api.WithHandlerName("other")))

	bad := &SCStep{Name: "bad"}
	scEmit(t, ctx, bus, bad)
	_, err := bad.Result(ctx)
	require.ErrorIs(t, err, api.ErrHandlerPanic)
	var pe *api.HandlerPanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	assert.Equal(t, api.StatusError, scRowByHandler(bad, hPanic).Status())
	vals, err := bad.Results(ctx, api.IgnoreErrors())
	require.NoError(t, err)
	assert.Equal(t, []string{"other"}, vals, "the other handler still ran")

	badErr := &SCStep{Name: "bad-error"}
	scEmit(t, ctx, bus, badErr)
	_, err = badErr.Result(ctx)
	assert.ErrorIs(t, err, api.ErrHandlerPanic)
	assert.ErrorIs(t, err, sentinel, "a panic with an error value unwraps to it")

	good := &SCStep{Name: "good"}
	scEmit(t, ctx, bus, good)
	vals, err = good.Results(ctx)
	require.NoError(t, err, "the bus keeps working after a panic")
	assert.Equal(t, []string{"fine", "other"}, vals)
	assert.Equal(t, int32(3), others.Load())
}

func TestSpecParallelHandlersBackToBackEvents_HCONC2_HCONC4_REG10(t *testing.T) {
	// Consecutive events on one bus with parallel handlers: each event's rows
	// belong to that event only; a first-mode event must not cancel the rows
	// of an all-mode event and vice versa. Run with -race.
	ctx := scCtx(t)
	bus := scBus(t, "ParBackToBack", api.WithHandlerConcurrency(api.ParallelHandlers))
	reg := scReg(t)
	for i := range 3 {
		reg(api.On(bus, func(_ context.Context, e *SCNum) (int, error) { return e.N*10 + i, nil },
			api.WithHandlerName(fmt.Sprintf("h%d", i))))
	}
	var evs []*SCNum
	for i := range 60 {
		e := &SCNum{N: i}
		if i%2 == 1 {
			e.SetCompletion(api.CompleteFirst)
		}
		evs = append(evs, e)
		scEmit(t, ctx, bus, e)
	}
	for i, e := range evs {
		require.NoError(t, e.Wait(ctx))
		if i%2 == 0 {
			vals, err := e.Results(ctx)
			require.NoError(t, err, "event %d: an all-mode event's handlers all complete", i)
			assert.ElementsMatch(t, []int{i * 10, i*10 + 1, i*10 + 2}, vals)
		} else {
			vals, err := e.Results(ctx, api.IgnoreErrors())
			require.NoError(t, err)
			assert.NotEmpty(t, vals)
		}
	}
}
