package middleware_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
	"github.com/ringbus/ringbus/wire"
)

// MW-12 (test_auto_handler_change_event_middleware_emits_registered_and_unregistered):
// registering and removing a handler emit BusHandlerRegisteredEvent and
// BusHandlerUnregisteredEvent whose handler has the bus's id and name and
// the pattern "UserActionEvent"; the listeners' own registrations produce
// events too.
func TestAutoHandlerChangeEmitsRegisteredAndUnregistered_MW12(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "HandlerChangeBus", api.WithMiddlewares(middleware.AutoHandlerChange()))
	var mu sync.Mutex
	var registered, unregistered []middleware.HandlerInfo
	onReg, err := api.On(bus, func(_ context.Context, e *middleware.BusHandlerRegisteredEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		registered = append(registered, e.Handler)
		return nil, nil
	})
	require.NoError(t, err)
	_, err = api.On(bus, func(_ context.Context, e *middleware.BusHandlerUnregisteredEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		unregistered = append(unregistered, e.Handler)
		return nil, nil
	})
	require.NoError(t, err)

	target, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, nil },
		api.WithHandlerName("target_handler"))
	require.NoError(t, err)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	target.Off()
	require.NoError(t, bus.WaitUntilIdle(ctx))

	mu.Lock()
	defer mu.Unlock()
	find := func(list []middleware.HandlerInfo, id string) *middleware.HandlerInfo {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
		return nil
	}
	reg := find(registered, target.ID())
	require.NotNil(t, reg, "BusHandlerRegisteredEvent for the target")
	assert.Equal(t, bus.ID(), reg.BusID)
	assert.Equal(t, bus.Name(), reg.BusName)
	assert.Equal(t, "UserActionEvent", reg.Pattern)
	assert.Equal(t, "target_handler", reg.Name)
	assert.Equal(t, target.RegisteredAt().Std(), reg.RegisteredAt)
	assert.Same(t, target, reg.Handler(), "the handler itself, in this process")
	unreg := find(unregistered, target.ID())
	require.NotNil(t, unreg, "BusHandlerUnregisteredEvent for the target")
	assert.Equal(t, "UserActionEvent", unreg.Pattern)
	assert.NotNil(t, find(registered, onReg.ID()), "the listener's own registration produces one")
}

// MW-12, WIRE-21: the handler field is the EventHandler JSON, exactly as a
// bus snapshot writes the handler, timeouts and file path included, and it
// reads back.
func TestHandlerInfoJSONIsTheSnapshotJSON_MW12(t *testing.T) {
	ctx := testCtx(t)
	bus := newBus(t, "HandlerInfoBus", api.WithMiddlewares(middleware.AutoHandlerChange()))
	got := make(chan *middleware.BusHandlerRegisteredEvent, 8)
	_, err := api.On(bus, func(_ context.Context, e *middleware.BusHandlerRegisteredEvent) (any, error) {
		got <- e
		return nil, nil
	})
	require.NoError(t, err)
	plain, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	timed, err := api.OnType(bus, "*", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil },
		api.WithHandlerName(`odd "name"`), api.WithHandlerTimeout(1500*time.Millisecond), api.WithHandlerSlowTimeout(0))
	require.NoError(t, err)
	require.NoError(t, bus.WaitUntilIdle(ctx))

	snap, err := wire.MarshalBus(bus, wire.Encoder{})
	require.NoError(t, err)
	var dump struct {
		Handlers map[string]json.RawMessage `json:"handlers"`
	}
	require.NoError(t, json.Unmarshal(snap, &dump))
	for _, h := range []*api.Handler{plain, timed} {
		data, err := json.Marshal(middleware.HandlerInfoOf(h))
		require.NoError(t, err)
		assert.Equal(t, string(dump.Handlers[h.ID()]), string(data), "the snapshot's bytes for %s", h.Name())

		var back middleware.HandlerInfo
		require.NoError(t, json.Unmarshal(data, &back))
		again, err := json.Marshal(back)
		require.NoError(t, err)
		assert.Equal(t, string(data), string(again), "reads back")
		assert.Nil(t, back.Handler(), "a decoded description has no handler")
	}
	info := middleware.HandlerInfoOf(timed)
	require.NotNil(t, info.Timeout)
	assert.Equal(t, 1500*time.Millisecond, *info.Timeout)
	require.NotNil(t, info.SlowTimeout)
	assert.Equal(t, time.Duration(0), *info.SlowTimeout)
	assert.Equal(t, "*", info.Pattern)
	assert.Nil(t, middleware.HandlerInfoOf(plain).Timeout)

	// The event as the wire writes it carries the same object.
	close(got)
	for e := range got {
		if e.Handler.ID != timed.ID() {
			continue
		}
		data, err := wire.Marshal(e)
		require.NoError(t, err)
		assert.Contains(t, string(data), `"event_type":"BusHandlerRegisteredEvent"`)
		assert.Contains(t, string(data), `"handler":`+string(dump.Handlers[timed.ID()]))
		return
	}
	t.Fatal("no BusHandlerRegisteredEvent for the timed handler")
}

// MW-12: removing handlers while the bus closes does not fail or log above
// Debug: the events are dropped.
func TestAutoHandlerChangeOnClosedBus_MW12(t *testing.T) {
	logs := &recorder{level: slog.LevelInfo}
	bus, err := api.NewBus("HandlerChangeClosedBus", api.WithMiddlewares(middleware.AutoHandlerChange()), api.WithLogger(slog.New(logs)))
	require.NoError(t, err)
	h, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	require.NoError(t, bus.Close())
	h.Off()
	for _, r := range logs.records("") {
		assert.False(t, strings.HasPrefix(r.msg, "ringbus: auto"), "logged: %s", r.msg)
	}
}

// MW-12: the handler JSON carries UUIDs; a description whose ids are not
// UUIDs does not encode.
func TestHandlerInfoJSONNeedsUUIDs_MW12(t *testing.T) {
	_, err := json.Marshal(middleware.HandlerInfo{ID: "not-a-uuid", BusID: "01a2191e-21c0-76fc-97fc-8fd797d00b3b"})
	require.ErrorContains(t, err, "handler id")
	_, err = json.Marshal(middleware.HandlerInfo{ID: "58ccf7af-eed9-5e92-9605-14a07afa073b", BusID: "bus"})
	require.ErrorContains(t, err, "eventbus_id")
}
