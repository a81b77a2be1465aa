package engine

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/pool"
	"github.com/ringbus/ringbus/ring"
)

// Domain is a set of buses sharing one global-serial lock and one registry
// for name conflicts and cross-bus lookups (BUS-6). Most programs use
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
	name   string
	label  atomic.Pointer[string]
	cfg    busConfig
	domain *Domain
	logger *slog.Logger

	hmu     sync.Mutex                       // serialises registration
	typed   *xsync.Map[string, *handlerSlot] // slots are never removed while open
	wild    handlerSlot
	regList []*Handler       // registration order, guarded by hmu
	hids    ident.HandlerIDs // derives handler ids, guarded by hmu

	queue   *ring.Queue[*Event]
	started atomic.Bool
	state   atomic.Uint32
	stopped chan struct{} // closed when the bus stops
	runners sync.WaitGroup

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
	tracked  *xsync.Map[*processing, bool] // nested and parallel-event processings, for Close
	sharedWd watchdog                      // the timeouts of the processings in tracked

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
		cfg:     cfg,
		domain:  cfg.domain,
		logger:  cfg.logger,
		typed:   xsync.NewMap[string, *handlerSlot](),
		tracked: xsync.NewMap[*processing, bool](),
		queue:   ring.New[*Event](),
		stopped: make(chan struct{}),
		hids:    ident.NewHandlerIDs(cfg.id),
	}
	b.sharedWd.set = b.tracked
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
func (b *Bus) ID() string { return b.id.String() }

// Name returns the bus name. After Stop it is "_stopped_{id8}" (STOP-3).
func (b *Bus) Name() string {
	l := *b.label.Load()
	return l[:len(l)-5]
}

// Label returns "{name}#{last 4 of id}" (TIME-10).
func (b *Bus) Label() string { return *b.label.Load() }

// Domain returns the bus's domain.
func (b *Bus) Domain() *Domain { return b.domain }

// Logger returns the bus logger.
func (b *Bus) Logger() *slog.Logger { return b.logger }

// String returns "{label}{🟢|🔴}(queue=n active=n history=n handlers=n)"
// (BUS-9).
func (b *Bus) String() string {
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

// MaxRecursionDepth returns the recursion limit (REC-1).
func (b *Bus) MaxRecursionDepth() int { return b.cfg.maxRecursion }

// History returns the events in the bus history, oldest first (HIST-1).
func (b *Bus) History() []*Event {
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

// EventsByStatus returns the history events with status s (STAT-8).
func (b *Bus) EventsByStatus(s Status) []*Event {
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

// --- registration (REG) ---

// On registers fn for events whose event_type is pattern, or for every event
// when pattern is "*" (REG-1). It returns the handler, whose Off method
// unregisters it. Registration is safe from any goroutine, including from
// handlers; it affects events whose processing starts afterwards (REG-7).
//
// Registering one function value twice for a pattern, or two handlers with
// the same explicit name (WithHandlerName), logs a warning; both handlers
// run. Distinct closures made by one func literal share their default name
// but do not warn.
func (b *Bus) On(pattern string, fn HandlerFunc, opts ...HandlerOption) (*Handler, error) {
	return b.register(pattern, fn, fn, nil, opts)
}

// OnFunc is On with the Go function used to derive the default handler name
// and file path given separately (package api passes the user's typed
// function).
func (b *Bus) OnFunc(pattern string, fn HandlerFunc, origin any, opts ...HandlerOption) (*Handler, error) {
	return b.register(pattern, fn, origin, nil, opts)
}

// Forward registers a handler that emits every event matching pattern on
// target, keeping the same event object (FWD-1). Loops are broken by
// event_path (FWD-2, EMIT-8); forwarding handlers are exempt from the
// recursion guard (FWD-3).
func (b *Bus) Forward(pattern string, target *Bus, opts ...HandlerOption) (*Handler, error) {
	if target == nil {
		return nil, badOption("nil forward target")
	}
	fn := func(ctx context.Context, e *Event) (any, error) {
		if err := target.Emit(ctx, e.Payload()); err != nil {
			return nil, err
		}
		return e.Payload(), nil
	}
	opts = append([]HandlerOption{WithHandlerName("forward_to_" + target.Name())}, opts...)
	return b.register(pattern, fn, nil, target, opts)
}

func (b *Bus) register(pattern string, fn HandlerFunc, origin any, forward *Bus, opts []HandlerOption) (*Handler, error) {
	if fn == nil {
		return nil, ErrNilHandler
	}
	if b.state.Load() != busOpen {
		return nil, fmt.Errorf("%w: cannot register on %s", ErrBusClosed, b.Label())
	}
	if pattern != Wildcard {
		if err := validEventType(pattern); err != nil {
			return nil, err
		}
	}
	h := &Handler{pattern: pattern, bus: b, fn: fn, slowTimeout: unsetDuration, forwardTo: forward}
	if origin != nil {
		h.name, h.filePath = funcName(origin)
		if isClosureName(h.name) {
			// Closures of one func literal share a name but are distinct
			// handlers; anything else (functions, method values) is
			// identified by its name, as abxbus does (REG-8).
			h.fnKey = funcValue(origin)
		}
		if !b.cfg.detectFilePaths {
			h.filePath = ""
		}
	} else {
		h.name = defaultHandlerName
	}
	for _, o := range opts {
		if o == nil {
			return nil, badOption("nil handler option")
		}
		if err := o.applyHandler(h); err != nil {
			return nil, err
		}
	}
	if h.registeredAt == 0 {
		h.registeredAt = ident.Now()
	}
	if len(h.wrappers) > 0 || len(b.cfg.wrappers) > 0 {
		wfn, err := b.wrapped(h, h.fn)
		if err != nil {
			return nil, err
		}
		h.fn = wfn
	}
	b.hmu.Lock()
	if h.id.IsZero() {
		h.id = b.hids.Derive(h.name, h.filePath, h.registeredAt, pattern)
	}
	h.setIDText()
	slot := b.slotFor(pattern, true)
	h.slot = slot
	old := slot.list.Load()
	var hs []*Handler
	if old != nil {
		hs = old.hs
		// REG-8: the duplicate-name check is skipped for large keys.
		if len(hs) <= 256 {
			for _, o := range hs {
				if h.sameHandler(o) {
					b.logDuplicate(h, pattern)
					break
				}
			}
		}
	}
	slot.list.Store(newHandlerList(hs, h))
	b.regList = append(b.regList, h)
	b.hmu.Unlock()
	b.notifyHandlers(h, true)
	return h, nil
}

func (b *Bus) removeHandler(h *Handler) {
	if !h.removed.CompareAndSwap(false, true) {
		return
	}
	b.hmu.Lock()
	if slot := h.slot; slot != nil { // nil: never registered here
		if old := slot.list.Load(); old != nil {
			slot.list.Store(old.without(h)) // REG-6: an empty key reads as absent
		}
	}
	// In place: regList is only read under hmu, and Handlers copies it.
	if i := slices.Index(b.regList, h); i >= 0 {
		b.regList = slices.Delete(b.regList, i, i+1)
	}
	b.hmu.Unlock()
	b.notifyHandlers(h, false)
}

// Off removes every handler registered under pattern (REG-6). Removing
// nothing is not an error.
func (b *Bus) Off(pattern string) {
	for _, h := range b.HandlersFor(pattern) {
		h.Off()
	}
}

// OffID removes the handler with the given id under pattern, if any.
func (b *Bus) OffID(pattern, id string) {
	l := b.listFor(pattern)
	if l == nil {
		return
	}
	// The canonical text, as ID returns it, matches without parsing. Every
	// handler with that UUID has that text (ids may repeat: WithHandlerID),
	// so a match here finds them all.
	found := false
	for _, h := range l.hs {
		if h.ID() == id {
			h.Off()
			found = true
		}
	}
	if found {
		return
	}
	u, err := ident.ParseUUID(id)
	if err != nil {
		return // no handler has an id that is not a UUID
	}
	for _, h := range l.hs {
		if h.id == u {
			h.Off()
		}
	}
}

// HandlersFor returns the handlers registered under pattern, in
// registration order.
func (b *Bus) HandlersFor(pattern string) []*Handler {
	l := b.listFor(pattern)
	if l == nil {
		return nil
	}
	return append([]*Handler(nil), l.hs...)
}

// Handlers returns every registered handler in registration order.
func (b *Bus) Handlers() []*Handler {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return append([]*Handler(nil), b.regList...)
}

// handlersFor returns the snapshot of handlers to run for an event type:
// typed ones first, then wildcard ones (REG-3).
func (b *Bus) handlersFor(eventType string) (typed, wild []*Handler) {
	if l := b.listFor(eventType); l != nil {
		typed = l.hs
	}
	if l := b.wild.list.Load(); l != nil {
		wild = l.hs
	}
	return typed, wild
}

// listFor returns the current handlers of pattern, nil when it has none.
func (b *Bus) listFor(pattern string) *handlerList {
	if pattern == Wildcard {
		return b.wild.list.Load()
	}
	if s, ok := b.typed.Load(pattern); ok {
		return s.list.Load()
	}
	return nil
}

// slotFor returns pattern's slot, creating it when create is set. The
// caller holds hmu. A slot outlives its last handler, so that registering
// and removing handlers in a loop does not churn the map.
func (b *Bus) slotFor(pattern string, create bool) *handlerSlot {
	if pattern == Wildcard {
		return &b.wild
	}
	if s, ok := b.typed.Load(pattern); ok || !create {
		return s
	}
	s := &handlerSlot{}
	b.typed.Store(pattern, s)
	return s
}

// --- emit (EMIT) ---

// Emit enqueues ev on the bus and returns at once (EMIT-1, EMIT-2); the
// event's handlers run later, in FIFO order with the bus's other events
// (CONC-1). If Emit(a) happens before Emit(b) on one bus, a starts first.
//
// ctx supplies the values handlers will see (CTX-1); its cancellation does
// not cancel the event. When ctx is a handler's context, the event becomes
// a child of the event being handled (D1, CHILD-1).
//
// Emitting an event whose event_path already holds this bus is a no-op
// (EMIT-8). Emit returns ErrBusClosed after Stop, a *HistoryFullError when
// the history is full and dropping is off (HIST-4), ErrHandlerExpired when
// ctx belongs to a handler that timed out (EMIT-7), and ErrNilEvent for nil.
//
// On a bus with a queue limit (WithMaxQueue) Emit may wait for room, bounded
// by ctx, or fail with a *QueueFullError; see WithMaxQueue. Without one it
// never blocks.
func (b *Bus) Emit(ctx context.Context, ev Eventer) error {
	e := Core(ev)
	if e == nil {
		return ErrNilEvent
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if b.state.Load() != busOpen {
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	}
	parentRow := handlerRow(ctx)
	if parentRow != nil && parentRow.expired() {
		return ErrHandlerExpired
	}
	label := b.Label()
	bounded := b.cfg.maxQueue > 0
	if bounded {
		// A place in the queue first (WithMaxQueue); an emit that EMIT-8
		// makes a no-op neither waits nor fails for want of one.
		if e.onPathOf(label) {
			return nil
		}
		if err := b.admit(ctx, parentRow); err != nil {
			return err
		}
	}

	e.mu.Lock()
	if e.outer == nil || e.created.Load() == 0 {
		e.initLocked(ev)
	}
	if err := e.meta.err; err != nil {
		e.mu.Unlock()
		if bounded {
			b.gate.release(int64(b.cfg.maxQueue))
		}
		return err // REG-1: its event_type name belongs to another Go type
	}
	if e.ext != nil && e.ext.orig != nil {
		// A view (REG-2) emits the event it stands for.
		orig := e.ext.orig
		e.mu.Unlock()
		if bounded {
			b.gate.release(int64(b.cfg.maxQueue))
		}
		return b.Emit(ctx, orig.outerOrSelf())
	}
	for i, n := 0, e.pathLen(); i < n; i++ {
		if e.pathAt(i) == label {
			e.mu.Unlock()
			if bounded {
				b.gate.release(int64(b.cfg.maxQueue))
			}
			return nil // EMIT-8: already processed (or queued) here
		}
	}
	var linkParent *Result
	if parentRow != nil && parentRow.event != e && e.flags&flagEmitted == 0 && (e.ext == nil || e.ext.parentID.IsZero()) {
		x := e.extension()
		x.parentID = parentRow.event.id
		x.parent = parentRow.event
		if x.emittedBy.IsZero() {
			x.emittedBy = parentRow.handler.id
		}
		linkParent = parentRow
	}
	if e.ctx == nil {
		// CTX-1: the first capture wins. Only the values are kept: a
		// cancellable ctx is detached (on first use, see valuesCtx) so that
		// neither its cancellation nor its context.Cause reaches the
		// handlers (CTX-9).
		e.ctx = ctx
		if _, isHandler := ctx.(hctx); !isHandler && ctx.Done() != nil {
			e.bits.Or(bitCtxLive)
		}
	}
	e.addPath(label)
	wasEmitted := e.flags&flagEmitted != 0
	fast := e.Status() != StatusCompleted
	if fast {
		e.flags |= flagEmitted
		e.pending++
		e.addBus(b)
	}
	e.mu.Unlock()

	overSoft, err := b.hist.add(e, label)
	if err != nil {
		if fast {
			e.mu.Lock()
			e.pending--
			e.removeLastBus(b)
			if !wasEmitted {
				e.flags &^= flagEmitted
			}
			e.mu.Unlock()
		}
		if bounded {
			b.gate.release(int64(b.cfg.maxQueue))
		}
		return err
	}
	if !fast {
		e.mu.Lock()
		e.reopenLocked()
		e.flags |= flagEmitted
		e.pending++
		e.addBus(b)
		e.mu.Unlock()
	}

	if linkParent != nil {
		linkChild(linkParent, e)
	}
	b.emitted.Add(1)
	if b.find.count.Load() > 0 {
		b.find.resolve(e)
	}
	b.ensureRunning()
	if !b.queue.Push(e) {
		b.unqueue(e) // gives the queue place back (claimLocked)
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	}
	if overSoft {
		b.trimHistory()
	}
	return nil
}

// unqueue undoes the bookkeeping of an Emit whose push failed.
func (b *Bus) unqueue(e *Event) {
	e.mu.Lock()
	e.claimLocked(b)
	e.mu.Unlock()
	b.finishEventOn(e)
}

// linkChild records child under the handler row parent (CHILD-1) and makes
// the parent wait for it (CHILD-5, D2).
func linkChild(parent *Result, child *Event) {
	pe := parent.event
	pe.mu.Lock()
	if parent.ext == nil {
		parent.ext = &rowExt{}
	}
	parent.ext.children = append(parent.ext.children, child)
	count := pe.Status() != StatusCompleted && pe.pending > 0
	if count {
		pe.pending++
	}
	pe.mu.Unlock()
	if count {
		child.mu.Lock()
		if child.Status() == StatusCompleted {
			child.mu.Unlock()
			pe.decPending(nil)
			return
		}
		child.flags |= flagLinkedParent
		child.mu.Unlock()
	}
}

func (r *Result) expired() bool {
	s := r.sig.Load()
	if s == nil {
		cause, _ := r.stopCause()
		return cause != context.Canceled
	}
	select {
	case <-s.done:
		return s.cause != context.Canceled
	default:
		return false
	}
}

func (b *Bus) ensureRunning() {
	if b.started.Load() || !b.started.CompareAndSwap(false, true) {
		return
	}
	d := &dispatcher{bus: b, buf: make([]*Event, 128), wd: &watchdog{}}
	d.wd.slot = &d.cur
	d.proc = &processing{}
	b.disp.Store(d)
	b.runners.Add(1)
	go d.loop()
}

func (b *Bus) trimHistory() {
	if b.hist.trim() {
		b.logHistoryDropping()
	}
}

// --- idle and stop (IDLE, STOP) ---

// WaitUntilIdle blocks until the bus has nothing queued and nothing being
// processed (IDLE-1), or ctx is done, returning ctx's error. It considers
// this bus only (IDLE-2). A bus never used is idle.
func (b *Bus) WaitUntilIdle(ctx context.Context) error {
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

// WithClear makes Stop and Close also clear the history and the handlers
// (STOP-5).
func WithClear() StopOption { return stopOption(func(c *stopConfig) { c.clear = true }) }

// Stop drains the bus: it waits, bounded by ctx, until queued and running
// events are processed (STOP-1), then shuts it down like Close and waits,
// still bounded by ctx, until none of the bus's goroutines runs. It returns
// ctx's error if the drain did not finish in time (the bus is shut down all
// the same, and aborted handlers get Close's 100ms grace). Stop after Close
// just waits for the bus's goroutines. A handler that ignores its
// context's cancellation keeps its goroutine until it returns.
func (b *Bus) Stop(ctx context.Context, opts ...StopOption) error {
	var err error
	if b.state.Load() == busOpen {
		err = b.WaitUntilIdle(ctx)
	}
	if err != nil {
		// The drain ran out of time: aborted handlers get Close's grace.
		wait, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		b.shutdown(wait, opts)
		return err
	}
	b.shutdown(ctx, opts)
	return nil
}

// awaitRunners waits, bounded by ctx, until none of the bus's goroutines
// runs.
func (b *Bus) awaitRunners(ctx context.Context) {
	done := make(chan struct{})
	go func() { b.runners.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// closeGrace is how long Close waits for aborted handlers to return
// (STOP-2 gives the runloop 0.1s).
const closeGrace = 100 * time.Millisecond

// Close shuts the bus down now (STOP-2): queued events are abandoned and
// stay pending, running handlers are aborted through their contexts, future
// Find waiters resolve with nil (STOP-4), and later Emit or On calls fail
// with ErrBusClosed. The bus is renamed "_stopped_{id8}" (STOP-3) and
// leaves its domain, so its name is free for a new bus and nothing but the
// caller's own references keeps it alive. Close waits up to 100ms for
// aborted handlers to return. It is idempotent.
func (b *Bus) Close(opts ...StopOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	b.shutdown(ctx, opts)
	return nil
}

// shutdown stops the bus and waits, bounded by ctx, for its goroutines.
func (b *Bus) shutdown(ctx context.Context, opts []StopOption) {
	var sc stopConfig
	for _, o := range opts {
		if o != nil {
			o.applyStop(&sc)
		}
	}
	if b.state.CompareAndSwap(busOpen, busStopping) {
		b.queue.Close()
		close(b.stopped)
		if d := b.disp.Load(); d != nil {
			d.abortCurrent()
		}
		b.find.closeAll()
		b.awaitRunners(ctx)
		if p := b.pool.Load(); p != nil {
			_ = p.Close(ctx)
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
	}
	if b.state.Load() == busClosed {
		// Already shut down (perhaps by Close): still wait, within ctx,
		// for handlers that were slow to return.
		b.awaitRunners(ctx)
	}
	if sc.clear {
		b.hist.clear()
		b.hmu.Lock()
		b.typed.Range(func(k string, s *handlerSlot) bool {
			s.list.Store(nil) // a dispatcher may remember the slot
			b.typed.Delete(k) // Clear would allocate a new table
			return true
		})
		b.wild.list.Store(nil)
		b.regList = nil
		b.hmu.Unlock()
	}
}

// getPool returns the bus's goroutine pool for parallel work, created on
// first use.
func (b *Bus) getPool() (*pool.Pool, error) {
	if p := b.pool.Load(); p != nil {
		return p, nil
	}
	b.poolMu.Lock()
	defer b.poolMu.Unlock()
	if p := b.pool.Load(); p != nil {
		return p, nil
	}
	p, err := pool.New(1024)
	if err != nil {
		return nil, err
	}
	b.pool.Store(p)
	return p, nil
}

// runTask runs t on the bus pool (or a goroutine if the pool cannot be
// made), counted in the bus's runners so that Stop waits for it.
func (b *Bus) runTask(t pool.Task) {
	b.runners.Add(1)
	task := countedTask{t: t, b: b}
	p, err := b.getPool()
	if err != nil || !p.TryGo(&task) {
		go task.Run() // pool closed or unavailable: the task still runs
	}
}

type countedTask struct {
	t pool.Task
	b *Bus
}

func (c *countedTask) Run() {
	defer c.b.runners.Done()
	c.t.Run()
}

// --- middleware hooks (MW) ---

func (b *Bus) notifyHandlers(h *Handler, registered bool) {
	for _, m := range b.cfg.middlewares {
		b.safeHook(func() { m.OnHandlersChange(b, h, registered) })
	}
}

func (b *Bus) hookEvent(e *Event, s Status) {
	ctx := eventCtx(e)
	for _, m := range b.cfg.middlewares {
		b.safeHook(func() { m.OnEventChange(ctx, b, e, s) })
	}
}

func (b *Bus) hookResult(r *Result, s Status) {
	var ctx context.Context = hctx{r} // the handler's ctx (pointer-shaped: no allocation)
	for _, m := range b.cfg.middlewares {
		b.safeHook(func() { m.OnResultChange(ctx, b, r.event, r, s) })
	}
}

// safeHook runs a middleware hook, logging instead of crashing on panic
// (MW-9).
func (b *Bus) safeHook(f func()) {
	defer func() {
		if v := recover(); v != nil {
			b.logMiddlewarePanic(v)
		}
	}()
	f()
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "None"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.Kind().String()
}

// Emit emits child as a child of e (D1's explicit form): child's
// event_parent_id is e, e completes only after child does (CHILD-5), and
// child goes to the bus running the handler whose context is ctx, or else to
// the first bus e was emitted on. Inside one of e's handlers it is the same
// as bus.Emit(ctx, child). An explicitly set parent is never overwritten
// (CHILD-3).
func (e *Event) Emit(ctx context.Context, child Eventer) error {
	c := Core(child)
	if c == nil {
		return ErrNilEvent
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if r := handlerRow(ctx); r != nil && r.event == e {
		return r.handler.bus.Emit(ctx, child)
	}
	b := CurrentBus(ctx)
	e.mu.Lock()
	if b == nil {
		b = e.bus0
	}
	parentDone := e.Status() == StatusCompleted
	if !parentDone {
		e.pending++
	}
	e.mu.Unlock()
	if b == nil {
		if !parentDone {
			e.decPending(nil)
		}
		return ErrNotAttached
	}
	c.init(child)
	c.mu.Lock()
	linked := false
	if x := c.extension(); x.parentID.IsZero() && c != e {
		x.parentID, x.parent = e.id, e
		if !parentDone {
			c.flags |= flagLinkedParent
			linked = true
		}
	}
	c.mu.Unlock()
	if !parentDone && !linked {
		e.decPending(nil)
	}
	err := b.Emit(ctx, child)
	if err != nil && linked {
		c.mu.Lock()
		c.flags &^= flagLinkedParent
		c.mu.Unlock()
		e.decPending(nil)
	}
	return err
}
