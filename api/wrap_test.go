package api_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

type (
	wrOrder struct {
		api.Event[string]
		OID string `json:"oid"`
	}
	wrChild struct {
		api.Event[string]
	}
	wrKey struct{}
)

// trace returns a wrapper that appends name to *log before and after next.
func trace(mu *sync.Mutex, log *[]string, name string) api.HandlerWrapper {
	return func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) {
			mu.Lock()
			*log = append(*log, name+">")
			mu.Unlock()
			v, err := next(ctx, e)
			mu.Lock()
			*log = append(*log, "<"+name)
			mu.Unlock()
			return v, err
		}
	}
}

// Bus wrappers run outermost, in the order given, then the handler's own,
// then the handler; the handler's value is the result.
func TestWrappersComposeInOrder(t *testing.T) {
	ctx := saCtx(t)
	var mu sync.Mutex
	var log []string
	bus := saBus(t, "WrOrder", api.WithHandlerWrappers(trace(&mu, &log, "a"), trace(&mu, &log, "b")))
	_, err := api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) {
		mu.Lock()
		log = append(log, "handler")
		mu.Unlock()
		return "ok:" + e.OID, nil
	}, api.WithWrappers(trace(&mu, &log, "c")))
	require.NoError(t, err)
	e := &wrOrder{OID: "1"}
	require.NoError(t, bus.Emit(ctx, e))
	r, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ok:1", r)
	assert.Equal(t, []string{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}, log)
}

// A wrapper may pass on a derived ctx: its values reach the handler, and an
// event emitted with it is still a child of the event being handled.
func TestWrapperDerivedContextKeepsHandlerContext_CHILD1(t *testing.T) {
	ctx := saCtx(t)
	withValue := func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) {
			return next(context.WithValue(ctx, wrKey{}, "from-wrapper"), e)
		}
	}
	bus := saBus(t, "WrCtx", api.WithHandlerWrappers(withValue))
	var child *wrChild
	_, err := api.On(bus, func(ctx context.Context, e *wrChild) (string, error) { return "child", nil })
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) {
		child = &wrChild{}
		if err := bus.Emit(ctx, child); err != nil {
			return "", err
		}
		if _, err := child.Result(ctx); err != nil {
			return "", err
		}
		v, _ := ctx.Value(wrKey{}).(string)
		return v, nil
	})
	require.NoError(t, err)
	e := &wrOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	r, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "from-wrapper", r)
	require.NotNil(t, child)
	assert.Equal(t, e.ID(), child.ParentID(), "emitted with the derived ctx, the child is linked")
}

// A wrapper that does not call next decides the result; a wrapper that
// panics fails that handler's result and the bus goes on.
func TestWrapperShortCircuitAndPanic_ERR3(t *testing.T) {
	ctx := saCtx(t)
	deny := errors.New("denied by policy")
	refuse := func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) { return nil, deny }
	}
	boom := func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) { panic("wrapper boom") }
	}
	bus := saBus(t, "WrShort", api.WithLogger(slog.New(slog.DiscardHandler)))
	ran := false
	_, err := api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { ran = true; return "x", nil },
		api.WithWrappers(refuse))
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { return "y", nil },
		api.WithWrappers(boom))
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { return "z", nil })
	require.NoError(t, err)
	e := &wrOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	rows := e.Rows()
	require.Len(t, rows, 3)
	assert.False(t, ran, "the refusing wrapper never called the handler")
	assert.ErrorIs(t, rows[0].Error(), deny)
	assert.ErrorIs(t, rows[1].Error(), api.ErrHandlerPanic)
	assert.NoError(t, rows[2].Error())
	assert.Equal(t, "z", rows[2].Value())

	e2 := &wrOrder{}
	require.NoError(t, bus.Emit(ctx, e2), "the bus goes on after a wrapper panicked")
	require.NoError(t, e2.Wait(ctx))
}

// Bad wrappers are refused at registration or bus creation.
func TestWrapperBadInput(t *testing.T) {
	_, err := api.NewBus("WrNilBus", api.WithHandlerWrappers(nil))
	require.ErrorIs(t, err, api.ErrBadOption)
	bus := saBus(t, "WrBad")
	_, err = api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { return "", nil }, api.WithWrappers(nil))
	require.ErrorIs(t, err, api.ErrBadOption)
	returnsNil := func(api.HandlerFunc) api.HandlerFunc { return nil }
	_, err = api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { return "", nil }, api.WithWrappers(returnsNil))
	require.ErrorIs(t, err, api.ErrBadOption)
	assert.True(t, strings.Contains(err.Error(), "returned nil"), err.Error())
}

type ctxHook struct {
	api.NopMiddleware
	mu        sync.Mutex
	eventVals []string
	rowVals   []string
	rowIsOwn  []bool
}

func (h *ctxHook) OnEventChange(ctx context.Context, _ *api.Bus, _ *api.BaseEvent, _ api.Status) {
	v, _ := ctx.Value(wrKey{}).(string)
	h.mu.Lock()
	h.eventVals = append(h.eventVals, v)
	h.mu.Unlock()
}

func (h *ctxHook) OnResultChange(ctx context.Context, _ *api.Bus, _ *api.BaseEvent, r *api.Result, _ api.Status) {
	v, _ := ctx.Value(wrKey{}).(string)
	h.mu.Lock()
	h.rowVals = append(h.rowVals, v)
	h.rowIsOwn = append(h.rowIsOwn, api.CurrentResult(ctx) == r)
	h.mu.Unlock()
}

// MW-2: hooks receive a ctx with the emitter's values; a row's hooks get the
// handler's own ctx, so CurrentResult(ctx) is that row.
func TestHooksReceiveTheEmittersValues_MW2(t *testing.T) {
	hook := &ctxHook{}
	bus := saBus(t, "WrHookCtx", api.WithMiddlewares(hook))
	_, err := api.On(bus, func(ctx context.Context, e *wrOrder) (string, error) { return "ok", nil })
	require.NoError(t, err)
	ctx := context.WithValue(saCtx(t), wrKey{}, "request-7")
	e := &wrOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	hook.mu.Lock()
	defer hook.mu.Unlock()
	assert.Equal(t, []string{"request-7", "request-7", "request-7"}, hook.eventVals, "pending, started, completed")
	assert.Equal(t, []string{"request-7", "request-7", "request-7"}, hook.rowVals)
	assert.Equal(t, []bool{true, true, true}, hook.rowIsOwn)
}
