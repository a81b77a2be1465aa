package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/api/internal/testtypes/a"
	"github.com/ringbus/ringbus/api/internal/testtypes/b"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// Event types of this file. Their names are process-wide: no other test
// uses them.
type (
	saPing struct {
		api.Event[string]
		N int `json:"n"`
	}
	saUser struct {
		api.Event[string]
		UserID string `json:"user_id"`
		Age    int    `json:"age"`
	}
	saNums struct {
		api.Event[string]
		N   int     `json:"n"`
		U8  uint8   `json:"u8"`
		Big int64   `json:"big"`
		Max uint64  `json:"max"`
		F   float64 `json:"f"`
	}
)

func saBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	bus, err := api.NewBus(name, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	return bus
}

func saCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func saIDs(es []*engine.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID()
	}
	return out
}

// FIND-4: a where predicate over the untyped event (*BaseEvent) sees every
// event, typed or not, through package api as through package engine; a
// typed predicate keeps only events of its own type.
func TestSpecFind4_WhereBaseEventPredicateMatchesEveryEvent_FIND4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "SAWhereBus")
	typed := &saPing{N: 7}
	require.NoError(t, bus.Emit(ctx, typed))
	untyped, err := api.NewEvent("saOther", map[string]any{"k": "v"})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, untyped))
	require.NoError(t, bus.WaitUntilIdle(ctx))

	var apiSeen, engineSeen int
	got, err := bus.Filter(ctx, "*", 10, api.Where(func(e *api.BaseEvent) bool { apiSeen++; return true }))
	require.NoError(t, err)
	assert.Equal(t, []string{untyped.ID(), typed.ID()}, saIDs(got), "api.Where over *BaseEvent")
	want, err := bus.Filter(ctx, "*", 10, engine.Where(func(e *engine.Event) bool { engineSeen++; return true }))
	require.NoError(t, err)
	assert.Equal(t, saIDs(want), saIDs(got), "api.Where and engine.Where agree")
	assert.Equal(t, engineSeen, apiSeen)

	byType, err := bus.Filter(ctx, "*", 10, api.Where(func(e *api.BaseEvent) bool { return e.Type() == "saPing" }))
	require.NoError(t, err)
	assert.Equal(t, []string{typed.ID()}, saIDs(byType))

	onlyPings, err := bus.Filter(ctx, "*", 10, api.Where(func(p *saPing) bool { return p.N == 7 }))
	require.NoError(t, err)
	assert.Equal(t, []string{typed.ID()}, saIDs(onlyPings), "a typed predicate keeps its own type")

	f, err := api.Find[saPing](ctx, bus, api.Where(func(e *api.BaseEvent) bool { return e.ID() == typed.ID() }))
	require.NoError(t, err)
	assert.Same(t, typed, f)
}

// saWarnings is a slog.Handler counting the duplicate-handler warnings.
type saWarnings struct{ n atomic.Int32 }

func (w *saWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *saWarnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && strings.Contains(r.Message, "already registered") {
		w.n.Add(1)
	}
	return nil
}
func (w *saWarnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *saWarnings) WithGroup(string) slog.Handler      { return w }

func saNamedHandler(context.Context, *saPing) (string, error) { return "named", nil }

// REG-8: the duplicate warning is for one handler registered twice under a
// key: the same function value (whose derived name is then the same) or the
// same explicit name. Distinct closures made by one func literal share the
// derived name but are distinct handlers: registering them in a loop must
// not warn. Every handler still runs (REG-5).
func TestSpecReg8_DuplicateWarningOnlyForTheSameHandler_REG8(t *testing.T) {
	ctx := saCtx(t)
	warns := &saWarnings{}
	bus := saBus(t, "SADupWarnBus", api.WithLogger(slog.New(warns)))

	const n = 50
	var ran atomic.Int32
	for i := range n {
		_, err := api.On(bus, func(ctx context.Context, e *saPing) (string, error) {
			ran.Add(1)
			return strconv.Itoa(i), nil
		})
		require.NoError(t, err)
	}
	assert.Equal(t, int32(0), warns.n.Load(), "distinct closures registered in a loop")

	_, err := api.On(bus, saNamedHandler)
	require.NoError(t, err)
	assert.Equal(t, int32(0), warns.n.Load())
	_, err = api.On(bus, saNamedHandler)
	require.NoError(t, err)
	assert.Equal(t, int32(1), warns.n.Load(), "the same function registered twice")

	h := func(ctx context.Context, e *saPing) (string, error) { ran.Add(1); return "same", nil }
	_, err = api.On(bus, h)
	require.NoError(t, err)
	_, err = api.On(bus, h)
	require.NoError(t, err)
	assert.Equal(t, int32(2), warns.n.Load(), "the same closure value registered twice")

	for i := range 2 {
		_, err = api.On(bus, func(ctx context.Context, e *saPing) (string, error) {
			return strconv.Itoa(i), nil
		}, api.WithHandlerName("explicit"))
		require.NoError(t, err)
	}
	assert.Equal(t, int32(3), warns.n.Load(), "the same explicit name twice")

	e := &saPing{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	assert.Equal(t, int32(n+2), ran.Load(), "every registration runs")
}

// REG-1: a typed handler listens to its type's event_type, which defaults
// to the struct name. Two Go types with one name (in two packages) cannot
// share it: the second is refused when declared, registered or emitted,
// with an error matching ErrEventTypeConflict, until it gets a name of its
// own.
func TestSpecReg1_SameStructNameInTwoPackagesIsRefused_REG1(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "SAClashBus")
	_, err := api.On(bus, func(ctx context.Context, e *a.Clash) (string, error) { return "a:" + e.A, nil })
	require.NoError(t, err)

	_, err = api.On(bus, func(ctx context.Context, e *b.Clash) (string, error) { return "b", nil })
	require.ErrorIs(t, err, api.ErrEventTypeConflict, "registering the second type")
	assert.Contains(t, err.Error(), "Clash")
	require.ErrorIs(t, api.Declare[b.Clash](api.TypeOptions{}), api.ErrEventTypeConflict, "declaring it")
	_, err = wire.DeclareFor[b.Clash, string](engine.TypeOptions{})
	require.ErrorIs(t, err, api.ErrEventTypeConflict, "declaring it for the wire")
	require.ErrorIs(t, bus.Emit(ctx, &b.Clash{B: 1}), api.ErrEventTypeConflict, "emitting it")
	_, err = api.Find[b.Clash](ctx, bus)
	require.ErrorIs(t, err, api.ErrEventTypeConflict, "finding it")

	// The first type is untouched.
	ae := &a.Clash{A: "x"}
	require.NoError(t, bus.Emit(ctx, ae))
	r, err := ae.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a:x", r)
	assert.Equal(t, "Clash", ae.Type())

	// A name of its own resolves the clash.
	_, err = api.On(bus, func(ctx context.Context, e *a.Renamed) (string, error) { return "a", nil })
	require.NoError(t, err)
	require.NoError(t, api.Declare[b.Renamed](api.TypeOptions{Name: "b.Renamed"}))
	_, err = api.On(bus, func(ctx context.Context, e *b.Renamed) (string, error) { return "b" + strconv.Itoa(e.B), nil })
	require.NoError(t, err)
	be := &b.Renamed{B: 2}
	require.NoError(t, bus.Emit(ctx, be))
	r, err = be.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "b2", r)
	assert.Equal(t, "b.Renamed", be.Type())
	ar := &a.Renamed{}
	require.NoError(t, bus.Emit(ctx, ar))
	r, err = ar.Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a", r)
}

// REG-1: declaring the two types at once, exactly one gets the name.
func TestSpecReg1_ConcurrentDeclarationsOfOneNameOneWins_REG1(t *testing.T) {
	errs := make(chan error, 2)
	start := make(chan struct{})
	go func() { <-start; errs <- api.Declare[a.Raced](api.TypeOptions{}) }()
	go func() { <-start; errs <- api.Declare[b.Raced](api.TypeOptions{}) }()
	close(start)
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("want exactly one conflict, got %v and %v", e1, e2)
	}
	assert.ErrorIs(t, errors.Join(e1, e2), api.ErrEventTypeConflict)
}

// REG-2: matching is by event_type only, so an untyped event of a declared
// type (api.NewEvent, or decoded without its Go type) reaches the typed
// handlers, which get the payload decoded into their struct; a payload
// field that does not fit is that handler's error, not a panic.
func TestSpecReg2_UntypedEventReachesTypedHandlers_REG2(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "SAUntypedBus")
	var ids atomic.Value
	_, err := api.On(bus, func(ctx context.Context, e *saUser) (string, error) {
		ids.Store(e.ID())
		return e.UserID + "/" + strconv.Itoa(e.Age), nil
	})
	require.NoError(t, err)

	ue, err := api.NewEvent(api.TypeName[saUser](), map[string]any{"user_id": "u-1", "age": 42})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, ue))
	r, err := api.ResultOf[string](ctx, ue)
	require.NoError(t, err)
	assert.Equal(t, "u-1/42", r)
	assert.Equal(t, ue.ID(), ids.Load(), "the typed view carries the event's identity")

	// Decoded without its Go type: numbers are json.Number.
	data, err := wire.Marshal(&saUser{UserID: "u-2", Age: 7})
	require.NoError(t, err)
	dec, err := wire.Decoder{Untyped: true}.Unmarshal(data)
	require.NoError(t, err)
	_, isBase := dec.(*engine.Event)
	require.True(t, isBase)
	require.NoError(t, bus.Emit(ctx, dec))
	r, err = api.ResultOf[string](ctx, dec)
	require.NoError(t, err)
	assert.Equal(t, "u-2/7", r)

	// A typed event of another Go type that took saUser's event_type.
	other := &saPing{N: 1}
	require.NoError(t, other.SetType(api.TypeName[saUser]()))
	require.NoError(t, bus.Emit(ctx, other))
	r, err = api.ResultOf[string](ctx, other)
	require.NoError(t, err)
	assert.Equal(t, "/0", r)

	// Find and Where see the typed view too.
	f, err := api.Find[saUser](ctx, bus, api.Where(func(p *saUser) bool { return p.UserID == "u-1" }))
	require.NoError(t, err)
	require.NotNil(t, f)
	assert.Equal(t, ue.ID(), f.ID())
	assert.Equal(t, 42, f.Age)

	// A field of the wrong type fails the handler with a clear error.
	bad, err := api.NewEvent(api.TypeName[saUser](), map[string]any{"user_id": "u-3", "age": "old"})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, bad))
	_, err = api.ResultOf[string](ctx, bad)
	require.ErrorIs(t, err, api.ErrPayloadType)
	assert.Contains(t, err.Error(), "age")
	rows := bad.Rows()
	require.Len(t, rows, 1)
	assert.Equal(t, api.StatusError, rows[0].Status())
}

// FIND-4: field equality compares numbers as numbers (any Go numeric type,
// json.Number, integers exactly beyond float64 precision, a float equal to
// an integer matches) and statuses by their wire form.
func TestSpecFind4_FieldEqualsComparesValuesNotGoTypes_FIND4(t *testing.T) {
	ctx := saCtx(t)
	bus := saBus(t, "SAFieldEqBus")
	const big = int64(1)<<53 + 1 // not representable as a float64
	typed := &saNums{N: 3, U8: 200, Big: big, Max: math.MaxUint64, F: 2.5}
	require.NoError(t, bus.Emit(ctx, typed))
	require.NoError(t, typed.Wait(ctx))

	found := func(opts ...api.FindOption) bool {
		t.Helper()
		f, err := api.Find[saNums](ctx, bus, opts...)
		require.NoError(t, err)
		return f == typed
	}
	for _, v := range []any{3, int64(3), int8(3), uint(3), 3.0, float32(3), json.Number("3"), json.Number("3.0"), json.Number("3e0")} {
		assert.True(t, found(api.FieldEquals("n", v)), "n == %T(%v)", v, v)
	}
	for _, v := range []any{4, 3.5, json.Number("3.5"), "3", nil, true} {
		assert.False(t, found(api.FieldEquals("n", v)), "n != %T(%v)", v, v)
	}
	assert.True(t, found(api.FieldEquals("u8", 200)))
	assert.True(t, found(api.FieldEquals("big", big)))
	assert.True(t, found(api.FieldEquals("big", json.Number("9007199254740993"))))
	assert.False(t, found(api.FieldEquals("big", big-1)))
	assert.False(t, found(api.FieldEquals("big", float64(big))), "float64(2^53+1) is 2^53")
	assert.False(t, found(api.FieldEquals("big", json.Number("9007199254740992"))))
	assert.True(t, found(api.FieldEquals("max", uint64(math.MaxUint64))))
	assert.True(t, found(api.FieldEquals("max", json.Number("18446744073709551615"))))
	assert.False(t, found(api.FieldEquals("max", -1)))
	assert.False(t, found(api.FieldEquals("max", float64(math.MaxUint64))), "2^64 as a float")
	assert.True(t, found(api.FieldEquals("f", 2.5)))
	assert.True(t, found(api.FieldEquals("f", float32(2.5))))
	assert.True(t, found(api.FieldEquals("f", json.Number("2.50"))))
	assert.False(t, found(api.FieldEquals("f", 2)))

	assert.True(t, found(api.FieldEquals("event_status", api.StatusCompleted)))
	assert.True(t, found(api.FieldEquals("event_status", "completed")))
	assert.False(t, found(api.FieldEquals("event_status", api.StatusPending)))

	// An untyped event decoded from JSON holds json.Number values.
	dec, err := wire.Decoder{Untyped: true}.Unmarshal([]byte(`{"event_type":"saDecodedNums","n":5,"x":1.25,"huge":123456789012345678901234567890}`))
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, dec))
	findDec := func(opts ...api.FindOption) bool {
		t.Helper()
		f, err := bus.Find(ctx, "saDecodedNums", opts...)
		require.NoError(t, err)
		return f == engine.Core(dec)
	}
	assert.True(t, findDec(api.FieldEquals("n", 5)))
	assert.True(t, findDec(api.FieldEquals("n", 5.0)))
	assert.True(t, findDec(api.FieldEquals("n", uint16(5))))
	assert.False(t, findDec(api.FieldEquals("n", 6)))
	assert.True(t, findDec(api.FieldEquals("x", 1.25)))
	assert.True(t, findDec(api.FieldEquals("huge", json.Number("123456789012345678901234567890"))))
	assert.True(t, findDec(api.FieldEquals("huge", json.Number("1.23456789012345678901234567890e29"))))
	assert.False(t, findDec(api.FieldEquals("huge", 1.2345678901234568e29)), "a float near a huge integer is not it")
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.True(t, findDec(api.FieldEquals("event_status", api.StatusCompleted)))
}
