package api_test

// Regression tests for defects a review found in this session's changes:
// views of untyped events (REG-2), the duplicate-handler warning for method
// values (REG-8), the queue gate on refused emits (EMIT-2, REG-1), EmitFirst
// on a failed emit (FIRST-5), FieldEquals edge cases (FIND-4), ChildOf(nil)
// (FIND-5) and generic event types (EVT-1).

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/api/internal/testtypes/a"
	"github.com/ringbus/ringbus/api/internal/testtypes/b"
	"github.com/ringbus/ringbus/engine"
)

type (
	rfOrder struct {
		api.Event[string]
		OID string `json:"oid"`
		Qty int    `json:"qty"`
	}
	rfSvc        struct{}
	rfGen[T any] struct {
		api.Event[string]
		V T `json:"v"`
	}
	rfFields struct {
		api.Event[string]
		P   *int    `json:"p"`
		F32 float32 `json:"f32"`
		Any any     `json:"any"`
	}
)

func (rfSvc) Handle(ctx context.Context, e *rfOrder) (string, error) { return "svc", nil }

// REG-2: Find returns a view of an untyped event, and waiting on the view
// and reading its result act on the event itself.
func TestReviewViewFindIsAwaitable_REG2_FIND6(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "RFViewFind")
	release := make(chan struct{})
	_, err := api.On(bus, func(ctx context.Context, e *rfOrder) (string, error) {
		<-release
		return "done:" + e.OID, nil
	})
	require.NoError(t, err)
	ue, err := api.NewEvent(api.TypeName[rfOrder](), map[string]any{"oid": "o1", "qty": 2})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, ue))

	f, err := api.Find[rfOrder](ctx, bus)
	require.NoError(t, err)
	require.NotNil(t, f)
	assert.Equal(t, ue.ID(), f.ID())
	assert.Equal(t, "o1", f.OID)
	close(release)
	r, err := f.Result(ctx)
	require.NoError(t, err, "REG-2: the view's Result is the event's")
	assert.Equal(t, "done:o1", r)
	assert.Len(t, f.Rows(), 1, "the view's rows are the event's")
	select {
	case <-f.Done():
	default:
		t.Fatal("the view's Done is the event's, which has completed")
	}

	past, err := api.Find[rfOrder](ctx, bus)
	require.NoError(t, err)
	r, err = past.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "done:o1", r)
}

// REG-2: a typed handler that forwards the view it was given forwards the
// event itself: one event, one id, on both buses.
func TestReviewViewForwardEmitsTheEvent_REG2_FWD1(t *testing.T) {
	ctx := saCtx(t)
	src := saBus(t, "RFViewSrc", api.WithHistoryDrop(true))
	dst := saBus(t, "RFViewDst", api.WithHistoryDrop(true))
	_, err := api.On(src, func(ctx context.Context, e *rfOrder) (string, error) {
		return "", dst.Emit(ctx, e)
	})
	require.NoError(t, err)
	var saw atomic.Int32
	_, err = api.On(dst, func(ctx context.Context, e *rfOrder) (string, error) {
		saw.Add(1)
		return "dst:" + e.OID, nil
	})
	require.NoError(t, err)
	ue, err := api.NewEvent(api.TypeName[rfOrder](), map[string]any{"oid": "o2", "qty": 2})
	require.NoError(t, err)
	require.NoError(t, src.Emit(ctx, ue))
	require.NoError(t, ue.Wait(ctx))
	require.NoError(t, dst.WaitUntilIdle(ctx))

	found, err := dst.Find(ctx, "*")
	require.NoError(t, err)
	require.NotNil(t, found)
	assert.Same(t, engine.Core(ue), found, "the event itself reached the other bus, not a copy with its id")
	assert.Empty(t, found.ParentID(), "not a child of itself")
	assert.Len(t, ue.Path(), 2, "the event's path names both buses")
	assert.Equal(t, int32(1), saw.Load())
	assert.Len(t, ue.Rows(), 2, "both buses' rows are on the event")
}

// REG-8: a method value registered twice is one handler registered twice
// (each evaluation of s.Handle makes a new func value, but its name is the
// method's), so it warns, like a plain function registered twice.
func TestReviewDuplicateWarningForMethodValues_REG8(t *testing.T) {
	warns := &saWarnings{}
	bus := saBus(t, "RFDupMethod", api.WithLogger(slog.New(warns)))
	s := rfSvc{}
	_, err := api.On(bus, s.Handle)
	require.NoError(t, err)
	_, err = api.On(bus, s.Handle)
	require.NoError(t, err)
	assert.Equal(t, int32(1), warns.n.Load(), "the second registration of a method value warns")
	for i := range 5 { // distinct closures of one literal still do not warn
		_, err := api.On(bus, func(ctx context.Context, e *rfOrder) (string, error) { return e.OID + string(rune('a'+i)), nil })
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), warns.n.Load())
}

// EMIT-2, REG-1: an Emit refused because its type's name belongs to
// another Go type gives back the queue place it took.
func TestReviewRefusedEmitReleasesQueuePlace_EMIT2_REG1(t *testing.T) {
	ctx := saCtx(t)
	_, err := api.On(saBus(t, "RFGateOwner"), func(ctx context.Context, e *a.Clash) (string, error) { return "", nil })
	require.NoError(t, err)
	bus := saBus(t, "RFGate", api.WithMaxQueue(2), api.WithQueueFullPolicy(api.QueueReject), api.WithHistoryDrop(true))
	for range 5 {
		require.ErrorIs(t, bus.Emit(ctx, &b.Clash{}), api.ErrEventTypeConflict)
	}
	e := &saPing{N: 1}
	require.NoError(t, bus.Emit(ctx, e), "the refused emits left the queue's places free")
	require.NoError(t, e.Wait(ctx))
}

// FIRST-5: EmitFirst on a bus that refuses the event leaves the event's
// completion mode as it was.
func TestReviewEmitFirstFailureKeepsMode_FIRST5(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "RFEmitFirstClosed")
	require.NoError(t, bus.Close())
	e := &saPing{N: 1}
	before := e.Completion()
	_, err := api.EmitFirst(ctx, bus, e)
	require.ErrorIs(t, err, api.ErrBusClosed)
	assert.Equal(t, before, e.Completion())
	assert.NotEqual(t, api.CompleteFirst, e.Completion())
}

// FIND-4: FieldEquals edge cases: a number with a huge exponent is compared
// without building it (bounded memory), text that is not a JSON number
// matches nothing, float32 fields compare as they read on the wire,
// pointers by what they point to, event_timeout by seconds, and a field
// holding an uncomparable value does not panic.
func TestReviewFieldEqualsEdgeCases_FIND4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "RFFieldEq", api.WithHistoryDrop(true))
	huge, err := api.NewEvent("RFHuge", map[string]any{"n": json.Number("1e999999"), "m": json.Number("16")})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, huge))
	five := 5
	typed := &rfFields{P: &five, F32: 0.1, Any: []string{"x"}}
	typed.SetTimeout(5 * time.Second)
	require.NoError(t, bus.Emit(ctx, typed))
	require.NoError(t, bus.WaitUntilIdle(ctx))

	filter := func(name string, v any) int {
		t.Helper()
		es, err := bus.Filter(ctx, "*", 100, api.FieldEquals(name, v))
		require.NoError(t, err)
		return len(es)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for range 20 {
		assert.Equal(t, 0, filter("n", 1))
		assert.Equal(t, 1, filter("n", json.Number("10e999998")), "equal huge values match")
	}
	runtime.ReadMemStats(&ms)
	assert.Less(t, ms.TotalAlloc-before, uint64(4<<20), "comparing 1e999999 must not build a megabyte-sized number")

	for _, bad := range []string{"0x10", "+16", "016", "1/2", "16.", ".5"} {
		assert.Equal(t, 0, filter("m", json.Number(bad)), "%q is not a JSON number", bad)
	}
	assert.Equal(t, 1, filter("m", json.Number("1.6e1")))
	assert.Equal(t, 1, filter("f32", 0.1), "float32(0.1) is 0.1 on the wire")
	assert.Equal(t, 1, filter("p", 5), "a *int holding 5 is 5 on the wire")
	assert.Equal(t, 1, filter("event_timeout", 5), "event_timeout is seconds on the wire")
	assert.Equal(t, 1, filter("event_timeout", 5*time.Second))
	assert.NotPanics(t, func() { assert.Equal(t, 0, filter("any", "x")) })
	assert.Equal(t, 1, filter("any", []string{"x"}))
}

// FIND-5: ChildOf(nil) keeps nothing (there is no such ancestor); it used
// to drop the filter and return any event.
func TestReviewChildOfNilMatchesNothing_FIND5(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "RFChildNil")
	require.NoError(t, bus.Emit(ctx, &saPing{N: 1}))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	var none *rfOrder
	f, err := bus.Find(ctx, "*", api.ChildOf(none))
	require.NoError(t, err)
	assert.Nil(t, f)
}

// EVT-1: a generic event type gets the same event_type whether a handler
// is registered before its first Emit or after.
func TestReviewGenericTypeNameBeforeEmit_EVT1(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "RFGeneric")
	_, err := api.On(bus, func(ctx context.Context, e *rfGen[int]) (string, error) { return "gen", nil })
	require.NoError(t, err, "On before any Emit of a generic type")
	e := &rfGen[int]{V: 3}
	require.NoError(t, bus.Emit(ctx, e))
	r, err := e.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "gen", r)
	assert.Equal(t, e.Type(), api.TypeName[rfGen[int]]())
}

// TIMEOUT-6: a handler timeout matches context.DeadlineExceeded, as the
// handler's ctx.Err() does, and ErrHandlerTimeout.
func TestHandlerTimeoutMatchesDeadlineExceeded_TIMEOUT6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, err := api.NewBus("RFTimeoutDeadline", api.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		defer func() { _ = bus.Close() }()
		h, err := api.On(bus, func(ctx context.Context, e *rfOrder) (string, error) {
			<-ctx.Done()
			return "late", nil // returns no error of its own
		}, api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		e := &rfOrder{OID: "t"}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		var rowErr error
		for _, r := range e.Rows() {
			if r.HandlerID() == h.ID() {
				rowErr = r.Error()
			}
		}
		require.Error(t, rowErr)
		assert.ErrorIs(t, rowErr, api.ErrHandlerTimeout)
		assert.ErrorIs(t, rowErr, context.DeadlineExceeded)
		var te *api.HandlerTimeoutError
		assert.ErrorAs(t, rowErr, &te)
	})
}
