package api_test

// Spec tests for timeouts, slow warnings, cancellation cascades and the
// error classes they produce: spec.md §13 (ERR-2, ERR-3), §15 (TIMEOUT-1..10,
// SLOW-1..5) and §16 (CANCEL-1..5). Every test runs inside a
// testing/synctest bubble, so timeouts fire on the fake clock: durations are
// exact and the tests take no wall time. Buses are created and closed inside
// the bubble.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// --- shared helpers (used by spec_misc_test.go too) ---

// spLog is a slog.Handler that records every message with its level and
// attributes, for SLOW-5 style assertions on warnings.
type spLog struct {
	mu   sync.Mutex
	recs []spRecord
}

type spRecord struct {
	level slog.Level
	msg   string
	at    time.Time
	attrs map[string]slog.Value
}

func (l *spLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *spLog) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Resolve()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, spRecord{r.Level, r.Message, time.Now(), attrs})
	l.mu.Unlock()
	return nil
}

// records returns the records whose message contains sub.
func (l *spLog) records(sub string) []spRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []spRecord
	for _, r := range l.recs {
		if strings.Contains(r.msg, sub) {
			out = append(out, r)
		}
	}
	return out
}

// str returns the string attribute key of r ("" when absent).
func (r spRecord) str(key string) string {
	if v, ok := r.attrs[key]; ok {
		return v.String()
	}
	return ""
}

// firstAt returns when the first message containing sub was logged.
func (l *spLog) firstAt(sub string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.Contains(r.msg, sub) {
			return r.at, true
		}
	}
	return time.Time{}, false
}

func (l *spLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *spLog) WithGroup(string) slog.Handler      { return l }

// matching returns the messages containing sub.
func (l *spLog) matching(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if strings.Contains(r.msg, sub) {
			out = append(out, r.msg)
		}
	}
	return out
}

// spBus creates a bus that is closed when the test ends. Unless the caller
// passes its own WithLogger, the bus logs into a discarding logger so that
// expected handler errors do not clutter the test output.
func spBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	all := append([]api.Option{api.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	bus, err := api.NewBus(name, all...)
	require.NoError(t, err)
	t.Cleanup(func() {
		spSettle()
		_ = bus.Close()
		// Inside a synctest bubble every goroutine must end before the
		// bubble does: wait for handlers that ignore their context.
		_ = bus.Stop(context.Background())
	})
	return bus
}

// spSettle lets every goroutine of the synctest bubble block before a bus
// is closed, so that Close does not race with the dispatcher skipping the
// queue entry of a queue-jumped event (the engine race documented by
// TestSpecCloseAfterQueueJump). Outside a bubble it does nothing.
func spSettle() {
	defer func() { _ = recover() }() // synctest.Wait panics outside a bubble
	synctest.Wait()
}

// spLogBus is spBus with a capturing logger.
func spLogBus(t *testing.T, name string, opts ...api.Option) (*api.Bus, *spLog) {
	t.Helper()
	l := &spLog{}
	return spBus(t, name, append(opts, api.WithLogger(slog.New(l)))...), l
}

// spRow returns the row of the handler named name (failing if absent).
func spRow(t *testing.T, e interface{ Rows() []*api.Result }, name string) *api.Result {
	t.Helper()
	for _, r := range e.Rows() {
		if r.HandlerName() == name {
			return r
		}
	}
	require.FailNowf(t, "no row", "handler %q has no row", name)
	return nil
}

// spSleep waits for d or until ctx is done, like a well-behaved handler.
func spSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// --- event types of this file ---

type tmEvent struct {
	api.Event[string]
	Tag string `json:"tag"`
}

type tmOther struct {
	api.Event[string]
}

type tmParent struct {
	api.Event[string]
}

type tmChild struct {
	api.Event[string]
}

type tmQueued struct {
	api.Event[string]
}

// tmPlainTimeout is a "plain" timeout error raised by handler code (the Go
// spelling of Python's TimeoutError: an error with Timeout() true).
type tmPlainTimeout struct{ msg string }

func (e *tmPlainTimeout) Error() string { return e.msg }
func (e *tmPlainTimeout) Timeout() bool { return true }

func tmOK(v string) func(context.Context, *tmEvent) (string, error) {
	return func(context.Context, *tmEvent) (string, error) { return v, nil }
}

func tmSleeper(d time.Duration, v string) func(context.Context, *tmEvent) (string, error) {
	return func(ctx context.Context, _ *tmEvent) (string, error) {
		if err := spSleep(ctx, d); err != nil {
			return "", err
		}
		return v, nil
	}
}

// tmStubborn sleeps for d ignoring its ctx. Tests whose subject is not
// the handler's reaction to cancellation use it, because a handler that
// returns promptly on a timeout triggers the engine race documented by
// TestSpecTimeout6_WellBehaved... and TestSpecTimeout5_WellBehaved....
func tmStubborn(d time.Duration, v string) func(context.Context, *tmEvent) (string, error) {
	return func(context.Context, *tmEvent) (string, error) {
		time.Sleep(d)
		return v, nil
	}
}

// tmLinger keeps a handler whose ctx is already done running for another
// second, ignoring the ctx (see tmStubborn).
func tmLinger(ctx context.Context) {
	if ctx.Err() != nil {
		time.Sleep(time.Second)
	}
}

// requireAborted asserts that r failed with a *api.HandlerAbortedError.
func requireAborted(t *testing.T, r *api.Result) {
	t.Helper()
	_ = abortedErr(t, r)
}

// abortedErr asserts that r failed with a *api.HandlerAbortedError and returns it.
func abortedErr(t *testing.T, r *api.Result) *api.HandlerAbortedError {
	t.Helper()
	require.Equal(t, api.StatusError, r.Status(), "row %s", r)
	var ae *api.HandlerAbortedError
	require.ErrorAs(t, r.Error(), &ae, "row %s: %v", r, r.Error())
	require.ErrorIs(t, r.Error(), api.ErrHandlerAborted)
	return ae
}

// requireCancelled asserts that r failed with a *api.HandlerCancelledError.
func requireCancelled(t *testing.T, r *api.Result) {
	t.Helper()
	_ = cancelledErr(t, r)
}

// cancelledErr asserts that r failed with a *api.HandlerCancelledError and returns it.
func cancelledErr(t *testing.T, r *api.Result) *api.HandlerCancelledError {
	t.Helper()
	require.Equal(t, api.StatusError, r.Status(), "row %s", r)
	var ce *api.HandlerCancelledError
	require.ErrorAs(t, r.Error(), &ce, "row %s: %v", r, r.Error())
	require.ErrorIs(t, r.Error(), api.ErrHandlerCancelled)
	return ce
}

// requireTimedOut asserts that r failed with a *api.HandlerTimeoutError.
func requireTimedOut(t *testing.T, r *api.Result) {
	t.Helper()
	_ = timedOutErr(t, r)
}

// timedOutErr asserts that r failed with a *api.HandlerTimeoutError and returns it.
func timedOutErr(t *testing.T, r *api.Result) *api.HandlerTimeoutError {
	t.Helper()
	require.Equal(t, api.StatusError, r.Status(), "row %s", r)
	var te *api.HandlerTimeoutError
	require.ErrorAs(t, r.Error(), &te, "row %s: %v", r, r.Error())
	require.ErrorIs(t, r.Error(), api.ErrHandlerTimeout)
	return te
}

// --- TIMEOUT-1: effective handler timeout precedence ---

// TIMEOUT-1: effective = min(handler → event handler → bus, event → bus),
// recorded in the row (test_handler_timeout_resolution_matches_ts_precedence).
func TestSpecTimeout1_EffectiveTimeoutPrecedence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout1Bus", api.WithEventTimeout(200*time.Millisecond))
		_, err := api.On(bus, tmOK("d"), api.WithHandlerName("default_handler"))
		require.NoError(t, err)
		_, err = api.On(bus, tmOK("x"), api.WithHandlerName("explicit_handler"), api.WithHandlerTimeout(120*time.Millisecond))
		require.NoError(t, err)

		// event (0.2, handler 0.05): default row 0.05, explicit handler 0.12.
		e1 := &tmEvent{}
		e1.SetTimeout(200 * time.Millisecond)
		e1.SetHandlerTimeout(50 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e1))
		require.NoError(t, e1.Wait(ctx))
		assert.Equal(t, 50*time.Millisecond, spRow(t, e1, "default_handler").Timeout())
		assert.Equal(t, 120*time.Millisecond, spRow(t, e1, "explicit_handler").Timeout())

		// event (0.08, handler 0.2): both rows are capped by the event timeout.
		e2 := &tmEvent{}
		e2.SetTimeout(80 * time.Millisecond)
		e2.SetHandlerTimeout(200 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		assert.Equal(t, 80*time.Millisecond, spRow(t, e2, "default_handler").Timeout())
		assert.Equal(t, 80*time.Millisecond, spRow(t, e2, "explicit_handler").Timeout())

		// Nothing on the event: the bus timeout, and the explicit handler's
		// tighter own timeout.
		e3 := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e3))
		require.NoError(t, e3.Wait(ctx))
		assert.Equal(t, 200*time.Millisecond, spRow(t, e3, "default_handler").Timeout())
		assert.Equal(t, 120*time.Millisecond, spRow(t, e3, "explicit_handler").Timeout())
	})
}

// TIMEOUT-1, TIMEOUT-2: defaults resolve at processing time (bus 12s → row
// 12s; test_processing_time_timeout_defaults_resolve_at_execution_time) and
// are not written back to the event (EVT-6). The default bus timeout is 60s.
func TestSpecTimeout1_2_BusDefaultResolvedAtProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout12Bus", api.WithEventTimeout(12*time.Second))
		_, err := api.On(bus, tmOK("ok"), api.WithHandlerName("h"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Equal(t, 12*time.Second, spRow(t, e, "h").Timeout())
		_, set := e.Timeout()
		assert.False(t, set, "EVT-6: the bus default is not written back to event_timeout")

		def := spBus(t, "Timeout12DefaultBus")
		_, err = api.On(def, tmOK("ok"), api.WithHandlerName("h"))
		require.NoError(t, err)
		e2 := &tmEvent{}
		require.NoError(t, def.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		assert.Equal(t, 60*time.Second, spRow(t, e2, "h").Timeout())
	})
}

// TIMEOUT-2: a forwarded event gets each processing bus's event_timeout
// (test_forwarded_event_uses_processing_bus_defaults); the event field stays
// unset.
func TestSpecTimeout2_ForwardedEventUsesProcessingBusDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := spBus(t, "Timeout2BusA", api.WithEventTimeout(10*time.Second))
		b := spBus(t, "Timeout2BusB", api.WithEventTimeout(7*time.Second))
		_, err := api.On(a, tmOK("a"), api.WithHandlerName("on_a"))
		require.NoError(t, err)
		_, err = api.On(b, tmOK("b"), api.WithHandlerName("on_b"))
		require.NoError(t, err)
		_, err = a.Forward(api.TypeName[tmEvent](), b)
		require.NoError(t, err)

		e := &tmEvent{}
		require.NoError(t, a.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		var onB int
		for _, r := range e.Rows() {
			switch r.Bus() {
			case a:
				assert.Equal(t, 10*time.Second, r.Timeout(), "row %s", r)
			case b:
				onB++
				assert.Equal(t, 7*time.Second, r.Timeout(), "row %s", r)
			}
		}
		assert.Equal(t, 1, onB)
		_, set := e.Timeout()
		assert.False(t, set)
	})
}

// --- TIMEOUT-3: meaning of 0 / unset ---

// TIMEOUT-3 (D7): event_timeout 0 disables the timeout even when the bus
// has one (test_event_timeout_zero_disables_timeout_instead_of_using_bus_default).
func TestSpecTimeout3_EventTimeoutZeroDisables(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout3EventZeroBus", api.WithEventTimeout(50*time.Millisecond))
		_, err := api.On(bus, tmSleeper(time.Second, "done"), api.WithHandlerName("slow"))
		require.NoError(t, err)
		e := &tmEvent{}
		e.SetTimeout(0)
		require.NoError(t, bus.Emit(ctx, e))
		v, err := e.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "done", v)
		r := spRow(t, e, "slow")
		assert.Equal(t, api.StatusCompleted, r.Status())
		assert.Zero(t, r.Timeout(), "row timeout is none")
	})
}

// TIMEOUT-3: bus event timeout 0 disables timeouts for events that set none
// (test_bus_default_zero_disables_timeouts_when_event_timeout_is_zero); an
// event handler timeout of 0 is treated as unset.
func TestSpecTimeout3_BusTimeoutZeroDisables(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout3BusZeroBus", api.WithEventTimeout(0), api.WithDefaultHandlerSlowTimeout(0), api.WithEventSlowTimeout(0))
		assert.Zero(t, bus.EventTimeout())
		_, err := api.On(bus, tmSleeper(10*time.Minute, "done"), api.WithHandlerName("slow"))
		require.NoError(t, err)
		e := &tmEvent{}
		e.SetHandlerTimeout(0)
		start := time.Now()
		require.NoError(t, bus.Emit(ctx, e))
		v, err := e.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "done", v)
		assert.Equal(t, 10*time.Minute, time.Since(start))
		assert.Zero(t, spRow(t, e, "slow").Timeout())
	})
}

// TIMEOUT-3: negative bus timeouts are rejected at construction.
func TestSpecTimeout3_NegativeBusTimeoutsRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, o := range []api.Option{
			api.WithEventTimeout(-time.Second),
			api.WithEventSlowTimeout(-time.Second),
			api.WithDefaultHandlerSlowTimeout(-time.Second),
		} {
			bus, err := api.NewBus("Timeout3NegativeBus", o)
			if bus != nil {
				_ = bus.Close()
			}
			require.ErrorIs(t, err, api.ErrBadOption)
		}
	})
}

// --- TIMEOUT-4 / TIMEOUT-5: the event timeout is one hard cap ---

// tmHardCap runs TIMEOUT-4/5: three serial handlers (30ms, second, instant)
// with a 50ms event timeout → completed, Aborted, Cancelled.
func tmHardCap(t *testing.T, name string, second func(context.Context, *tmEvent) (string, error)) {
	ctx := context.Background()
	bus := spBus(t, name)
	_, err := api.On(bus, tmSleeper(30*time.Millisecond, "one"), api.WithHandlerName("first"))
	require.NoError(t, err)
	_, err = api.On(bus, second, api.WithHandlerName("second"))
	require.NoError(t, err)
	_, err = api.On(bus, tmOK("three"), api.WithHandlerName("third"))
	require.NoError(t, err)

	e := &tmEvent{}
	e.SetTimeout(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	assert.Equal(t, 50*time.Millisecond, time.Since(start), "TIMEOUT-4: one budget for all serial handlers")

	first := spRow(t, e, "first")
	assert.Equal(t, api.StatusCompleted, first.Status())
	assert.Equal(t, "one", first.Value())
	ae := abortedErr(t, spRow(t, e, "second"))
	assert.Equal(t, engine.ReasonEventTimeout, ae.Reason)
	ce := cancelledErr(t, spRow(t, e, "third"))
	assert.Equal(t, engine.ReasonEventTimeout, ce.Reason)
	assert.Equal(t, api.StatusCompleted, e.Status())
	time.Sleep(time.Second)
	requireCancelled(t, spRow(t, e, "third"))
}

// TIMEOUT-4, TIMEOUT-5: three serial handlers (30ms, 30ms, instant) with a
// 50ms event timeout → completed, Aborted, Cancelled
// (test_event_timeout_is_hard_cap_across_serial_handlers); the event ends at
// exactly 50ms. The second handler ignores its ctx (see tmStubborn).
func TestSpecTimeout4_5_HardCapAcrossSerialHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tmHardCap(t, "Timeout45SerialBus", tmStubborn(30*time.Millisecond, "two"))
	})
}

// TIMEOUT-4, TIMEOUT-5: the same with a well-behaved second handler that
// returns as soon as its ctx is cancelled; repeated because the failure is
// a race.
func TestSpecTimeout4_5_WellBehavedHandlerHardCap(t *testing.T) {
	for i := range 50 {
		synctest.Test(t, func(t *testing.T) {
			tmHardCap(t, fmt.Sprintf("Timeout45WellBehavedBus%d", i), tmSleeper(30*time.Millisecond, "two"))
		})
	}
}

// TIMEOUT-5: parallel handlers that both started are all Aborted (or
// Timeout), none Cancelled
// (test_event_level_timeout_marks_started_parallel_handlers_as_aborted_or_timed_out).
func TestSpecTimeout5_ParallelHandlersAborted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout5ParallelBus", api.WithHandlerConcurrency(api.ParallelHandlers))
		_, err := api.On(bus, tmSleeper(100*time.Millisecond, "a"), api.WithHandlerName("pa"))
		require.NoError(t, err)
		_, err = api.On(bus, tmSleeper(100*time.Millisecond, "b"), api.WithHandlerName("pb"))
		require.NoError(t, err)
		e := &tmEvent{}
		e.SetTimeout(50 * time.Millisecond)
		start := time.Now()
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Equal(t, 50*time.Millisecond, time.Since(start), "TIMEOUT-4: parallel handlers share one deadline")
		for _, r := range e.Rows() {
			require.Equal(t, api.StatusError, r.Status())
			assert.True(t, errors.Is(r.Error(), api.ErrHandlerAborted) || errors.Is(r.Error(), api.ErrHandlerTimeout), "row %s: %v", r, r.Error())
			assert.NotErrorIs(t, r.Error(), api.ErrHandlerCancelled)
		}
	})
}

// TIMEOUT-5, TIMEOUT-9: an event timeout that aborts a well-behaved
// handler (it returns as soon as its ctx is cancelled) must not disturb the
// next queued event; repeated because the failure is a race.
func TestSpecTimeout5_WellBehavedHandlerAbortThenNextEvent(t *testing.T) {
	for i := range 50 {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			bus := spBus(t, fmt.Sprintf("Timeout5AbortRaceBus%d", i))
			_, err := api.On(bus, func(hctx context.Context, e *tmEvent) (string, error) {
				if e.Tag == "slow" {
					if err := spSleep(hctx, time.Second); err != nil {
						return "", err
					}
				}
				return "ok:" + e.Tag, nil
			}, api.WithHandlerName("h"))
			require.NoError(t, err)
			for j := range 5 {
				slow := &tmEvent{Tag: "slow"}
				slow.SetTimeout(10 * time.Millisecond)
				next := &tmEvent{Tag: fmt.Sprint(j)}
				require.NoError(t, bus.Emit(ctx, slow))
				require.NoError(t, bus.Emit(ctx, next))
				require.NoError(t, slow.Wait(ctx))
				require.NoError(t, next.Wait(ctx))
				requireAborted(t, spRow(t, slow, "h"))
				require.Equal(t, "ok:"+fmt.Sprint(j), spRow(t, next, "h").Value())
			}
		})
	}
}

// --- TIMEOUT-6 / TIMEOUT-7: handler timeout vs event timeout ---

// tmTimeout6 runs TIMEOUT-6 with the given slow handler: its own 10ms
// timeout is strictly tighter than the event timeout.
func tmTimeout6(t *testing.T, name string, slowHandler func(context.Context, *tmEvent) (string, error)) {
	ctx := context.Background()
	bus, logs := spLogBus(t, name)
	_, err := api.On(bus, slowHandler, api.WithHandlerName("slow"), api.WithHandlerTimeout(10*time.Millisecond))
	require.NoError(t, err)
	_, err = api.On(bus, tmOK("fast"), api.WithHandlerName("fast"))
	require.NoError(t, err)
	e := &tmEvent{}
	start := time.Now()
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	assert.Equal(t, 10*time.Millisecond, time.Since(start))

	slow := spRow(t, e, "slow")
	te := timedOutErr(t, slow)
	assert.Equal(t, 10*time.Millisecond, te.Timeout)
	assert.Equal(t, 10*time.Millisecond, slow.Timeout())
	assert.Nil(t, slow.Value())
	fast := spRow(t, e, "fast")
	assert.Equal(t, api.StatusCompleted, fast.Status())
	assert.Equal(t, "fast", fast.Value())
	// LOG-8 / TIMEOUT-6: a timeout diagnostic is logged at warning level,
	// its values in attributes.
	recs := logs.records("ringbus: handler timed out")
	require.Len(t, recs, 1, "a timeout diagnostic is logged")
	assert.Equal(t, slog.LevelWarn, recs[0].level)
	assert.Equal(t, bus.Label(), recs[0].str("bus"))
	assert.Equal(t, e.ID(), recs[0].str("event_id"))
	assert.Equal(t, e.Type(), recs[0].str("event_type"))
	assert.Equal(t, slow.Handler().Label(), recs[0].str("handler"))
	assert.Equal(t, 10*time.Millisecond, recs[0].attrs["timeout"].Duration())
	require.NoError(t, bus.WaitUntilIdle(ctx))
}

// TIMEOUT-6: a handler whose own timeout is strictly tighter fails with
// *HandlerTimeoutError and the next serial handler still runs
// (test_handler_timeout_marks_error_and_other_handlers_still_complete).
// This handler keeps running past its timeout.
func TestSpecTimeout6_HandlerTimeoutThenNextHandlerRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Close waits only 100ms for a handler that ignores its context;
		// let this one finish its second before the bubble ends.
		t.Cleanup(func() { time.Sleep(2 * time.Second) })
		tmTimeout6(t, "Timeout6Bus", func(context.Context, *tmEvent) (string, error) {
			time.Sleep(time.Second)
			return "late", nil
		})
	})
}

// TIMEOUT-6: the same with a well-behaved handler that returns as soon as
// its context is cancelled; repeated because the failure is a race.
func TestSpecTimeout6_WellBehavedHandlerTimeoutThenNextHandlerRuns(t *testing.T) {
	for i := range 20 {
		synctest.Test(t, func(t *testing.T) {
			tmTimeout6(t, fmt.Sprintf("Timeout6WellBehavedBus%d", i), tmSleeper(time.Second, "late"))
		})
	}
}

// TIMEOUT-6, TIMEOUT-10: a handler that ignores its context and exceeds its
// own timeout does not hold up the next serial handler.
func TestSpecTimeout6_10_HandlerIgnoringContextDoesNotBlockNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout6IgnoreBus")
		release := make(chan struct{})
		fastRan := make(chan time.Duration, 1)
		start := time.Now()
		_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
			<-release // ignores ctx
			return "late", nil
		}, api.WithHandlerName("stuck"), api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *tmEvent) (string, error) {
			fastRan <- time.Since(start)
			return "fast", nil
		}, api.WithHandlerName("fast"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Equal(t, 10*time.Millisecond, <-fastRan)
		requireTimedOut(t, spRow(t, e, "stuck"))
		assert.Equal(t, "fast", spRow(t, e, "fast").Value())
		close(release)
		require.NoError(t, bus.WaitUntilIdle(ctx))
		// TIMEOUT-8: the late value is discarded.
		requireTimedOut(t, spRow(t, e, "stuck"))
	})
}

// TIMEOUT-7: when the effective handler timeout comes from the event/bus
// timeout, the row is Aborted, not Timeout
// (test_event_timeout_none_uses_bus_default_timeout_at_execution).
func TestSpecTimeout7_TimeoutFromEventIsAborted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout7Bus", api.WithEventTimeout(50*time.Millisecond))
		_, err := api.On(bus, tmStubborn(time.Second, "late"), api.WithHandlerName("slow"))
		require.NoError(t, err)

		// The bus timeout is both the handler's and the event's limit.
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		r := spRow(t, e, "slow")
		assert.Equal(t, 50*time.Millisecond, r.Timeout())
		ae := abortedErr(t, r)
		assert.Equal(t, engine.ReasonEventTimeout, ae.Reason)
		assert.NotErrorIs(t, r.Error(), api.ErrHandlerTimeout)

		// An event handler timeout equal to the event timeout is not
		// strictly tighter: Aborted too.
		e2 := &tmEvent{}
		e2.SetTimeout(30 * time.Millisecond)
		e2.SetHandlerTimeout(30 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		requireAborted(t, spRow(t, e2, "slow"))

		// A strictly tighter event handler timeout: Timeout.
		e3 := &tmEvent{}
		e3.SetTimeout(30 * time.Millisecond)
		e3.SetHandlerTimeout(20 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e3))
		require.NoError(t, e3.Wait(ctx))
		requireTimedOut(t, spRow(t, e3, "slow"))
	})
}

// --- TIMEOUT-8: late results are discarded ---

// tmLateBus registers on a new bus a handler with a 10ms own timeout that
// ignores its context for 100ms and then tries to emit a tmOther with its
// (expired) context; touchDone makes it look at ctx.Done() first.
func tmLateBus(t *testing.T, name string, touchDone bool) (*api.Bus, <-chan error, <-chan struct{}) {
	bus := spBus(t, name)
	lateEmit := make(chan error, 1)
	_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
		if touchDone {
			select {
			case <-hctx.Done():
			default:
			}
		}
		time.Sleep(100 * time.Millisecond) // ignores ctx
		lateEmit <- bus.Emit(hctx, &tmOther{})
		return "late", nil
	}, api.WithHandlerName("slow"), api.WithHandlerTimeout(10*time.Millisecond))
	require.NoError(t, err)
	otherRan := make(chan struct{}, 1)
	_, err = api.On(bus, func(context.Context, *tmOther) (string, error) {
		otherRan <- struct{}{}
		return "", nil
	})
	require.NoError(t, err)
	return bus, lateEmit, otherRan
}

func tmCheckLate(t *testing.T, bus *api.Bus, lateEmit <-chan error, otherRan <-chan struct{}) {
	ctx := context.Background()
	e := &tmEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	lateErr := <-lateEmit
	time.Sleep(time.Second)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	r := spRow(t, e, "slow")
	requireTimedOut(t, r)
	assert.Nil(t, r.Value(), "the late value is discarded")
	_, err := e.Result(ctx)
	require.ErrorIs(t, err, api.ErrHandlerTimeout)

	require.ErrorIs(t, lateErr, api.ErrHandlerExpired, "EMIT-7: a late emit is refused")
	assert.Empty(t, r.Children(), "the late emit was not recorded")
	select {
	case <-otherRan:
		t.Fatal("the late emit must not be processed")
	default:
	}
}

// TIMEOUT-8, EMIT-7: a timed-out handler's late return value is discarded
// and its late emit is refused
// (test_handler_timeout_ignores_late_handler_result_and_late_emits). Here the
// handler looked at ctx.Done() before it timed out.
func TestSpecTimeout8_LateResultAndLateEmitDiscarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus, lateEmit, otherRan := tmLateBus(t, "Timeout8Bus", true)
		tmCheckLate(t, bus, lateEmit, otherRan)
	})
}

// TIMEOUT-8, EMIT-7: the same for a handler that never looked at its
// context before the timeout.
func TestSpecTimeout8_LateEmitRefusedWithoutPriorDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus, lateEmit, otherRan := tmLateBus(t, "Timeout8NoDoneBus", false)
		tmCheckLate(t, bus, lateEmit, otherRan)
	})
}

// --- TIMEOUT-9: timeouts never break the bus ---

// TIMEOUT-9: after a timeout inside a queue-jump, later events run and
// WaitUntilIdle returns (test_followup_event_runs_after_parent_timeout_in_queue_jump_path).
func TestSpecTimeout9_FollowupAfterQueueJumpTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout9JumpBus")
		_, err := api.On(bus, func(hctx context.Context, _ *tmParent) (string, error) {
			c := &tmChild{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			err := c.Now(hctx)
			tmLinger(hctx)
			if err != nil {
				return "", err
			}
			return "parent", nil
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *tmChild) (string, error) {
			if err := spSleep(hctx, time.Second); err != nil {
				return "", err
			}
			return "child", nil
		}, api.WithHandlerName("child"))
		require.NoError(t, err)
		_, err = api.On(bus, tmOK("followup"), api.WithHandlerName("followup"))
		require.NoError(t, err)

		p := &tmParent{}
		require.NoError(t, bus.Emit(ctx, p))
		require.NoError(t, p.Wait(ctx))
		requireTimedOut(t, spRow(t, p, "parent"))

		f := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, f))
		v, err := f.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "followup", v)
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Zero(t, bus.QueueLen())
	})
}

// TIMEOUT-9: a timeout on a forwarded bus does not stall follow-up events on
// either bus (test_forwarded_timeout_path_does_not_stall_followup_events).
func TestSpecTimeout9_ForwardedTimeoutDoesNotStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := spBus(t, "Timeout9FwdA")
		b := spBus(t, "Timeout9FwdB")
		_, err := a.Forward(api.TypeName[tmEvent](), b)
		require.NoError(t, err)
		_, err = api.On(b, func(hctx context.Context, e *tmEvent) (string, error) {
			if e.Tag == "slow" {
				time.Sleep(time.Second) // ignores ctx; see TestSpecTimeout6_WellBehaved...
			}
			return "b:" + e.Tag, nil
		}, api.WithHandlerName("on_b"), api.WithHandlerTimeout(20*time.Millisecond))
		require.NoError(t, err)

		slow := &tmEvent{Tag: "slow"}
		require.NoError(t, a.Emit(ctx, slow))
		require.NoError(t, slow.Wait(ctx))
		requireTimedOut(t, spRow(t, slow, "on_b"))

		for _, bus := range []*api.Bus{a, b} {
			f := &tmEvent{Tag: "next"}
			require.NoError(t, bus.Emit(ctx, f))
			require.NoError(t, f.Wait(ctx))
			assert.Equal(t, "b:next", spRow(t, f, "on_b").Value())
		}
		require.NoError(t, a.WaitUntilIdle(ctx))
		require.NoError(t, b.WaitUntilIdle(ctx))
	})
}

// --- TIMEOUT-10: finalise at the deadline ---

// TIMEOUT-10: the event is finalised at its deadline without waiting for a
// handler that ignores its context; the queue continues at once and the
// handler's later return is discarded.
func TestSpecTimeout10_FinaliseWithoutWaitingForHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Timeout10Bus")
		release := make(chan struct{})
		returned := make(chan struct{})
		_, err := api.On(bus, func(context.Context, *tmOther) (string, error) {
			defer close(returned)
			<-release // ignores ctx
			return "late", nil
		}, api.WithHandlerName("stuck"))
		require.NoError(t, err)
		_, err = api.On(bus, tmOK("next"), api.WithHandlerName("next"))
		require.NoError(t, err)

		stuck := &tmOther{}
		stuck.SetTimeout(50 * time.Millisecond)
		next := &tmEvent{}
		start := time.Now()
		require.NoError(t, bus.Emit(ctx, stuck))
		require.NoError(t, bus.Emit(ctx, next))
		require.NoError(t, stuck.Wait(ctx))
		assert.Equal(t, 50*time.Millisecond, time.Since(start), "finalised at the deadline")
		assert.Equal(t, api.StatusCompleted, stuck.Status())
		requireAborted(t, spRow(t, stuck, "stuck"))

		v, err := next.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, "next", v)
		assert.Equal(t, 50*time.Millisecond, time.Since(start), "the queue continued while the handler was still blocked")
		select {
		case <-returned:
			t.Fatal("the stuck handler must still be running")
		default:
		}

		close(release)
		<-returned
		require.NoError(t, bus.WaitUntilIdle(ctx))
		requireAborted(t, spRow(t, stuck, "stuck"))
		assert.Nil(t, spRow(t, stuck, "stuck").Value())
	})
}

// --- SLOW-1..5: slow warnings ---

// SLOW-1, SLOW-4, SLOW-5: the slow-event warning is logged once, while the
// handler is still running, with the bus label, event and count of running
// handlers as attributes.
func TestSpecSlow1_SlowEventWarning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, logs := spLogBus(t, "Slow1Bus", api.WithEventSlowTimeout(100*time.Millisecond), api.WithDefaultHandlerSlowTimeout(0))
		seenWhileRunning := make(chan int, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
			time.Sleep(150 * time.Millisecond)
			seenWhileRunning <- len(logs.matching("Slow event processing:"))
			time.Sleep(500 * time.Millisecond)
			return "ok", nil
		}, api.WithHandlerName("slow"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Equal(t, 1, <-seenWhileRunning, "SLOW-4: the warning is logged while the handler runs")
		recs := logs.records("Slow event processing:")
		require.Len(t, recs, 1, "SLOW-1: one warning per processing")
		r := recs[0]
		assert.Equal(t, slog.LevelWarn, r.level)
		assert.Equal(t, bus.Label(), r.str("bus"))
		assert.Equal(t, e.Type(), r.str("event_type"))
		assert.Equal(t, e.ID(), r.str("event_id"))
		assert.Equal(t, int64(1), r.attrs["running"].Int64(), "handlers still running")
		assert.Equal(t, 100*time.Millisecond, r.attrs["elapsed"].Duration())
		assert.NotContains(t, r.msg, e.ID(), "the message is fixed; values are attributes")
		assert.Empty(t, logs.matching("Slow event handler:"), "handler warnings disabled by 0")
	})
}

// SLOW-1: the event's own event_slow_timeout wins over the bus default, and
// no warning is logged when the event finishes first.
func TestSpecSlow1_EventSlowTimeoutOverridesBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, logs := spLogBus(t, "Slow1EventBus", api.WithEventSlowTimeout(time.Hour), api.WithDefaultHandlerSlowTimeout(0))
		_, err := api.On(bus, tmSleeper(200*time.Millisecond, "ok"), api.WithHandlerName("h"))
		require.NoError(t, err)

		quick := &tmEvent{}
		quick.SetSlowTimeout(time.Second)
		require.NoError(t, bus.Emit(ctx, quick))
		require.NoError(t, quick.Wait(ctx))
		time.Sleep(2 * time.Second)
		assert.Empty(t, logs.matching("Slow event processing:"), "cancelled when processing ends")

		slow := &tmEvent{}
		slow.SetSlowTimeout(100 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, slow))
		require.NoError(t, slow.Wait(ctx))
		recs := logs.records("Slow event processing:")
		require.Len(t, recs, 1)
		assert.Equal(t, slow.ID(), recs[0].str("event_id"))
	})
}

// SLOW-2: the handler slow threshold resolves handler → event handler-slow
// → event slow (2.4.2, D8) → bus handler-slow (default 30s).
func TestSpecSlow2_HandlerSlowThresholdChain(t *testing.T) {
	cases := []struct {
		name    string
		busOpts []api.Option
		hOpts   []api.HandlerOption
		setup   func(e *tmEvent)
		warnAt  time.Duration // 0: no warning expected within 45s
	}{
		{name: "handler", busOpts: []api.Option{api.WithDefaultHandlerSlowTimeout(time.Hour)},
			hOpts: []api.HandlerOption{api.WithHandlerSlowTimeout(50 * time.Millisecond)}, warnAt: 50 * time.Millisecond},
		{name: "handler_beats_event", hOpts: []api.HandlerOption{api.WithHandlerSlowTimeout(50 * time.Millisecond)},
			setup: func(e *tmEvent) { e.SetHandlerSlowTimeout(time.Hour) }, warnAt: 50 * time.Millisecond},
		{name: "handler_zero_disables", hOpts: []api.HandlerOption{api.WithHandlerSlowTimeout(0)},
			setup: func(e *tmEvent) { e.SetHandlerSlowTimeout(50 * time.Millisecond) }, warnAt: 0},
		{name: "event_handler_slow", busOpts: []api.Option{api.WithDefaultHandlerSlowTimeout(time.Hour)},
			setup: func(e *tmEvent) { e.SetHandlerSlowTimeout(70 * time.Millisecond) }, warnAt: 70 * time.Millisecond},
		{name: "event_slow_D8", busOpts: []api.Option{api.WithDefaultHandlerSlowTimeout(time.Hour)},
			setup: func(e *tmEvent) { e.SetSlowTimeout(90 * time.Millisecond) }, warnAt: 90 * time.Millisecond},
		{name: "bus_handler_slow", busOpts: []api.Option{api.WithDefaultHandlerSlowTimeout(110 * time.Millisecond)}, warnAt: 110 * time.Millisecond},
		{name: "bus_default_30s", warnAt: 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				opts := append([]api.Option{api.WithEventTimeout(0), api.WithEventSlowTimeout(0)}, tc.busOpts...)
				bus, logs := spLogBus(t, "Slow2Bus_"+tc.name, opts...)
				start := time.Now()
				endedAt := make(chan time.Duration, 1)
				_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
					// Poll until a warning shows up (or 45s), so that the
					// warning provably arrives while the handler runs.
					for time.Since(start) < 45*time.Second && len(logs.matching("Slow event handler:")) == 0 {
						time.Sleep(10 * time.Millisecond)
					}
					time.Sleep(time.Millisecond)
					endedAt <- time.Since(start)
					return "ok", nil
				}, append([]api.HandlerOption{api.WithHandlerName("watcher")}, tc.hOpts...)...)
				require.NoError(t, err)
				e := &tmEvent{}
				if tc.setup != nil {
					tc.setup(e)
				}
				require.NoError(t, bus.Emit(ctx, e))
				require.NoError(t, e.Wait(ctx))
				ended := <-endedAt
				at, warned := logs.firstAt("Slow event handler:")
				if tc.warnAt == 0 {
					assert.False(t, warned, "no slow-handler warning expected")
					return
				}
				require.True(t, warned, "a slow-handler warning is expected")
				assert.Equal(t, tc.warnAt, at.Sub(start), "warned at the threshold")
				assert.Less(t, at.Sub(start), ended, "SLOW-4: warned while the handler was running")
				recs := logs.records("Slow event handler:")
				require.Len(t, recs, 1)
				h := bus.HandlersFor(api.TypeName[tmEvent]())[0]
				r := recs[0]
				assert.Equal(t, slog.LevelWarn, r.level)
				assert.Equal(t, bus.Label(), r.str("bus"))
				assert.Equal(t, e.ID(), r.str("event_id"))
				assert.Equal(t, h.Label(), r.str("handler"))
				assert.Equal(t, tc.warnAt, r.attrs["elapsed"].Duration(), "still running after the threshold")
			})
		})
	}
}

// SLOW-3: the handler monitor is not armed when the row's effective timeout
// is <= the slow threshold, and fires only while the row is still started.
func TestSpecSlow3_MonitorNotArmedWhenTimeoutFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, logs := spLogBus(t, "Slow3Bus", api.WithDefaultHandlerSlowTimeout(100*time.Millisecond), api.WithEventSlowTimeout(0))
		_, err := api.On(bus, tmSleeper(time.Second, "late"), api.WithHandlerName("timed"), api.WithHandlerTimeout(100*time.Millisecond))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		requireTimedOut(t, spRow(t, e, "timed"))
		time.Sleep(time.Second)
		assert.Empty(t, logs.matching("Slow event handler:"), "timeout <= slow threshold: no slow warning")

		// A handler that finishes before the threshold never warns.
		bus2, logs2 := spLogBus(t, "Slow3QuickBus", api.WithDefaultHandlerSlowTimeout(100*time.Millisecond), api.WithEventSlowTimeout(0))
		_, err = api.On(bus2, tmSleeper(90*time.Millisecond, "ok"), api.WithHandlerName("quick"))
		require.NoError(t, err)
		e2 := &tmEvent{}
		require.NoError(t, bus2.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		time.Sleep(time.Second)
		assert.Empty(t, logs2.matching("Slow event handler:"))
	})
}

// SLOW-4: the slow-handler and slow-event warnings can both fire for one
// event (test_slow_handler_and_slow_event_warnings_can_both_fire).
func TestSpecSlow4_BothWarningsFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, logs := spLogBus(t, "Slow4Bus", api.WithEventSlowTimeout(50*time.Millisecond), api.WithDefaultHandlerSlowTimeout(50*time.Millisecond))
		both := make(chan bool, 1)
		_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
			time.Sleep(80 * time.Millisecond)
			both <- len(logs.matching("Slow event handler:")) == 1 && len(logs.matching("Slow event processing:")) == 1
			return "ok", nil
		}, api.WithHandlerName("slow"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.True(t, <-both, "both warnings logged while the handler was running")
	})
}

// SLOW-5, TIMEOUT-3: 0 thresholds disable both warnings
// (test_zero_slow_warning_thresholds_disable_event_and_handler_slow_warnings),
// while the defaults (300s / 30s) do warn.
func TestSpecSlow5_ZeroDisablesAndDefaultsWarn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		off, offLogs := spLogBus(t, "Slow5OffBus", api.WithEventTimeout(0), api.WithEventSlowTimeout(0), api.WithDefaultHandlerSlowTimeout(0))
		_, err := api.On(off, tmSleeper(10*time.Minute, "ok"), api.WithHandlerName("slow"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, off.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		assert.Empty(t, offLogs.matching("Slow event"))

		def, defLogs := spLogBus(t, "Slow5DefaultBus", api.WithEventTimeout(0))
		_, err = api.On(def, tmSleeper(10*time.Minute, "ok"), api.WithHandlerName("slow"))
		require.NoError(t, err)
		e2 := &tmEvent{}
		require.NoError(t, def.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		assert.Len(t, defLogs.matching("Slow event handler:"), 1)
		assert.Len(t, defLogs.matching("Slow event processing:"), 1)
	})
}

// --- CANCEL-1..5: cancellation cascades ---

// CANCEL-1: when a handler times out, pending rows of its children (here a
// child being processed on another bus) are cancelled with "cancelled
// pending handler ... as a result of parent error" (ERR-3: the word
// "pending" is required); started rows are left alone.
func TestSpecCancel1_PendingChildRowsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		a := spBus(t, "Cancel1BusA")
		b := spBus(t, "Cancel1BusB")
		childStarted := make(chan *tmChild, 1)
		releaseChild := make(chan struct{})
		_, err := api.On(a, func(hctx context.Context, _ *tmParent) (string, error) {
			c := &tmChild{}
			if err := b.Emit(hctx, c); err != nil {
				return "", err
			}
			<-hctx.Done()
			return "", hctx.Err()
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(b, func(_ context.Context, c *tmChild) (string, error) {
			childStarted <- c
			<-releaseChild
			return "c1", nil
		}, api.WithHandlerName("child_running"))
		require.NoError(t, err)
		child2Ran := make(chan struct{}, 1)
		_, err = api.On(b, func(context.Context, *tmChild) (string, error) {
			child2Ran <- struct{}{}
			return "c2", nil
		}, api.WithHandlerName("child_pending"))
		require.NoError(t, err)

		p := &tmParent{}
		require.NoError(t, a.Emit(ctx, p))
		c := <-childStarted
		time.Sleep(100 * time.Millisecond) // the parent handler times out at 50ms
		requireTimedOut(t, spRow(t, p, "parent"))

		ce := cancelledErr(t, spRow(t, c, "child_pending"))
		assert.Contains(t, ce.Error(), "cancelled pending handler")
		assert.Contains(t, ce.Error(), "as a result of parent error")
		assert.Contains(t, ce.Error(), b.Label()+".child_pending#", "names the bus and handler")
		var te *api.HandlerTimeoutError
		assert.ErrorAs(t, ce, &te, "the cancel error wraps the parent's error")
		assert.Equal(t, api.StatusStarted, spRow(t, c, "child_running").Status(), "a started row is not cancelled by CANCEL-1")

		close(releaseChild)
		require.NoError(t, p.Wait(ctx))
		assert.Equal(t, "c1", spRow(t, c, "child_running").Value())
		select {
		case <-child2Ran:
			t.Fatal("the cancelled pending handler must not run")
		default:
		}
	})
}

// CANCEL-2, ERR-3: a child queue-jumped inside the timed-out handler is
// interrupted with it: its running row → Aborted ("interrupted because of a
// parent timeout"), its not-started rows → Cancelled, and the child
// completes. The parent's timeout message counts the interrupted child.
func TestSpecCancel2_AwaitedChildInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Cancel2Bus")
		childCh := make(chan *tmChild, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *tmParent) (string, error) {
			c := &tmChild{}
			childCh <- c
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			err := c.Now(hctx)
			tmLinger(hctx)
			if err != nil {
				return "", err
			}
			return "parent", nil
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *tmChild) (string, error) {
			if err := spSleep(hctx, time.Second); err != nil {
				return "", err
			}
			return "slow", nil
		}, api.WithHandlerName("child_slow"))
		require.NoError(t, err)
		_, err = api.On(bus, tmChildOK("never"), api.WithHandlerName("child_next"))
		require.NoError(t, err)

		p := &tmParent{}
		require.NoError(t, bus.Emit(ctx, p))
		require.NoError(t, p.Wait(ctx))
		c := <-childCh

		te := timedOutErr(t, spRow(t, p, "parent"))
		assert.Equal(t, 1, te.Children)
		assert.Contains(t, te.Error(), "timed out")
		assert.Contains(t, te.Error(), "and interrupted any processing of 1 child events")

		ae := abortedErr(t, spRow(t, c, "child_slow"))
		assert.Equal(t, engine.ReasonParentTimeout, ae.Reason)
		assert.Contains(t, ae.Error(), "interrupted because of a parent timeout")
		requireCancelled(t, spRow(t, c, "child_next"))
		assert.Equal(t, api.StatusCompleted, c.Status())
	})
}

func tmChildOK(v string) func(context.Context, *tmChild) (string, error) {
	return func(context.Context, *tmChild) (string, error) { return v, nil }
}

// CANCEL-3: children that are only queued when the parent times out are not
// cancelled: they run later, and (2.4.2, CHILD-5) the timed-out parent
// completes only after them.
func TestSpecCancel3_QueuedChildStillRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Cancel3Bus")
		childCh := make(chan *tmQueued, 1)
		_, err := api.On(bus, func(hctx context.Context, _ *tmParent) (string, error) {
			q := &tmQueued{}
			if err := bus.Emit(hctx, q); err != nil {
				return "", err
			}
			childCh <- q
			time.Sleep(100 * time.Millisecond) // ignores ctx; see TestSpecTimeout6_WellBehaved...
			return "", nil
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *tmQueued) (string, error) {
			if err := spSleep(hctx, 200*time.Millisecond); err != nil {
				return "", err
			}
			return "queued-done", nil
		}, api.WithHandlerName("queued"))
		require.NoError(t, err)

		p := &tmParent{}
		start := time.Now()
		require.NoError(t, bus.Emit(ctx, p))
		require.NoError(t, p.Wait(ctx))
		q := <-childCh
		requireTimedOut(t, spRow(t, p, "parent"))
		r := spRow(t, q, "queued")
		assert.Equal(t, api.StatusCompleted, r.Status())
		assert.Equal(t, "queued-done", r.Value())
		assert.Equal(t, q.ParentID(), p.ID())
		assert.Equal(t, 250*time.Millisecond, time.Since(start), "the parent completes after its queued child")
	})
}

type tmTop struct {
	api.Event[string]
}

type tmA struct {
	api.Event[string]
}

type tmG1 struct {
	api.Event[string]
}

type tmG2 struct {
	api.Event[string]
}

// CANCEL-4: multi-level cascade (TestMultiLevelTimeoutCascadeWithMixedCancellations):
// top (40ms) awaits child A (30ms) whose slow handler awaits grandchild G1
// and emits G2 without awaiting; top's queued child Q is not awaited. Top's
// handler is Aborted, A has one completed and one error row, G1 has an
// error row, and Q and G2 run both their handlers to completion.
func TestSpecCancel4_MultiLevelCascade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Cancel4Bus")
		var mu sync.Mutex
		var a *tmA
		var g1 *tmG1
		var g2 *tmG2
		var q *tmQueued

		_, err := api.On(bus, func(hctx context.Context, _ *tmTop) (string, error) {
			qq := &tmQueued{}
			aa := &tmA{}
			aa.SetTimeout(30 * time.Millisecond)
			mu.Lock()
			q, a = qq, aa
			mu.Unlock()
			if err := bus.Emit(hctx, qq); err != nil {
				return "", err
			}
			if err := bus.Emit(hctx, aa); err != nil {
				return "", err
			}
			err := aa.Now(hctx)
			tmLinger(hctx)
			if err != nil {
				return "", err
			}
			return "top", nil
		}, api.WithHandlerName("top"))
		require.NoError(t, err)

		_, err = api.On(bus, func(context.Context, *tmA) (string, error) { return "a-fast", nil }, api.WithHandlerName("a_fast"))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *tmA) (string, error) {
			gg2 := &tmG2{}
			gg1 := &tmG1{}
			mu.Lock()
			g1, g2 = gg1, gg2
			mu.Unlock()
			if err := bus.Emit(hctx, gg2); err != nil {
				return "", err
			}
			if err := bus.Emit(hctx, gg1); err != nil {
				return "", err
			}
			if err := gg1.Now(hctx); err != nil {
				return "", err
			}
			return "a-slow", nil
		}, api.WithHandlerName("a_slow"))
		require.NoError(t, err)

		for _, n := range []string{"g1_a", "g1_b"} {
			_, err = api.On(bus, func(hctx context.Context, _ *tmG1) (string, error) {
				if err := spSleep(hctx, time.Second); err != nil {
					return "", err
				}
				return "g1", nil
			}, api.WithHandlerName(n))
			require.NoError(t, err)
		}
		for _, n := range []string{"g2_a", "g2_b"} {
			_, err = api.On(bus, func(context.Context, *tmG2) (string, error) { return "g2", nil }, api.WithHandlerName(n))
			require.NoError(t, err)
		}
		for _, n := range []string{"q_a", "q_b"} {
			_, err = api.On(bus, func(context.Context, *tmQueued) (string, error) { return "q", nil }, api.WithHandlerName(n))
			require.NoError(t, err)
		}

		top := &tmTop{}
		top.SetTimeout(40 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, top))
		require.NoError(t, top.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))

		requireAborted(t, spRow(t, top, "top"))

		mu.Lock()
		defer mu.Unlock()
		require.NotNil(t, a)
		require.NotNil(t, g1)
		require.NotNil(t, g2)
		require.NotNil(t, q)
		assert.Equal(t, api.StatusCompleted, spRow(t, a, "a_fast").Status())
		assert.Equal(t, api.StatusError, spRow(t, a, "a_slow").Status())

		g1Errors := 0
		for _, r := range g1.Rows() {
			if r.Status() == api.StatusError {
				g1Errors++
			}
		}
		assert.GreaterOrEqual(t, g1Errors, 1)

		for _, ev := range []interface{ Rows() []*api.Result }{g2, q} {
			rows := ev.Rows()
			assert.Len(t, rows, 2)
			for _, r := range rows {
				assert.Equal(t, api.StatusCompleted, r.Status(), "row %s: %v", r, r.Error())
			}
		}
		for _, ev := range []interface{ Status() api.Status }{top, a, g1, g2, q} {
			assert.Equal(t, api.StatusCompleted, ev.Status())
		}
	})
}

// CANCEL-5: the handler context says why it was stopped: api.Cause gives
// the typed reason (own timeout, event timeout, parent timeout, first-mode
// loser) and ctx.Err() is DeadlineExceeded for timeouts.
func TestSpecCancel5_CauseRecordsWhy(t *testing.T) {
	type seen struct {
		cause error
		err   error
	}
	record := func(ch chan<- seen) func(hctx context.Context) {
		return func(hctx context.Context) {
			<-hctx.Done()
			ch <- seen{api.Cause(hctx), hctx.Err()}
		}
	}

	t.Run("handler_timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "Cancel5HandlerBus")
			ch := make(chan seen, 1)
			wait := record(ch)
			_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
				wait(hctx)
				return "", hctx.Err()
			}, api.WithHandlerTimeout(10*time.Millisecond))
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), &tmEvent{}))
			s := <-ch
			var te *api.HandlerTimeoutError
			require.ErrorAs(t, s.cause, &te)
			assert.ErrorIs(t, s.err, context.DeadlineExceeded)
		})
	})

	t.Run("event_timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "Cancel5EventBus", api.WithEventTimeout(10*time.Millisecond))
			ch := make(chan seen, 1)
			wait := record(ch)
			_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
				wait(hctx)
				return "", hctx.Err()
			})
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), &tmEvent{}))
			s := <-ch
			var ae *api.HandlerAbortedError
			require.ErrorAs(t, s.cause, &ae)
			assert.Equal(t, engine.ReasonEventTimeout, ae.Reason)
			assert.ErrorIs(t, s.err, context.DeadlineExceeded)
		})
	})

	t.Run("parent_timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "Cancel5ParentBus")
			ch := make(chan seen, 1)
			wait := record(ch)
			_, err := api.On(bus, func(hctx context.Context, _ *tmParent) (string, error) {
				c := &tmChild{}
				if err := bus.Emit(hctx, c); err != nil {
					return "", err
				}
				err := c.Now(hctx)
				tmLinger(hctx)
				if err != nil {
					return "", err
				}
				return "", nil
			}, api.WithHandlerTimeout(10*time.Millisecond))
			require.NoError(t, err)
			_, err = api.On(bus, func(hctx context.Context, _ *tmChild) (string, error) {
				wait(hctx)
				return "", hctx.Err()
			})
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), &tmParent{}))
			s := <-ch
			var ae *api.HandlerAbortedError
			require.ErrorAs(t, s.cause, &ae)
			assert.Equal(t, engine.ReasonParentTimeout, ae.Reason)
		})
	})

	t.Run("own_timeout_without_prior_done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "Cancel5NoDoneBus")
			ch := make(chan seen, 1)
			_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
				time.Sleep(100 * time.Millisecond) // ignores ctx, looks afterwards
				ch <- seen{api.Cause(hctx), hctx.Err()}
				return "", nil
			}, api.WithHandlerTimeout(10*time.Millisecond))
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), &tmEvent{}))
			s := <-ch
			var te *api.HandlerTimeoutError
			require.ErrorAs(t, s.cause, &te)
			assert.ErrorIs(t, s.err, context.DeadlineExceeded)
		})
	})

	t.Run("first_mode_loser", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "Cancel5FirstBus", api.WithHandlerConcurrency(api.ParallelHandlers))
			ch := make(chan seen, 1)
			wait := record(ch)
			_, err := api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
				time.Sleep(10 * time.Millisecond)
				return "winner", nil
			}, api.WithHandlerName("winner"))
			require.NoError(t, err)
			_, err = api.On(bus, func(hctx context.Context, _ *tmEvent) (string, error) {
				wait(hctx)
				return "", hctx.Err()
			}, api.WithHandlerName("loser"))
			require.NoError(t, err)
			e := &tmEvent{}
			e.SetCompletion(api.CompleteFirst)
			require.NoError(t, bus.Emit(context.Background(), e))
			v, err := e.First(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "winner", v)
			s := <-ch
			var ae *api.HandlerAbortedError
			require.ErrorAs(t, s.cause, &ae)
			assert.Equal(t, engine.ReasonFirstResult, ae.Reason)
			assert.ErrorIs(t, s.err, context.Canceled)
		})
	})
}

// tmCloseCause closes a bus while its handler runs and returns the event
// and the cause the handler saw.
func tmCloseCause(t *testing.T, name string) (*tmEvent, error) {
	bus := spBus(t, name)
	started := make(chan *tmEvent, 1)
	causeCh := make(chan error, 1)
	_, err := api.On(bus, func(hctx context.Context, e *tmEvent) (string, error) {
		done := hctx.Done() // before Close; see TestSpecTimeout8_LateEmitRefusedWithoutPriorDone
		started <- e
		<-done
		causeCh <- api.Cause(hctx)
		return "", hctx.Err()
	}, api.WithHandlerName("running"))
	require.NoError(t, err)
	require.NoError(t, bus.Emit(context.Background(), &tmEvent{}))
	e := <-started
	require.NoError(t, bus.Close())
	return e, <-causeCh
}

// CANCEL-5, STOP-2: Close interrupts a running handler: the row is Aborted
// and the cause records the stop.
func TestSpecCancel5_CloseAbortsWithStopReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, cause := tmCloseCause(t, "Cancel5StopBus")
		var ae *api.HandlerAbortedError
		require.ErrorAs(t, cause, &ae)
		assert.Equal(t, engine.ReasonStopped, ae.Reason)
		requireAborted(t, spRow(t, e, "running"))
	})
}

// CANCEL-5: the engine documents "ErrStopped is the cause given to handlers
// interrupted by Stop or Close" (and Cause lists ErrStopped).
func TestSpecCancel5_CloseCauseMatchesErrStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, cause := tmCloseCause(t, "Cancel5StopErrBus")
		require.ErrorIs(t, cause, api.ErrStopped)
	})
}

// --- ERR-2 / ERR-3: error classes ---

// tmPlainTimeoutEvent runs a handler that returns a plain timeout error and
// a slow one that the 50ms event timeout interrupts afterwards.
func tmPlainTimeoutEvent(t *testing.T, name string) *tmEvent {
	ctx := context.Background()
	bus := spBus(t, name)
	_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
		return "", &tmPlainTimeout{msg: "retry gave up: upstream timed out"}
	}, api.WithHandlerName("plain"))
	require.NoError(t, err)
	_, err = api.On(bus, tmSleeper(time.Second, "late"), api.WithHandlerName("slow"))
	require.NoError(t, err)
	e := &tmEvent{}
	e.SetTimeout(50 * time.Millisecond)
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	return e
}

// ERR-2: a plain timeout error returned by handler code becomes a
// *HandlerTimeoutError, and a later event-level timeout does not relabel it
// (test_event_timeout_does_not_relabel_preexisting_handler_timeout).
func TestSpecErr2_PlainTimeoutNormalised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := tmPlainTimeoutEvent(t, "Err2Bus")
		plain := spRow(t, e, "plain")
		requireTimedOut(t, plain)
		assert.NotErrorIs(t, plain.Error(), api.ErrHandlerAborted, "not relabelled by the later event timeout")
		requireAborted(t, spRow(t, e, "slow"))
	})
}

// ERR-2: the normalised error keeps the handler's message.
func TestSpecErr2_PlainTimeoutKeepsMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := tmPlainTimeoutEvent(t, "Err2MessageBus")
		plain := spRow(t, e, "plain")
		requireTimedOut(t, plain)
		assert.Contains(t, plain.Error().Error(), "retry gave up: upstream timed out")
	})
}

// ERR-3: error types and key words of the timeout, abort and cancel
// messages; ERR-4: the row keeps the concrete error type.
func TestSpecErr3_ErrorClassesAndMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Err3Bus")
		_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
			time.Sleep(time.Second) // ignores ctx; see TestSpecTimeout6_WellBehaved...
			return "x", nil
		}, api.WithHandlerName("own_timeout"), api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, tmSleeper(time.Second, "x"), api.WithHandlerName("running"))
		require.NoError(t, err)
		_, err = api.On(bus, tmOK("x"), api.WithHandlerName("pending"))
		require.NoError(t, err)

		e := &tmEvent{}
		e.SetTimeout(30 * time.Millisecond)
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))

		// Key words only (ERR-3); the messages are Go's: "ringbus: "
		// prefix, bus and handler named, Go durations.
		te := timedOutErr(t, spRow(t, e, "own_timeout"))
		assert.Contains(t, te.Error(), "timed out after 10ms")
		assert.Contains(t, te.Error(), bus.Label()+".own_timeout#")
		assert.Contains(t, te.Error(), e.Label())
		assert.Equal(t, "EventHandlerTimeoutError", te.TypeName())
		assert.ErrorIs(t, te, context.DeadlineExceeded)

		ae := abortedErr(t, spRow(t, e, "running"))
		assert.Contains(t, ae.Error(), "interrupted because the event timed out after 30ms")
		assert.Equal(t, "EventHandlerAbortedError", ae.TypeName())

		ce := cancelledErr(t, spRow(t, e, "pending"))
		assert.Contains(t, ce.Error(), "cancelled")
		assert.Contains(t, ce.Error(), "timed out after 30ms")
		assert.Equal(t, "EventHandlerCancelledError", ce.TypeName())
		for _, err := range []error{te, ae, ce} {
			assert.True(t, strings.HasPrefix(err.Error(), "ringbus: "), err.Error())
		}

		// RES-3: the result helper surfaces the errors.
		_, err = e.Result(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, api.ErrHandlerTimeout)
	})
}

// ERR-2: a timeout wrapped by handler code (fmt.Errorf %w around a timeout
// error) is a handler timeout too, and keeps the whole message; a handler
// that wraps its child's handler timeout did not time out itself.
func TestSpecErr2_WrappedTimeoutNormalised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := spBus(t, "Err2WrappedBus")
		_, err := api.On(bus, func(context.Context, *tmEvent) (string, error) {
			return "", fmt.Errorf("fetch prices: %w", &tmPlainTimeout{msg: "upstream timed out"})
		}, api.WithHandlerName("wrapped"))
		require.NoError(t, err)
		e := &tmEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		row := spRow(t, e, "wrapped")
		requireTimedOut(t, row)
		assert.Contains(t, row.Error().Error(), "fetch prices: upstream timed out")

		var childErr error
		_, err = api.On(bus, func(hctx context.Context, _ *msChild) (string, error) {
			<-hctx.Done()
			return "", hctx.Err()
		}, api.WithHandlerName("slow_child"), api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			c := &msChild{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			_, childErr = api.ResultOf[string](hctx, c)
			return "", fmt.Errorf("child failed: %w", childErr)
		}, api.WithHandlerName("parent"))
		require.NoError(t, err)
		p := &msEvent{}
		require.NoError(t, bus.Emit(ctx, p))
		require.NoError(t, p.Wait(ctx))
		require.ErrorIs(t, childErr, api.ErrHandlerTimeout, "the child timed out")
		prow := spRow(t, p, "parent")
		_, relabelled := prow.Error().(*api.HandlerTimeoutError)
		assert.False(t, relabelled, "the parent is not relabelled as timed out: %v", prow.Error())
		assert.Contains(t, prow.Error().Error(), "child failed")
	})
}
