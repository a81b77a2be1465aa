package api_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

// MW-2, MW-7, CANCEL-1, CANCEL-2, TIMEOUT-6: every way a row can end
// reports it to the middlewares exactly once, after its pending and (when
// it ran) started hooks. A parent handler that times out while awaiting a
// child aborts the child's running handler (the queue-jump is aborted) and
// cancels the child's handler that never started (the cascade); each of
// the three rows and both events see one monotonic sequence.
func TestHooksEveryEndingReportedOnce_MW7(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := newMsRecorder("")
		bus := spBus(t, "HooksEveryEnding", api.WithMiddlewares(rec))
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			c := &msChild{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			return "", c.Now(hctx) // queue-jumps: the child runs inside this handler
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msChild) (string, error) {
			time.Sleep(time.Second) // ignores its ctx
			return "late", nil
		}, api.WithHandlerName("running_child"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msChild) (string, error) { return "never", nil },
			api.WithHandlerName("pending_child"))
		require.NoError(t, err)

		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		time.Sleep(2 * time.Second) // the ignoring handler returns late: no second report

		per := map[string][]string{}
		for _, c := range rec.snapshot() {
			f := strings.Fields(c)
			per[f[1]] = append(per[f[1]], f[2])
		}
		assert.Equal(t, []string{"pending(pending)", "started(started)", "completed(error)"}, per["parent"], "handler timeout")
		assert.Equal(t, []string{"pending(pending)", "started(started)", "completed(error)"}, per["running_child"], "aborted by the cascade")
		assert.Equal(t, []string{"pending(pending)", "completed(error)"}, per["pending_child"], "cancelled by the cascade")
		assert.Equal(t, []string{"pending", "started", "completed"}, per["msEvent"])
		assert.Equal(t, []string{"pending", "started", "completed"}, per["msChild"])

		rows := e.Rows()
		require.Len(t, rows, 1)
		require.ErrorIs(t, rows[0].Error(), api.ErrHandlerTimeout)
	})
}

// completionGate blocks in its event-completed hook until release closes.
type completionGate struct {
	api.NopMiddleware
	entered, release chan struct{}
	status           api.Status
}

func (g *completionGate) OnEventChange(_ context.Context, _ *api.Bus, e *api.BaseEvent, s api.Status) {
	if s == api.StatusCompleted {
		g.status = e.Status()
		close(g.entered)
		<-g.release
	}
}

// MW-13, AWAIT-1: an event's completion hooks run before its waiters are
// released, so what a hook records (a WAL line made durable, a counter) is
// there when Wait, Done or Now returns; the hook itself already sees the
// event completed.
func TestCompletionHooksRunBeforeWaitersReleased_MW13(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		g := &completionGate{entered: make(chan struct{}), release: make(chan struct{})}
		bus := spBus(t, "HooksBeforeWaiters", api.WithMiddlewares(g))
		_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
		require.NoError(t, err)

		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		var waited, doneSeen, nowed atomic.Bool
		go func() { _ = e.Wait(ctx); waited.Store(true) }()
		go func() { _ = e.Now(ctx); nowed.Store(true) }()
		<-g.entered
		go func() { <-e.Done(); doneSeen.Store(true) }() // Done asked for during the hook
		synctest.Wait()                                  // every goroutine is blocked: the hook on release, the waiters on the event
		assert.Equal(t, api.StatusCompleted, g.status, "the hook sees the event completed")
		assert.Equal(t, api.StatusCompleted, e.Status())
		assert.False(t, waited.Load(), "Wait returned while a completion hook was running")
		assert.False(t, nowed.Load(), "Now returned while a completion hook was running")
		assert.False(t, doneSeen.Load(), "Done closed while a completion hook was running")

		close(g.release)
		synctest.Wait()
		assert.True(t, waited.Load())
		assert.True(t, nowed.Load())
		assert.True(t, doneSeen.Load())
		require.NoError(t, e.Wait(ctx))
	})
}

// closeWatcher counts OnBusClosed calls per bus.
type closeWatcher struct {
	api.NopMiddleware
	mu     sync.Mutex
	closed map[*api.Bus]int
}

func (w *closeWatcher) OnBusClosed(b *api.Bus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b.Emit(context.Background(), &msEvent{}) == nil {
		panic("Emit works on a closed bus")
	}
	w.closed[b]++
}

// A middleware that implements BusCloseObserver hears of each bus's
// shutdown once, by Stop or by Close, before they return, and Close after
// Stop does not report it again.
func TestBusCloseObserverOncePerBus(t *testing.T) {
	w := &closeWatcher{closed: map[*api.Bus]int{}}
	a, err := api.NewBus("CloseObserverA", api.WithMiddlewares(w))
	require.NoError(t, err)
	b, err := api.NewBus("CloseObserverB", api.WithMiddlewares(w))
	require.NoError(t, err)
	require.NoError(t, a.Stop(context.Background()))
	require.NoError(t, b.Close())
	require.NoError(t, a.Close())
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Equal(t, map[*api.Bus]int{a: 1, b: 1}, w.closed)
}

// Options bundles several bus options into one: the middleware and the
// wrapper both take effect, and an invalid option inside fails NewBus.
func TestOptionsCombines(t *testing.T) {
	g := &closeWatcher{closed: map[*api.Bus]int{}}
	var wrapped atomic.Int32
	w := func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) { wrapped.Add(1); return next(ctx, e) }
	}
	bus, err := api.NewBus("OptionsCombined", api.Options(api.WithMiddlewares(g), nil, api.WithHandlerWrappers(w)))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(context.Background(), e))
	require.NoError(t, e.Wait(context.Background()))
	assert.Equal(t, int32(1), wrapped.Load())
	require.NoError(t, bus.Close())
	assert.Equal(t, 1, g.closed[bus])

	_, err = api.NewBus("OptionsBad", api.Options(api.WithMaxHistory(1), api.WithHandlerWrappers(nil)))
	require.ErrorIs(t, err, api.ErrBadOption)
}

// selective counts its calls and selects some hooks.
type selective struct {
	hooks                  api.Hooks
	events, rows, handlers atomic.Int32
}

func (s *selective) Hooks() api.Hooks { return s.hooks }
func (s *selective) OnEventChange(context.Context, *api.Bus, *api.BaseEvent, api.Status) {
	s.events.Add(1)
}
func (s *selective) OnResultChange(context.Context, *api.Bus, *api.BaseEvent, *api.Result, api.Status) {
	s.rows.Add(1)
}
func (s *selective) OnHandlersChange(*api.Bus, *api.Handler, bool) { s.handlers.Add(1) }

// MW-1, MW-5: a middleware implementing HookSelector is called only for
// the hooks and transitions it selects; the others on the same bus still
// get every hook, in order.
func TestHookSelectorSkipsUnselectedHooks(t *testing.T) {
	ctx := context.Background()
	rowsOnly := &selective{hooks: api.ResultHooks}
	eventsOnly := &selective{hooks: api.EventHooks}
	regsOnly := &selective{hooks: api.HandlerHooks}
	all := &selective{hooks: api.AllHooks}
	completions := &selective{hooks: api.EventCompletedHook | api.ResultCompletedHook}
	bus := spBus(t, "HookSelector", api.WithMiddlewares(rowsOnly, eventsOnly, regsOnly, all, completions))
	_, err := api.On(bus, func(context.Context, *msEvent) (string, error) { return "ok", nil })
	require.NoError(t, err)
	e := &msEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	for name, c := range map[string]struct {
		s                      *selective
		events, rows, handlers int32
	}{"rows": {rowsOnly, 0, 3, 0}, "events": {eventsOnly, 3, 0, 0}, "handlers": {regsOnly, 0, 0, 1}, "all": {all, 3, 3, 1}, "completions": {completions, 1, 1, 0}} {
		assert.Equal(t, c.events, c.s.events.Load(), name+": event hooks")
		assert.Equal(t, c.rows, c.s.rows.Load(), name+": row hooks")
		assert.Equal(t, c.handlers, c.s.handlers.Load(), name+": handler hooks")
	}
}
