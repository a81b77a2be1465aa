package retry_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/retry"
)

type (
	job struct {
		api.Event[string]
		N int `json:"n"`
	}
	node struct {
		api.Event[int]
		Depth int `json:"depth"`
	}
)

// RETRY-1: Wrap retries a failing handler, on every handler of a bus
// (WithHandlerWrappers) or on one (WithWrappers); the row holds the value
// of the attempt that succeeded.
func TestRetryWrapRetriesHandler_RETRY1(t *testing.T) {
	ctx := t.Context()
	p := mustNew(t, retry.Attempts(3))
	for name, opt := range map[string]struct {
		bus []api.Option
		h   []api.HandlerOption
	}{
		"bus":     {bus: []api.Option{api.WithHandlerWrappers(p.Wrap())}},
		"handler": {h: []api.HandlerOption{api.WithWrappers(p.Wrap())}},
	} {
		t.Run(name, func(t *testing.T) {
			bus := newBus(t, "RetryWrap_"+name, opt.bus...)
			calls := 0
			_, err := api.On(bus, func(ctx context.Context, e *job) (string, error) {
				calls++
				if calls < 3 {
					return "", errFlaky
				}
				return "done", nil
			}, opt.h...)
			require.NoError(t, err)
			e := &job{}
			v, err := api.Call(ctx, bus, e)
			require.NoError(t, err)
			assert.Equal(t, "done", v)
			assert.Equal(t, 3, calls)
			rows := e.Rows()
			require.Len(t, rows, 1)
			assert.Equal(t, api.StatusCompleted, rows[0].Status())

			calls = -10 // fails every attempt: the row keeps the last error
			e = &job{}
			_, err = api.Call(ctx, bus, e)
			require.ErrorIs(t, err, errFlaky)
			assert.Equal(t, -7, calls)
			assert.Same(t, errFlaky, e.Rows()[0].Error())
		})
	}
}

// RETRY-2, ERR-2: a per-attempt timeout inside a handler is recorded by the
// bus as a handler timeout whose error is the retry's *TimeoutError; the
// bus's own timeouts are far away, so the row's timeout comes from the
// policy.
func TestRetryPerAttemptTimeoutIsHandlerTimeout_RETRY2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Attempts(2), retry.Timeout(50*time.Millisecond))
		bus := newBus(t, "RetryTimeoutRow", api.WithHandlerWrappers(p.Wrap()))
		calls := 0
		_, err := api.On(bus, func(ctx context.Context, e *job) (string, error) {
			calls++
			<-ctx.Done() // slower than the attempt's timeout
			return "", ctx.Err()
		})
		require.NoError(t, err)
		e := &job{}
		start := time.Now()
		require.NoError(t, bus.Emit(t.Context(), e))
		require.NoError(t, e.Wait(t.Context()))
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "two attempts of 50ms on the fake clock")
		assert.Equal(t, 2, calls)

		row := e.Rows()[0]
		assert.Equal(t, api.StatusError, row.Status())
		var hte *api.HandlerTimeoutError
		require.ErrorAs(t, row.Error(), &hte, "recorded as a handler timeout")
		require.ErrorIs(t, row.Error(), api.ErrHandlerTimeout)
		require.ErrorIs(t, row.Error(), retry.ErrTimeout)
		var te *retry.TimeoutError
		require.ErrorAs(t, row.Error(), &te)
		assert.Equal(t, 2, te.Attempt)
		assert.Equal(t, "EventHandlerTimeoutError", hte.TypeName(), "its wire type")
		assert.Contains(t, row.Error().Error(), "timed out")
	})
}

// concurrency counts the handlers running at once, and the most at once,
// per label; every handler waits at the gate.
type concurrency struct {
	mu   sync.Mutex
	now  map[string]int
	most map[string]int
	gate chan struct{}
}

func newConcurrency() *concurrency {
	return &concurrency{now: map[string]int{}, most: map[string]int{}, gate: make(chan struct{})}
}

func (c *concurrency) handler(labels ...string) func(ctx context.Context, e *job) (string, error) {
	return func(ctx context.Context, e *job) (string, error) {
		c.mu.Lock()
		for _, l := range labels {
			c.now[l]++
			c.most[l] = max(c.most[l], c.now[l])
		}
		c.mu.Unlock()
		<-c.gate
		c.mu.Lock()
		for _, l := range labels {
			c.now[l]--
		}
		c.mu.Unlock()
		return "ok", nil
	}
}

func (c *concurrency) running(label string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now[label]
}

func (c *concurrency) peak(label string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.most[label]
}

// emitAll emits a job on each bus and returns a func that waits for them.
func emitAll(t *testing.T, buses ...*api.Bus) func() {
	t.Helper()
	var es []*job
	for _, b := range buses {
		e := &job{}
		require.NoError(t, b.Emit(t.Context(), e))
		es = append(es, e)
	}
	return func() {
		for _, e := range es {
			require.NoError(t, e.Wait(t.Context()))
			for _, r := range e.Rows() {
				require.NoError(t, r.Error())
			}
		}
	}
}

// RETRY-4, RETRY-5 (global scope): the default key is the handler's name
// and the default scope global, so same-named handlers on two buses never
// run at once; the semaphore is held across attempts.
func TestRetrySemaphoreGlobalScopeSerialisesAll_RETRY5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1))
		c := newConcurrency()
		a := newBus(t, "RetryGlobalA")
		b := newBus(t, "RetryGlobalB")
		for _, bus := range []*api.Bus{a, b} {
			_, err := api.On(bus, c.handler("all"), api.WithHandlerName("work"), api.WithWrappers(p.Wrap()))
			require.NoError(t, err)
		}
		wait := emitAll(t, a, b)
		synctest.Wait()
		assert.Equal(t, 1, c.running("all"), "the second bus's handler waits for the first's")
		close(c.gate)
		wait()
		assert.Equal(t, 1, c.peak("all"))
		assert.Zero(t, retry.SemaphoreCount())
	})
}

// RETRY-5 (class scope, per bus in Go): handlers on one bus share the
// semaphore of a key, handlers on another bus have their own.
func TestRetrySemaphoreBusScope_RETRY5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("db"), retry.SemaphoreScope(retry.ScopeBus))
		c := newConcurrency()
		a := newBus(t, "RetryBusScopeA", api.WithHandlerConcurrency(api.ParallelHandlers), api.WithHandlerWrappers(p.Wrap()))
		b := newBus(t, "RetryBusScopeB", api.WithHandlerWrappers(p.Wrap()))
		_, err := api.On(a, c.handler("a", "all"), api.WithHandlerName("first"))
		require.NoError(t, err)
		_, err = api.On(a, c.handler("a", "all"), api.WithHandlerName("second"))
		require.NoError(t, err)
		_, err = api.On(b, c.handler("b", "all"), api.WithHandlerName("first"))
		require.NoError(t, err)
		wait := emitAll(t, a, b)
		synctest.Wait()
		assert.Equal(t, 1, c.running("a"), "a's two parallel handlers take turns")
		assert.Equal(t, 2, c.running("all"), "b's handler overlaps a's")
		close(c.gate)
		wait()
		assert.Equal(t, 1, c.peak("a"))
	})
}

// RETRY-5 (instance scope, per handler in Go): two handlers never wait for
// each other, while one handler's own calls share its semaphore.
func TestRetrySemaphoreHandlerScope_RETRY5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("db"), retry.SemaphoreScope(retry.ScopeHandler))
		c := newConcurrency()
		par := newBus(t, "RetryHandlerScope", api.WithHandlerConcurrency(api.ParallelHandlers),
			api.WithEventConcurrency(api.ParallelEvents), api.WithHandlerWrappers(p.Wrap()))
		_, err := api.On(par, c.handler("all", "first"), api.WithHandlerName("first"))
		require.NoError(t, err)
		_, err = api.On(par, c.handler("all", "second"), api.WithHandlerName("second"))
		require.NoError(t, err)
		wait := emitAll(t, par, par) // two events, each to both handlers
		synctest.Wait()
		assert.Equal(t, 2, c.running("all"), "the two handlers overlap")
		assert.Equal(t, 1, c.running("first"), "one handler's calls for two parallel events take turns")
		close(c.gate)
		wait()
		assert.Equal(t, 1, c.peak("first"))
		assert.Equal(t, 1, c.peak("second"))
	})
}

// RETRY-5: wrapping an emit and its await retries the whole dispatch cycle:
// each attempt is a new event that runs its handlers.
func TestRetryWrappingEmitRetriesFullDispatchCycle_RETRY5(t *testing.T) {
	ctx := t.Context()
	bus := newBus(t, "RetryCycle")
	var seen []int
	_, err := api.On(bus, func(ctx context.Context, e *job) (string, error) {
		seen = append(seen, e.N)
		if len(seen) < 3 {
			return "", errFlaky
		}
		return "third time", nil
	})
	require.NoError(t, err)
	p := mustNew(t, retry.Attempts(5), retry.On(errFlaky))
	attempt := 0
	v, err := retry.Do(ctx, p, func(ctx context.Context) (string, error) {
		attempt++
		return api.Call(ctx, bus, &job{N: attempt})
	})
	require.NoError(t, err)
	assert.Equal(t, "third time", v)
	assert.Equal(t, []int{1, 2, 3}, seen, "three events, each handled once")
	events, err := bus.Filter(ctx, "job", 10)
	require.NoError(t, err)
	assert.Len(t, events, 3)
}

// Inside a handler the retries are logged at Debug to the bus's logger,
// with the handler's attributes; OnRetry sees the handler's ctx.
func TestRetryLogsToTheBusInsideAHandler(t *testing.T) {
	l := &logRec{}
	var fromHandler atomic.Bool
	p := mustNew(t, retry.Attempts(2), retry.OnRetry(func(ctx context.Context, _ int, _ error, _ time.Duration) {
		fromHandler.Store(api.CurrentResult(ctx) != nil)
	}))
	bus := newBus(t, "RetryLogBus", api.WithLogger(slog.New(l)), api.WithHandlerWrappers(p.Wrap()))
	calls := 0
	h, err := api.On(bus, func(ctx context.Context, e *job) (string, error) {
		if calls++; calls == 1 {
			return "", errFlaky
		}
		return "ok", nil
	})
	require.NoError(t, err)
	e := &job{}
	_, err = api.Call(t.Context(), bus, e)
	require.NoError(t, err)
	assert.True(t, fromHandler.Load())
	var found []rec
	for _, r := range l.records() {
		if r.msg == "ringbus: retrying after a failed attempt" {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1)
	r := found[0]
	assert.Equal(t, slog.LevelDebug, r.level)
	assert.Equal(t, bus.Label(), r.attrs["bus"])
	assert.Equal(t, h.Label(), r.attrs["handler"])
	assert.Equal(t, "job", r.attrs["event_type"])
	assert.Equal(t, e.ID(), r.attrs["event_id"])
	assert.Equal(t, int64(1), r.attrs["attempt"])
}

// RETRY-4: a lax handler whose semaphore wait times out logs a warning to
// its bus and runs anyway; a strict one fails its row with a
// *SemaphoreTimeoutError, which the bus, as for any timeout the handler
// returns, records as a handler timeout.
func TestRetrySemaphoreTimeoutInHandler_RETRY4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		holding := make(chan struct{})
		holder := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("shared"))
		go func() {
			_, _ = retry.Do(context.Background(), holder, func(context.Context) (int, error) {
				close(holding)
				<-hold
				return 0, nil
			})
		}()
		<-holding

		l := &logRec{}
		lax := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("shared"), retry.SemaphoreTimeout(10*time.Millisecond))
		strict := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("shared"), retry.SemaphoreTimeout(10*time.Millisecond),
			retry.SemaphoreLax(false))
		bus := newBus(t, "RetrySemTimeout", api.WithLogger(slog.New(l)))
		ran := 0
		lh, err := api.On(bus, func(ctx context.Context, e *job) (string, error) { ran++; return "lax", nil },
			api.WithWrappers(lax.Wrap()), api.WithHandlerName("lax"))
		require.NoError(t, err)
		_, err = api.On(bus, func(ctx context.Context, e *job) (string, error) { ran++; return "strict", nil },
			api.WithWrappers(strict.Wrap()), api.WithHandlerName("strict"))
		require.NoError(t, err)
		e := &job{}
		start := time.Now()
		require.NoError(t, bus.Emit(t.Context(), e))
		require.NoError(t, e.Wait(t.Context()))
		assert.Equal(t, 20*time.Millisecond, time.Since(start), "two waits of 10ms")
		assert.Equal(t, 1, ran, "only the lax handler ran")
		rows := e.Rows()
		assert.Equal(t, "lax", rows[0].Value())
		require.ErrorIs(t, rows[1].Error(), retry.ErrSemaphoreTimeout)
		require.ErrorIs(t, rows[1].Error(), api.ErrHandlerTimeout)
		var se *retry.SemaphoreTimeoutError
		require.ErrorAs(t, rows[1].Error(), &se)
		assert.Equal(t, retry.SemaphoreTimeoutError{Key: "shared", Limit: 1, Wait: 10 * time.Millisecond}, *se)

		var warned []rec
		for _, r := range l.records() {
			if r.level == slog.LevelWarn && r.msg == "ringbus: retry semaphore not acquired in time; going on without it" {
				warned = append(warned, r)
			}
		}
		require.Len(t, warned, 1)
		assert.Equal(t, "shared", warned[0].attrs["semaphore"])
		assert.Equal(t, int64(1), warned[0].attrs["limit"])
		assert.Equal(t, 10*time.Millisecond, warned[0].attrs["timeout"])
		assert.Equal(t, lh.Label(), warned[0].attrs["handler"])
		close(hold)
		synctest.Wait()
		assert.Zero(t, retry.SemaphoreCount())
	})
}

// RETRY-6: a handler holding its semaphore that awaits a child event
// handled by itself does not deadlock: the child's call sees the hold in
// its ctx and goes on.
func TestRetrySemaphoreReentrantThroughChildEvents_RETRY6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreLax(false), retry.SemaphoreTimeout(time.Second))
		bus := newBus(t, "RetryReentrant", api.WithHandlerWrappers(p.Wrap()))
		_, err := api.On(bus, func(ctx context.Context, e *node) (int, error) {
			if e.Depth == 1 {
				return 1, nil
			}
			return api.Call(ctx, bus, &node{Depth: e.Depth + 1})
		}, api.WithHandlerName("walk"))
		require.NoError(t, err)
		start := time.Now()
		v, err := api.Call(t.Context(), bus, &node{})
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		assert.Zero(t, time.Since(start), "no wait for the semaphore")
	})
}

// RETRY-4: the registry of semaphores does not grow with distinct keys:
// an entry lives while a call holds or waits for it.
func TestRetrySemaphoreRegistryReleasesKeys_RETRY4(t *testing.T) {
	ctx := t.Context()
	p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKeyFunc(func(_ context.Context, e *api.BaseEvent) string {
		return "job-" + e.ID()
	}))
	bus := newBus(t, "RetryRegistry", api.WithHandlerWrappers(p.Wrap()))
	inside := -1
	_, err := api.On(bus, func(ctx context.Context, e *job) (string, error) {
		inside = retry.SemaphoreCount()
		return "ok", nil
	})
	require.NoError(t, err)
	for range 500 {
		_, err := api.Call(ctx, bus, &job{})
		require.NoError(t, err)
	}
	assert.Equal(t, 1, inside, "one entry while a handler holds it")
	assert.Zero(t, retry.SemaphoreCount(), "500 distinct keys, none kept")

	// Handler scope: keys carry handler ids, which one-off handlers use
	// up; strict waits that time out and ctx-ended waits release theirs.
	hp := mustNew(t, retry.Semaphore(1), retry.SemaphoreScope(retry.ScopeHandler))
	for range 200 {
		h, err := api.On(bus, func(ctx context.Context, e *node) (int, error) { return 1, nil }, api.WithWrappers(hp.Wrap()))
		require.NoError(t, err)
		_, err = api.Call(ctx, bus, &node{})
		require.NoError(t, err)
		h.Off()
	}
	assert.Zero(t, retry.SemaphoreCount())

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	sp := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("busy"), retry.SemaphoreTimeout(time.Millisecond), retry.SemaphoreLax(false))
	go func() {
		defer close(done)
		_, _ = retry.Do(ctx, sp, func(context.Context) (int, error) { close(held); <-release; return 0, nil })
	}()
	<-held
	for range 50 {
		_, err := retry.Do(ctx, sp, func(context.Context) (int, error) { return 0, nil })
		require.ErrorIs(t, err, retry.ErrSemaphoreTimeout)
	}
	assert.Equal(t, 1, retry.SemaphoreCount(), "only the holder's")
	close(release)
	<-done
	assert.Zero(t, retry.SemaphoreCount())
}
