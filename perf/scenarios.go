package perf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// The ids of the five scenarios of the abxbus runtime table, in table order.
const (
	Scenario50kEvents        = "50k-events"
	ScenarioEphemeralBuses   = "500-buses-x-100-events"
	ScenarioParallelHandlers = "1-event-x-50k-parallel-handlers"
	ScenarioOneOffHandlers   = "50k-one-off-handlers"
	ScenarioWorstCase        = "worst-case-forwarding-timeouts"
)

// Constants of the reference harness (tests/performance_scenarios.py).
const (
	trimTarget              = 1
	historyLimitStream      = 512
	historyLimitOnOff       = 128
	historyLimitEphemeral   = 128
	historyLimitFixed       = 128
	historyLimitWorstCase   = 128
	batchSize               = 512
	settleDelay             = 50 * time.Millisecond
	worstCaseTimeoutEvery   = 5                     // 2.4.2: every 5th iteration
	worstCaseChildTimeout   = 100 * time.Nanosecond // 2.4.2: 1e-7 s
	worstCaseFindEvery      = 10
	worstCaseSampleEvery    = 5
	worstCaseFindFuture     = time.Millisecond
	singleRunLimit          = 120 * time.Second
	worstCaseLimit          = 180 * time.Second
	fixedHandlersBaseValue  = 11
	oneOffSampleEvery       = 1000
	streamSampleEvery       = 2048
	ephemeralEventsPerBus   = 100
	ephemeralSampleEveryBus = 10
)

// Scenario describes one scenario of the table.
type Scenario struct {
	// ID is the reference harness's scenario id (e.g. "50k-events").
	ID string
	// Column is the README table's column title.
	Column string
	// Unit is what the figures are divided by: "event" or "handler".
	Unit string
	// Limit is the reference harness's per-scenario timeout.
	Limit time.Duration

	run func(ctx context.Context, env *env) (Result, error)
}

var scenarios = []Scenario{
	{ID: Scenario50kEvents, Column: "1 bus x 50k events x 1 handler", Unit: "event", Limit: singleRunLimit, run: run50kEvents},
	{ID: ScenarioEphemeralBuses, Column: "500 buses x 100 events x 1 handler", Unit: "event", Limit: singleRunLimit, run: runEphemeralBuses},
	{ID: ScenarioParallelHandlers, Column: "1 bus x 1 event x 50k parallel handlers", Unit: "handler", Limit: singleRunLimit, run: runParallelHandlers},
	{ID: ScenarioOneOffHandlers, Column: "1 bus x 50k events x 50k one-off handlers", Unit: "event", Limit: singleRunLimit, run: runOneOffHandlers},
	{ID: ScenarioWorstCase, Column: "Worst case (N buses x N events x N handlers)", Unit: "event", Limit: worstCaseLimit, run: runWorstCase},
}

// Scenarios returns the five scenarios in table order.
func Scenarios() []Scenario {
	out := make([]Scenario, len(scenarios))
	copy(out, scenarios)
	return out
}

// Lookup returns the scenario with the given id.
func Lookup(id string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.ID == id {
			return s, true
		}
	}
	return Scenario{}, false
}

// IDs returns the scenario ids in table order.
func IDs() []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.ID
	}
	return out
}

// Config configures a run.
type Config struct {
	// Scale multiplies the scenario's counts (events, buses, handlers,
	// iterations); 0 means 1, the full size of the table. Batch sizes,
	// history limits, trims and the modular patterns stay as they are.
	Scale float64
	// Logger receives the buses' warnings. nil discards them, as the
	// reference sets the abxbus logger to CRITICAL.
	Logger *slog.Logger
	// Labels wraps every handler in runtime/pprof.Do with the labels
	// bus=<bus name> and event=<event_type>, so CPU profiles can be split by
	// them. It costs an allocation or two per handler call: leave it off when
	// measuring.
	Labels bool
	// Timeout bounds the run; 0 means the scenario's Limit, negative means
	// no bound beyond ctx.
	Timeout time.Duration
}

// count scales a full-size count; the result is at least 1.
func (c Config) count(full int) int {
	s := c.Scale
	if s <= 0 {
		s = 1
	}
	n := int(math.Round(float64(full) * s))
	if n < 1 {
		n = 1
	}
	return n
}

// Result is the outcome of one scenario run.
type Result struct {
	// ID is the scenario id.
	ID string `json:"id"`
	// Units is the divisor of the figures (events or handlers).
	Units int `json:"units"`
	// Unit is "event" or "handler".
	Unit string `json:"unit"`
	// Elapsed is the wall time of the timed region.
	Elapsed time.Duration `json:"elapsed_ns"`
	// PeakRSSDeltaKB is max(0, peak RSS - baseline RSS) in KiB, the baseline
	// taken when the scenario's memory tracker was created.
	PeakRSSDeltaKB float64 `json:"peak_rss_delta_kb"`
	// HasRSS is false where the platform gives no RSS reading.
	HasRSS bool `json:"has_rss"`
	// Allocs is the runtime.MemStats.Mallocs delta over the timed region.
	Allocs uint64 `json:"allocs"`
	// OK reports whether the scenario's ok condition held.
	OK bool `json:"ok"`
	// Error is the first error met, if any.
	Error string `json:"error,omitempty"`
	// Detail holds the scenario's counters (processed, checksums, timeouts,
	// ...) and the heap retained after the run.
	Detail map[string]any `json:"detail,omitempty"`
}

// MsPerUnit returns the elapsed milliseconds per unit.
func (r Result) MsPerUnit() float64 {
	return float64(r.Elapsed) / float64(time.Millisecond) / float64(max(r.Units, 1))
}

// KBPerUnit returns the peak RSS delta in KiB per unit.
func (r Result) KBPerUnit() float64 { return r.PeakRSSDeltaKB / float64(max(r.Units, 1)) }

// AllocsPerUnit returns the heap allocations per unit.
func (r Result) AllocsPerUnit() float64 { return float64(r.Allocs) / float64(max(r.Units, 1)) }

// Run runs one scenario by id and returns its figures. A scenario that
// fails its ok condition returns OK false and no error; err is for an
// unknown id or a bus that could not be set up.
func Run(ctx context.Context, id string, cfg Config) (Result, error) {
	sc, ok := Lookup(id)
	if !ok {
		return Result{}, fmt.Errorf("perf: unknown scenario %q (want one of %v)", id, IDs())
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = sc.Limit
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	e := newEnv(cfg)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	res, err := sc.run(ctx, e)
	res.ID, res.Unit = sc.ID, sc.Unit
	if err != nil {
		return res, err
	}
	// The reference logs a heap delta after a few forced collections; in
	// Go the telling figure is the live heap left behind by the run.
	for range 4 {
		runtime.GC()
		time.Sleep(15 * time.Millisecond)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if res.Detail == nil {
		res.Detail = map[string]any{}
	}
	res.Detail["heap_retained_after_gc_kb"] = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / 1024
	return res, nil
}

// env is what the scenario functions share.
type env struct {
	cfg    Config
	logger *slog.Logger
	domain *api.Domain
}

func newEnv(cfg Config) *env {
	l := cfg.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	// A domain per run keeps bus names and the global-serial lock apart
	// from anything else in the process (other benchmarks, a test suite).
	return &env{cfg: cfg, logger: l, domain: api.NewDomain()}
}

// newBus creates a bus with a history limit and dropping on, as every
// scenario bus is, without middlewares.
func (e *env) newBus(name string, history int, opts ...api.Option) (*api.Bus, error) {
	all := append([]api.Option{
		api.WithMaxHistory(history),
		api.WithHistoryDrop(true),
		api.WithLogger(e.logger),
		api.WithDomain(e.domain),
	}, opts...)
	return api.NewBus(name, all...)
}

// on registers a typed handler, wrapped in pprof.Do when labels are on.
func on[E any, R any, P interface {
	*E
	api.Typed[R]
}](e *env, bus *api.Bus, h func(ctx context.Context, ev P) (R, error), opts ...api.HandlerOption) (*api.Handler, error) {
	if e.cfg.Labels {
		labels := pprof.Labels("bus", bus.Name(), "event", api.TypeName[E]())
		inner := h
		h = func(ctx context.Context, ev P) (r R, err error) {
			pprof.Do(ctx, labels, func(ctx context.Context) { r, err = inner(ctx, ev) })
			return r, err
		}
	}
	return api.On(bus, h, opts...)
}

// clock measures a timed region: wall time and heap allocations.
type clock struct {
	t0     time.Time
	malloc uint64
}

func startClock() clock {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return clock{t0: time.Now(), malloc: ms.Mallocs}
}

func (c clock) stop() (time.Duration, uint64) {
	elapsed := time.Since(c.t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return elapsed, ms.Mallocs - c.malloc
}

func settle() { time.Sleep(settleDelay) }

// waitable is an event that can be awaited.
type waitable interface {
	api.Eventer
	Wait(ctx context.Context) error
}

// trimAfter runs trim-to-1 after the figures were taken, like the
// reference; a failed trim fails the scenario.
func trimAfter(ctx context.Context, bus *api.Bus, ev waitable, res *Result, fail *firstErr) {
	if err := trimToOne(ctx, bus, ev); err != nil {
		res.OK = false
		fail.set(err)
		res.Error = fail.String()
	}
}

// trimToOne is the reference's trim-to-1: history limit 1 with dropping,
// emit a trim event, await it, wait until idle, check the history holds at
// most one event, restore the previous settings.
func trimToOne(ctx context.Context, bus *api.Bus, ev waitable) error {
	limit, drop := bus.MaxHistory()
	bus.SetMaxHistory(trimTarget, true)
	if err := bus.Emit(ctx, ev); err != nil {
		return fmt.Errorf("trim-to-1 emit on %s: %w", bus.Label(), err)
	}
	if err := ev.Wait(ctx); err != nil {
		return fmt.Errorf("trim-to-1 wait on %s: %w", bus.Label(), err)
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		return fmt.Errorf("trim-to-1 idle on %s: %w", bus.Label(), err)
	}
	if n := bus.HistoryLen(); n > trimTarget {
		return fmt.Errorf("trim-to-1 failed for %s: %d/%d", bus.Label(), n, trimTarget)
	}
	bus.SetMaxHistory(limit, drop)
	return nil
}

// firstErr keeps the first error it is given.
type firstErr struct{ err error }

func (f *firstErr) set(err error) {
	if err != nil && f.err == nil {
		f.err = err
	}
}

func (f *firstErr) String() string {
	if f.err == nil {
		return ""
	}
	return f.err.Error()
}

// closeAll shuts buses down like stop(timeout=0, clear=True).
func closeAll(buses ...*api.Bus) {
	for _, b := range buses {
		if b != nil {
			_ = b.Close(api.WithClear())
		}
	}
}

// countedResult is the Result of a scenario whose units are the events it
// dispatched: ok iff no error, every attempted event was dispatched and
// processed, and the handlers' checksum matches.
func (e *env) countedResult(mem *memoryTracker, elapsed time.Duration, allocs uint64, fail *firstErr, attempted, dispatched, processed, checksum, expected int) Result {
	res := Result{Units: max(dispatched, 1)}
	e.finish(&res, mem, elapsed, allocs)
	res.OK = fail.err == nil && dispatched == attempted && processed == dispatched && checksum == expected
	res.Error = fail.String()
	res.Detail = map[string]any{
		"attempted_events":  attempted,
		"processed_count":   processed,
		"checksum":          checksum,
		"expected_checksum": expected,
	}
	return res
}

func (e *env) finish(res *Result, mem *memoryTracker, elapsed time.Duration, allocs uint64) {
	res.Elapsed = elapsed
	res.Allocs = allocs
	res.PeakRSSDeltaKB = mem.peakDeltaKB()
	res.HasRSS = mem.baseline > 0
}

// --- 1. 50k-events: 1 bus x 50k events x 1 handler ---

func run50kEvents(ctx context.Context, e *env) (Result, error) {
	total := e.cfg.count(50_000)
	bus, err := e.newBus("Perf50kBus", historyLimitStream)
	if err != nil {
		return Result{}, err
	}
	defer closeAll(bus)

	processed, checksum := 0, 0
	if _, err := on(e, bus, func(ctx context.Context, ev *PerfSimpleEvent) (struct{}, error) {
		processed++
		checksum += ev.Value + ev.BatchID
		return struct{}{}, nil
	}); err != nil {
		return Result{}, err
	}

	mem := newMemoryTracker()
	clk := startClock()
	var fail firstErr
	dispatched := 0
	batch := make([]*PerfSimpleEvent, 0, batchSize)
	for dispatched < total {
		batch = batch[:0]
		n := min(batchSize, total-dispatched)
		for range n {
			i := dispatched
			ev := &PerfSimpleEvent{BatchID: i / batchSize, Value: i%97 + 1}
			if err := bus.Emit(ctx, ev); err != nil {
				fail.set(err)
				break
			}
			batch = append(batch, ev)
			dispatched++
		}
		if len(batch) > 0 {
			for _, ev := range batch {
				fail.set(ev.Wait(ctx))
			}
			fail.set(bus.WaitUntilIdle(ctx))
		}
		if dispatched%streamSampleEvery == 0 {
			mem.sample()
		}
		if fail.err != nil {
			break
		}
	}
	mem.sample()
	if fail.err == nil {
		fail.set(trimToOne(ctx, bus, &PerfTrimEvent{}))
	}
	elapsed, allocs := clk.stop()
	settle()
	mem.sample()

	expected := 0
	for i := range dispatched {
		expected += i%97 + 1 + i/batchSize
	}
	return e.countedResult(mem, elapsed, allocs, &fail, total, dispatched, processed, checksum, expected), nil
}

// --- 2. 500-buses-x-100-events ---

func runEphemeralBuses(ctx context.Context, e *env) (Result, error) {
	totalBuses := e.cfg.count(500)
	attempted := totalBuses * ephemeralEventsPerBus
	processed, checksum, expected, dispatched := 0, 0, 0, 0
	var fail firstErr

	mem := newMemoryTracker()
	clk := startClock()
	for busIndex := range totalBuses {
		bus, err := e.newBus(fmt.Sprintf("PerfEphemeralBus_%d", busIndex), historyLimitEphemeral)
		if err != nil {
			return Result{}, err
		}
		if _, err := on(e, bus, func(ctx context.Context, ev *PerfSimpleEvent) (struct{}, error) {
			processed++
			checksum += ev.BatchID*7 + ev.Value
			return struct{}{}, nil
		}); err != nil {
			closeAll(bus)
			return Result{}, err
		}
		events := make([]*PerfSimpleEvent, ephemeralEventsPerBus)
		for i := range events {
			events[i] = &PerfSimpleEvent{BatchID: busIndex, Value: (busIndex*ephemeralEventsPerBus+i)%89 + 1}
		}
		// _dispatch_naive: emit until the first error, gather, wait idle.
		queued := 0
		for _, ev := range events {
			if err := bus.Emit(ctx, ev); err != nil {
				fail.set(err)
				break
			}
			queued++
		}
		if queued > 0 {
			for _, ev := range events[:queued] {
				fail.set(ev.Wait(ctx))
			}
			fail.set(bus.WaitUntilIdle(ctx))
		}
		dispatched += queued
		for i := range queued {
			expected += busIndex*7 + (busIndex*ephemeralEventsPerBus+i)%89 + 1
		}
		mem.sample()
		fail.set(trimToOne(ctx, bus, &PerfTrimEphemeralEvent{}))
		closeAll(bus)
		if busIndex%ephemeralSampleEveryBus == 0 {
			mem.sample()
		}
		if ctx.Err() != nil {
			fail.set(context.Cause(ctx))
			break
		}
	}
	elapsed, allocs := clk.stop()
	settle()
	mem.sample()

	return e.countedResult(mem, elapsed, allocs, &fail, attempted, dispatched, processed, checksum, expected), nil
}

// --- 3. 1-event-x-50k-parallel-handlers ---

func runParallelHandlers(ctx context.Context, e *env) (Result, error) {
	totalHandlers := e.cfg.count(50_000)
	bus, err := e.newBus("PerfFixedHandlersBus", historyLimitFixed, api.WithHandlerConcurrency(api.ParallelHandlers))
	if err != nil {
		return Result{}, err
	}
	defer closeAll(bus)

	// The handlers run in parallel: their counters are atomic.
	var processed, checksum atomic.Int64
	expected := 0
	for i := range totalHandlers {
		weight := i%29 + 1
		expected += fixedHandlersBaseValue + weight
		if _, err := on(e, bus, func(ctx context.Context, ev *PerfFixedHandlersEvent) (struct{}, error) {
			processed.Add(1)
			checksum.Add(int64(ev.BaseValue + weight))
			return struct{}{}, nil
		}, api.WithHandlerName(fmt.Sprintf("fixed_handler_%d", i))); err != nil {
			return Result{}, err
		}
	}

	mem := newMemoryTracker()
	clk := startClock()
	var fail firstErr
	ev := &PerfFixedHandlersEvent{BaseValue: fixedHandlersBaseValue}
	if err := bus.Emit(ctx, ev); err != nil {
		fail.set(err)
	} else {
		fail.set(ev.Wait(ctx))
		fail.set(bus.WaitUntilIdle(ctx))
	}
	elapsed, allocs := clk.stop()
	settle()
	mem.sample()

	res := Result{Units: totalHandlers}
	e.finish(&res, mem, elapsed, allocs)
	res.OK = fail.err == nil && int(processed.Load()) == totalHandlers && int(checksum.Load()) == expected
	res.Error = fail.String()
	res.Detail = map[string]any{
		"processed_count":   processed.Load(),
		"checksum":          checksum.Load(),
		"expected_checksum": expected,
		"total_handlers":    totalHandlers,
	}
	// After the figures, like the reference: trim, then destroy.
	trimAfter(ctx, bus, &PerfTrimFixedHandlersEvent{}, &res, &fail)
	return res, nil
}

// --- 4. 50k-one-off-handlers ---

func runOneOffHandlers(ctx context.Context, e *env) (Result, error) {
	total := e.cfg.count(50_000)
	bus, err := e.newBus("PerfOnOffBus", historyLimitOnOff)
	if err != nil {
		return Result{}, err
	}
	defer closeAll(bus)
	eventKey := api.TypeName[PerfRequestEvent]()

	processed, checksum, expected := 0, 0, 0
	var fail firstErr
	mem := newMemoryTracker()
	clk := startClock()
	for i := range total {
		weight := i%13 + 1
		value := i%101 + 1
		expected += value + weight
		h, err := on(e, bus, func(ctx context.Context, ev *PerfRequestEvent) (struct{}, error) {
			processed++
			checksum += ev.Value + weight
			return struct{}{}, nil
		})
		if err != nil {
			fail.set(err)
			break
		}
		ev := &PerfRequestEvent{Value: value}
		if err := bus.Emit(ctx, ev); err != nil {
			fail.set(err)
			break
		}
		if err := ev.Wait(ctx); err != nil {
			fail.set(err)
			break
		}
		bus.OffID(eventKey, h.ID())
		if i%oneOffSampleEvery == 0 {
			mem.sample()
		}
	}
	fail.set(bus.WaitUntilIdle(ctx))
	elapsed, allocs := clk.stop()
	settle()
	mem.sample()

	// Every processed event was dispatched: the scenario counts by handler
	// runs, and also needs every one-off handler gone.
	left := len(bus.HandlersFor(eventKey))
	res := e.countedResult(mem, elapsed, allocs, &fail, total, processed, processed, checksum, expected)
	res.OK = res.OK && left == 0
	res.Detail["handlers_left"] = left
	trimAfter(ctx, bus, &PerfTrimOnOffEvent{}, &res, &fail)
	return res, nil
}

// --- 5. worst-case-forwarding-timeouts (the 2.4.2 definition) ---

func runWorstCase(ctx context.Context, e *env) (Result, error) {
	iterations := e.cfg.count(500)
	busA, err := e.newBus("PerfWorstCaseA", historyLimitWorstCase)
	if err != nil {
		return Result{}, err
	}
	busB, err := e.newBus("PerfWorstCaseB", historyLimitWorstCase)
	if err != nil {
		closeAll(busA)
		return Result{}, err
	}
	busC, err := e.newBus("PerfWorstCaseC", historyLimitWorstCase)
	if err != nil {
		closeAll(busA, busB)
		return Result{}, err
	}
	defer closeAll(busA, busB, busC)
	parentKey := api.TypeName[WCParent]()

	// Handlers of the three buses run on three dispatchers at once.
	var parentA, parentB, childN, grandchildN, checksum atomic.Int64

	if _, err := on(e, busB, func(ctx context.Context, ev *WCParent) (struct{}, error) {
		parentB.Add(1)
		checksum.Add(int64(ev.Value + 3))
		return struct{}{}, nil
	}); err != nil {
		return Result{}, err
	}
	if _, err := on(e, busC, func(ctx context.Context, ev *WCChild) (struct{}, error) {
		childN.Add(1)
		checksum.Add(int64(ev.Value*2 + ev.Iteration))
		// event.event_bus.emit(...): the bus running this handler, linked
		// as a child through the handler's ctx.
		gc := &WCGrandchild{Iteration: ev.Iteration, Value: ev.Value + 1}
		if err := api.CurrentBus(ctx).Emit(ctx, gc); err != nil {
			return struct{}{}, err
		}
		if _, set := ev.Timeout(); set {
			runtime.Gosched() // 2.4.2: await asyncio.sleep(0)
		}
		return struct{}{}, gc.Now(ctx)
	}); err != nil {
		return Result{}, err
	}
	if _, err := on(e, busC, func(ctx context.Context, ev *WCGrandchild) (struct{}, error) {
		grandchildN.Add(1)
		checksum.Add(int64(ev.Value*3 + ev.Iteration))
		return struct{}{}, nil
	}); err != nil {
		return Result{}, err
	}

	var fail firstErr
	mem := newMemoryTracker()
	clk := startClock()
	for iteration := range iterations {
		shouldTimeout := iteration%worstCaseTimeoutEvery == 0
		value := iteration%37 + 1
		h, err := on(e, busA, func(ctx context.Context, ev *WCParent) (struct{}, error) {
			parentA.Add(1)
			checksum.Add(int64(ev.Value + 11))
			child := &WCChild{Iteration: ev.Iteration, Value: ev.Value}
			if shouldTimeout {
				child.SetTimeout(worstCaseChildTimeout)
			}
			if err := api.CurrentBus(ctx).Emit(ctx, child); err != nil {
				return struct{}{}, err
			}
			if err := busC.Emit(ctx, child); err != nil {
				return struct{}{}, err
			}
			_ = child.Now(ctx) // exceptions swallowed
			return struct{}{}, nil
		})
		if err != nil {
			fail.set(err)
			break
		}
		parent := &WCParent{Iteration: iteration, Value: value}
		if err := busA.Emit(ctx, parent); err != nil {
			fail.set(err)
			break
		}
		if err := busB.Emit(ctx, parent); err != nil {
			fail.set(err)
			break
		}
		if err := parent.Wait(ctx); err != nil {
			fail.set(err)
			break
		}
		busA.OffID(parentKey, h.ID())
		if iteration%worstCaseFindEvery == 0 {
			if _, err := busA.Find(ctx, parentKey, api.Future(worstCaseFindFuture)); err != nil {
				fail.set(err)
				break
			}
		}
		if iteration%worstCaseSampleEvery == 0 {
			mem.sample()
		}
	}
	if fail.err == nil {
		for _, b := range []*api.Bus{busA, busB, busC} {
			fail.set(b.WaitUntilIdle(ctx))
		}
	}
	timeouts, cancels := 0, 0
	for _, ev := range busC.History() {
		for _, r := range ev.Rows() {
			switch err := r.Error(); {
			case err == nil:
			case isTimeout(err):
				timeouts++
			case errors.Is(err, api.ErrHandlerCancelled), errors.Is(err, api.ErrHandlerAborted):
				cancels++
			}
		}
	}
	elapsed, allocs := clk.stop()

	units := iterations * 3
	left := len(busA.HandlersFor(parentKey))
	res := Result{Units: units}
	e.finish(&res, mem, elapsed, allocs)
	res.OK = fail.err == nil && int(parentA.Load()) == iterations && int(parentB.Load()) == iterations && left == 0
	res.Error = fail.String()
	res.Detail = map[string]any{
		"iterations":         iterations,
		"parent_handled_a":   parentA.Load(),
		"parent_handled_b":   parentB.Load(),
		"child_handled":      childN.Load(),
		"grandchild_handled": grandchildN.Load(),
		"timeout_count":      timeouts,
		"cancel_count":       cancels,
		"checksum":           checksum.Load(),
		"handlers_left":      left,
	}
	for _, b := range []*api.Bus{busA, busB, busC} {
		trimAfter(ctx, b, &WCTrimEvent{}, &res, &fail)
	}
	settle()
	return res, nil
}

// isTimeout reports whether a row error is a timeout: the handler's own
// timeout, or an abort or cancellation caused by an event or parent timeout.
func isTimeout(err error) bool {
	if errors.Is(err, api.ErrHandlerTimeout) {
		return true
	}
	var ab *api.HandlerAbortedError
	if errors.As(err, &ab) {
		return ab.Reason == engine.ReasonEventTimeout || ab.Reason == engine.ReasonParentTimeout
	}
	var cn *api.HandlerCancelledError
	if errors.As(err, &cn) {
		return cn.Reason == engine.ReasonEventTimeout || cn.Reason == engine.ReasonParentTimeout
	}
	return false
}
