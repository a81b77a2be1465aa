package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/internal/logattr"
)

// monoNow is the clock for deadlines and slow warnings: the process clock's
// monotonic reading (one clock read; testing/synctest's fake clock drives it).
func monoNow() int64 { return int64(ident.Since()) }

// dispatcher is the state of a bus's queue consumer. Exactly one goroutine
// owns it at a time; a timeout that strands the owner inside a handler hands
// it to a new goroutine (TIMEOUT-10).
type dispatcher struct {
	bus  *Bus
	buf  []*Event
	pos  int
	n    int
	wd   *watchdog
	proc *processing
	cur  atomic.Pointer[processing]

	// Owned by the goroutine that owns d, for makeRows.
	slotType string       // event type of slot
	slot     *handlerSlot // the handler slot last looked up
	chunk    []Result     // rows not handed out yet (see rowSlab)
}

// rowChunk is how many rows a dispatcher allocates at a time: as many as
// fill the 8 KiB size class of the allocator. One allocation then serves
// many events; a chunk stays alive while any of its rows is referenced (by
// history, say), so at most rowChunk-1 rows' memory is held too long.
const rowChunk = 8192 / int(unsafe.Sizeof(Result{}))

// rowSlab returns n zeroed rows for one event.
func (d *dispatcher) rowSlab(n int) []Result {
	if n > rowChunk/4 {
		return make([]Result, n)
	}
	if len(d.chunk) < n {
		d.chunk = make([]Result, rowChunk)
	}
	s := d.chunk[:n:n]
	d.chunk = d.chunk[n:]
	return s
}

// handlers returns the handlers of an event type like Bus.handlersFor,
// remembering the slot of the last type looked up: a bus mostly sees runs
// of one type, and a slot never changes while the bus is open.
func (d *dispatcher) handlers(typ string) (typed, wild []*Handler) {
	b := d.bus
	s := d.slot
	if s == nil || d.slotType != typ {
		if s, _ = b.typed.Load(typ); s != nil {
			d.slotType, d.slot = typ, s
		}
	}
	if s != nil {
		if l := s.list.Load(); l != nil {
			typed = l.hs
		}
	}
	if l := b.wild.list.Load(); l != nil {
		wild = l.hs
	}
	return typed, wild
}

func (d *dispatcher) loop() {
	defer d.bus.runners.Done()
	d.run()
}

func (d *dispatcher) run() {
	b := d.bus
	for {
		for d.pos < d.n {
			if b.state.Load() != busOpen {
				return
			}
			e := d.buf[d.pos]
			d.buf[d.pos] = nil
			d.pos++
			if d.handle(e) {
				return // a replacement goroutine owns d now
			}
		}
		if b.state.Load() != busOpen {
			return
		}
		d.pos, d.n = 0, b.queue.PopBatch(d.buf)
		if d.n == 0 {
			d.proc.clockHint = 0 // going idle: the last reading gets stale
			if b.hist.drop() && b.hist.limit() > 0 {
				b.trimHistory() // idle: back to the limit exactly (HIST-6)
			}
			if !d.spin() && !b.queue.Wait(b.stopped) {
				return
			}
		}
	}
}

// spin yields once before the dispatcher parks: an emitter that awaits each
// event was just made runnable by the completion and emits the next event
// within a microsecond; catching it here saves a park and a wake-up. Spinning
// longer (or busy-polling) was measured to slow batched emits on 2 cores.
func (d *dispatcher) spin() bool {
	q := d.bus.queue
	for i := 0; i < dispatcherSpins; i++ {
		if q.Len() > 0 {
			return true
		}
		runtime.Gosched()
	}
	return q.Len() > 0
}

const (
	dispatcherSpins = 1
	waiterSpins     = 8
)

// handle processes one dequeued event and reports whether this goroutine
// lost ownership of the dispatcher.
func (d *dispatcher) handle(e *Event) bool {
	b := d.bus
	ic := e.instanceConfig()
	mode := b.resolveConcurrency(e, ic)
	if mode == ParallelEvents {
		if !e.claim(b) {
			return false
		}
		p := &processing{wd: &b.sharedWd}
		p.reset(b, e)
		p.ic = ic
		b.track(p)
		b.runTask(p)
		return false
	}
	lock := b.lockFor(mode)
	if !lock.lock(b.stopped) {
		return true
	}
	p := d.proc
	if p.refs.Load() != 0 {
		p = &processing{} // pinned by the watchdog or Close: leave it to them
		d.proc = p
	}
	if firstMode(ic.handlerConcurrency, e.meta.cfg.handlerConcurrency, b.cfg.handlerConcurrency) == ParallelHandlers {
		// Parallel handlers may touch their processing after the event
		// moved on; give them one of their own.
		p = &processing{}
	}
	p.reset(b, e)
	p.ic = ic
	p.mustClaim = true
	p.lock = lock
	p.disp = d
	p.wd = d.wd
	p.rowFlags = lockFlag(b, lock)
	abandoned := p.run()
	if p.unclaimed {
		// A queue-jump took the event first (AWAIT-7): nothing to do here.
		p.unclaimed = false
		if p.state.CompareAndSwap(procRunning, procFinished) {
			lock.unlock()
		}
		return false
	}
	return abandoned
}

// abortCurrent aborts whatever the bus is processing, for Close.
func (d *dispatcher) abortCurrent() {
	if p := d.cur.Load(); p != nil && p.pin(&d.cur) {
		p.abort(ReasonStopped, ErrStopped, nil)
		p.unpin()
	}
	b := d.bus
	b.tracked.Range(func(p *processing, _ bool) bool {
		p.abort(ReasonStopped, ErrStopped, nil)
		return true
	})
}

func lockFlag(b *Bus, l *fifoLock) uint32 {
	switch l {
	case &b.lock:
		return rowHoldsBusLock
	case &b.domain.global:
		return rowHoldsGlobalLock
	}
	return 0
}

func (b *Bus) lockFor(mode EventConcurrency) *fifoLock {
	if mode == GlobalSerial {
		return &b.domain.global
	}
	return &b.lock
}

// resolveConcurrency resolves event_concurrency at processing time on this
// bus: instance, then type default, then bus default (CONC-5, EVT-6).
func (b *Bus) resolveConcurrency(e *Event, ic eventConfig) EventConcurrency {
	c := ic.concurrency
	if c == 0 {
		c = e.meta.cfg.concurrency
	}
	if c == 0 {
		c = b.cfg.eventConcurrency
	}
	return c
}

// claim marks e as taken on b, so it is processed there exactly once; it
// fails when a queue-jump already took it (AWAIT-5, AWAIT-7).
// instanceConfig returns the event's own settings (unset ones unset).
func (e *Event) instanceConfig() eventConfig {
	if e.bits.Load()&bitCfgSet == 0 {
		return unsetConfig // nothing set: no need for the lock
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config()
}

func (e *Event) claim(b *Bus) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.claimLocked(b)
}

func (e *Event) claimLocked(b *Bus) bool {
	if i := e.queuedOnLocked(b); i >= 0 {
		e.setClaimed(i)
		if b.cfg.maxQueue > 0 {
			b.gate.release(int64(b.cfg.maxQueue)) // started: it leaves the queue count
		}
		return true
	}
	return false
}

// queuedOnLocked returns the index of b's unclaimed entry among the buses e
// was emitted to (e waits in b's queue), or -1. Called with e.mu held.
func (e *Event) queuedOnLocked(b *Bus) int {
	for i, n := 0, e.busCount(); i < n; i++ {
		if bb, claimed := e.busAt(i); bb == b && !claimed {
			return i
		}
	}
	return -1
}

const (
	procRunning uint32 = iota
	procFinished
)

// processing is one bus's handling of one event: its rows, resolved
// settings, deadlines and the lock it holds.
type processing struct {
	mu        sync.Mutex // guards the plain fields against the watchdog
	bus       *Bus
	ev        *Event
	rows      []*Result
	hconc     HandlerConcurrency
	complete  Completion
	evTO      time.Duration
	deadline  int64 // unix ns, 0 none
	slowAt    int64
	lock      *fifoLock
	rowFlags  uint32
	jumpFrom  *Result
	disp      *dispatcher
	wd        *watchdog
	setupErr  error
	ic, tc    eventConfig     // the event's instance and type settings
	rowBuf    []*Result       // reused backing array for rows
	clockHint int64           // a recent monoNow reading of this runner, or 0
	validator ResultValidator // the event's result schema, if it has one
	kept      settings        // the last settings resolved without instance settings
	// stdSettings: the event has no instance settings, so kept.rowTO and
	// kept.hSlow apply to its handlers without their own (set by resolve).
	stdSettings bool
	mustClaim   bool // setup claims the event (dispatcher path)
	unclaimed   bool // setup found the event already claimed
	allDone     chan struct{}
	timing      []rowTiming

	// hheld: the processing holds the event's handler lock (LOCK-2),
	// handed on when it finishes; hwait: makeRows queued it for the lock;
	// hreenter: the awaiting handler's chain holds it (LOCK-3). Written
	// before publish only.
	hheld    bool
	hreenter bool
	hwait    chan struct{}
	// borrowed: a queue-jump running on a lock borrowed from a holder
	// parked behind the handler lock (see lockPark); given back by finish.
	// Set only on queue-jumps, which are never reused.
	borrowed *fifoLock

	state      atomic.Uint32
	owner      atomic.Uint32
	refs       atomic.Int32 // pins held by the watchdog or Close (see pin)
	published  atomic.Bool  // setup is done; outside actors may look at p
	remaining  atomic.Int32
	slowWarned atomic.Bool
	cur        atomic.Pointer[Result]
	curIdx     atomic.Int32
	curHdl     atomic.Int64
	curSlowAt  atomic.Int64
	curWarned  atomic.Bool
}

// takeClock returns a monoNow reading: the hint left by the previous step of
// this runner if there is one (a reading at most a step old: the end of the
// previous handler, when the dispatcher goes straight on to the next event),
// else a fresh one. It saves a clock read per step on the hot path.
func (p *processing) takeClock() int64 {
	if h := p.clockHint; h != 0 {
		p.clockHint = 0
		return h
	}
	return monoNow()
}

// pin protects p against reuse by its dispatcher while an outside actor
// (the watchdog, Close) works on it: the actor found p published in slot,
// counts itself in refs, then checks p is still published. The dispatcher
// unpublishes p from both slots before it looks at refs, and takes a fresh
// processing instead of reusing one with refs > 0. With sequentially
// consistent atomics either the actor sees p unpublished and backs off, or
// the dispatcher sees the pin.
func (p *processing) pin(slot *atomic.Pointer[processing]) bool {
	p.refs.Add(1)
	if slot.Load() != p {
		p.refs.Add(-1)
		return false
	}
	return true
}

func (p *processing) unpin() { p.refs.Add(-1) }

type rowTiming struct {
	hdl    atomic.Int64
	slowAt atomic.Int64
	warned atomic.Bool
}

// reset prepares p for a new event. The dispatcher calls it only on a
// processing nobody else holds (see pin), so it takes no lock.
func (p *processing) reset(b *Bus, e *Event) {
	p.bus, p.ev = b, e
	p.rows = nil
	p.lock, p.disp, p.setupErr, p.allDone, p.timing = nil, nil, nil, nil, nil
	p.hheld, p.hreenter, p.hwait = false, false, nil
	p.validator = nil
	if p.jumpFrom != nil {
		p.jumpFrom = nil
	}
	p.rowFlags = 0
	p.mustClaim, p.unclaimed = false, false
	p.deadline, p.slowAt = 0, 0
	p.state.Store(procRunning)
	p.published.Store(false)
	if p.slowWarned.Load() {
		p.slowWarned.Store(false)
	}
	// p.cur keeps the previous event's last row until beginRow replaces
	// it; the watchdog ignores rows that are not started.
}

// Run runs a parallel event's processing on a pool worker.
func (p *processing) Run() {
	p.run()
	p.bus.untrack(p)
}

// run processes the event and reports whether the caller lost ownership
// (a timeout or Stop finalised the processing from outside).
func (p *processing) run() bool {
	tok := p.owner.Load()
	if !p.setup() {
		return false
	}
	if p.setupErr == nil && len(p.rows) > 0 {
		if p.hconc == ParallelHandlers {
			p.runParallel()
		} else if p.runSerial(0, tok) {
			return true
		}
	}
	return !p.finish()
}

// setup resolves the settings, snapshots the handlers and creates one
// pending row per handler up front (STAT-6, REG-7). With mustClaim set it
// first claims the event on the bus and returns false if a queue-jump
// already took it.
func (p *processing) setup() bool {
	b, e := p.bus, p.ev
	ic := p.ic
	tc := e.meta.cfg
	var own settings
	rs := p.resolve(b, e.meta, &ic, &own)
	hconc, completion, evTO, evSlow := rs.hconc, rs.completion, rs.evTO, rs.evSlow

	// Nobody else sees p until watch publishes it below (the pin protocol
	// keeps pinned processings out of reuse), so setup writes without a lock.
	now := p.takeClock()
	p.clockHint = now // the first row starts now too
	p.tc, p.hconc, p.complete, p.evTO = tc, hconc, completion, evTO
	if evTO > 0 {
		p.deadline = now + int64(evTO)
	}
	if evSlow > 0 {
		p.slowAt = now + int64(evSlow)
	}
	if hconc == SerialHandlers {
		// LOCK-2: serial handlers of one event run one at a time across
		// every bus that processes it. Whether the event will span several
		// buses is not known here (a handler may forward it later), so every
		// serial processing takes the event's handler lock; makeRows does it
		// in the critical section it needs anyway, which keeps the common
		// single-bus event free of extra atomics. An awaiting handler whose
		// chain holds the lock re-enters it (LOCK-3).
		p.rowFlags |= rowHoldsEventLock
		p.hreenter = p.jumpFrom != nil && holdsEventLock(p.jumpFrom, e)
	}
	rows, claimed, err := p.makeRows()
	if !claimed {
		p.unclaimed = true
		return false
	}
	if err != nil {
		p.setupErr = err
		p.logSetupErr(err)
	}
	p.rows = rows
	if hconc == ParallelHandlers {
		p.timing = make([]rowTiming, len(rows))
		p.remaining.Store(int32(len(rows)))
	}

	b.processingBegan(e, rows)
	expired := false
	if ch := p.hwait; ch != nil {
		p.hwait = nil
		expired = p.waitHandlerLock(ch)
	}
	p.publish()
	if expired {
		p.timeoutEvent()
	}
	return true
}

// waitHandlerLock waits until another bus that runs the event's handlers
// hands the handler lock to p (LOCK-2); the rows stay pending meanwhile
// (HCONC-5). The wait also ends when the bus stops, when the event's
// deadline on this bus passes (it reports expired: the caller times the
// processing out) and, for a queue-jump, when the handler awaiting it is
// stopped (timeout, abort, first-mode loss): publish then aborts the
// processing (CANCEL-2, TIMEOUT-4). In every case p leaves the handler
// lock's queue, keeping the lock if it was handed over just then, so that
// finish passes it on.
//
// p keeps its bus's event lock while it waits, so that locks are always
// taken bus lock first, handler lock second. A handler that holds the
// handler lock may still await a child on this bus: the lock is parked
// meanwhile (see lockPark), and a queue-jump of that handler's chain borrows
// it, since p runs no handler until the handler lock comes (AWAIT-5,
// LOCK-3). Anything else waits for the bus lock as usual, so it cannot
// overtake the event.
func (p *processing) waitHandlerLock(ch chan struct{}) (expired bool) {
	b, e := p.bus, p.ev
	var l *fifoLock // the event lock p runs under, held or re-entered
	switch {
	case p.rowFlags&rowHoldsBusLock != 0:
		l = &b.lock
	case p.rowFlags&rowHoldsGlobalLock != 0:
		l = &b.domain.global
	}
	parked := l != nil && l.parkOn(e)
	var deadline <-chan time.Time
	if p.deadline != 0 {
		t := time.NewTimer(time.Duration(p.deadline - monoNow()))
		defer t.Stop()
		deadline = t.C
	}
	var parentDone <-chan struct{}
	if jf := p.jumpFrom; jf != nil {
		parentDone = jf.signal().done
	}
	got := false
wait:
	for {
		select {
		case <-ch:
			got = true
			break wait
		case <-b.stopped:
			break wait
		case <-deadline:
			expired = true
			break wait
		case <-parentDone:
			// Stopped by its own timeout, abort or first-mode loss: publish
			// aborts p. A handler that returned (without awaiting p, or
			// by a path that does not end p) leaves p waiting.
			if jf := p.jumpFrom; jf.Status() == StatusError && isOwnError(jf.Error()) {
				break wait
			}
			parentDone = nil
		}
	}
	if got {
		p.hheld = true
	} else {
		e.mu.Lock()
		p.hheld = !e.dropHandlerWaiterLocked(ch)
		e.mu.Unlock()
	}
	if parked {
		// Borrowers run handlers on this bus: p starts none, nor lets the
		// lock go, before they are done.
		l.unpark(b.stopped)
	}
	return expired
}

// publish makes p visible to the watchdog and to Close (through the
// watchdog's slot, the dispatcher's cur for dispatcher processings). If the
// bus started closing meanwhile, the processing is aborted at once.
func (p *processing) publish() {
	p.published.Store(true)
	if p.wd != nil {
		p.wd.watch(p)
	}
	if p.bus.state.Load() != busOpen {
		p.abort(ReasonStopped, ErrStopped, nil)
		return
	}
	// A queue-jump whose awaiting handler timed out or was aborted while
	// this was being set up is interrupted like the others (CANCEL-2).
	if jf := p.jumpFrom; jf != nil && jf.Status() == StatusError {
		if err := jf.Error(); isOwnError(err) {
			p.abort(cascadeReason(err), err, err)
		}
	}
}

func firstMode[T ~uint8](vals ...T) T {
	for _, v := range vals {
		if v != 0 {
			return v
		}
	}
	return 0
}

// firstDur returns the first set (>= 0) duration; 0 means disabled.
func firstDur(vals ...time.Duration) time.Duration {
	for _, v := range vals {
		if v >= 0 {
			return v
		}
	}
	return 0
}

// settings are an event's settings on a bus as setup and beginRow resolve
// them. Without instance settings they depend only on the event's type and
// the bus, both immutable once events flow, so a processing keeps the last
// ones it resolved (see resolve): a run of events of one type resolves them
// once.
type settings struct {
	meta       *TypeMeta // the type they were resolved for; nil: none kept
	bus        *Bus
	hconc      HandlerConcurrency
	completion Completion
	evTO       time.Duration // event timeout (0: none)
	evSlow     time.Duration // event slow threshold (0: none)
	rowTO      time.Duration // rowTimeout of a handler without its own timeout
	hSlow      time.Duration // handlerSlow of a handler without its own threshold
}

// resolve returns the settings of the current event: the kept ones when the
// event sets nothing itself and has the kept type, else newly resolved ones,
// kept for the next event when the event sets nothing itself and written to
// own when it does. It records in p.stdSettings whether kept.rowTO and
// kept.hSlow apply to this event.
func (p *processing) resolve(b *Bus, meta *TypeMeta, ic *eventConfig, own *settings) *settings {
	unset := ic.isUnset()
	if unset && p.kept.meta == meta && p.kept.bus == b {
		p.stdSettings = true
		return &p.kept
	}
	tc := &meta.cfg
	rs := own
	if unset {
		rs = &p.kept
	}
	*rs = settings{
		meta:       meta,
		bus:        b,
		hconc:      firstMode(ic.handlerConcurrency, tc.handlerConcurrency, b.cfg.handlerConcurrency),
		completion: firstMode(ic.completion, tc.completion, b.cfg.completion),
		evTO:       firstDur(ic.timeout, tc.timeout, b.cfg.eventTimeout),
		evSlow:     firstDur(ic.slowTimeout, tc.slowTimeout, b.cfg.eventSlowTimeout),
		rowTO:      defaultRowTimeout(b, ic, tc),
		hSlow:      firstDur(ic.handlerSlowTimeout, tc.handlerSlowTimeout, ic.slowTimeout, tc.slowTimeout, b.cfg.handlerSlowTimeout),
	}
	p.stdSettings = unset
	return rs
}

// makeRows creates this bus's rows for the event, skipping handlers that
// already have a row that is running or finished (FWD-4) and reusing seeded
// pending rows (ERU-5). It enforces the recursion guard (REC-1).
func (p *processing) makeRows() ([]*Result, bool, error) {
	b, e := p.bus, p.ev
	rows := p.rowBuf[:0]
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.mustClaim && !e.claimLocked(b) {
		return nil, false, nil
	}
	var typed, wild []*Handler
	if d := p.disp; d != nil {
		typed, wild = d.handlers(e.typeLocked())
	} else {
		typed, wild = b.handlersFor(e.typeLocked())
	}
	n := len(typed) + len(wild)
	var slab []Result
	if n > 0 {
		p.validator = e.validatorLocked()
		if d := p.disp; d != nil {
			slab = d.rowSlab(n)
		} else {
			slab = make([]Result, n)
		}
	}
	existing := e.rowCount() // rows from earlier processings (FWD-4, ERU-5)
	var parent *Event
	if e.ext != nil {
		parent = e.ext.parent
	}
	used := 0
	// Rows of parallel handlers each need an extension (for proc): one
	// allocation for all of them rather than one per row.
	var exts []rowExt
	if n > 1 && (p.jumpFrom != nil || p.hconc == ParallelHandlers) {
		exts = make([]rowExt, n)
	}
	// Typed handlers first, then wildcard ones (REG-3), in one loop: a
	// closure shared by two loops cost building it on every event.
next:
	for i := 0; i < n; i++ {
		var h *Handler
		if i < len(typed) {
			h = typed[i]
		} else {
			h = wild[i-len(typed)]
		}
		var seeded *Result
		for j := 0; j < existing; j++ {
			old := e.rowAt(j)
			if old.handler == h || old.handler.id == h.id {
				if old.flags&rowSeeded != 0 && old.Status() == StatusPending {
					seeded = old
					break
				}
				continue next // already ran here (FWD-4)
			}
		}
		if parent != nil && h.forwardTo == nil {
			if depth := recursionDepth(parent, h.id); depth > b.cfg.maxRecursion {
				// e.mu is held: no e.Label().
				return nil, true, &RecursionError{Handler: h.Label(), Bus: b.Label(), Event: e.typeLocked() + "#" + e.id.Suffix4(), Depth: depth, Limit: b.cfg.maxRecursion}
			} else if depth == b.cfg.maxRecursion && depth > 0 {
				p.logRecursionAtLimitLocked(h, depth)
			}
		}
		r := seeded
		if r == nil {
			r = &slab[used]
			if exts != nil {
				r.ext = &exts[used]
			}
			used++
			r.event = e
		}
		r.handler = h // a seeded row runs the live handler with its id (ERU-5)
		r.flags |= p.rowFlags
		if h.forwardTo != nil {
			r.flags |= rowForwarder
		}
		if p.jumpFrom != nil || p.hconc == ParallelHandlers {
			x := r.extension()
			x.jumpFrom = p.jumpFrom
			x.proc = p
		}
		rows = append(rows, r)
		if seeded == nil {
			e.addRow(r)
		}
	}
	if len(rows) > 0 && p.hconc == SerialHandlers && !p.hreenter {
		if e.flags&flagHandlerLock == 0 {
			e.flags |= flagHandlerLock
			p.hheld = true
		} else {
			ch := make(chan struct{})
			x := e.extension()
			if x.hwaiters == nil {
				x.hwaiters = new([]chan struct{})
			}
			*x.hwaiters = append(*x.hwaiters, ch)
			p.hwait = ch
		}
	}
	p.rowBuf = rows
	return rows, true, nil
}

func firstPositive(vals ...time.Duration) time.Duration {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

func minTimeout(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	case a < b:
		return a
	}
	return b
}

// recursionDepth counts the ancestors of an event that have a live or
// completed row of the handler (REC-1).
func recursionDepth(parent *Event, hid ident.UUID) int {
	depth := 0
	seen := 0
	for a := parent; a != nil && seen < 10000; seen++ {
		a.mu.Lock()
		for i, c := 0, a.rowCount(); i < c; i++ {
			if r := a.rowAt(i); r.handler.id == hid {
				if s := r.Status(); s == StatusPending || s == StatusStarted || s == StatusCompleted {
					depth++
					break
				}
			}
		}
		var next *Event
		if a.ext != nil {
			next = a.ext.parent
		}
		a.mu.Unlock()
		a = next
	}
	return depth
}

// runSerial runs rows one at a time from index from (HCONC-1). It returns
// true when ownership was taken away (timeout hand-off or Stop).
func (p *processing) runSerial(from int, tok uint32) bool {
	for i := from; i < len(p.rows); i++ {
		if p.owner.Load() != tok {
			return true
		}
		r := p.rows[i]
		now := p.takeClock()
		if !r.startAt(now) {
			continue // cancelled before it started
		}
		p.curIdx.Store(int32(i))
		p.beginRow(r, nil, now)
		v, err := p.call(r)
		if p.owner.Load() != tok {
			return true
		}
		now = monoNow()
		if !p.endRow(r, v, err, now) {
			continue
		}
		p.clockHint = now // the next row or event starts now
		if p.complete == CompleteFirst && isWinner(r) {
			p.cancelRest(r)
			break
		}
	}
	return false
}

// beginRow stamps deadlines, arms the slow-handler warning and fires the
// started hooks through rowStarting.
func (p *processing) beginRow(r *Result, t *rowTiming, now int64) {
	b := p.bus
	timeout := p.rowTimeout(r.handler)
	var hdl int64
	if timeout > 0 {
		hdl = now + int64(timeout)
	}
	dl := hdl
	if p.deadline != 0 && (dl == 0 || p.deadline < dl) {
		dl = p.deadline
	}
	if dl != 0 {
		r.deadline.Store(dl)
	}
	own := int64(0)
	if hdl != 0 && (p.deadline == 0 || hdl < p.deadline) {
		own = hdl // the handler's own timeout is strictly tighter (TIMEOUT-6/7)
	}
	slow := p.handlerSlow(r)
	var slowAt int64
	if slow > 0 && (timeout == 0 || timeout > slow) { // SLOW-3
		slowAt = now + int64(slow)
	}
	if t != nil {
		t.hdl.Store(own)
		t.slowAt.Store(slowAt)
	} else {
		// Stores cost an exclusive cache line each: skip the unchanged ones.
		if p.curHdl.Load() != own {
			p.curHdl.Store(own)
		}
		p.curSlowAt.Store(slowAt)
		if p.curWarned.Load() {
			p.curWarned.Store(false)
		}
		p.cur.Store(r)
	}
	if p.wd != nil {
		if own != 0 {
			p.wd.need(own)
		}
		if slowAt != 0 {
			p.wd.need(slowAt)
		}
	}
	b.rowStarting(r)
}

// rowTimeout is rowTimeout for a handler of this processing's event, from
// the kept settings when they apply.
func (p *processing) rowTimeout(h *Handler) time.Duration {
	if p.stdSettings && h.timeout <= 0 && h.bus == p.bus {
		return p.kept.rowTO
	}
	return rowTimeout(h, &p.ic, &p.tc)
}

// handlerSlow resolves the slow-handler threshold (SLOW-2, D8).
func (p *processing) handlerSlow(r *Result) time.Duration {
	if r.handler.slowTimeout >= 0 {
		return r.handler.slowTimeout
	}
	if p.stdSettings {
		return p.kept.hSlow
	}
	ic, tc := &p.ic, &p.tc
	return firstDur(ic.handlerSlowTimeout, tc.handlerSlowTimeout, ic.slowTimeout, tc.slowTimeout, p.bus.cfg.handlerSlowTimeout)
}

// call runs the handler, turning a panic into a *HandlerPanicError.
func (p *processing) call(r *Result) (v any, err error) {
	defer func() {
		if x := recover(); x != nil {
			v, err = nil, &HandlerPanicError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: r.event.Label(), Value: x, Stack: debug.Stack()}
		}
	}()
	return r.handler.fn(hctx{r}, r.event)
}

// endRow records a handler's outcome; it reports whether it decided the row.
func (p *processing) endRow(r *Result, v any, err error, now int64) bool {
	if err == nil {
		if e, ok := v.(error); ok && e != nil {
			err = e // RTYPE-3: a returned error value counts as raised
		}
	}
	if err == nil && v != nil && p.validator != nil {
		if _, isEvent := v.(Eventer); !isEvent {
			if verr := p.validator.Validate(v); verr != nil {
				err = &ResultSchemaError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Identifier: p.validator.Identifier(), Err: verr}
			}
		}
	}
	if te, ok := err.(interface{ Timeout() bool }); ok && te.Timeout() && !isOwnError(err) {
		// ERR-2: a plain timeout from handler code becomes a handler
		// timeout that keeps its message.
		err = &HandlerTimeoutError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Timeout: p.rowTimeout(r.handler), Err: err}
	}
	ok := r.finishAt(v, err, StatusStarted, now)
	r.released()
	if !ok {
		return false
	}
	if err != nil {
		// ERR-1 in Go: the error reaches the caller through the row (and
		// Wait/Result), so it is not logged again at ERROR.
		p.logRow(r, slog.LevelDebug, msgHandlerFailed, attrError(err))
	}
	p.settle(r)
	return true
}

func isOwnError(err error) bool {
	switch err.(type) {
	case *HandlerTimeoutError, *HandlerAbortedError, *HandlerCancelledError:
		return true
	}
	return false
}

// isWinner reports whether a row wins first-mode completion (FIRST-1).
func isWinner(r *Result) bool {
	if r.Status() != StatusCompleted || r.value == nil {
		return false
	}
	_, isEvent := r.value.(Eventer)
	return !isEvent
}

// cancelRest ends the handler phase after a first-mode winner: pending
// rows are cancelled, running ones aborted (FIRST-2, FIRST-3).
func (p *processing) cancelRest(winner *Result) {
	for _, r := range p.rows {
		if r == winner {
			continue
		}
		p.terminate(r, ReasonFirstResult, nil)
	}
}

// terminate fails a non-terminal row for reason: Cancelled if it never
// started, Aborted if it was running. An aborted row cascades into its
// children (CANCEL-1, CANCEL-2), a first-mode loser's too: a loser awaiting a
// child must not keep the child, and so the event, running (FIRST-3,
// AWAIT-9).
func (p *processing) terminate(r *Result, reason string, parentErr error) bool {
	b, e := p.bus, p.ev
	abort := &HandlerAbortedError{Handler: r.handler.Label(), Bus: b.Label(), Event: e.Label(), Reason: reason, Timeout: p.evTO}
	cancel := &HandlerCancelledError{Handler: r.handler.Label(), Bus: b.Label(), Event: e.Label(), Reason: reason, Timeout: p.evTO, Parent: parentErr}
	var decided Status
	switch {
	case r.finish(nil, abort, StatusStarted):
		decided = StatusStarted
		r.cancel(abort, reason == ReasonEventTimeout || reason == ReasonParentTimeout)
	case r.finish(nil, cancel, StatusPending):
		decided = StatusPending
	default:
		return false
	}
	p.settle(r)
	if decided == StatusStarted {
		cascade(r, abort)
	}
	return true
}

// cascade cancels what a failed running handler left behind: events it
// queue-jumped are aborted (CANCEL-2) and pending rows of its descendants
// are cancelled (CANCEL-1). Children that are only queued run later
// (CANCEL-3).
func cascade(r *Result, cause error) {
	reason := cascadeReason(cause)
	r.event.mu.Lock()
	var children []*Event
	var jumps []*processing
	if r.ext != nil {
		children = append(children, r.ext.children...)
		jumps = append(jumps, r.ext.jumps...)
	}
	r.event.mu.Unlock()
	for _, jp := range jumps {
		jp.abort(reason, cause, cause)
	}
	seen := map[*Event]bool{}
	var walk func(c *Event)
	walk = func(c *Event) {
		if seen[c] {
			return
		}
		seen[c] = true
		for _, cr := range c.Rows() {
			if cr.Status() == StatusPending {
				ce := &HandlerCancelledError{Handler: cr.handler.Label(), Bus: busLabel(cr.handler.bus), Event: c.Label(), Reason: reason, Parent: cause}
				if cr.finish(nil, ce, StatusPending) {
					settleCascaded(cr)
				}
			}
			for _, gc := range cr.Children() {
				walk(gc)
			}
		}
	}
	for _, c := range children {
		walk(c)
	}
}

// cascadeReason is the reason a cascade from a handler that failed with
// cause gives what it interrupts: a parent timeout when cause is a timeout,
// a parent abort otherwise (a first-mode loser, FIRST-3).
func cascadeReason(cause error) string {
	if ab, ok := cause.(*HandlerAbortedError); ok && ab.Reason != ReasonEventTimeout && ab.Reason != ReasonParentTimeout {
		return ReasonParentAborted
	}
	return ReasonParentTimeout
}

// abort terminates every row of the processing and finalises it from
// outside its runner (event timeout, parent timeout, Stop).
func (p *processing) abort(reason string, cause, parentErr error) {
	if !p.published.Load() {
		return // publish checks for Close and a failed parent itself
	}
	p.mu.Lock()
	if p.state.Load() != procRunning {
		p.mu.Unlock()
		return
	}
	rows := append([]*Result(nil), p.rows...)
	p.mu.Unlock()
	p.owner.Add(1) // the runner stops at its next check
	for _, r := range rows {
		p.terminate(r, reason, parentErr)
	}
	if p.finish() && p.disp != nil && reason != ReasonStopped {
		b := p.bus
		b.runners.Add(1)
		go p.continueFrom(-1, 0)
	}
}

// runParallel starts every row and waits until all are terminal (HCONC-2);
// a timeout or first-mode winner makes them terminal early.
//
// Up to parallelPullers rows each get a pool worker. Beyond that, that many
// workers pull the rows in order, which costs an atomic add per handler
// instead of a goroutine hand-off. Pulling alone could leave rows unstarted
// while every puller waits inside a handler (on another handler, say), so
// the dispatcher checks every parallelStallCheck: if no row started since
// the last check, each row still unstarted gets a goroutine of its own. So
// every handler starts concurrently with the others, at most one check
// later than it would with a goroutine each from the start.
func (p *processing) runParallel() {
	ch := make(chan struct{})
	p.mu.Lock()
	p.allDone = ch
	p.mu.Unlock()
	if p.remaining.Load() == 0 {
		return
	}
	// One allocation for all the tasks and one runners.Add for all of them:
	// with thousands of handlers the per-task cost is what remains.
	b := p.bus
	n := len(p.rows)
	pl, err := b.getPool()
	if n <= parallelPullers {
		tasks := make([]rowTask, n)
		b.runners.Add(n)
		for i, r := range p.rows {
			tasks[i] = rowTask{p: p, r: r, t: &p.timing[i]}
			if err != nil || !pl.TryGo(&tasks[i]) {
				go tasks[i].Run() // pool full or closed: the handler still starts now
			}
		}
		<-ch
		return
	}
	pr := &rowPuller{p: p}
	b.runners.Add(n + parallelPullers)
	for range parallelPullers {
		if err != nil || !pl.TryGo(pr) {
			go pr.Run()
		}
	}
	tick := time.NewTimer(parallelStallCheck)
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-ch:
			return
		case <-tick.C:
			next := pr.next.Load()
			if next >= int64(n) {
				<-ch // every row has started; wait for the ends
				return
			}
			if next == last {
				pr.spawnRest()
			}
			last = next
			tick.Reset(parallelStallCheck)
		}
	}
}

const (
	parallelPullers    = 16
	parallelStallCheck = time.Millisecond
)

// rowPuller is the shared state of the workers that start the rows of a
// large parallel-handler processing in order. Each worker, and each row,
// is counted in the bus's runners. The workers read p.rows and p.timing
// while rows run: that holds because a parallel-handler processing is
// always a fresh one, never the dispatcher's reused d.proc (see handle).
type rowPuller struct {
	p    *processing
	next atomic.Int64 // index of the next row to start
}

// task returns the task of row i.
func (pr *rowPuller) task(i int64) rowTask {
	p := pr.p
	return rowTask{p: p, r: p.rows[i], t: &p.timing[i]}
}

// Run is one worker: it starts rows until none is left, then counts itself
// and its rows out of the bus's runners at once (one atomic add on a word
// every worker shares, instead of one per row).
func (pr *rowPuller) Run() {
	ran := 0
	defer func() { pr.p.bus.runners.Add(-(ran + 1)) }()
	n := int64(len(pr.p.rows))
	for {
		i := pr.next.Add(1) - 1
		if i >= n {
			return
		}
		ran++ // counted even if the handler panics through run
		t := pr.task(i)
		t.run()
	}
}

// spawnRest gives every row not yet taken by a worker a goroutine.
func (pr *rowPuller) spawnRest() {
	n := int64(len(pr.p.rows))
	for i := pr.next.Swap(n); i < n; i++ {
		t := pr.task(i)
		go t.Run()
	}
}

// rowTask runs one row of a parallel-handler processing; it is counted in
// the bus's runners by runParallel.
type rowTask struct {
	p *processing
	r *Result
	t *rowTiming
}

func (t *rowTask) Run() {
	defer t.p.bus.runners.Done()
	t.run()
}

// run runs the row without counting it out of the bus's runners.
func (t *rowTask) run() {
	p, r := t.p, t.r
	now := monoNow()
	if !r.startAt(now) {
		return
	}
	p.beginRow(r, t.t, now)
	first := p.complete == CompleteFirst
	v, err := p.call(r)
	if p.endRow(r, v, err, monoNow()) && first && isWinner(r) {
		p.cancelRest(r)
	}
}

// finish finalises the processing once: releases its locks, stops its
// timers and updates the event and the bus. It reports whether this call did
// it.
func (p *processing) finish() bool {
	if !p.state.CompareAndSwap(procRunning, procFinished) {
		return false
	}
	if p.wd != nil {
		p.wd.unwatch(p)
	}
	if p.lock != nil {
		p.lock.unlock()
	}
	if l := p.borrowed; l != nil {
		l.giveBack()
	}
	b, e := p.bus, p.ev
	if b.hist.drop() {
		// Trim every 16 events while busy (so the history may exceed the
		// limit by a few entries in flight), and to the limit exactly
		// before a WaitUntilIdle caller can see the bus idle and when the
		// dispatcher runs out of events (HIST-5, HIST-6).
		if limit := b.hist.limit(); limit > 0 && (b.trimTick.Add(1)%16 == 0 || b.idleWtr.Load() > 0) {
			b.trimHistory()
		}
	}
	b.endEventOn(e, p.hheld)
	return true
}

// continueFrom runs on a new goroutine after a hand-off: it finishes the
// serial rows from index next (when next >= 0) and then carries on as the
// bus's dispatcher if the processing belonged to it.
func (p *processing) continueFrom(next int, tok uint32) {
	b := p.bus
	defer b.runners.Done()
	if next >= 0 {
		if p.runSerial(next, tok) || !p.finish() {
			return
		}
	}
	if d := p.disp; d != nil && b.state.Load() == busOpen {
		d.proc = &processing{}
		d.cur.Store(nil)
		d.run()
	}
}

// check is the watchdog's look at the processing: it applies expired
// timeouts, logs slow warnings and returns the next time to look (0: none).
func (p *processing) check(now int64) int64 {
	p.mu.Lock()
	if p.state.Load() != procRunning {
		p.mu.Unlock()
		return 0
	}
	if p.deadline != 0 && now >= p.deadline {
		p.mu.Unlock()
		p.timeoutEvent()
		return 0
	}
	next := p.deadline
	want := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	b, e := p.bus, p.ev
	if p.slowAt != 0 && !p.slowWarned.Load() {
		if now >= p.slowAt {
			p.slowWarned.Store(true)
			n := 0
			for _, r := range p.rows {
				if r.Status() == StatusStarted {
					n++
				}
			}
			elapsed := time.Duration(now - (p.slowAt - int64(firstDurSlow(p))))
			b.logger.LogAttrs(eventCtx(e), slog.LevelWarn, msgSlowEvent, attrBus(b), attrEventType(e), attrEventID(e),
				slog.Int(logattr.Running, n), attrElapsed(elapsed))
		} else {
			want(p.slowAt)
		}
	}
	var expired []*Result
	if p.timing != nil {
		for i, r := range p.rows {
			t := &p.timing[i]
			if r.Status() != StatusStarted {
				continue
			}
			expired = p.checkRow(r, now, &t.hdl, &t.slowAt, &t.warned, want, expired)
		}
	} else if r := p.cur.Load(); r != nil && r.Status() == StatusStarted {
		expired = p.checkRow(r, now, &p.curHdl, &p.curSlowAt, &p.curWarned, want, expired)
	}
	p.mu.Unlock()
	for _, r := range expired {
		p.timeoutHandler(r)
	}
	return next
}

func firstDurSlow(p *processing) time.Duration {
	e := p.ev
	e.mu.Lock()
	ic := e.config()
	e.mu.Unlock()
	return firstDur(ic.slowTimeout, e.meta.cfg.slowTimeout, p.bus.cfg.eventSlowTimeout)
}

func (p *processing) checkRow(r *Result, now int64, hdl, slowAt *atomic.Int64, warned *atomic.Bool, want func(int64), expired []*Result) []*Result {
	if h := hdl.Load(); h != 0 {
		if now >= h {
			return append(expired, r)
		}
		want(h)
	}
	if s := slowAt.Load(); s != 0 && !warned.Load() {
		if now >= s {
			warned.Store(true)
			elapsed := time.Duration(now - (s - int64(p.handlerSlow(r))))
			p.logRow(r, slog.LevelWarn, msgSlowHandler, attrElapsed(elapsed))
		} else {
			want(s)
		}
	}
	return expired
}

// timeoutEvent applies the event's hard timeout (TIMEOUT-4, TIMEOUT-5,
// TIMEOUT-10): pending rows are cancelled, running ones aborted, and the
// processing is finalised at once without waiting for the handlers.
func (p *processing) timeoutEvent() {
	p.abort(ReasonEventTimeout, nil, nil)
}

// timeoutHandler applies a handler's own timeout (TIMEOUT-6): the row fails
// with *HandlerTimeoutError and, in serial mode, the next handler runs on a
// new goroutine so that a handler ignoring its context does not block the
// event.
func (p *processing) timeoutHandler(r *Result) {
	children := len(r.Children())
	timeout := p.rowTimeout(r.handler)
	err := &HandlerTimeoutError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: p.ev.Label(), Timeout: timeout, Children: children}
	if !r.finish(nil, err, StatusStarted) {
		return
	}
	serial := p.timing == nil
	var tok uint32
	if serial {
		// Take the rest of the rows away from the runner stuck in this
		// handler before telling the handler to stop (TIMEOUT-10).
		tok = p.owner.Add(1)
	}
	r.cancel(err, true)
	b := p.bus
	// LOG-8: Warn, as the slow-handler warning is: the handler outlived its
	// budget and may still be running, and a caller that emitted without
	// waiting never sees the row's error.
	p.logRow(r, slog.LevelWarn, msgHandlerTimedOut, slog.Duration(logattr.Timeout, timeout))
	p.settle(r)
	cascade(r, err)
	if serial {
		next := int(p.curIdx.Load()) + 1
		b.runners.Add(1)
		go p.continueFrom(next, tok)
	}
}

// --- queue-jump (AWAIT-4, AWAIT-5) ---

func queueJump(ctx context.Context, e *Event, parent *Result) error {
	for {
		b := e.unclaimedBus()
		if b == nil {
			return nil
		}
		if err := b.processNested(e, parent); err != nil {
			return err
		}
	}
}

// unclaimedBus returns a live bus on which e still waits to be processed.
func (e *Event) unclaimedBus() *Bus {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := 0, e.busCount(); i < n; i++ {
		if b, claimed := e.busAt(i); !claimed && b.state.Load() == busOpen {
			return b
		}
	}
	return nil
}

// processNested processes e on b right now, inside the handler of row
// parent, re-entering locks the handler's processing chain holds (LOCK-3).
// It takes b's event lock before claiming e, so that once claimed the event
// runs ahead of b's queue (AWAIT-5).
func (b *Bus) processNested(e *Event, parent *Result) error {
	p := &processing{wd: &b.sharedWd}
	p.reset(b, e)
	p.jumpFrom = parent
	p.ic = e.instanceConfig()
	mode := b.resolveConcurrency(e, p.ic)
	var lock *fifoLock
	if mode != ParallelEvents {
		lock = b.lockFor(mode)
		if !holdsLock(parent, b, lock) {
			held, borrowed := lock.lockOrBorrow(b.stopped, parent)
			switch {
			case held:
				p.lock = lock
			case borrowed:
				p.borrowed = lock
			default:
				return fmt.Errorf("%w: %s", ErrBusClosed, b.Label())
			}
		}
		p.rowFlags = lockFlag(b, lock)
	}
	if !e.claim(b) {
		// The bus's dispatcher got there first: it processes e; wait for it.
		if p.lock != nil {
			p.lock.unlock()
		}
		if p.borrowed != nil {
			p.borrowed.giveBack()
		}
		return nil
	}
	b.track(p)
	parent.event.mu.Lock()
	x := parent.extension()
	x.jumps = append(x.jumps, p)
	parent.event.mu.Unlock()
	p.run()
	b.untrack(p)
	return p.setupErr
}

// holdsLock reports whether the handler chain of row r holds lock l.
func holdsLock(r *Result, b *Bus, l *fifoLock) bool {
	for ; r != nil; r = r.jumpParent() {
		hb := r.handler.bus
		if r.flags&rowHoldsBusLock != 0 && &hb.lock == l {
			return true
		}
		if r.flags&rowHoldsGlobalLock != 0 && &hb.domain.global == l {
			return true
		}
	}
	return false
}

func holdsEventLock(r *Result, e *Event) bool {
	for ; r != nil; r = r.jumpParent() {
		if r.event == e && r.flags&rowHoldsEventLock != 0 {
			return true
		}
	}
	return false
}

// --- bookkeeping ---

// track records p as in flight on b until untrack.
func (b *Bus) track(p *processing) { b.tracked.Store(p, true) }

func (b *Bus) untrack(p *processing) { b.tracked.Delete(p) }

// finishEventOn records that b finished (or gave up) processing e.
func (b *Bus) finishEventOn(e *Event) { b.endEventOn(e, false) }

// endEventOn is finishEventOn for a processing that may hold e's handler
// lock (hheld): the lock is handed on in the critical section that records
// the end, so that holding it costs a serial event no lock of its own.
//
// A processing finalised from outside (a timeout, a cascade, Close) hands
// the lock on here too, although the goroutine of an aborted handler that
// ignores its ctx may still run: the next bus's handlers then overlap it,
// as the next handler on its own bus does (TIMEOUT-10). Holding the lock
// until the handler returns would need the runner to say, with an atomic
// per handler call, whether it is inside one.
func (b *Bus) endEventOn(e *Event, hheld bool) {
	e.mu.Lock()
	if hheld {
		e.passHandlerLockLocked()
	}
	e.decPendingLocked(b)
	if f := b.finished.Add(1); b.idleWtr.Load() > 0 && f >= b.emitted.Load() {
		b.notifyIdle()
	}
}

// passHandlerLockLocked releases the event's handler lock, or hands it to
// the processing that has waited longest (FIFO, LOCK-5). Called with e.mu
// held.
func (e *Event) passHandlerLockLocked() {
	if x := e.ext; x != nil && x.hwaiters != nil && len(*x.hwaiters) > 0 {
		q := *x.hwaiters
		ch := q[0]
		copy(q, q[1:])
		q[len(q)-1] = nil
		*x.hwaiters = q[:len(q)-1]
		close(ch) // the lock passes on: flagHandlerLock stays set
		return
	}
	e.flags &^= flagHandlerLock
}

// dropHandlerWaiterLocked removes waiter ch from the handler lock's queue and
// reports whether it was still queued (false: the lock was handed to it).
// Called with e.mu held.
func (e *Event) dropHandlerWaiterLocked(ch chan struct{}) bool {
	if x := e.ext; x != nil && x.hwaiters != nil {
		q := *x.hwaiters
		for i, w := range q {
			if w == ch {
				*x.hwaiters = append(q[:i], q[i+1:]...)
				q[len(q)-1] = nil // the backing array keeps no stale waiter
				return true
			}
		}
	}
	return false
}

// decPending drops one reason the event is incomplete; at zero the event
// completes (CHILD-5) and tells its parent (CHILD-6).
func (e *Event) decPending(b *Bus) {
	e.mu.Lock()
	e.decPendingLocked(b)
}

// decPendingLocked is decPending called with e.mu held; it unlocks e.mu.
func (e *Event) decPendingLocked(b *Bus) {
	e.pending--
	if e.pending > 0 {
		e.mu.Unlock()
		return
	}
	var last ident.Time
	for i, n := 0, e.rowCount(); i < n; i++ {
		if c := e.rowAt(i).CompletedTime(); c > last {
			last = c
		}
	}
	if last == 0 {
		last = ident.Now()
	}
	e.completed.Store(int64(last))
	e.status.Store(uint32(StatusCompleted))
	ch := e.done
	var parent *Event
	if e.flags&flagLinkedParent != 0 && e.ext != nil {
		parent = e.ext.parent
		e.flags &^= flagLinkedParent
	}
	if b == nil {
		b = e.bus0
	}
	var zeroHist []*Bus
	for i, n := 0, e.busCount(); i < n; i++ {
		if hb, _ := e.busAt(i); hb.hist.limit() == 0 {
			zeroHist = append(zeroHist, hb)
		}
	}
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	b.eventCompleted(e)
	for _, hb := range zeroHist {
		hb.hist.removeCompleted(e)
	}
	if parent != nil {
		parent.decPending(nil)
	}
}

// --- watchdog ---

// watchdog is one lazily re-armed timer that watches a runner's current
// processing: rather than arming a timer per event, it is armed for the
// earliest deadline it was asked for and, when it fires, looks at whatever
// is current and re-arms for the next deadline. With the default 60s
// timeout this costs no timer operation per event.
//
// A bus's shared watchdog (Bus.sharedWd) watches every processing in a set
// instead, the bus's tracked parallel events and queue-jumps: they run
// concurrently, so no single slot holds them, and a timer each would stay
// armed, and live, for the whole default timeout after the event ended
// (issue 9, item 2.3). When it fires it checks every published processing
// of the set and re-arms for the earliest next deadline among them.
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool         // stop was called: never arm again; guarded by mu
	armed   atomic.Int64 // monoNow reading the timer fires at, 0 when idle
	own     atomic.Pointer[processing]
	// slot is where the watched processing is published: the dispatcher's
	// cur for a dispatcher's watchdog (so one store serves both), else own.
	slot *atomic.Pointer[processing]
	// set, when not nil, makes this a shared watchdog over the
	// processings stored in it (the owner stores and deletes them).
	set *xsync.Map[*processing, bool]
}

func (w *watchdog) current() *atomic.Pointer[processing] {
	if w.slot != nil {
		return w.slot
	}
	return &w.own
}

// watch starts watching p; it is called by p's runner, which wrote p's
// deadlines itself.
func (w *watchdog) watch(p *processing) {
	if w.set == nil {
		w.current().Store(p)
	}
	dl, slow := p.deadline, p.slowAt
	if dl != 0 {
		w.need(dl)
	}
	if slow != 0 {
		w.need(slow)
	}
}

func (w *watchdog) unwatch(p *processing) {
	if w.set == nil {
		w.current().CompareAndSwap(p, nil)
	}
}

// need makes sure the timer fires no later than at.
func (w *watchdog) need(at int64) {
	if a := w.armed.Load(); a != 0 && a <= at {
		return
	}
	w.mu.Lock()
	if a := w.armed.Load(); !w.stopped && (a == 0 || at < a) {
		d := time.Duration(at - monoNow())
		if w.t == nil {
			w.t = time.AfterFunc(d, w.fire)
		} else {
			w.t.Reset(d)
		}
		w.armed.Store(at)
	}
	w.mu.Unlock()
}

// watchdogFires counts watchdog timer fires, for the tests that check that
// no timer of a closed bus fires.
var watchdogFires atomic.Int64

func (w *watchdog) fire() {
	watchdogFires.Add(1)
	w.mu.Lock()
	w.armed.Store(0)
	stopped := w.stopped
	w.mu.Unlock()
	if stopped {
		return
	}
	if w.set != nil {
		w.fireSet()
		return
	}
	slot := w.current()
	p := slot.Load()
	if p == nil || !p.pin(slot) {
		return
	}
	next := p.check(monoNow())
	p.unpin()
	if next != 0 {
		w.need(next)
	}
}

// fireSet is fire for a shared watchdog. The processings of the set are
// never reused (only a dispatcher reuses its processing), so they need no
// pin; one not yet published is still being set up by its runner, which
// asks for its deadlines itself when it publishes it.
func (w *watchdog) fireSet() {
	now := monoNow()
	var next int64
	w.set.Range(func(p *processing, _ bool) bool {
		if p.wd != w || !p.published.Load() {
			return true
		}
		if n := p.check(now); n != 0 && (next == 0 || n < next) {
			next = n
		}
		return true
	})
	if next != 0 {
		w.need(next)
	}
}

// stop stops the timer for good: a later need arms nothing.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
	w.armed.Store(0)
	w.mu.Unlock()
}
