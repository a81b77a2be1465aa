package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
)

// MW-10 (test_auto_error_event_middleware_emits_and_guards_recursion): a
// failing UserActionEvent handler produces one UserActionEventErrorEvent
// with error_type "ValueError"; a failing handler of that ErrorEvent
// produces no UserActionEventErrorEventErrorEvent.
func TestAutoErrorEmitsAndGuardsRecursion_MW10(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "AutoErrorBus", api.WithMiddlewares(middleware.AutoError()))
	type seenPair struct{ typ, errType string }
	var mu sync.Mutex
	var seen []seenPair
	_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, &ValueError{"boom"} },
		api.WithHandlerName("fail_handler"))
	require.NoError(t, err)
	_, err = api.On(bus, func(_ context.Context, e *UserActionEventErrorEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, seenPair{e.Type(), e.ErrorType})
		return nil, nil
	}, api.WithHandlerName("on_auto_error_event"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *UserActionEventErrorEvent) (any, error) { return nil, &RuntimeError{"nested"} },
		api.WithHandlerName("fail_auto"))
	require.NoError(t, err)

	e := &UserActionEvent{Action: "fail", UserID: "u1"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))

	mu.Lock()
	assert.Equal(t, []seenPair{{"UserActionEventErrorEvent", "ValueError"}}, seen)
	mu.Unlock()
	nested, err := bus.Find(ctx, "UserActionEventErrorEventErrorEvent", api.Past(time.Hour))
	require.NoError(t, err)
	assert.Nil(t, nested, "the recursion guard: no ErrorEventErrorEvent")
	n := 0
	for _, h := range bus.History() {
		if h.Type() == "UserActionEventErrorEvent" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one ErrorEvent for one failed row")
}

// MW-10 [G]: the payload is {"error": {"type","message"}, "error_type"}; in
// this process "error" is an *EventError that unwraps to the handler's own
// error. The event is a root event on the same bus, carrying the failed
// event's ctx values, and the failed event completes without waiting for
// it.
func TestAutoErrorPayloadAndRoot_MW10(t *testing.T) {
	type traceKey struct{}
	ctx := context.WithValue(testCtx(t), traceKey{}, "trace-7")
	bus := newBus(t, "AutoErrorPayloadBus", api.WithMiddlewares(middleware.AutoError()))
	boom := &ValueError{"card declined"}
	_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, boom })
	require.NoError(t, err)
	got := make(chan *api.BaseEvent, 1)
	trace := make(chan any, 1)
	_, err = api.OnType(bus, "UserActionEventErrorEvent", func(hctx context.Context, ev *api.BaseEvent) (any, error) {
		trace <- hctx.Value(traceKey{})
		got <- ev
		return nil, nil
	})
	require.NoError(t, err)

	e := &UserActionEvent{Action: "pay"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	ev := <-got
	assert.Equal(t, "trace-7", <-trace, "the failed event's ctx values")
	f := ev.Fields()
	assert.Equal(t, "ValueError", f["error_type"])
	ee, ok := f["error"].(*middleware.EventError)
	require.True(t, ok, "error is an *EventError: %T", f["error"])
	assert.Equal(t, "ValueError", ee.Type)
	assert.Equal(t, "card declined", ee.Message)
	var ve *ValueError
	require.ErrorAs(t, ee, &ve)
	assert.Same(t, boom, ve, "it unwraps to the handler's error")
	assert.Empty(t, ev.ParentID(), "a root event, as abxbus emits it")
	assert.Empty(t, ev.EmittedByHandlerID())
	assert.Equal(t, []string{bus.Label()}, ev.Path(), "emitted on the bus whose hook fired")
	assert.Empty(t, e.Children())
}

// MW-10, MW-7: a timed-out handler and one cancelled before it started
// each produce an ErrorEvent; their error_type is the abxbus name of the
// error the row carries (what the wire writes for the row), and the error
// still matches ringbus's sentinels.
func TestAutoErrorTimeoutAndCancelled_MW10(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, err := api.NewBus("AutoErrorTimeoutBus", api.WithMiddlewares(middleware.AutoError()))
		require.NoError(t, err)
		defer func() { require.NoError(t, bus.Close()) }()
		_, err = api.On(bus, func(hctx context.Context, _ *UserActionEvent) (any, error) {
			<-hctx.Done()
			return nil, hctx.Err()
		}, api.WithHandlerName("slow"), api.WithHandlerTimeout(time.Second))
		require.NoError(t, err)
		var mu sync.Mutex
		errs := map[string]error{}
		_, err = api.OnType(bus, "UserActionEventErrorEvent", func(_ context.Context, ev *api.BaseEvent) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			errs[ev.Fields()["error_type"].(string)] = ev.Fields()["error"].(error)
			return nil, nil
		})
		require.NoError(t, err)

		e := &UserActionEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		mu.Lock()
		require.Contains(t, errs, "EventHandlerTimeoutError")
		assert.ErrorIs(t, errs["EventHandlerTimeoutError"], api.ErrHandlerTimeout)
		mu.Unlock()

		// An event timeout: the first handler is aborted, the second never
		// starts and is cancelled.
		bus2, err := api.NewBus("AutoErrorCancelBus", api.WithMiddlewares(middleware.AutoError()), api.WithEventTimeout(time.Second))
		require.NoError(t, err)
		defer func() { require.NoError(t, bus2.Close()) }()
		_, err = api.On(bus2, func(hctx context.Context, _ *UserActionEvent) (any, error) {
			<-hctx.Done()
			return nil, hctx.Err()
		}, api.WithHandlerName("running"))
		require.NoError(t, err)
		_, err = api.On(bus2, func(context.Context, *UserActionEvent) (any, error) { return "never", nil },
			api.WithHandlerName("pending"))
		require.NoError(t, err)
		types := make(chan string, 4)
		_, err = api.OnType(bus2, "UserActionEventErrorEvent", func(_ context.Context, ev *api.BaseEvent) (any, error) {
			types <- ev.Fields()["error_type"].(string)
			return nil, nil
		})
		require.NoError(t, err)
		e2 := &UserActionEvent{}
		require.NoError(t, bus2.Emit(ctx, e2))
		require.NoError(t, e2.Wait(ctx))
		require.NoError(t, bus2.WaitUntilIdle(ctx))
		close(types)
		var got []string
		for s := range types {
			got = append(got, s)
		}
		assert.ElementsMatch(t, []string{"EventHandlerAbortedError", "EventHandlerCancelledError"}, got)
	})
}

// MW-10: an ErrorEvent that cannot be emitted (here the bus's history is
// full) is logged on the bus's logger, at Error with attributes, and
// dropped; the bus goes on.
func TestAutoErrorEmitFailureLoggedAndSwallowed_MW10(t *testing.T) {
	ctx := testCtx(t)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "AutoErrorFullBus", api.WithMiddlewares(middleware.AutoError()),
		api.WithMaxHistory(1), api.WithLogger(slog.New(logs)))
	h, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, errors.New("boom") })
	require.NoError(t, err)

	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	recs := logs.records("ringbus: auto event not emitted")
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, slog.LevelError, r.level)
	assert.Equal(t, bus.Label(), r.str("bus"))
	assert.Equal(t, "UserActionEventErrorEvent", r.str("event_type"))
	assert.Equal(t, e.ID(), r.str("event_id"), "the event whose handler failed")
	assert.Equal(t, h.Label(), r.str("handler"))
	emitErr, ok := r.attrs["error"].Any().(error)
	require.True(t, ok)
	assert.ErrorIs(t, emitErr, api.ErrHistoryFull)
	assert.Equal(t, 1, bus.HistoryLen())
}

// MW-10 (fire-and-forget, never wait inside a hook): on a bus whose queue
// is full, the ErrorEvent is dropped and logged instead of making the hook
// wait for room in the queue it is holding up.
func TestAutoErrorNeverWaitsOnAFullQueue_MW10(t *testing.T) {
	ctx := testCtx(t)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "AutoErrorQueueBus", api.WithMiddlewares(middleware.AutoError()),
		api.WithMaxQueue(1), api.WithQueueFullPolicy(api.QueueBlock), api.WithLogger(slog.New(logs)))
	release := make(chan struct{})
	_, err := api.On(bus, func(_ context.Context, e *UserActionEvent) (any, error) {
		if e.Action == "first" {
			<-release // until the second event fills the queue
			return nil, errors.New("boom")
		}
		return nil, nil
	})
	require.NoError(t, err)

	first := &UserActionEvent{Action: "first"}
	require.NoError(t, bus.Emit(ctx, first))
	second := &UserActionEvent{Action: "second"}
	require.NoError(t, bus.Emit(ctx, second), "waits until the first is taken, then fills the queue")
	close(release)
	require.NoError(t, first.Wait(ctx))
	require.NoError(t, second.Wait(ctx))

	recs := logs.records("ringbus: auto event not emitted")
	require.Len(t, recs, 1)
	emitErr, _ := recs[0].attrs["error"].Any().(error)
	assert.ErrorIs(t, emitErr, api.ErrQueueFull)
}

// MW-9 with MW-10: WithErrorLogger sends the failure records to another
// logger; nothing reaches the bus's.
func TestAutoErrorWithErrorLogger_MW10(t *testing.T) {
	ctx := testCtx(t)
	busLogs, own := &recorder{level: slog.LevelDebug}, &recorder{level: slog.LevelDebug}
	bus := newBus(t, "AutoErrorOwnLogBus", api.WithMiddlewares(middleware.AutoError(middleware.WithErrorLogger(slog.New(own)))),
		api.WithMaxHistory(1), api.WithLogger(slog.New(busLogs)))
	_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, errors.New("boom") })
	require.NoError(t, err)
	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	assert.Len(t, own.records("ringbus: auto event not emitted"), 1)
	assert.Empty(t, busLogs.records("ringbus: auto event not emitted"))
}

// MW-10: EventError's JSON is {"type","message"}, and a decoded one has no
// wrapped error.
func TestEventErrorJSON_MW10(t *testing.T) {
	ee := middleware.EventError{Type: "ValueError", Message: "boom"}
	data, err := json.Marshal(&ee)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"ValueError","message":"boom"}`, string(data))
	var back middleware.EventError
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, "boom", back.Error())
	assert.Equal(t, "ValueError", back.TypeName())
	assert.NoError(t, back.Unwrap())
	assert.Equal(t, "Error", (&middleware.EventError{}).TypeName())
}
