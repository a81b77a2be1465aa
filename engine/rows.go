package engine

// Row set-up, for setup (processing.go): the event's settings on this bus
// resolved (the event's own, then its type's, then the bus's), and
// makeRows, which creates one pending row per handler under the event's
// lock, applies the recursion guard and takes or queues for the event's
// handler lock (handlerlock.go). The rows run next, in runners.go.

import (
	"time"

	"github.com/ringbus/ringbus/ident"
)

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
	evTO       time.Duration   // event timeout (0: none)
	evSlow     time.Duration   // event slow threshold (0: none)
	rowTO      time.Duration   // rowTimeout of a handler without its own timeout
	hSlow      time.Duration   // handlerSlow of a handler without its own threshold
	validator  ResultValidator // the type's result schema, if it has one (RTYPE-2)
	// lone: the dispatcher's lean path (setupLone) may take events of these
	// settings: serial handlers, no result schema, a bus without
	// middlewares or a queue bound (all fixed for the type and the bus).
	lone bool
}

// resolve returns the settings of the current event: the kept ones when the
// event sets nothing itself and has the kept type, else newly resolved ones,
// kept for the next event when the event sets nothing itself and written to
// own when it does. It records in p.stdSettings whether kept.rowTO and
// kept.hSlow apply to this event.
func (p *processing) resolve(b *Bus, meta *TypeMeta, ic *eventConfig, own *settings) *settings {
	unset := p.icStd || ic.isUnset()
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
		validator:  metaValidator(meta),
	}
	rs.lone = rs.hconc == SerialHandlers && rs.validator == nil && len(b.cfg.middlewares) == 0 && b.cfg.maxQueue <= 0
	p.stdSettings = unset
	return rs
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

// rowTimeout resolves a handler's effective timeout (TIMEOUT-1, TIMEOUT-3).
func rowTimeout(h *Handler, ic, tc *eventConfig) time.Duration {
	if h.timeout <= 0 {
		return defaultRowTimeout(h.bus, ic, tc)
	}
	return minTimeout(h.timeout, firstDur(ic.timeout, tc.timeout, h.bus.cfg.eventTimeout))
}

// defaultRowTimeout is rowTimeout for a handler of b without a timeout of
// its own.
func defaultRowTimeout(b *Bus, ic, tc *eventConfig) time.Duration {
	evTO := firstDur(ic.timeout, tc.timeout, b.cfg.eventTimeout)
	ht := firstPositive(ic.handlerTimeout, tc.handlerTimeout)
	if ht <= 0 && ic.timeout < 0 && tc.timeout < 0 {
		// 2.4.2 falls back to the bus timeout; an event that sets its own
		// timeout (0 disables it, TIMEOUT-3) does not fall back.
		ht = b.cfg.eventTimeout
	}
	return minTimeout(ht, evTO)
}

// makeRows creates this bus's rows for the event, skipping handlers that
// already have a row that is running or finished (FWD-4) and reusing seeded
// pending rows (ERU-5). It enforces the recursion guard (REC-1).
func (p *processing) makeRows() ([]*Result, bool, error) {
	b, e := p.bus, p.ev
	e.mu.Lock()
	if p.mustClaim {
		if e.ext == nil && e.bus0 == b && e.flags&flagClaimed0 == 0 && b.cfg.maxQueue <= 0 {
			e.flags |= flagClaimed0 // claimLocked's common case, inlined
		} else if !e.claimLocked(b) {
			e.mu.Unlock()
			return nil, false, nil
		}
	}
	var typed, wild []*Handler
	if d := p.disp; d != nil {
		if e.ext == nil || e.ext.typ == "" {
			if s := d.slot; s != nil && d.slotMeta == e.meta {
				// The last event's type: handlersOf's first case, inlined.
				typed, wild = s.handlers(), b.wild.handlers()
			} else {
				typed, wild = d.handlersOf(e.meta.name, e.meta) // its type's name (typeLocked)
			}
		} else {
			typed, wild = d.handlers(e.ext.typ)
		}
	} else {
		typed, wild = b.handlersFor(e.typeLocked())
	}
	n := len(typed) + len(wild)
	var slab []Result
	if n > 0 {
		v := p.kept.validator // the type's, resolved with the kept settings
		if !p.stdSettings || e.ext != nil && e.ext.extraJSON != nil {
			v = e.validatorLocked()
		}
		if v != nil {
			p.validator = v // reset left it nil
		}
		if d := p.disp; d != nil {
			slab = d.rowSlab(n)
		} else {
			slab = make([]Result, n)
		}
	}
	var rows []*Result
	if e.row0 == nil && (e.ext == nil || e.ext.parent == nil) && p.jumpFrom == nil && p.hconc != ParallelHandlers {
		// The common event: its first processing, no parent, no
		// queue-jump, serial handlers. No earlier rows to skip or reuse
		// (FWD-4, ERU-5), no ancestors to count (REC-1), no extensions.
		rows = p.rowBuf[:0]
		for i := range slab {
			h := handlerAt(typed, wild, i)
			r := &slab[i]
			r.event, r.handler = e, h
			r.flags = p.rowFlags
			if h.forwardTo != nil {
				r.flags |= rowForwarder
			}
			rows = append(rows, r)
			e.addRow(r)
		}
	} else {
		var err error
		if rows, err = p.moreRowsLocked(typed, wild, slab); err != nil {
			e.mu.Unlock()
			return nil, true, err
		}
	}
	if len(rows) > 0 && p.hconc == SerialHandlers && !p.hreenter {
		p.takeHandlerLockLocked()
	}
	e.mu.Unlock()
	if cap(rows) != cap(p.rowBuf) {
		p.rowBuf = rows // grown; otherwise the same array, left as it is (no write barrier)
	}
	return rows, true, nil
}

// handlerAt returns the i-th handler of typed then wild (REG-3: typed
// handlers first).
func handlerAt(typed, wild []*Handler, i int) *Handler {
	if i < len(typed) {
		return typed[i]
	}
	return wild[i-len(typed)]
}

// moreRowsLocked is makeRows for every other event: a later processing
// (rows to skip or reuse), a child (the recursion guard), a queue-jump or
// parallel handlers (row extensions). Called with p.ev.mu held.
func (p *processing) moreRowsLocked(typed, wild []*Handler, slab []Result) ([]*Result, error) {
	b, e := p.bus, p.ev
	rows := p.rowBuf[:0]
	n := len(slab)
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
next:
	for i := 0; i < n; i++ {
		h := handlerAt(typed, wild, i)
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
				return nil, &RecursionError{Handler: h.Label(), Bus: b.Label(), Event: e.typeLocked() + "#" + e.idOf().Suffix4(), Depth: depth, Limit: b.cfg.maxRecursion}
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
	return rows, nil
}

// takeHandlerLockLocked takes the event's handler lock for p, or queues p
// for it (LOCK-2). Called with p.ev.mu held.
func (p *processing) takeHandlerLockLocked() {
	e := p.ev
	if e.flags&flagHandlerLock == 0 {
		e.flags |= flagHandlerLock
		p.hheld = true
		return
	}
	ch := make(chan struct{})
	x := e.extension()
	if x.hwaiters == nil {
		x.hwaiters = new([]chan struct{})
	}
	*x.hwaiters = append(*x.hwaiters, ch)
	p.hwait = ch
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
