package engine

// Buses and domains: NewBus, a bus's settings and history getters, and
// the end of its life, WaitUntilIdle, Stop and Close. Handlers are
// registered in register.go; an event enters the bus in emit.go and goes
// on from there to the dispatcher (dispatcher.go).

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/pool"
	"github.com/ringbus/ringbus/ring"
)

// The registry of buses: BUS-6.

// Domain is a set of buses sharing one global-serial lock and one registry
// for name conflicts and cross-bus lookups. Most programs use
// DefaultDomain. A Domain is safe for concurrent use.
type Domain struct {
	global fifoLock
	mu     sync.Mutex
	byName map[string]*Bus
	buses  map[*Bus]struct{}
}

// NewDomain returns an empty domain.
func NewDomain() *Domain {
	return &Domain{byName: map[string]*Bus{}, buses: map[*Bus]struct{}{}}
}

// DefaultDomain is the domain of buses created without WithDomain.
var DefaultDomain = NewDomain()

// Buses returns the live buses of the domain: a bus leaves its domain
// when Stop or Close shuts it down.
func (d *Domain) Buses() []*Bus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Bus, 0, len(d.buses))
	for b := range d.buses {
		out = append(out, b)
	}
	return out
}

const (
	busOpen uint32 = iota
	busStopping
	busClosed
)

// Bus is an event bus: it queues emitted events in FIFO order and runs the
// handlers registered for them (see the package documentation for the
// guarantees). A Bus is safe for concurrent use; it must not be copied.
type Bus struct {
	_      noCopy
	id     ident.UUID
	idStr  string // id.String(), made once: middlewares ask for it per event
	name   string
	label  atomic.Pointer[string]
	cfg    busConfig
	domain *Domain
	logger *slog.Logger

	hmu     sync.Mutex // serialises registration
	typed   slotTable  // slots are never removed while open
	wild    handlerSlot
	regList []*Handler       // registration order, guarded by hmu
	hids    ident.HandlerIDs // derives handler ids, guarded by hmu

	queue   *ring.Queue[*Event]
	started atomic.Bool
	startMu sync.Mutex // orders the dispatcher's start before shutdown's wait
	state   atomic.Uint32
	stopped chan struct{} // closed when the bus stops
	runners runnerGroup

	// The fields below change on the hot path; each group sits on its own
	// cache lines so that emitters and the dispatcher do not invalidate
	// each other's lines (the read-mostly fields above stay shared).
	_        [64]byte
	lock     fifoLock // the bus-serial event lock, taken per event
	trimTick atomic.Uint32
	_        [64]byte
	hist     history

	// emitted and finished count (event, bus) pairs queued and processed;
	// the bus is idle when they are equal. They sit on separate cache lines
	// because emitters write one and the dispatcher the other.
	_        [64]byte
	emitted  atomic.Int64
	_        [56]byte
	finished atomic.Int64
	_        [56]byte
	idleWtr  atomic.Int32
	idleMu   sync.Mutex
	idleCh   chan struct{}

	poolMu sync.Mutex
	pool   atomic.Pointer[pool.Pool]

	find     findWaiters
	tracked  procSet  // nested and parallel-event processings, for Close
	sharedWd watchdog // the timeouts of the processings in tracked

	disp atomic.Pointer[dispatcher]

	// gate bounds the queue when WithMaxQueue is set; emitters and the
	// dispatcher both write it.
	_    [64]byte
	gate queueGate
}

// NewBus creates a bus. name must be an identifier; "" picks
// "EventBus_{last 8 of id}". A name already used by a live bus of the
// domain gets a suffix and a warning. Options are validated and an invalid
// one yields an error wrapping ErrBadOption.
//
// By default a bus keeps the last 100 events in its history and rejects
// the 101st Emit with a *HistoryFullError, even when every earlier event
// has completed (the abxbus default). A bus that lives longer than 100
// events should be created with WithHistoryDrop(true), which keeps the
// newest 100 and never rejects:
//
//	bus, err := engine.NewBus("Orders", engine.WithHistoryDrop(true))
func NewBus(name string, opts ...Option) (*Bus, error) { return newBus(name, false, opts) }

// newBus is NewBus; with keepName, a name a live bus of the domain already
// has is kept as it is, without a suffix or a warning (see RestoreBus).
func newBus(name string, keepName bool, opts []Option) (*Bus, error) {
	cfg := defaultBusConfig()
	for _, o := range opts {
		if o == nil {
			return nil, badOption("nil option")
		}
		if err := o.applyBus(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.id.IsZero() {
		cfg.id = ident.NewV7()
	}
	if cfg.domain == nil {
		cfg.domain = DefaultDomain
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	idStr := cfg.id.String()
	if name == "" {
		name = "EventBus_" + idStr[len(idStr)-8:]
	} else if err := validEventType(name); err != nil {
		return nil, badOption("bus name %q must be an identifier", name)
	}
	b := &Bus{
		id:      cfg.id,
		idStr:   idStr,
		cfg:     cfg,
		domain:  cfg.domain,
		logger:  cfg.logger,
		queue:   ring.New[*Event](),
		stopped: make(chan struct{}),
		hids:    ident.NewHandlerIDs(cfg.id),
	}
	b.sharedWd.set = &b.tracked
	b.hist.setLimit(cfg.maxHistory, cfg.historyDrop)
	d := cfg.domain
	d.mu.Lock()
	_, taken := d.byName[name]
	if taken && !keepName {
		orig := name
		u := ident.NewV7().String()
		name = name + "_" + u[len(u)-8:]
		b.logRenamed(orig, name)
		taken = false
	}
	b.name = name
	if !taken { // a kept name stays registered to the bus that had it first
		d.byName[name] = b
	}
	d.buses[b] = struct{}{}
	d.mu.Unlock()
	b.setLabel(name)
	return b, nil
}

func (b *Bus) setLabel(name string) {
	l := name + "#" + b.id.Suffix4()
	b.label.Store(&l)
}

// ID returns the bus id (UUIDv7 string).
func (b *Bus) ID() string {
	if b.idStr != "" {
		return b.idStr
	}
	return b.id.String() // a stub bus (a restored row's) has no cached string
}

// Name returns the bus name. After Stop or Close it is "_stopped_{id8}",
// the last 8 hex digits of the bus id, as in abxbus.
func (b *Bus) Name() string {
	// The stopped name: STOP-3.
	l := *b.label.Load()
	return l[:len(l)-5]
}

// The label format: TIME-10.

// Label returns "{name}#{last 4 of id}", the form abxbus's logs and trees
// name a bus by.
func (b *Bus) Label() string { return *b.label.Load() }

// Domain returns the bus's domain.
func (b *Bus) Domain() *Domain { return b.domain }

// Logger returns the bus logger.
func (b *Bus) Logger() *slog.Logger { return b.logger }

// String returns "{label}{🟢|🔴}(queue=n active=n history=n handlers=n)",
// as abxbus prints a bus: green from its first Emit until Stop or Close,
// red otherwise.
func (b *Bus) String() string {
	// The format: BUS-9.
	dot := "🔴"
	if b.started.Load() && b.state.Load() == busOpen {
		dot = "🟢"
	}
	b.hmu.Lock()
	nh := len(b.regList)
	b.hmu.Unlock()
	return fmt.Sprintf("%s%s(queue=%d active=%d history=%d handlers=%d)", b.Label(), dot, b.queue.Len(), b.activeCount(), b.hist.len(), nh)
}

// Settings of the bus.

// EventTimeout returns the bus's default event timeout (0 = disabled).
func (b *Bus) EventTimeout() time.Duration { return b.cfg.eventTimeout }

// EventConcurrency returns the bus default event concurrency.
func (b *Bus) EventConcurrency() EventConcurrency { return b.cfg.eventConcurrency }

// HandlerConcurrency returns the bus default handler concurrency.
func (b *Bus) HandlerConcurrency() HandlerConcurrency { return b.cfg.handlerConcurrency }

// Completion returns the bus default completion mode.
func (b *Bus) Completion() Completion { return b.cfg.completion }

// EventSlowTimeout returns the bus default slow-event threshold.
func (b *Bus) EventSlowTimeout() time.Duration { return b.cfg.eventSlowTimeout }

// HandlerSlowTimeout returns the bus default slow-handler threshold.
func (b *Bus) HandlerSlowTimeout() time.Duration { return b.cfg.handlerSlowTimeout }

// MaxHistory returns the history limit (negative = unlimited) and whether
// dropping is on.
func (b *Bus) MaxHistory() (int, bool) {
	return b.hist.limit(), b.hist.drop()
}

// MaxQueue returns the queue limit (0 = unlimited) and what Emit does when
// it is reached.
func (b *Bus) MaxQueue() (int, QueueFullPolicy) { return b.cfg.maxQueue, b.cfg.queuePolicy }

// SetMaxHistory changes the history limit at run time (used by the trim
// step of the performance scenarios) and trims at once when dropping.
func (b *Bus) SetMaxHistory(limit int, drop bool) {
	if limit < 0 {
		limit = UnlimitedHistory
	}
	b.hist.setLimit(limit, drop)
	b.hist.trim()
}

// DetectFilePaths reports whether handler file paths are recorded.
func (b *Bus) DetectFilePaths() bool { return b.cfg.detectFilePaths }

// The recursion guard: REC-1.

// MaxRecursionDepth returns the recursion limit set by
// WithMaxRecursionDepth.
func (b *Bus) MaxRecursionDepth() int { return b.cfg.maxRecursion }

// History returns the events in the bus history, oldest first.
func (b *Bus) History() []*Event {
	// HIST-1.
	b.trimIfIdle()
	return b.hist.snapshot()
}

// HistoryLen returns the number of events in the history.
func (b *Bus) HistoryLen() int {
	b.trimIfIdle()
	return b.hist.len()
}

// trimIfIdle brings a dropping history back to its limit when the bus is
// idle. While busy the dispatcher trims every 16 events, so an observer
// that saw the last event complete may get here before the dispatcher's
// own idle trim: HIST-6 promises len(history) <= limit once idle.
func (b *Bus) trimIfIdle() {
	if b.hist.drop() && b.hist.limit() > 0 && b.idle() {
		b.trimHistory()
	}
}

// EventsByStatus returns the history events with status s.
func (b *Bus) EventsByStatus(s Status) []*Event {
	// STAT-8.
	var out []*Event
	for _, e := range b.hist.snapshot() {
		if e.Status() == s {
			out = append(out, e)
		}
	}
	return out
}

// QueueLen returns how many events wait in the queue (approximate).
func (b *Bus) QueueLen() int { return b.queue.Len() }

// IsClosed reports whether Stop or Close has been called.
func (b *Bus) IsClosed() bool { return b.state.Load() != busOpen }

// --- idle and stop (IDLE, STOP) ---

// WaitUntilIdle blocks until the bus has nothing queued and nothing being
// processed, or ctx is done, returning ctx's error. It considers this bus
// only: events it forwarded to other buses may still run there. A bus never
// used is idle.
func (b *Bus) WaitUntilIdle(ctx context.Context) error {
	// IDLE-1; this bus only, IDLE-2.
	for {
		if b.idle() {
			b.trimIfIdle()
			return nil
		}
		b.idleMu.Lock()
		b.idleWtr.Add(1)
		if b.idleCh == nil {
			b.idleCh = make(chan struct{})
		}
		ch := b.idleCh
		b.idleMu.Unlock()
		if b.idle() {
			b.idleWtr.Add(-1)
			b.trimIfIdle()
			return nil
		}
		select {
		case <-ch:
			b.idleWtr.Add(-1)
		case <-ctx.Done():
			b.idleWtr.Add(-1)
			return context.Cause(ctx)
		case <-b.stopped:
			b.idleWtr.Add(-1)
			return nil
		}
	}
}

// activeCount returns how many emitted (event, bus) pairs are not processed.
func (b *Bus) activeCount() int64 {
	f := b.finished.Load() // finished first: emitted only grows
	return b.emitted.Load() - f
}

func (b *Bus) idle() bool { return b.activeCount() <= 0 }

func (b *Bus) notifyIdle() {
	b.idleMu.Lock()
	if b.idleCh != nil && b.idle() {
		close(b.idleCh)
		b.idleCh = nil
	}
	b.idleMu.Unlock()
}

// StopOption configures Stop and Close.
type StopOption interface{ applyStop(*stopConfig) }

type stopConfig struct{ clear bool }

type stopOption func(*stopConfig)

func (f stopOption) applyStop(c *stopConfig) { f(c) }

// Clearing on stop: STOP-5.

// WithClear makes Stop and Close also clear the history and the handlers.
func WithClear() StopOption { return stopOption(func(c *stopConfig) { c.clear = true }) }

// Stop drains the bus: it waits, bounded by ctx, until queued and running
// events are processed, then shuts it down like Close and waits,
// still bounded by ctx, until none of the bus's goroutines runs. It returns
// ctx's error if the drain did not finish in time (the bus is shut down all
// the same, and aborted handlers get Close's 100ms grace). Stop after Close
// just waits for the bus's goroutines. A handler that ignores its
// context's cancellation keeps its goroutine until it returns.
func (b *Bus) Stop(ctx context.Context, opts ...StopOption) error {
	// The drain: STOP-1.
	var err error
	if b.state.Load() == busOpen {
		err = b.WaitUntilIdle(ctx)
	}
	if err != nil {
		// The drain ran out of time: aborted handlers get Close's grace.
		w := shutdownWait{grace: closeGrace}
		defer w.release()
		b.shutdown(&w, opts)
		return err
	}
	w := shutdownWait{ctx: ctx}
	b.shutdown(&w, opts)
	return nil
}

// shutdownWait bounds the waits of a shutdown: by the caller's ctx (Stop,
// STOP-1), or by a grace period (Close's 100ms, STOP-2) whose context and
// timer are made only when something has to be waited for, so that closing
// an idle bus arms no timer.
type shutdownWait struct {
	ctx    context.Context
	grace  time.Duration
	cancel context.CancelFunc
}

// context returns the bound as a context, making the grace period's on
// first use: the grace runs from then on.
func (w *shutdownWait) context() context.Context {
	if w.ctx == nil {
		w.ctx, w.cancel = context.WithTimeout(context.Background(), w.grace)
	}
	return w.ctx
}

// release frees the grace period's timer, if one was made.
func (w *shutdownWait) release() {
	if w.cancel != nil {
		w.cancel()
	}
}

// shutdownYields is how many times awaitRunners yields its processor, while
// the bus's goroutines are still running, before it blocks: the dispatcher
// that shutdown just woke (close of stopped makes it the next goroutine to
// run on this processor) then usually exits first, and the wait needs
// neither a channel nor a timer.
const shutdownYields = 3

// awaitRunners waits, within w's bound, until none of the bus's goroutines
// runs.
func (b *Bus) awaitRunners(w *shutdownWait) {
	g := &b.runners
	for range shutdownYields {
		if g.idle() {
			return
		}
		runtime.Gosched()
	}
	ch, unregister := g.zeroChan()
	defer unregister()
	if g.idle() {
		return
	}
	select {
	case <-ch:
	case <-w.context().Done():
	}
}

// closeGrace is how long Close waits for aborted handlers to return
// (STOP-2 gives the runloop 0.1s).
const closeGrace = 100 * time.Millisecond

// Close shuts the bus down now: queued events are abandoned and stay
// pending, running handlers are aborted through their contexts, Find calls
// waiting for a future event return nil, and later Emit or On calls fail
// with ErrBusClosed. The bus is renamed "_stopped_{id8}" and leaves its
// domain, so its name is free for a new bus and nothing but the caller's
// own references keeps it alive. Close waits up to 100ms for aborted
// handlers to return. It is idempotent.
func (b *Bus) Close(opts ...StopOption) error {
	// STOP-2; Find waiters STOP-4; the stopped name STOP-3.
	w := shutdownWait{grace: closeGrace}
	defer w.release()
	b.shutdown(&w, opts)
	return nil
}

// shutdown stops the bus and waits, bounded by w, for its goroutines.
func (b *Bus) shutdown(w *shutdownWait, opts []StopOption) {
	var sc stopConfig
	for _, o := range opts {
		if o != nil {
			o.applyStop(&sc)
		}
	}
	if b.state.CompareAndSwap(busOpen, busStopping) {
		// An Emit that saw the bus open may be starting the dispatcher:
		// let it finish counting it in runners before awaitRunners looks
		// (else awaitRunners could find no runner and return while that
		// dispatcher starts); later ones see the bus stopping and start
		// nothing.
		b.startMu.Lock()
		b.startMu.Unlock() //nolint:staticcheck // SA2001: the empty section is the barrier
		b.queue.Close()
		close(b.stopped)
		if d := b.disp.Load(); d != nil {
			d.abortCurrent()
		}
		b.find.closeAll()
		b.awaitRunners(w)
		if p := b.pool.Load(); p != nil {
			_ = p.Close(w.context())
		}
		if d := b.disp.Load(); d != nil {
			d.wd.stop()
		}
		b.sharedWd.stop()
		// A stopped bus leaves its domain at once, as upstream does
		// (STOP-5) and as Python's weak registry ends up doing (BUS-6):
		// nothing global may keep a closed bus, its history or its events
		// alive, and its name is free again (BUS-5, STOP-3).
		d := b.domain
		d.mu.Lock()
		if d.byName[b.name] == b {
			delete(d.byName, b.name)
		}
		delete(d.buses, b)
		d.mu.Unlock()
		idStr := b.ID()
		b.setLabel("_stopped_" + idStr[len(idStr)-8:])
		b.state.Store(busClosed)
		b.finished.Store(b.emitted.Load())
		b.notifyIdle()
		b.busClosed()
	}
	if b.state.Load() == busClosed {
		// Already shut down (perhaps by Close): still wait, within ctx,
		// for handlers that were slow to return.
		b.awaitRunners(w)
	}
	if sc.clear {
		b.hist.clear()
		b.hmu.Lock()
		b.typed.clear(func(s *handlerSlot) {
			s.list.Store(nil) // a dispatcher may remember the slot
		})
		b.wild.list.Store(nil)
		b.regList = nil
		b.hmu.Unlock()
	}
}
