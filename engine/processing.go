package engine

// A processing is one bus's handling of one event, made by the dispatcher
// (dispatcher.go) or by a queue-jump (jump.go). run is its whole path:
// setup resolves the settings and makes the rows (rows.go), waits for the
// event's handler lock if another bus holds it (handlerlock.go) and
// publishes the processing to the watchdog (watchdog.go); the runners then
// run the rows (runners.go), and finish ends the processing on the bus
// (completion.go).

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/ident"
)

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
	ic        eventConfig     // the event's instance settings (its type's: ev.meta.cfg, immutable)
	icStd     bool            // ic is unsetConfig (the event sets nothing itself); set by handle only
	own       settings        // the settings resolved for an event with instance settings
	rowBuf    []*Result       // reused backing array for rows
	clockHint int64           // a recent monoNow reading of this runner, or 0
	validator ResultValidator // the event's result schema, if it has one
	kept      settings        // the last settings resolved without instance settings
	// stdSettings: the event has no instance settings, so kept.rowTO and
	// kept.hSlow apply to its handlers without their own (set by resolve).
	stdSettings bool
	mustClaim   bool // setup claims the event (dispatcher path)
	// keepSlot: p is its dispatcher's reused processing (d.proc), which
	// stays in the watchdog's slot between events, unpublished (see pin):
	// no pointer store per event. Set by handle before publish.
	keepSlot  bool
	loneList  *handlerList // the last handler snapshot setupLone found fit
	unclaimed bool         // setup found the event already claimed
	allDone   chan struct{}
	timing    []rowTiming

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

// monoNow is the clock for deadlines and slow warnings: the process clock's
// monotonic reading (one clock read; testing/synctest's fake clock drives it).
func monoNow() int64 { return int64(ident.Since()) }

// takeClock returns a monoNow reading: the hint left by the previous step of
// this runner if there is one (a reading at most a step old: the end of the
// previous handler, when the dispatcher goes straight on to the next event),
// else a fresh one. It saves a clock read per step on the hot path.
func (p *processing) takeClock() int64 {
	if h := p.clockHint; h != 0 {
		p.clockHint = 0
		return h
	}
	return freshClock()
}

// freshClock is monoNow out of line, so that takeClock inlines.
//
//go:noinline
func freshClock() int64 { return monoNow() }

// pin protects p against reuse by its dispatcher while an outside actor
// (the watchdog, Close) works on it: the actor found p in slot, counts
// itself in refs, then checks p is still in slot and published. finish
// unpublishes p (clears published for the dispatcher's reused processing,
// which stays in the slot, and takes any other out of the slot) before the
// dispatcher looks at refs, and the dispatcher takes a fresh processing
// instead of reusing one with refs > 0. With sequentially consistent
// atomics either the actor sees p unpublished and backs off, or the
// dispatcher sees the pin.
func (p *processing) pin(slot *atomic.Pointer[processing]) bool {
	p.refs.Add(1)
	if slot.Load() != p || !p.published.Load() {
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
//
// A pointer store costs a write barrier while the GC marks, so reset, run
// once per event on the dispatcher, stores only the pointers that change:
// a reused processing mostly has them nil already, or the same bus.
func (p *processing) reset(b *Bus, e *Event) {
	if p.bus != b {
		p.bus = b
	}
	p.ev = e
	p.rows = p.rows[:0] // length only: no pointer store
	// p.lock and p.disp are the caller's: handle sets both on the processing
	// it reuses, and every other processing is fresh.
	if p.setupErr != nil || p.allDone != nil || p.timing != nil || p.hwait != nil {
		p.setupErr, p.allDone, p.timing, p.hwait = nil, nil, nil, nil
	}
	p.hheld, p.hreenter = false, false
	if p.validator != nil {
		p.validator = nil
	}
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

// track records p as in flight on b until untrack.
func (b *Bus) track(p *processing) { b.tracked.Store(p, true) }

func (b *Bus) untrack(p *processing) { b.tracked.Delete(p) }

// Run runs a parallel event's processing on a pool worker.
func (p *processing) Run() {
	p.run()
	p.bus.untrack(p)
}

// run processes the event and reports whether the caller lost ownership
// (a timeout or Stop finalised the processing from outside).
func (p *processing) run() bool { return p.runGuarded(nil) }

// runGuarded is run for the dispatcher's serial processings, whose
// handlers' panics the dispatcher's loop recovers through g (see
// callGuard); with g nil each call recovers them.
func (p *processing) runGuarded(g *callGuard) bool {
	tok := p.owner.Load()
	if g != nil {
		if r := p.setupLone(); r != nil {
			return p.runLone(r, tok, g)
		}
	}
	if !p.setup() {
		return false
	}
	if p.setupErr == nil && len(p.rows) > 0 {
		if p.hconc == ParallelHandlers {
			p.runParallel()
		} else if p.runSerial(0, tok, g) {
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
	rs := &p.kept
	if p.icStd && p.kept.meta == e.meta && p.kept.bus == b {
		p.stdSettings = true // resolve's first case, inlined
	} else {
		rs = p.resolve(b, e.meta, &p.ic, &p.own)
	}
	hconc, completion, evTO, evSlow := rs.hconc, rs.completion, rs.evTO, rs.evSlow

	// Nobody else sees p until it is published below (the pin protocol
	// keeps pinned processings out of reuse), so setup writes without a lock.
	now := p.takeClock()
	p.clockHint = now // the first row starts now too
	p.hconc, p.complete, p.evTO = hconc, completion, evTO
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
	if len(rows) > 0 && cap(p.rows) >= len(rows) && &p.rows[:1][0] == &rows[0] {
		p.rows = p.rows[:len(rows)] // the same array (rowBuf): no pointer store
	} else {
		p.rows = rows
	}
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
	// Publish p: make it visible to the watchdog and to Close (through the
	// watchdog's slot, the dispatcher's cur for dispatcher processings),
	// and have the watchdog look at it by its deadlines.
	p.published.Store(true)
	if w := p.wd; w != nil {
		if s := w.slot; s != nil && s.Load() != p {
			s.Store(p) // the dispatcher's reused processing is there already (keepSlot)
		}
		// One need, for the earlier of the two deadlines, does for both:
		// the timer fires no later than that, and check asks for the next
		// deadline then.
		if at := earliest(p.deadline, p.slowAt); at != 0 {
			w.need(at)
		}
	}
	if b.state.Load() != busOpen || p.jumpFrom != nil {
		p.publishChecks()
	}
	if expired {
		p.timeoutEvent()
	}
	return true
}

// setupLone is setup for the dispatcher's common event, with one row: an
// event that sets nothing itself, of the type of the kept settings (serial
// handlers, no result schema), emitted to this bus alone and processed
// here first, on a bus without middlewares or a queue bound, with one
// typed handler of this bus, without wildcard handlers, that forwards
// nothing and has no timeout or slow threshold of its own. It does what
// setup does for such an event, in the same order, and returns its row;
// for any other event it changes nothing and returns nil (setup then
// runs). Its conditions keep out everything setup would do besides:
// instance settings, extensions (FWD-4, ERU-5, REC-1), result schemas,
// hooks (MW-1), queue counts and the handler lock's queue (LOCK-2).
//
// It is called by the dispatcher only (runGuarded with its callGuard), on
// a processing handle prepared: mustClaim set, disp the dispatcher, no
// queue-jump.
func (p *processing) setupLone() *Result {
	b, e, d := p.bus, p.ev, p.disp
	if !p.icStd || !p.kept.lone || p.kept.meta != e.meta || p.kept.bus != b {
		return nil
	}
	s := d.slot
	if s == nil || d.slotMeta != e.meta {
		return nil
	}
	e.mu.Lock()
	// The claim, the handler snapshot (REG-7) and the handler lock
	// (LOCK-2) in one critical section, as in makeRows.
	l := s.list.Load()
	if l == nil || e.ext != nil || e.row0 != nil || e.bus0 != b ||
		e.flags&(flagClaimed0|flagHandlerLock) != 0 || len(b.wild.handlers()) > 0 {
		e.mu.Unlock()
		return nil
	}
	if l != p.loneList {
		// A snapshot never changes, nor do its handlers' settings: one
		// found fit once stays fit.
		if len(l.hs) != 1 || !loneHandler(l.hs[0], b) {
			e.mu.Unlock()
			return nil
		}
		p.loneList = l
	}
	h := l.hs[0]
	e.flags |= flagClaimed0 | flagHandlerLock
	p.hheld = true
	p.stdSettings = true
	p.rowFlags |= rowHoldsEventLock
	slab := d.rowSlab(1)
	r := &slab[0]
	r.event, r.handler = e, h
	r.flags = p.rowFlags
	rows := append(p.rowBuf[:0], r)
	e.row0 = r // addRow
	e.mu.Unlock()
	if cap(rows) != cap(p.rowBuf) {
		p.rowBuf = rows // grown; otherwise the same array (no write barrier)
	}
	if cap(p.rows) >= 1 && &p.rows[:1][0] == &rows[0] {
		p.rows = p.rows[:1]
	} else {
		p.rows = rows
	}
	rs := &p.kept
	now := p.takeClock()
	p.clockHint = now // the row starts now too
	p.hconc, p.complete, p.evTO = rs.hconc, rs.completion, rs.evTO
	if rs.evTO > 0 {
		p.deadline = now + int64(rs.evTO)
	}
	if rs.evSlow > 0 {
		p.slowAt = now + int64(rs.evSlow)
	}
	// Publish p, as setup does.
	p.published.Store(true)
	if w := p.wd; w != nil {
		if s := w.slot; s != nil && s.Load() != p {
			s.Store(p)
		}
		if at := earliest(p.deadline, p.slowAt); at != 0 {
			w.need(at)
		}
	}
	if b.state.Load() != busOpen {
		p.publishChecks()
	}
	return r
}

// loneHandler reports whether h, the only handler of an event's type on b,
// suits setupLone: b's own, forwarding nothing, without a timeout or slow
// threshold of its own.
func loneHandler(h *Handler, b *Bus) bool {
	return h.forwardTo == nil && h.timeout <= 0 && h.slowTimeout < 0 && h.bus == b
}

// runLone is runGuarded's rest for the row setupLone made: runSerial for
// one row, then finish. Anything but a value (an error, a timeout that
// took the row or the processing) goes through endRow.
func (p *processing) runLone(r *Result, tok uint32, g *callGuard) bool {
	if p.owner.Load() != tok {
		return true
	}
	now := p.takeClock()
	if r.startAt(now) {
		p.curIdx.Store(0)
		// The lone handler has no timeout or slow threshold of its own:
		// the kept settings' apply (see rowTimeout, handlerSlow).
		p.beginRowWith(r, nil, now, p.kept.rowTO, p.kept.hSlow)
		if g.p != p {
			g.p = p // mostly the same processing (d.proc): no write barrier
		}
		g.i, g.tok, g.inCall = 0, tok, true
		v, err := r.handler.fn(hctx{r}, r.event)
		g.inCall = false
		if p.owner.Load() != tok {
			return true
		}
		now = monoNow()
		if err == nil && !isErrorValue(v) {
			// endRow for a value (no result schema here: lone settings):
			// the row completes, its ctx is released, then it settles.
			ok := r.finishAt(v, nil, StatusStarted, now)
			r.released()
			if ok {
				p.settle(r)
				p.clockHint = now // the next event starts now
			}
		} else if p.endRow(r, v, err, now) {
			p.clockHint = now
		}
		// One row: a first-mode winner has no other rows to end.
	}
	return !p.finish()
}

// publishChecks follows the publication of p when the bus is closing or p is
// a queue-jump: a processing published while the bus started closing is
// aborted at once, and a queue-jump whose awaiting handler timed out or
// was aborted while it was being set up is interrupted like the others
// (CANCEL-2).
func (p *processing) publishChecks() {
	if p.bus.state.Load() != busOpen {
		p.abort(ReasonStopped, ErrStopped, nil)
		return
	}
	if jf := p.jumpFrom; jf != nil && jf.Status() == StatusError {
		if err := jf.Error(); isOwnError(err) {
			p.abort(cascadeReason(err), err, err)
		}
	}
}
