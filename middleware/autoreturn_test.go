package middleware_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
)

// MW-11 (test_auto_return_event_middleware_emits_and_guards_recursion):
// a handler returning 123 produces one UserActionEventResultEvent with
// data 123; a ResultEvent handler returning a value produces no
// UserActionEventResultEventResultEvent.
func TestAutoReturnEmitsAndGuardsRecursion_MW11(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "AutoReturnBus", api.WithMiddlewares(middleware.AutoReturn()))
	type seenPair struct {
		typ  string
		data int
	}
	var mu sync.Mutex
	var seen []seenPair
	_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return 123, nil }, api.WithHandlerName("ok_handler"))
	require.NoError(t, err)
	_, err = api.On(bus, func(_ context.Context, e *UserActionEventResultEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, seenPair{e.Type(), e.Data})
		return nil, nil
	}, api.WithHandlerName("on_auto_result_event"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *UserActionEventResultEvent) (any, error) { return "nested", nil },
		api.WithHandlerName("non_none_auto"))
	require.NoError(t, err)

	e := &UserActionEvent{Action: "ok", UserID: "u2"}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))

	mu.Lock()
	assert.Equal(t, []seenPair{{"UserActionEventResultEvent", 123}}, seen)
	mu.Unlock()
	nested, err := bus.Find(ctx, "UserActionEventResultEventResultEvent", api.Past(time.Hour))
	require.NoError(t, err)
	assert.Nil(t, nested, "the recursion guard: no ResultEventResultEvent")
}

// MW-11 (test_auto_return_event_middleware_skips_baseevent_returns): a
// handler that returns an event produces no ResultEvent; neither does one
// that returns nil or fails.
func TestAutoReturnSkipsEventsNilAndErrors_MW11(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "AutoReturnSkipBus", api.WithMiddlewares(middleware.AutoReturn()))
	returned, err := api.NewEvent("ReturnedEvent", map[string]any{"value": 7})
	require.NoError(t, err)
	_, err = api.On(bus, func(_ context.Context, e *UserActionEvent) (any, error) {
		switch e.Action {
		case "event":
			return returned, nil
		case "fail":
			return nil, &ValueError{"no"}
		}
		return nil, nil
	})
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []any
	_, err = api.OnType(bus, "UserActionEventResultEvent", func(_ context.Context, ev *api.BaseEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ev.Fields()["data"])
		return nil, nil
	})
	require.NoError(t, err)

	for _, action := range []string{"event", "nil", "fail"} {
		e := &UserActionEvent{Action: action}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		if action == "event" {
			rows := e.Rows()
			require.Len(t, rows, 1)
			assert.Same(t, returned, rows[0].Value(), "the row keeps the returned event")
		}
	}
	require.NoError(t, bus.WaitUntilIdle(ctx))
	mu.Lock()
	assert.Empty(t, seen)
	mu.Unlock()
	found, err := bus.Find(ctx, "UserActionEventResultEvent", api.Past(time.Hour))
	require.NoError(t, err)
	assert.Nil(t, found)
}

// MW-11: "data" is the value as the handler returned it (here a map, the
// same map), emitted as a root event on the same bus.
func TestAutoReturnPayloadIsTheValue_MW11(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "AutoReturnPayloadBus", api.WithMiddlewares(middleware.AutoReturn()))
	value := map[string]any{"total": 42.5, "items": []any{"a", "b"}}
	_, err := api.OnType(bus, "Quote", func(context.Context, *api.BaseEvent) (any, error) { return value, nil })
	require.NoError(t, err)
	got := make(chan *api.BaseEvent, 1)
	_, err = api.OnType(bus, "QuoteResultEvent", func(_ context.Context, ev *api.BaseEvent) (any, error) {
		got <- ev
		return nil, nil
	})
	require.NoError(t, err)
	e, err := api.NewEvent("Quote", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	ev := <-got
	assert.Equal(t, value, ev.Fields()["data"])
	assert.Empty(t, ev.ParentID())
	assert.Equal(t, []string{bus.Label()}, ev.Path())
}

// MW-10 with MW-11 and MW-8: both middlewares on two buses joined by
// forwarding; each bus emits for its own handlers' rows, on itself, and a
// forwarding handler's row (its value is the forwarded event) produces
// nothing.
func TestAutoReturnAndErrorOnForwardedEvent_MW11(t *testing.T) {
	ctx := testCtx(t)
	mws := api.WithMiddlewares(middleware.AutoError(), middleware.AutoReturn())
	a := newBus(t, "AutoFwdA", mws)
	b := newBus(t, "AutoFwdB", mws)
	_, err := a.Forward("*", b)
	require.NoError(t, err)
	_, err = api.On(a, func(context.Context, *UserActionEvent) (any, error) { return "from a", nil })
	require.NoError(t, err)
	_, err = api.On(b, func(context.Context, *UserActionEvent) (any, error) { return nil, &ValueError{"from b"} })
	require.NoError(t, err)

	e := &UserActionEvent{}
	require.NoError(t, a.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, a.WaitUntilIdle(ctx))
	require.NoError(t, b.WaitUntilIdle(ctx))

	types := func(bus *api.Bus) map[string]int {
		out := map[string]int{}
		for _, ev := range bus.History() {
			if ev.Path()[0] == bus.Label() {
				out[ev.Type()]++
			}
		}
		return out
	}
	assert.Equal(t, map[string]int{"UserActionEvent": 1, "UserActionEventResultEvent": 1}, types(a),
		"a's own handler returned a value; its forwarder's row produced nothing")
	assert.Equal(t, map[string]int{"UserActionEventErrorEvent": 1}, types(b), "b's handler failed")
}
