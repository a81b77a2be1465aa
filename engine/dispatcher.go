package engine

// The dispatcher: the one goroutine per bus that drains the bus's queue,
// started by ensureRunning at the bus's first Emit (emit.go). run pops the
// queued events in FIFO order and handle takes each one: a parallel event
// goes to the bus's pool (pool.go), a serial one waits for the bus's (or
// the domain's) event lock and runs inline. Either way it is claimed on the
// bus and handed to a processing, whose path continues in processing.go.

import (
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"unsafe"
)

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
	slotType   string       // event type of slot
	slotMeta   *TypeMeta    // the type slotType is the name of, when known
	slot       *handlerSlot // the handler slot last looked up
	chunk      []Result     // the current chunk of rows (see rowSlab)
	chunkPos   int          // chunk[chunkPos:] are not handed out yet
	chunkBytes int          // the size of the last chunk allocated, 0 before the first
	own        eventConfig  // handle's copy of the current event's instance settings
}

// A dispatcher allocates rows in chunks: one allocation then serves many
// events. A chunk stays alive while any of its rows is referenced (by
// history, say), so at most one chunk's rows but one are held too long.
// The first chunk fills the allocator's 512-byte size class (4 rows) and
// each later one twice as many bytes, up to the 8 KiB class (rowChunk
// rows): a bus that handles a few events does not pay for 8 KiB of rows
// (issue 13, target 3), and a busy one soon allocates full chunks only.
const (
	firstChunkBytes = 512
	maxChunkBytes   = 8192
	sizeofResult    = int(unsafe.Sizeof(Result{}))
	rowChunk        = maxChunkBytes / sizeofResult
)

// rowSlab returns n zeroed rows for one event.
func (d *dispatcher) rowSlab(n int) []Result {
	if n > rowChunk/4 {
		return make([]Result, n)
	}
	// An index into the chunk, not a shrinking slice: no pointer store (and
	// so no write barrier) per event.
	i := d.chunkPos
	if len(d.chunk)-i < n {
		d.chunkBytes = min(max(2*d.chunkBytes, firstChunkBytes), maxChunkBytes)
		d.chunk = make([]Result, max(d.chunkBytes/sizeofResult, n))
		i = 0
	}
	d.chunkPos = i + n
	return d.chunk[i : i+n : i+n]
}

// handlers returns the handlers of an event type like Bus.handlersFor,
// remembering the slot of the last type looked up: a bus mostly sees runs
// of one type, and a slot never changes while the bus is open.
func (d *dispatcher) handlers(typ string) (typed, wild []*Handler) {
	return d.handlersOf(typ, nil)
}

// handlersOf is handlers for an event whose type name typ is its type's,
// m (nil when not known): comparing m with the last one saves comparing
// the names.
func (d *dispatcher) handlersOf(typ string, m *TypeMeta) (typed, wild []*Handler) {
	b := d.bus
	s := d.slot
	if s == nil || (m == nil || d.slotMeta != m) && d.slotType != typ {
		if s, _ = b.typed.Load(typ); s != nil {
			d.slotType, d.slot, d.slotMeta = typ, s, m
		}
	} else if m != nil && d.slotMeta != m {
		d.slotMeta = m // the same name under another type: remember the last
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

// handlers returns the slot's current handlers.
func (s *handlerSlot) handlers() []*Handler {
	if l := s.list.Load(); l != nil {
		return l.hs
	}
	return nil
}

// dispatchBatch is how many events the dispatcher pops from the queue at a
// time. 32 costs the same instructions per event as 128 did in EmitBatch
// (callgrind, 3,150-3,165 either way) and a quarter of the buffer, which
// every bus that emits once pays for (issue 13, target 3).
const dispatchBatch = 32

// dispatcherParts is a dispatcher with its watchdog and its buffer, which
// live exactly as long as it does: one allocation instead of three. All
// three are written by the goroutine that owns the dispatcher.
type dispatcherParts struct {
	d   dispatcher
	wd  watchdog
	buf [dispatchBatch]*Event
}

func (b *Bus) ensureRunning() {
	if b.started.Load() {
		return
	}
	b.startMu.Lock()
	defer b.startMu.Unlock()
	if b.started.Load() || b.state.Load() != busOpen {
		return // started already, or shutting down (see shutdown)
	}
	parts := &dispatcherParts{}
	d := &parts.d
	d.bus, d.buf, d.wd = b, parts.buf[:], &parts.wd
	d.wd.slot = &d.cur
	d.proc = &processing{}
	b.disp.Store(d)
	b.runners.Add(1)
	b.started.Store(true)
	go d.loop()
}

func (d *dispatcher) loop() {
	defer d.bus.runners.Done()
	d.run()
}

// run is the dispatcher's loop: it handles the queued events until the bus
// closes or a timeout hands the dispatcher to another goroutine.
func (d *dispatcher) run() {
	var g callGuard
	for !d.runGuarded(&g) {
	}
}

// runGuarded runs the loop under one deferred recover for every serial
// handler the loop calls (see callGuard): a handler's panic fails its row
// with *HandlerPanicError (ERR-1), as call would, and runGuarded returns
// false; called again, it first carries on with that processing (resume).
// A panic outside a handler goes on unrecovered, and runtime.Goexit in a
// handler ends the goroutine, as they do through call. It returns true
// when the loop ended.
func (d *dispatcher) runGuarded(g *callGuard) (ended bool) {
	defer func() {
		if ended || !g.inCall {
			return
		}
		x := recover()
		if x == nil {
			return // runtime.Goexit
		}
		g.inCall = false
		p := g.p
		r := p.rows[g.i]
		g.err = &HandlerPanicError{Handler: r.handler.Label(), Bus: p.bus.Label(), Event: r.event.Label(), Value: x, Stack: debug.Stack()}
	}()
	if g.err != nil && d.resume(g) {
		return true
	}
	d.drain(g)
	return true
}

// resume carries on with the processing whose handler panicked, from the
// end of that handler's call: the row fails with the recovered panic, the
// next rows run and the processing finishes. It reports whether this
// goroutine lost the dispatcher, as handle does.
func (d *dispatcher) resume(g *callGuard) bool {
	p, i, tok, err := g.p, g.i, g.tok, g.err
	g.p, g.err = nil, nil
	if p.owner.Load() != tok {
		return true
	}
	now := monoNow()
	if p.endRow(p.rows[i], nil, err, now) {
		p.clockHint = now // a failed row never wins first mode
	}
	if p.runSerial(i+1, tok, g) {
		return true
	}
	return !p.finish()
}

// drain handles the queued events, waiting for more, until the bus closes
// or the dispatcher is handed to another goroutine.
func (d *dispatcher) drain(g *callGuard) {
	b := d.bus
	for {
		for d.pos < d.n {
			if b.state.Load() != busOpen {
				return
			}
			// The slot keeps e until the next PopBatch overwrites or clears
			// it: no nil store (and write barrier) per event.
			e := d.buf[d.pos]
			d.pos++
			if d.handle(e, g) {
				return // a replacement goroutine owns d now
			}
		}
		if b.state.Load() != busOpen {
			return
		}
		last := d.n
		d.pos, d.n = 0, b.queue.PopBatch(d.buf)
		if d.n < last {
			clear(d.buf[d.n:last]) // the handled events the batch did not overwrite
		}
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
func (d *dispatcher) handle(e *Event, g *callGuard) bool {
	b := d.bus
	ic := &unsetConfig // read-only: no copy for the common event that sets nothing
	if e.bits.Load()&bitCfgSet != 0 {
		d.own = e.instanceConfig() // not a local: no zeroing per event
		ic = &d.own
	}
	mode := b.resolveConcurrency(e, ic)
	if mode == ParallelEvents {
		if !e.claim(b) {
			return false
		}
		p := &processing{wd: &b.sharedWd}
		p.reset(b, e)
		p.ic = *ic
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
	hc := ic.handlerConcurrency // resolved as in resolve (HCONC-3)
	if hc == 0 {
		if hc = e.meta.cfg.handlerConcurrency; hc == 0 {
			hc = b.cfg.handlerConcurrency
		}
	}
	if hc == ParallelHandlers {
		// Parallel handlers may touch their processing after the event
		// moved on; give them one of their own.
		p = &processing{}
	}
	p.reset(b, e)
	p.keepSlot = p == d.proc
	if ic != &unsetConfig || !p.icStd {
		p.ic = *ic
		p.icStd = ic == &unsetConfig
	} // else p.ic is unsetConfig already: no copy
	p.mustClaim = true
	// Pointer stores only where they change (see reset).
	if p.lock != lock {
		p.lock = lock
	}
	if p.disp != d || p.wd != d.wd {
		p.disp, p.wd = d, d.wd
	}
	p.rowFlags = lockFlag(b, lock)
	abandoned := p.runGuarded(g)
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
func (b *Bus) resolveConcurrency(e *Event, ic *eventConfig) EventConcurrency {
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
func (e *Event) claim(b *Bus) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.claimLocked(b)
}

func (e *Event) claimLocked(b *Bus) bool {
	if e.ext == nil {
		// Emitted to one bus at most: bus0 is the only entry.
		if e.bus0 != b || e.flags&flagClaimed0 != 0 {
			return false
		}
		e.flags |= flagClaimed0
	} else if i := e.queuedOnLocked(b); i >= 0 {
		e.setClaimed(i)
	} else {
		return false
	}
	if b.cfg.maxQueue > 0 {
		b.gate.release(int64(b.cfg.maxQueue)) // started: it leaves the queue count
	}
	return true
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
