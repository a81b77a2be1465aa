package ringbusprom

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/puzpuzpuz/xsync/v4"

	"github.com/ringbus/ringbus/api"
)

// Collector counts what happens on the buses it is given to as a
// middleware and reports it, with the queue depth and history size of
// those buses, to Prometheus when it is scraped. It implements
// prometheus.Collector (register it on a registry) and api.Middleware
// (give it to buses with api.WithMiddlewares).
//
// A Collector is safe for concurrent use and must not be copied. One
// collector may serve any number of buses; give it to every bus an event
// visits (a forwarded event is completed on the last bus it reaches).
type Collector struct {
	cfg    config
	bounds []int64 // histogram bucket bounds in nanoseconds

	// lastType is the series the previous event or row used: with few
	// event types it saves the map read (it is only written when it
	// changes, so it stays in every core's cache). Padded off the fields
	// written per event.
	_        [64]byte
	lastType atomic.Pointer[typeSeries]
	// lastRow is the handler series the previous row used, found by its
	// event type and handler name: it saves both map reads of a row.
	lastRow atomic.Pointer[handlerSeries]
	_       [48]byte

	types     *xsync.Map[string, *typeSeries]
	nTypes    atomic.Int64 // event types with a series of their own
	typesFull atomic.Bool  // nTypes reached cfg.maxTypes
	other     *typeSeries  // event_type="other"
	nHandlers atomic.Int64 // (event type, handler) pairs with a series of their own
	handFull  atomic.Bool  // nHandlers reached cfg.maxHandlers

	// failing holds the events that have a failed row and have not been
	// reported completed yet; nFailing counts them, so that completing an
	// event costs one atomic load while none has failed.
	failing  *xsync.Map[*api.BaseEvent, *failMark]
	nFailing atomic.Int64
	sweepMu  sync.Mutex   // one sweep of failing at a time
	sweepAt  atomic.Int64 // nFailing at which a row failure sweeps failing

	busMu    sync.Mutex
	buses    map[*api.Bus]string // attached buses and their label values
	busNames map[string]int      // label values in use (not other) and how many open buses have each
	pruneAt  int                 // len(buses) at which Attach drops closed buses

	descs descs
}

// The interfaces a Collector implements.
var (
	_ prometheus.Collector = (*Collector)(nil)
	_ api.Middleware       = (*Collector)(nil)
	_ api.BusCloseObserver = (*Collector)(nil)
)

// failMark is the value of Collector.failing: seen is set by a sweep that
// found the event completed, and such an event is dropped by the next one.
type failMark struct{ seen atomic.Bool }

// minSweep is the number of unreported failed events below which a row
// failure never sweeps (scrapes sweep regardless).
const minSweep = 1024

// New returns a Collector configured by opts. It fails, with an error
// matching api.ErrBadOption, when an option is invalid.
func New(opts ...Option) (*Collector, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, badOption("nil option")
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Collector{
		cfg:      cfg,
		bounds:   make([]int64, len(cfg.buckets)),
		types:    xsync.NewMap[string, *typeSeries](),
		other:    newTypeSeries(OtherLabel),
		failing:  xsync.NewMap[*api.BaseEvent, *failMark](),
		buses:    map[*api.Bus]string{},
		busNames: map[string]int{},
		pruneAt:  64,
		descs:    newDescs(),
	}
	for i, b := range cfg.buckets {
		c.bounds[i] = nanos(b)
	}
	c.sweepAt.Store(minSweep)
	return c, nil
}

// typeFor returns the series of event type name: its own, or other once
// the event type limit is reached.
func (c *Collector) typeFor(name string) *typeSeries {
	if ts := c.lastType.Load(); ts != nil && ts.label == name {
		return ts
	}
	return c.lookupType(name)
}

// lookupType is typeFor past its one-entry cache.
func (c *Collector) lookupType(name string) *typeSeries {
	if ts, ok := c.types.Load(name); ok {
		c.lastType.Store(ts)
		return ts
	}
	if name == OtherLabel || c.typesFull.Load() {
		return c.other
	}
	ts, _ := c.types.LoadOrCompute(name, func() (*typeSeries, bool) {
		if n := c.nTypes.Add(1); n > int64(c.cfg.maxTypes) {
			c.nTypes.Add(-1)
			c.typesFull.Store(true)
			return nil, true
		}
		return newTypeSeries(name), false
	})
	if ts == nil {
		return c.other
	}
	return ts
}

// rowSeries returns the series of the handler named name for events of
// type typ.
func (c *Collector) rowSeries(typ, name string) *handlerSeries {
	if hs := c.lastRow.Load(); hs != nil && hs.eventType == typ && hs.name == name {
		return hs
	}
	hs := c.handlerFor(c.typeFor(typ), name)
	c.lastRow.Store(hs)
	return hs
}

// handlerFor returns the series of the handler named name for events of
// ts: its own, or ts's other once the handler limit is reached.
func (c *Collector) handlerFor(ts *typeSeries, name string) *handlerSeries {
	if hs := ts.last.Load(); hs != nil && hs.name == name {
		return hs
	}
	hs, ok := ts.handlers.Load(name)
	if !ok {
		hs = c.newHandlerFor(ts, name)
	}
	ts.last.Store(hs)
	return hs
}

func (c *Collector) newHandlerFor(ts *typeSeries, name string) *handlerSeries {
	label := labelValue(name)
	if label != name { // not UTF-8: the series is keyed by the valid label
		if hs, ok := ts.handlers.Load(label); ok {
			return hs
		}
	}
	if label == OtherLabel || c.handFull.Load() {
		return c.otherHandlerOf(ts, name)
	}
	hs, _ := ts.handlers.LoadOrCompute(label, func() (*handlerSeries, bool) {
		if n := c.nHandlers.Add(1); n > int64(c.cfg.maxHandlers) {
			c.nHandlers.Add(-1)
			c.handFull.Store(true)
			return nil, true
		}
		return &handlerSeries{ts: ts, eventType: ts.label, handler: label, name: name, hist: newHistogram(c.bounds)}, false
	})
	if hs == nil {
		return c.otherHandlerOf(ts, name)
	}
	return hs
}

// otherHandlerOf returns ts's handler="other" series, creating it on first
// use. Its name field is never a handler's, so it never short-cuts
// handlerFor through ts.last for a handler of its own.
func (c *Collector) otherHandlerOf(ts *typeSeries, _ string) *handlerSeries {
	if hs := ts.otherHandler.Load(); hs != nil {
		return hs
	}
	hs := &handlerSeries{ts: ts, eventType: ts.label, handler: OtherLabel, name: "\x00other", hist: newHistogram(c.bounds)}
	if !ts.otherHandler.CompareAndSwap(nil, hs) {
		return ts.otherHandler.Load()
	}
	return hs
}

// Attach makes the collector report the queue depth and history size of
// buses, labelled with each bus's name as it is now. A bus the collector is
// given to as a middleware is attached when its first handler is
// registered; Attach is for buses without handlers, or without the
// middleware. Attaching a bus twice has no effect; nil buses are ignored.
//
// A bus given the collector as a middleware is forgotten when it is
// stopped or closed. The collector holds a reference to a bus attached by
// hand alone until it sees the bus closed, which it checks at each
// scrape: close every bus you create.
func (c *Collector) Attach(buses ...*api.Bus) {
	c.busMu.Lock()
	defer c.busMu.Unlock()
	for _, b := range buses {
		if b == nil || b.IsClosed() {
			continue
		}
		if _, ok := c.buses[b]; ok {
			continue
		}
		c.buses[b] = c.busLabelLocked(labelValue(b.Name()))
	}
	if len(c.buses) >= c.pruneAt {
		// Buses that are created and closed between scrapes (or with
		// nobody scraping) must not pile up: prune when the set doubles.
		c.pruneLocked()
		c.pruneAt = max(64, 2*len(c.buses))
	}
}

// attach is Attach of one bus, cheap when the bus is attached already.
func (c *Collector) attach(b *api.Bus) {
	c.busMu.Lock()
	_, ok := c.buses[b]
	c.busMu.Unlock()
	if !ok {
		c.Attach(b)
	}
}

// busLabelLocked returns the label value for a new bus named name and
// counts the bus under it. Called with busMu held.
func (c *Collector) busLabelLocked(name string) string {
	if n, ok := c.busNames[name]; ok {
		c.busNames[name] = n + 1
		return name
	}
	if name == OtherLabel || len(c.busNames) >= c.cfg.maxBuses {
		return OtherLabel
	}
	c.busNames[name] = 1
	return name
}

// pruneLocked drops the closed buses, freeing label values no open bus
// uses any more. Called with busMu held.
func (c *Collector) pruneLocked() {
	for b, label := range c.buses {
		if b.IsClosed() {
			c.forgetLocked(b, label)
		}
	}
}

// forgetLocked drops bus b, labelled label, freeing the label value when
// no other open bus uses it. Called with busMu held.
func (c *Collector) forgetLocked(b *api.Bus, label string) {
	delete(c.buses, b)
	if n, ok := c.busNames[label]; ok {
		if n <= 1 {
			delete(c.busNames, label)
		} else {
			c.busNames[label] = n - 1
		}
	}
}

// OnBusClosed forgets bus: its gauges leave the next scrape, and the
// collector holds no reference to it. The bus calls it when it is stopped
// or closed, if it was given the collector as a middleware.
func (c *Collector) OnBusClosed(bus *api.Bus) {
	c.busMu.Lock()
	defer c.busMu.Unlock()
	if label, ok := c.buses[bus]; ok {
		c.forgetLocked(bus, label)
	}
}

// busGauges is one bus label's queue depth and history size.
type busGauges struct {
	label          string
	queue, history int
}

// busSnapshot prunes the closed buses and returns the gauges of the open
// ones, summed per label, sorted by label.
func (c *Collector) busSnapshot() []busGauges {
	c.busMu.Lock()
	c.pruneLocked()
	type busLabel struct {
		b     *api.Bus
		label string
	}
	open := make([]busLabel, 0, len(c.buses))
	for b, label := range c.buses {
		open = append(open, busLabel{b, label})
	}
	c.busMu.Unlock()

	// Read the buses outside the lock: HistoryLen may trim the history.
	idx := map[string]int{}
	var out []busGauges
	for _, bl := range open {
		i, ok := idx[bl.label]
		if !ok {
			i = len(out)
			idx[bl.label] = i
			out = append(out, busGauges{label: bl.label})
		}
		out[i].queue += bl.b.QueueLen()
		out[i].history += bl.b.HistoryLen()
	}
	slices.SortFunc(out, func(a, b busGauges) int {
		switch {
		case a.label < b.label:
			return -1
		case a.label > b.label:
			return 1
		}
		return 0
	})
	return out
}

// Describe sends the descriptions of every metric the collector reports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs.all() {
		ch <- d
	}
}

// Collect sends the current value of every series. It reads the counters
// with atomic loads, so a scrape never stops the buses; it also drops the
// buses that have been closed since the last scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.sweepFailing()
	d := &c.descs
	emitType := func(ts *typeSeries) {
		ch <- prometheus.MustNewConstMetric(d.started, prometheus.CounterValue, float64(ts.started.Load()), ts.label)
		ch <- prometheus.MustNewConstMetric(d.completed, prometheus.CounterValue, float64(ts.completed.Load()), ts.label, "completed")
		ch <- prometheus.MustNewConstMetric(d.completed, prometheus.CounterValue, float64(ts.failed.Load()), ts.label, "failed")
		for i := range ts.cancels {
			if n := ts.cancels[i].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(d.cancellations, prometheus.CounterValue, float64(n), ts.label, causeLabels[i])
			}
		}
		emitHandler := func(hs *handlerSeries) {
			ch <- prometheus.MustNewConstMetric(d.errors, prometheus.CounterValue, float64(hs.errors.Load()), hs.eventType, hs.handler)
			ch <- prometheus.MustNewConstMetric(d.timeouts, prometheus.CounterValue, float64(hs.timeouts.Load()), hs.eventType, hs.handler)
			ch <- c.histogramMetric(hs)
		}
		ts.handlers.Range(func(_ string, hs *handlerSeries) bool {
			emitHandler(hs)
			return true
		})
		if hs := ts.otherHandler.Load(); hs != nil {
			emitHandler(hs)
		}
	}
	c.types.Range(func(_ string, ts *typeSeries) bool {
		emitType(ts)
		return true
	})
	if c.other.started.Load() > 0 || c.other.completed.Load() > 0 || c.other.failed.Load() > 0 || c.other.otherHandler.Load() != nil || c.other.handlers.Size() > 0 {
		emitType(c.other)
	}
	for _, g := range c.busSnapshot() {
		ch <- prometheus.MustNewConstMetric(d.queue, prometheus.GaugeValue, float64(g.queue), g.label)
		ch <- prometheus.MustNewConstMetric(d.history, prometheus.GaugeValue, float64(g.history), g.label)
	}
}

// histogramMetric reads hs's histogram into a Prometheus histogram.
func (c *Collector) histogramMetric(hs *handlerSeries) prometheus.Metric {
	h := &hs.hist
	buckets := make(map[float64]uint64, len(c.cfg.buckets))
	var count uint64
	for i, le := range c.cfg.buckets {
		count += h.counts[i].Load()
		buckets[le] = count
	}
	count += h.counts[len(c.cfg.buckets)].Load()
	sum := float64(h.sum.Load()) / 1e9
	return prometheus.MustNewConstHistogram(c.descs.duration, count, sum, buckets, hs.eventType, hs.handler)
}

// descs are the descriptions of the collector's metrics.
type descs struct {
	started, completed            *prometheus.Desc
	duration, errors, timeouts    *prometheus.Desc
	cancellations, queue, history *prometheus.Desc
}

func newDescs() descs {
	return descs{
		started: prometheus.NewDesc("ringbus_events_started_total",
			"Events a bus began processing, counted once per event on the first bus that processes it.",
			[]string{"event_type"}, nil),
		completed: prometheus.NewDesc("ringbus_events_completed_total",
			"Events completed, children included; status is failed when a handler row of the event ended with an error (a loser of a first-result race is not an error).",
			[]string{"event_type", "status"}, nil),
		duration: prometheus.NewDesc("ringbus_handler_duration_seconds",
			"How long handlers ran, from start to their row's end (a timed-out handler's row ends at its deadline).",
			[]string{"event_type", "handler"}, nil),
		errors: prometheus.NewDesc("ringbus_handler_errors_total",
			"Handler rows that ended with an error: returned, panicked, timed out, aborted or cancelled (a loser of a first-result race is not counted).",
			[]string{"event_type", "handler"}, nil),
		timeouts: prometheus.NewDesc("ringbus_handler_timeouts_total",
			"Handler rows that ended because the handler exceeded its own timeout.",
			[]string{"event_type", "handler"}, nil),
		cancellations: prometheus.NewDesc("ringbus_handler_cancellations_total",
			"Handler rows stopped by the bus rather than ended by the handler: interrupted while running or cancelled before starting, by cause.",
			[]string{"event_type", "cause"}, nil),
		queue: prometheus.NewDesc("ringbus_queue_depth",
			"Events waiting in the queue of the buses of this name.",
			[]string{"bus"}, nil),
		history: prometheus.NewDesc("ringbus_history_size",
			"Events kept in the history of the buses of this name.",
			[]string{"bus"}, nil),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.started, d.completed, d.duration, d.errors, d.timeouts, d.cancellations, d.queue, d.history}
}
