package ringbusotel_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ringbus/ringbus/api"
	ringbusotel "github.com/ringbus/ringbus/middleware/otel"
)

type (
	otOrder struct {
		api.Event[string]
		OID string `json:"oid"`
	}
	otCharge struct {
		api.Event[string]
	}
	otNotify struct {
		api.Event[string]
	}
	otEmpty struct {
		api.Event[string]
	}
)

// harness is a Tracer recording into an in-memory span recorder.
type harness struct {
	rec *tracetest.SpanRecorder
	tp  *sdktrace.TracerProvider
	tr  *ringbusotel.Tracer
}

func newHarness(t *testing.T, opts ...ringbusotel.Option) *harness {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	all := append([]ringbusotel.Option{ringbusotel.WithTracerProvider(tp)}, opts...)
	return &harness{rec: rec, tp: tp, tr: ringbusotel.New(all...)}
}

// bus returns a bus with the harness's Tracer installed.
func (h *harness) bus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	return newBus(t, name, append(h.tr.BusOptions(), opts...)...)
}

func newBus(t *testing.T, name string, opts ...api.Option) *api.Bus {
	t.Helper()
	all := append([]api.Option{api.WithLogger(slog.New(slog.DiscardHandler)), api.WithHistoryDrop(true)}, opts...)
	bus, err := api.NewBus(name, all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settle waits until the buses are idle: by then every event's completion
// has been reported to the middlewares.
func settle(t *testing.T, ctx context.Context, buses ...*api.Bus) {
	t.Helper()
	for _, b := range buses {
		require.NoError(t, b.WaitUntilIdle(ctx))
	}
}

// named returns the ended spans called name.
func (h *harness) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the one ended span called name.
func (h *harness) one(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := h.named(name)
	require.Len(t, spans, 1, "spans named %s", name)
	return spans[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// parentOf asserts that child's parent span is parent.
func parentOf(t *testing.T, parent, child sdktrace.ReadOnlySpan) {
	t.Helper()
	assert.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID(), "%s and %s in one trace", parent.Name(), child.Name())
	assert.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(), "%s is the parent of %s", parent.Name(), child.Name())
}

func assertEmpty(t *testing.T, tr *ringbusotel.Tracer) {
	t.Helper()
	events, rows := tr.Live()
	assert.Zero(t, events, "event spans left in the table")
	assert.Zero(t, rows, "handler spans left in the table")
}

// MW-16: one event with one handler gives an event span and a handler
// span, its child, named and attributed as abxbus 2.4.2 names them.
func TestEventAndHandlerSpans_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelSpans")
	_, err := api.On(bus, func(ctx context.Context, e *otOrder) (string, error) { return "ok:" + e.OID, nil },
		api.WithHandlerName("orders.place"))
	require.NoError(t, err)

	e := &otOrder{OID: "1"}
	require.NoError(t, bus.Emit(ctx, e))
	_, err = e.Result(ctx)
	require.NoError(t, err)
	settle(t, ctx, bus)

	require.Len(t, h.rec.Ended(), 2)
	ev := h.one(t, "abxbus.event.otOrder")
	hs := h.one(t, "abxbus.handler.orders.place")
	assert.False(t, ev.Parent().IsValid(), "a root event emitted with a plain ctx starts a trace")
	parentOf(t, ev, hs)
	assert.Equal(t, ringbusotel.ScopeName, ev.InstrumentationScope().Name)

	assert.Equal(t, map[attribute.Key]string{
		ringbusotel.KindKey:      "event",
		ringbusotel.EventIDKey:   e.ID(),
		ringbusotel.EventTypeKey: "otOrder",
		ringbusotel.BusIDKey:     bus.ID(),
		ringbusotel.BusNameKey:   bus.Label(),
	}, attrs(ev))
	rows := e.Rows()
	require.Len(t, rows, 1)
	assert.Equal(t, map[attribute.Key]string{
		ringbusotel.KindKey:        "handler",
		ringbusotel.EventIDKey:     e.ID(),
		ringbusotel.EventTypeKey:   "otOrder",
		ringbusotel.BusIDKey:       bus.ID(),
		ringbusotel.BusNameKey:     bus.Label(),
		ringbusotel.HandlerIDKey:   rows[0].HandlerID(),
		ringbusotel.HandlerNameKey: "orders.place",
	}, attrs(hs))
	assert.Equal(t, codes.Unset, hs.Status().Code)
	assert.Equal(t, codes.Unset, ev.Status().Code)
	assert.False(t, hs.StartTime().Before(ev.StartTime()), "the handler span starts inside the event span")
	assert.False(t, hs.EndTime().After(ev.EndTime()), "the handler span ends inside the event span")
	assertEmpty(t, h.tr)
}

// MW-16, CHILD-1: a child event's span is a child of the span of the
// handler that emitted it, awaited (run at once) or not, and its handlers'
// spans are children of its span: event, handler, child event, child
// handler form one trace.
func TestChildEventSpanUnderHandlerSpan_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelChildren")
	_, err := api.On(bus, func(context.Context, *otCharge) (string, error) { return "paid", nil },
		api.WithHandlerName("payments.charge"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *otNotify) (string, error) { return "sent", nil },
		api.WithHandlerName("mail.send"))
	require.NoError(t, err)
	var charge *otCharge
	_, err = api.On(bus, func(ctx context.Context, e *otOrder) (string, error) {
		charge = &otCharge{}
		if err := bus.Emit(ctx, charge); err != nil {
			return "", err
		}
		paid, err := charge.Result(ctx) // runs the child now, inside this handler
		if err != nil {
			return "", err
		}
		if err := bus.Emit(ctx, &otNotify{}); err != nil { // not awaited: runs after
			return "", err
		}
		return paid, nil
	}, api.WithHandlerName("orders.place"))
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	settle(t, ctx, bus)

	require.Len(t, h.rec.Ended(), 6)
	order, place := h.one(t, "abxbus.event.otOrder"), h.one(t, "abxbus.handler.orders.place")
	chargeEv, chargeH := h.one(t, "abxbus.event.otCharge"), h.one(t, "abxbus.handler.payments.charge")
	notifyEv, notifyH := h.one(t, "abxbus.event.otNotify"), h.one(t, "abxbus.handler.mail.send")
	parentOf(t, order, place)
	parentOf(t, place, chargeEv)
	parentOf(t, chargeEv, chargeH)
	parentOf(t, place, notifyEv)
	parentOf(t, notifyEv, notifyH)

	require.NotNil(t, charge)
	assert.Equal(t, e.ID(), attrs(chargeEv)[ringbusotel.EventParentIDKey])
	assert.Equal(t, e.ID(), attrs(chargeH)[ringbusotel.EventParentIDKey])
	assert.Equal(t, charge.ID(), attrs(chargeH)[ringbusotel.EventIDKey])
	_, rootHasParent := attrs(order)[ringbusotel.EventParentIDKey]
	assert.False(t, rootHasParent, "a root event has no abxbus.event_parent_id")
	assert.False(t, order.EndTime().Before(chargeEv.EndTime()), "the parent event ends after its child")
	assertEmpty(t, h.tr)
}

// MW-16: the handler's ctx carries its span, so a span the handler starts
// is the handler span's child, and an event emitted with that span's ctx
// is a child of it in turn.
func TestUserSpanNestsUnderHandlerSpan_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelUserSpan")
	_, err := api.On(bus, func(context.Context, *otCharge) (string, error) { return "paid", nil },
		api.WithHandlerName("payments.charge"))
	require.NoError(t, err)
	app := h.tp.Tracer("app")
	var c *otCharge
	_, err = api.On(bus, func(ctx context.Context, e *otOrder) (string, error) {
		assert.True(t, trace.SpanFromContext(ctx).IsRecording(), "the handler's ctx carries a live span")
		wctx, work := app.Start(ctx, "app.work")
		defer work.End()
		c = &otCharge{}
		if err := bus.Emit(wctx, c); err != nil {
			return "", err
		}
		return c.Result(wctx)
	}, api.WithHandlerName("orders.place"))
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	_, err = e.Result(ctx)
	require.NoError(t, err)
	settle(t, ctx, bus)

	place, work := h.one(t, "abxbus.handler.orders.place"), h.one(t, "app.work")
	parentOf(t, h.one(t, "abxbus.event.otOrder"), place)
	parentOf(t, place, work)
	parentOf(t, work, h.one(t, "abxbus.event.otCharge"))
	require.NotNil(t, c)
	assert.Equal(t, e.ID(), c.ParentID(), "emitted with the user span's ctx, still the order's child")
	assertEmpty(t, h.tr)
}

// MW-16: a root event emitted with a ctx carrying the caller's span (an
// HTTP request's, say) is that span's child.
func TestRootEventUnderCallerSpan_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelCaller")
	_, err := api.On(bus, func(context.Context, *otOrder) (string, error) { return "ok", nil })
	require.NoError(t, err)

	rctx, req := h.tp.Tracer("app").Start(ctx, "http.request")
	e := &otOrder{}
	require.NoError(t, bus.Emit(rctx, e))
	_, err = e.Result(ctx)
	require.NoError(t, err)
	req.End()
	settle(t, ctx, bus)

	parentOf(t, h.one(t, "http.request"), h.one(t, "abxbus.event.otOrder"))
	assertEmpty(t, h.tr)
}

// MW-16, ERR-1: a failed handler's span records the error and has status
// Error with the error's text; a panicking handler's too. The event span's
// status is left alone.
func TestFailedHandlerSpanRecordsError_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelErrors")
	_, err := api.On(bus, func(context.Context, *otOrder) (string, error) { return "", errors.New("card declined") },
		api.WithHandlerName("declines"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *otOrder) (string, error) { panic("boom") },
		api.WithHandlerName("panics"))
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	settle(t, ctx, bus)

	declines := h.one(t, "abxbus.handler.declines")
	assert.Equal(t, codes.Error, declines.Status().Code)
	assert.Equal(t, "card declined", declines.Status().Description)
	requireException(t, declines, "card declined")

	panics := h.one(t, "abxbus.handler.panics")
	assert.Equal(t, codes.Error, panics.Status().Code)
	assert.Contains(t, panics.Status().Description, "boom")
	requireException(t, panics, "boom")

	assert.Equal(t, codes.Unset, h.one(t, "abxbus.event.otOrder").Status().Code)
	assertEmpty(t, h.tr)
}

// requireException asserts that s recorded an exception whose message
// contains msg.
func requireException(t *testing.T, s sdktrace.ReadOnlySpan, msg string) {
	t.Helper()
	for _, ev := range s.Events() {
		if ev.Name != "exception" {
			continue
		}
		for _, kv := range ev.Attributes {
			if kv.Key == "exception.message" {
				assert.Contains(t, kv.Value.AsString(), msg)
				return
			}
		}
	}
	t.Fatalf("span %s recorded no exception", s.Name())
}

// MW-16, TIMEOUT-6, MW-7: a handler that outlives its timeout has its span
// ended at the deadline with the timeout recorded, even though it ignores
// its ctx and returns later; a child handler aborted by the cascade records
// its abort; a child handler cancelled before it started gets no span.
func TestTimedOutHandlerSpanRecordsTimeout_MW16(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		h := newHarness(t)
		bus := h.bus(t, "OtelTimeout")
		var returned atomic.Bool
		_, err := api.On(bus, func(hctx context.Context, _ *otOrder) (string, error) {
			c := &otCharge{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			return c.Result(hctx)
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *otCharge) (string, error) {
			time.Sleep(time.Second) // ignores its ctx
			returned.Store(true)
			return "late", nil
		}, api.WithHandlerName("running_child"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *otCharge) (string, error) { return "never", nil },
			api.WithHandlerName("pending_child"))
		require.NoError(t, err)

		e := &otOrder{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		settle(t, ctx, bus)
		require.False(t, returned.Load(), "checked while the child handler still runs")

		parent := h.one(t, "abxbus.handler.parent")
		assert.Equal(t, codes.Error, parent.Status().Code)
		assert.Contains(t, parent.Status().Description, "timed out")
		requireException(t, parent, "timed out")
		assert.Equal(t, 50*time.Millisecond, parent.EndTime().Sub(parent.StartTime()), "ended at the deadline (fake clock)")

		running := h.one(t, "abxbus.handler.running_child")
		assert.Equal(t, codes.Error, running.Status().Code)
		assert.Contains(t, running.Status().Description, "interrupted")
		assert.Empty(t, h.named("abxbus.handler.pending_child"), "a handler cancelled before it started has no span")
		h.one(t, "abxbus.event.otCharge")
		h.one(t, "abxbus.event.otOrder")

		time.Sleep(2 * time.Second) // the ignoring handler returns
		synctest.Wait()
		require.True(t, returned.Load())
		assert.Len(t, h.named("abxbus.handler.running_child"), 1, "ended once")
		assertEmpty(t, h.tr)
	})
}

// MW-16, MW-4: concurrent events with parallel handlers, emitted from
// several goroutines: every event gets one span with exactly its own
// handlers' spans under it, and the table is empty afterwards.
func TestConcurrentEvents_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelConcurrent", api.WithEventConcurrency(api.ParallelEvents),
		api.WithHandlerConcurrency(api.ParallelHandlers))
	for _, name := range []string{"a", "b", "c"} {
		_, err := api.On(bus, func(context.Context, *otOrder) (string, error) { return name, nil }, api.WithHandlerName(name))
		require.NoError(t, err)
	}
	const emitters, per = 4, 50
	var wg sync.WaitGroup
	events := make(chan *otOrder, emitters*per)
	for range emitters {
		wg.Go(func() {
			for range per {
				e := &otOrder{}
				if assert.NoError(t, bus.Emit(ctx, e)) {
					events <- e
				}
			}
		})
	}
	wg.Wait()
	close(events)
	for e := range events {
		require.NoError(t, e.Wait(ctx))
	}
	settle(t, ctx, bus)

	evSpans := h.named("abxbus.event.otOrder")
	require.Len(t, evSpans, emitters*per)
	byID := map[trace.SpanID]string{}
	for _, s := range evSpans {
		byID[s.SpanContext().SpanID()] = attrs(s)[ringbusotel.EventIDKey]
	}
	require.Len(t, byID, emitters*per, "one span per event")
	children := map[trace.SpanID]int{}
	for _, s := range h.rec.Ended() {
		if attrs(s)[ringbusotel.KindKey] != "handler" {
			continue
		}
		id, ok := byID[s.Parent().SpanID()]
		require.True(t, ok, "handler span %s has an event span as parent", s.Name())
		assert.Equal(t, id, attrs(s)[ringbusotel.EventIDKey], "under its own event's span")
		children[s.Parent().SpanID()]++
	}
	for sid, n := range children {
		assert.Equal(t, 3, n, "handler spans under %s", sid)
	}
	assert.Len(t, children, emitters*per)
	assertEmpty(t, h.tr)
}

// MW-16, MW-8: an event forwarded to a second bus with the same Tracer has
// one span, ended once; the handlers of both buses are under it, each span
// naming its own bus.
func TestForwardedEventOneSpan_MW8(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	a, b := h.bus(t, "OtelFwdA"), h.bus(t, "OtelFwdB")
	_, err := a.Forward("*", b)
	require.NoError(t, err)
	_, err = api.On(a, func(context.Context, *otOrder) (string, error) { return "a", nil }, api.WithHandlerName("on_a"))
	require.NoError(t, err)
	_, err = api.On(b, func(context.Context, *otOrder) (string, error) { return "b", nil }, api.WithHandlerName("on_b"))
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, a.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	settle(t, ctx, a, b)

	ev := h.one(t, "abxbus.event.otOrder")
	assert.Equal(t, a.Label(), attrs(ev)[ringbusotel.BusNameKey], "named after the bus that began processing it")
	onA, onB := h.one(t, "abxbus.handler.on_a"), h.one(t, "abxbus.handler.on_b")
	parentOf(t, ev, onA)
	parentOf(t, ev, onB)
	assert.Equal(t, a.Label(), attrs(onA)[ringbusotel.BusNameKey])
	assert.Equal(t, b.Label(), attrs(onB)[ringbusotel.BusNameKey])
	assert.Equal(t, b.ID(), attrs(onB)[ringbusotel.BusIDKey])
	assertEmpty(t, h.tr)
}

// MW-8, MW-16: an event that completes on a bus without the Tracer (so its
// completion is never reported to it) still has its span ended, once, at
// the event's completion time, by the table's sweep.
func TestEventCompletedElsewhereEndedBySweep_MW8(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	a := h.bus(t, "OtelSweepA")
	b := newBus(t, "OtelSweepB") // no tracing
	_, err := a.Forward("*", b)
	require.NoError(t, err)
	release := make(chan struct{})
	_, err = api.On(b, func(context.Context, *otOrder) (string, error) {
		<-release
		return "b", nil
	})
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, a.Emit(ctx, e))
	settle(t, ctx, a) // a is done with it; b holds it
	close(release)
	require.NoError(t, e.Wait(ctx))
	settle(t, ctx, b)

	assert.Empty(t, h.named("abxbus.event.otOrder"), "b completed it and b has no Tracer")
	events, _ := h.tr.Live()
	require.Equal(t, 1, events)
	h.tr.Sweep()
	ev := h.one(t, "abxbus.event.otOrder")
	assert.Equal(t, e.CompletedAt(), ev.EndTime())
	assertEmpty(t, h.tr)
	h.tr.Sweep()
	assert.Len(t, h.named("abxbus.event.otOrder"), 1, "ended once")
}

// MW-16: the table does not grow with traffic, even when every event
// completes where the Tracer is not told of it: the sweeps keep it under
// the sweep size, and every span is ended exactly once.
func TestTableBoundedWithoutCompletionHooks_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	a := h.bus(t, "OtelBoundA")
	b := newBus(t, "OtelBoundB")
	_, err := a.Forward("*", b)
	require.NoError(t, err)
	_, err = api.On(b, func(context.Context, *otOrder) (string, error) { return "b", nil })
	require.NoError(t, err)

	n := 3 * ringbusotel.SweepFloor
	maxLive := 0
	for range n {
		e := &otOrder{}
		require.NoError(t, a.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		events, _ := h.tr.Live()
		maxLive = max(maxLive, events)
	}
	settle(t, ctx, a, b)
	assert.LessOrEqual(t, maxLive, ringbusotel.SweepFloor)
	h.tr.Sweep()
	assertEmpty(t, h.tr)
	spans := h.named("abxbus.event.otOrder")
	require.Len(t, spans, n)
	ids := map[string]bool{}
	for _, s := range spans {
		ids[attrs(s)[ringbusotel.EventIDKey]] = true
	}
	assert.Len(t, ids, n, "each event's span ended once")
}

// MW-16: many events with children leave nothing in the Tracer's tables.
func TestNoSpanLeftAfterTraffic_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelTraffic")
	_, err := api.On(bus, func(context.Context, *otCharge) (string, error) { return "paid", nil })
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *otOrder) (string, error) {
		c := &otCharge{}
		if err := bus.Emit(ctx, c); err != nil {
			return "", err
		}
		return c.Result(ctx)
	})
	require.NoError(t, err)
	const n = 2000
	for range n {
		e := &otOrder{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
	}
	settle(t, ctx, bus)
	assert.Len(t, h.rec.Ended(), 4*n)
	assertEmpty(t, h.tr)
}

// MW-3, MW-16: an event without handlers still gets its span, with no
// handler spans under it.
func TestEventWithoutHandlersHasSpan_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus := h.bus(t, "OtelEmpty")
	e := &otEmpty{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	settle(t, ctx, bus)
	require.Len(t, h.rec.Ended(), 1)
	assert.Equal(t, "abxbus.event.otEmpty", h.rec.Ended()[0].Name())
	assertEmpty(t, h.tr)
}

// STOP-2, MW-16: closing a bus while a handler runs ends the handler's and
// the event's spans; nothing stays in the tables.
func TestCloseEndsSpans_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	bus, err := api.NewBus("OtelClose", h.tr.Option(), api.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	started := make(chan struct{})
	_, err = api.On(bus, func(ctx context.Context, _ *otOrder) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	}, api.WithHandlerName("blocks"))
	require.NoError(t, err)
	e := &otOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	<-started
	require.NoError(t, bus.Close())
	require.NoError(t, e.Wait(ctx))

	hs := h.one(t, "abxbus.handler.blocks")
	assert.Equal(t, codes.Error, hs.Status().Code)
	h.one(t, "abxbus.event.otOrder")
	assertEmpty(t, h.tr)
}

// MW-16: WithAttributes adds attributes to every span, WithRootAttributes
// to root events' spans only, and WithFilter leaves events out with their
// handlers.
func TestAttributesAndFilter_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t,
		ringbusotel.WithAttributes(attribute.String("service", "shop")),
		ringbusotel.WithRootAttributes(attribute.Bool("abxbus.trace.root", true)),
		ringbusotel.WithFilter(func(e *api.BaseEvent) bool { return e.Type() != "otNotify" }),
	)
	bus := h.bus(t, "OtelAttrs")
	_, err := api.On(bus, func(context.Context, *otCharge) (string, error) { return "paid", nil }, api.WithHandlerName("charge"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *otNotify) (string, error) { return "sent", nil }, api.WithHandlerName("notify"))
	require.NoError(t, err)
	_, err = api.On(bus, func(ctx context.Context, e *otOrder) (string, error) {
		c := &otCharge{}
		if err := bus.Emit(ctx, c); err != nil {
			return "", err
		}
		return c.Result(ctx)
	}, api.WithHandlerName("place"))
	require.NoError(t, err)

	e := &otOrder{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	n := &otNotify{}
	require.NoError(t, bus.Emit(ctx, n))
	require.NoError(t, n.Wait(ctx))
	settle(t, ctx, bus)

	assert.Empty(t, h.named("abxbus.event.otNotify"), "filtered out")
	assert.Empty(t, h.named("abxbus.handler.notify"), "with its handlers")
	require.Len(t, h.rec.Ended(), 4)
	for _, s := range h.rec.Ended() {
		assert.Equal(t, "shop", attrs(s)["service"], s.Name())
	}
	assert.Equal(t, "true", attrs(h.one(t, "abxbus.event.otOrder"))["abxbus.trace.root"])
	_, onChild := attrs(h.one(t, "abxbus.event.otCharge"))["abxbus.trace.root"]
	assert.False(t, onChild, "not on a child event's span")
	_, onHandler := attrs(h.one(t, "abxbus.handler.place"))["abxbus.trace.root"]
	assert.False(t, onHandler, "not on handler spans")
	assertEmpty(t, h.tr)
}

// MW-16: with a no-op provider the Tracer installs nothing.
func TestNoopProviderInstallsNothing_MW16(t *testing.T) {
	assert.Empty(t, ringbusotel.New(ringbusotel.WithTracerProvider(noop.NewTracerProvider())).BusOptions())
	np := noop.NewTracerProvider()
	assert.Empty(t, ringbusotel.New(ringbusotel.WithTracerProvider(&np)).BusOptions())
}

// MW-16: a Tracer on otel's global provider records nothing and holds
// nothing while the global provider is unset, and traces once
// otel.SetTracerProvider installs one. (It sets the process's global
// provider, which otel lets a program set only once, so a second run in
// one process skips.)
func TestGlobalProviderSetLater_MW16(t *testing.T) {
	if _, set := otel.GetTracerProvider().(*sdktrace.TracerProvider); set {
		t.Skip("the global provider was set by an earlier run of this test")
	}
	ctx := testCtx(t)
	tr := ringbusotel.New()
	require.Len(t, tr.BusOptions(), 2, "the global provider may be set later: installed")
	bus := newBus(t, "OtelGlobal", tr.BusOptions()...)
	var sawSpan atomic.Bool
	_, err := api.On(bus, func(ctx context.Context, _ *otOrder) (string, error) {
		sawSpan.Store(trace.SpanContextFromContext(ctx).IsValid())
		return "ok", nil
	}, api.WithHandlerName("place"))
	require.NoError(t, err)
	emit := func() {
		e := &otOrder{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		settle(t, ctx, bus)
	}
	for range 10 {
		emit()
	}
	assert.False(t, sawSpan.Load())
	assertEmpty(t, tr)

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)
	emit()
	assert.True(t, sawSpan.Load(), "the handler's ctx carries its span")
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"abxbus.handler.place", "abxbus.event.otOrder"}, names)
	assertEmpty(t, tr)
}

// STOP-2, MW-16: an event left incomplete by a closed bus (queued there
// when it closed) has its span ended when the bus that began it closes,
// marked abxbus.bus_closed; once every bus is closed the Tracer holds
// nothing.
func TestClosedBusesLeaveNoSpans_MW16(t *testing.T) {
	ctx := testCtx(t)
	h := newHarness(t)
	a, b := h.bus(t, "OtelClosedA"), h.bus(t, "OtelClosedB")
	_, err := a.Forward("*", b)
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	_, err = api.On(b, func(ctx context.Context, _ *otOrder) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	}, api.WithHandlerName("blocks"))
	require.NoError(t, err)

	first, second := &otOrder{OID: "1"}, &otOrder{OID: "2"}
	require.NoError(t, a.Emit(ctx, first))
	<-started
	require.NoError(t, a.Emit(ctx, second))
	settle(t, ctx, a) // a has forwarded both; b runs the first, the second waits in its queue
	require.NoError(t, b.Close())
	require.NoError(t, first.Wait(ctx))
	assert.NotEqual(t, api.StatusCompleted, second.Status(), "queued on b when it closed")

	require.NoError(t, a.Close())
	assertEmpty(t, h.tr)
	spans := h.named("abxbus.event.otOrder")
	require.Len(t, spans, 2)
	closed := map[string]bool{}
	for _, s := range spans {
		for _, ev := range s.Events() {
			if ev.Name == "abxbus.bus_closed" {
				closed[attrs(s)[ringbusotel.EventIDKey]] = true
			}
		}
	}
	assert.Equal(t, map[string]bool{second.ID(): true}, closed)
}
