package ringbusprom_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	ringbusprom "github.com/ringbus/ringbus/middleware/prometheus"
)

type (
	pmOrder struct {
		api.Event[string]
		ID string `json:"id"`
	}
	pmChild struct {
		api.Event[string]
	}
)

var errDeclined = errors.New("card declined")

func newCollector(t *testing.T, opts ...ringbusprom.Option) *ringbusprom.Collector {
	t.Helper()
	c, err := ringbusprom.New(opts...)
	require.NoError(t, err)
	return c
}

// newBus returns a bus observed by c, in a domain of its own (so that its
// name is its own), closed when the test ends.
func newBus(t *testing.T, name string, c *ringbusprom.Collector, opts ...api.Option) *api.Bus {
	t.Helper()
	base := []api.Option{api.WithDomain(api.NewDomain()), api.WithLogger(slog.New(slog.DiscardHandler))}
	if c != nil {
		base = append(base, api.WithMiddlewares(c))
	}
	bus, err := api.NewBus(name, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// gather scrapes c on a pedantic registry, which also checks that the
// collector's metrics are consistent with its descriptions and unique.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// find returns the metric of family name whose labels are exactly labels
// (name=value pairs), or nil.
func find(t *testing.T, c prometheus.Collector, name string, labels ...string) *dto.Metric {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	mf := gather(t, c)[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// counter returns the value of a counter series, 0 when it is absent.
func counter(t *testing.T, c prometheus.Collector, name string, labels ...string) float64 {
	t.Helper()
	if m := find(t, c, name, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// runs returns the sample count of a handler's duration histogram.
func runs(t *testing.T, c prometheus.Collector, eventType, handler string) uint64 {
	t.Helper()
	m := find(t, c, "ringbus_handler_duration_seconds", "event_type", eventType, "handler", handler)
	require.NotNil(t, m, "no duration series for %s/%s", eventType, handler)
	return m.GetHistogram().GetSampleCount()
}

// MW-1, MW-2: events that succeed and events whose handler fails, counted
// by event type and status, with one duration sample per handler run.
func TestCountsCompletedAndFailedEvents_MW1(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromShop", c)
	_, err := api.On(bus, func(_ context.Context, o *pmOrder) (string, error) {
		if o.ID == "bad" {
			return "", errDeclined
		}
		return "ok " + o.ID, nil
	}, api.WithHandlerName("charge"))
	require.NoError(t, err)
	for _, id := range []string{"1", "bad", "2", "bad", "3"} {
		o := &pmOrder{ID: id}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
	}
	typ := api.TypeName[pmOrder]()

	expected := fmt.Sprintf(`
# HELP ringbus_events_completed_total Events completed, children included; status is failed when a handler row of the event ended with an error (a loser of a first-result race is not an error).
# TYPE ringbus_events_completed_total counter
ringbus_events_completed_total{event_type=%[1]q,status="completed"} 3
ringbus_events_completed_total{event_type=%[1]q,status="failed"} 2
# HELP ringbus_events_started_total Events a bus began processing, counted once per event on the first bus that processes it.
# TYPE ringbus_events_started_total counter
ringbus_events_started_total{event_type=%[1]q} 5
# HELP ringbus_handler_errors_total Handler rows that ended with an error: returned, panicked, timed out, aborted or cancelled (a loser of a first-result race is not counted).
# TYPE ringbus_handler_errors_total counter
ringbus_handler_errors_total{event_type=%[1]q,handler="charge"} 2
# HELP ringbus_handler_timeouts_total Handler rows that ended because the handler exceeded its own timeout.
# TYPE ringbus_handler_timeouts_total counter
ringbus_handler_timeouts_total{event_type=%[1]q,handler="charge"} 0
`, typ)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected),
		"ringbus_events_started_total", "ringbus_events_completed_total",
		"ringbus_handler_errors_total", "ringbus_handler_timeouts_total"))
	assert.Equal(t, uint64(5), runs(t, c, typ, "charge"))
	assert.Zero(t, testutil.CollectAndCount(c, "ringbus_handler_cancellations_total"), "a handler's own error is no cancellation")
}

// TIMEOUT-6, MW-7: a handler that exceeds its own timeout is counted as a
// timeout of that handler and a cancellation with cause handler_timeout;
// the next handler still runs.
func TestCountsHandlerTimeout_TIMEOUT6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newCollector(t)
		bus := newBus(t, "PromTimeout", c)
		_, err := api.On(bus, func(hctx context.Context, _ *pmOrder) (string, error) {
			<-hctx.Done()
			return "", hctx.Err()
		}, api.WithHandlerName("slow"), api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *pmOrder) (string, error) { return "fast", nil },
			api.WithHandlerName("fast"))
		require.NoError(t, err)
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
		typ := api.TypeName[pmOrder]()

		assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_timeouts_total", "event_type", typ, "handler", "slow"))
		assert.Equal(t, 0.0, counter(t, c, "ringbus_handler_timeouts_total", "event_type", typ, "handler", "fast"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_errors_total", "event_type", typ, "handler", "slow"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_cancellations_total", "event_type", typ, "cause", "handler_timeout"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "failed"))
		assert.Equal(t, uint64(1), runs(t, c, typ, "slow"))
		assert.Equal(t, uint64(1), runs(t, c, typ, "fast"))
	})
}

// TIMEOUT-5: at an event's timeout its running handler is aborted and its
// pending one cancelled, both counted with cause event_timeout; neither is a
// handler timeout.
func TestCountsEventTimeout_TIMEOUT5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newCollector(t)
		bus := newBus(t, "PromEventTimeout", c, api.WithEventTimeout(20*time.Millisecond))
		_, err := api.On(bus, func(hctx context.Context, _ *pmOrder) (string, error) {
			<-hctx.Done()
			return "", hctx.Err()
		}, api.WithHandlerName("running"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *pmOrder) (string, error) { return "never", nil },
			api.WithHandlerName("pending"))
		require.NoError(t, err)
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
		typ := api.TypeName[pmOrder]()

		assert.Equal(t, 2.0, counter(t, c, "ringbus_handler_cancellations_total", "event_type", typ, "cause", "event_timeout"))
		assert.Equal(t, 0.0, counter(t, c, "ringbus_handler_timeouts_total", "event_type", typ, "handler", "running"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_errors_total", "event_type", typ, "handler", "pending"))
		assert.Equal(t, uint64(1), runs(t, c, typ, "running"))
		assert.Equal(t, uint64(0), runs(t, c, typ, "pending"), "a handler that never started has no duration")
		assert.Equal(t, 1.0, counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "failed"))
	})
}

// FIRST-2, MW-7: in first mode the handler after the winner is cancelled:
// counted as a first_result cancellation, but neither a handler error nor a
// failure of the event, which got its result.
func TestCountsFirstModeCancellation_FIRST2(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromFirst", c)
	_, err := api.On(bus, func(context.Context, *pmOrder) (string, error) { return "won", nil },
		api.WithHandlerName("winner"))
	require.NoError(t, err)
	_, err = api.On(bus, func(context.Context, *pmOrder) (string, error) { return "lost", nil },
		api.WithHandlerName("loser"))
	require.NoError(t, err)
	o := &pmOrder{}
	v, err := api.EmitFirst(ctx, bus, o)
	require.NoError(t, err)
	require.Equal(t, "won", v)
	require.NoError(t, o.Wait(ctx))
	require.ErrorIs(t, o.Rows()[1].Error(), api.ErrHandlerCancelled)
	typ := api.TypeName[pmOrder]()

	assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_cancellations_total", "event_type", typ, "cause", "first_result"))
	assert.Equal(t, 0.0, counter(t, c, "ringbus_handler_errors_total", "event_type", typ, "handler", "loser"))
	assert.Equal(t, 1.0, counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "completed"))
	assert.Equal(t, 0.0, counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "failed"))
	held, _ := c.UnreportedFailures()
	assert.Zero(t, held)
}

// CANCEL-2: a parent handler that times out while awaiting a child aborts
// the child's running handler and cancels its pending one: both counted
// under the child's type with cause parent_timeout.
func TestCountsParentFailure_CANCEL2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newCollector(t)
		bus := newBus(t, "PromCascade", c)
		_, err := api.On(bus, func(hctx context.Context, _ *pmOrder) (string, error) {
			child := &pmChild{}
			if err := bus.Emit(hctx, child); err != nil {
				return "", err
			}
			return "", child.Now(hctx)
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(hctx context.Context, _ *pmChild) (string, error) {
			<-hctx.Done()
			return "", hctx.Err()
		}, api.WithHandlerName("running_child"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *pmChild) (string, error) { return "never", nil },
			api.WithHandlerName("pending_child"))
		require.NoError(t, err)
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		parent, child := api.TypeName[pmOrder](), api.TypeName[pmChild]()

		assert.Equal(t, 1.0, counter(t, c, "ringbus_handler_timeouts_total", "event_type", parent, "handler", "parent"))
		assert.Equal(t, 2.0, counter(t, c, "ringbus_handler_cancellations_total", "event_type", child, "cause", "parent_timeout"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_events_completed_total", "event_type", child, "status", "failed"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_events_completed_total", "event_type", parent, "status", "failed"))
		assert.Equal(t, 1.0, counter(t, c, "ringbus_events_started_total", "event_type", child))
	})
}

// The label limits: event types beyond the limit are counted under
// event_type="other", handlers beyond theirs under handler="other", and
// the number of series stays put however many more types arrive. A type
// really named "other" shares the overflow series instead of duplicating
// it.
func TestLabelLimits(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t, ringbusprom.WithMaxEventTypes(2), ringbusprom.WithMaxHandlers(2))
	bus := newBus(t, "PromLimits", c)
	emit := func(types ...string) {
		for _, typ := range types {
			_, err := api.OnType(bus, typ, func(context.Context, *api.BaseEvent) (any, error) { return nil, nil },
				api.WithHandlerName("h_"+typ))
			require.NoError(t, err)
			e, err := api.NewEvent(typ, nil)
			require.NoError(t, err)
			require.NoError(t, bus.Emit(ctx, e))
			require.NoError(t, e.Wait(ctx))
		}
	}
	emit("TypeA", "TypeB", "TypeC", "TypeD")

	assert.Equal(t, 1.0, counter(t, c, "ringbus_events_started_total", "event_type", "TypeA"))
	assert.Equal(t, 1.0, counter(t, c, "ringbus_events_started_total", "event_type", "TypeB"))
	assert.Equal(t, 2.0, counter(t, c, "ringbus_events_started_total", "event_type", "other"))
	assert.Equal(t, 2.0, counter(t, c, "ringbus_events_completed_total", "event_type", "other", "status", "completed"))
	assert.Equal(t, uint64(1), runs(t, c, "TypeA", "h_TypeA"))
	assert.Equal(t, uint64(2), runs(t, c, "other", "other"), "the two handlers beyond the limit")
	assert.Equal(t, 3, testutil.CollectAndCount(c, "ringbus_events_started_total"))
	assert.Equal(t, 3, testutil.CollectAndCount(c, "ringbus_handler_duration_seconds"))

	emit("TypeE", "TypeF", "other", "TypeG")
	assert.Equal(t, 3, testutil.CollectAndCount(c, "ringbus_events_started_total"), "no new series")
	assert.Equal(t, 3, testutil.CollectAndCount(c, "ringbus_handler_duration_seconds"), "no new series")
	assert.Equal(t, 6.0, counter(t, c, "ringbus_events_started_total", "event_type", "other"))
	assert.Equal(t, uint64(6), runs(t, c, "other", "other"))
}

// A handler for every event ("*") gets one series per event type it
// handled, within the handler limit.
func TestWildcardHandlerSeriesPerType(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromWildcard", c)
	_, err := api.OnAll(bus, func(context.Context, *api.BaseEvent) (any, error) { return nil, nil },
		api.WithHandlerName("audit"))
	require.NoError(t, err)
	for _, typ := range []string{"Signup", "Login", "Login"} {
		e, err := api.NewEvent(typ, nil)
		require.NoError(t, err)
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
	}
	assert.Equal(t, uint64(1), runs(t, c, "Signup", "audit"))
	assert.Equal(t, uint64(2), runs(t, c, "Login", "audit"))
}

// Handler names are label values, so they must be UTF-8: another name is
// reported with its invalid bytes replaced.
func TestHandlerNameNotUTF8(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromUTF8", c)
	_, err := api.On(bus, func(context.Context, *pmOrder) (string, error) { return "", nil },
		api.WithHandlerName("bad\xffname"))
	require.NoError(t, err)
	for range 2 {
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
	}
	assert.Equal(t, uint64(2), runs(t, c, api.TypeName[pmOrder](), "bad\uFFFDname"))
}

// The queue depth and history size of each bus are read at scrape time,
// labelled with the bus name; buses of one name are summed; a closed bus
// is no longer reported.
func TestBusGauges(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromGauges", c)
	twin := newBus(t, "PromGauges", c) // another domain, the same name
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	_, err := api.On(bus, func(context.Context, *pmOrder) (string, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return "", nil
	})
	require.NoError(t, err)
	_, err = api.On(twin, func(context.Context, *pmOrder) (string, error) { return "", nil })
	require.NoError(t, err)

	first := &pmOrder{}
	require.NoError(t, bus.Emit(ctx, first))
	<-started // the first is running: the next two wait in the queue
	orders := []*pmOrder{first}
	for range 2 {
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		orders = append(orders, o)
	}
	o := &pmOrder{}
	require.NoError(t, twin.Emit(ctx, o))
	require.NoError(t, o.Wait(ctx))

	expected := `
# HELP ringbus_queue_depth Events waiting in the queue of the buses of this name.
# TYPE ringbus_queue_depth gauge
ringbus_queue_depth{bus="PromGauges"} 2
# HELP ringbus_history_size Events kept in the history of the buses of this name.
# TYPE ringbus_history_size gauge
ringbus_history_size{bus="PromGauges"} 4
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected), "ringbus_queue_depth", "ringbus_history_size"))
	close(release)
	for _, o := range orders {
		require.NoError(t, o.Wait(ctx))
	}

	require.NoError(t, bus.Close())
	assert.Equal(t, 1, c.AttachedBuses(), "a closed bus is forgotten when it closes")
	require.NoError(t, twin.Stop(ctx))
	assert.Zero(t, c.AttachedBuses(), "and a stopped one")
	assert.Zero(t, testutil.CollectAndCount(c, "ringbus_queue_depth"), "closed buses are not reported")
}

// A bus without handlers, or without the collector as its middleware, is
// reported once attached by hand, and dropped by the first scrape after it
// closed (it does not tell the collector).
func TestAttach(t *testing.T) {
	c := newCollector(t)
	plain := newBus(t, "PromPlain", nil)
	c.Attach(plain, nil, plain)
	assert.Equal(t, 1, c.AttachedBuses())
	m := find(t, c, "ringbus_history_size", "bus", "PromPlain")
	require.NotNil(t, m)
	assert.Equal(t, 0.0, m.GetGauge().GetValue())

	require.NoError(t, plain.Close())
	assert.Equal(t, 1, c.AttachedBuses(), "no middleware, no close hook")
	assert.Nil(t, find(t, c, "ringbus_history_size", "bus", "PromPlain"))
	assert.Zero(t, c.AttachedBuses())
	c.Attach(plain)
	assert.Zero(t, c.AttachedBuses(), "a closed bus is not attached")
}

// Memory does not grow with buses created and closed, scraped or not, and
// bus names beyond the bus limit are reported under bus="other" until a
// name is freed.
func TestBusesCreatedAndClosedDoNotAccumulate(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t, ringbusprom.WithMaxBuses(2))
	for i := range 500 {
		bus := newBus(t, fmt.Sprintf("PromChurn%d", i), c)
		_, err := api.On(bus, func(context.Context, *pmOrder) (string, error) { return "", nil })
		require.NoError(t, err)
		o := &pmOrder{}
		require.NoError(t, bus.Emit(ctx, o))
		require.NoError(t, o.Wait(ctx))
		require.NoError(t, bus.Close())
	}
	assert.Zero(t, c.AttachedBuses(), "a closed bus is forgotten when it closes (OnBusClosed)")
	assert.Equal(t, 500.0, counter(t, c, "ringbus_events_started_total", "event_type", api.TypeName[pmOrder]()))
	assert.Zero(t, c.AttachedBuses(), "a scrape drops every closed bus")

	a := newBus(t, "PromLimitA", c)
	b := newBus(t, "PromLimitB", c)
	x := newBus(t, "PromLimitC", c)
	c.Attach(a, b, x)
	assert.Equal(t, 3, testutil.CollectAndCount(c, "ringbus_queue_depth"), "two names and other")
	assert.NotNil(t, find(t, c, "ringbus_queue_depth", "bus", "other"))
	require.NoError(t, a.Close())
	gather(t, c) // the scrape sees a closed and frees its name
	y := newBus(t, "PromLimitD", c)
	c.Attach(y)
	assert.NotNil(t, find(t, c, "ringbus_queue_depth", "bus", "PromLimitD"), "a's name was freed")
	assert.Nil(t, find(t, c, "ringbus_queue_depth", "bus", "PromLimitA"))
}

// FWD-7, MW-8: an event that fails on a bus with the collector and
// completes on one without it is never reported completed here; the
// collector lets go of it after two scrapes instead of holding it.
func TestFailedEventCompletedElsewhereIsReleased_MW8(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	observed := newBus(t, "PromObserved", c)
	other := newBus(t, "PromUnobserved", nil)
	_, err := api.On(observed, func(context.Context, *pmOrder) (string, error) { return "", errDeclined })
	require.NoError(t, err)
	_, err = observed.Forward("*", other)
	require.NoError(t, err)
	_, err = api.On(other, func(context.Context, *pmOrder) (string, error) { return "", nil })
	require.NoError(t, err)
	o := &pmOrder{}
	require.NoError(t, observed.Emit(ctx, o))
	require.NoError(t, o.Wait(ctx))
	require.NoError(t, other.WaitUntilIdle(ctx))

	held, _ := c.UnreportedFailures()
	require.Equal(t, 1, held, "the failure waits for a completion that is reported on the other bus")
	gather(t, c)
	held, _ = c.UnreportedFailures()
	assert.Equal(t, 1, held, "one scrape only marks it")
	gather(t, c)
	held, counted := c.UnreportedFailures()
	assert.Zero(t, held)
	assert.Zero(t, counted)
}

// Concurrent emitters on a bus running events in parallel: every event is
// counted once, and no failed event is held after completing.
func TestConcurrentCounting(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t)
	bus := newBus(t, "PromParallel", c, api.WithEventConcurrency(api.ParallelEvents),
		api.WithHistoryDrop(true), api.WithMaxHistory(64))
	_, err := api.On(bus, func(_ context.Context, o *pmOrder) (string, error) {
		if o.ID == "bad" {
			return "", errDeclined
		}
		return "", nil
	}, api.WithHandlerName("charge"))
	require.NoError(t, err)
	const emitters, each = 4, 250
	var wg sync.WaitGroup
	for g := range emitters {
		wg.Go(func() {
			for i := range each {
				o := &pmOrder{ID: "ok"}
				if (g+i)%2 == 0 {
					o.ID = "bad"
				}
				if err := bus.Emit(ctx, o); err != nil {
					t.Error(err)
					return
				}
				if err := o.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 5 { // scrapes during the traffic
		gather(t, c)
	}
	wg.Wait()
	require.NoError(t, bus.WaitUntilIdle(ctx))
	typ := api.TypeName[pmOrder]()
	assert.Equal(t, float64(emitters*each), counter(t, c, "ringbus_events_started_total", "event_type", typ))
	assert.Equal(t, float64(emitters*each/2), counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "failed"))
	assert.Equal(t, float64(emitters*each/2), counter(t, c, "ringbus_events_completed_total", "event_type", typ, "status", "completed"))
	assert.Equal(t, uint64(emitters*each), runs(t, c, typ, "charge"))
	held, counted := c.UnreportedFailures()
	assert.Zero(t, held)
	assert.Zero(t, counted)
}

// Metric names, types, units and help follow the Prometheus conventions
// that promlint checks, with every kind of series present.
func TestMetricsPassLint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newCollector(t)
		bus := newBus(t, "PromLint", c)
		_, err := api.On(bus, func(hctx context.Context, o *pmOrder) (string, error) {
			if o.ID == "slow" {
				<-hctx.Done()
				return "", hctx.Err()
			}
			return "", errDeclined
		}, api.WithHandlerTimeout(10*time.Millisecond))
		require.NoError(t, err)
		for _, id := range []string{"slow", "fail"} {
			o := &pmOrder{ID: id}
			require.NoError(t, bus.Emit(ctx, o))
			require.NoError(t, o.Wait(ctx))
		}
		for _, name := range []string{"ringbus_events_started_total", "ringbus_events_completed_total",
			"ringbus_handler_duration_seconds", "ringbus_handler_errors_total", "ringbus_handler_timeouts_total",
			"ringbus_handler_cancellations_total", "ringbus_queue_depth", "ringbus_history_size"} {
			assert.Positive(t, testutil.CollectAndCount(c, name), name)
		}
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

// Bad options are refused with an error matching api.ErrBadOption.
func TestBadOptions(t *testing.T) {
	for name, opt := range map[string]ringbusprom.Option{
		"nil":                nil,
		"zero types":         ringbusprom.WithMaxEventTypes(0),
		"negative handlers":  ringbusprom.WithMaxHandlers(-1),
		"zero buses":         ringbusprom.WithMaxBuses(0),
		"no buckets":         ringbusprom.WithBuckets(),
		"decreasing buckets": ringbusprom.WithBuckets(0.1, 0.01),
		"negative bucket":    ringbusprom.WithBuckets(-1),
		"infinite bucket":    ringbusprom.WithBuckets(1, math.Inf(1)),
		"sub-ns buckets":     ringbusprom.WithBuckets(1e-10, 2e-10),
	} {
		_, err := ringbusprom.New(opt)
		require.ErrorIs(t, err, api.ErrBadOption, name)
		assert.Contains(t, err.Error(), "ringbus: invalid option: prometheus: ", name)
	}
}

// Custom buckets: a handler that sleeps 2 ms falls above the first bound.
func TestCustomBuckets(t *testing.T) {
	ctx := context.Background()
	c := newCollector(t, ringbusprom.WithBuckets(0.001, 3600))
	bus := newBus(t, "PromBuckets", c)
	_, err := api.On(bus, func(context.Context, *pmOrder) (string, error) {
		time.Sleep(2 * time.Millisecond)
		return "", nil
	}, api.WithHandlerName("sleeper"))
	require.NoError(t, err)
	o := &pmOrder{}
	require.NoError(t, bus.Emit(ctx, o))
	require.NoError(t, o.Wait(ctx))
	m := find(t, c, "ringbus_handler_duration_seconds", "event_type", api.TypeName[pmOrder](), "handler", "sleeper")
	require.NotNil(t, m)
	var got []string
	for _, b := range m.GetHistogram().GetBucket() {
		got = append(got, fmt.Sprintf("%g:%d", b.GetUpperBound(), b.GetCumulativeCount()))
	}
	assert.Equal(t, []string{"0.001:0", "3600:1"}, got)
	assert.GreaterOrEqual(t, m.GetHistogram().GetSampleSum(), 0.002)
}
