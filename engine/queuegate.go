package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// queueGate bounds how many events a bus holds queued (WithMaxQueue, an
// opt-in extension of EMIT-2): n counts the events admitted by Emit and not
// yet claimed by the bus (started by the dispatcher or by a queue jump).
// Emit takes a place (Bus.admit) before it records the event, Requeue
// takes one unconditionally, and claimLocked gives it back (release). A bus
// without a limit never touches the gate.
//
// Places go to waiting emitters in FIFO order: a waiter is granted a place
// under mu by whoever frees one (release), which keeps n counting it, so a
// fresh emitter cannot take the place first. The fast path, a CAS on n,
// runs only while nobody waits.
type queueGate struct {
	n     atomic.Int64 // places taken
	nwait atomic.Int32 // len(waiters), readable without mu
	mu    sync.Mutex
	head  *queueWaiter // FIFO of waiting emitters, guarded by mu
	tail  *queueWaiter
}

// queueWaiter is one emitter waiting for a place.
type queueWaiter struct {
	next    *queueWaiter
	ready   chan struct{} // closed when granted
	granted bool          // guarded by the gate's mu
}

// tryTake takes a place if one is free and nobody waits.
func (g *queueGate) tryTake(limit int64) bool {
	if g.nwait.Load() != 0 {
		return false
	}
	for {
		n := g.n.Load()
		if n >= limit {
			return false
		}
		if g.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// forceTake takes a place even over the limit (Requeue restores a
// snapshot's queue as it was).
func (g *queueGate) forceTake() { g.n.Add(1) }

// release gives a place back and hands it to the oldest waiter, if any.
//
// release decrements n before it reads nwait, and a waiter increments nwait
// (under mu) before it reads n in grantLocked; the atomics are sequentially
// consistent, so either release sees the waiter and grants it, or the
// waiter sees the freed place.
func (g *queueGate) release(limit int64) {
	g.n.Add(-1)
	if g.nwait.Load() == 0 {
		return
	}
	g.mu.Lock()
	g.grantLocked(limit)
	g.mu.Unlock()
}

// grantLocked gives free places to waiters, oldest first.
func (g *queueGate) grantLocked(limit int64) {
	for g.head != nil {
		n := g.n.Load()
		if n >= limit {
			return
		}
		if !g.n.CompareAndSwap(n, n+1) {
			continue // a fast-path taker moved n: look again
		}
		w := g.head
		g.unlinkHeadLocked()
		w.granted = true
		close(w.ready)
	}
}

func (g *queueGate) unlinkHeadLocked() {
	w := g.head
	g.head = w.next
	if g.head == nil {
		g.tail = nil
	}
	w.next = nil
	g.nwait.Add(-1)
}

// removeLocked takes w out of the FIFO (its wait ended without a place).
func (g *queueGate) removeLocked(w *queueWaiter) {
	var prev *queueWaiter
	for c := g.head; c != nil; prev, c = c, c.next {
		if c != w {
			continue
		}
		if prev == nil {
			g.head = c.next
		} else {
			prev.next = c.next
		}
		if g.tail == c {
			g.tail = prev
		}
		c.next = nil
		g.nwait.Add(-1)
		return
	}
}

// wait queues the caller for a place and blocks until it is granted one,
// ctx is done or stopped is closed. It returns nil with a place taken, else
// ctx's error or errStopWait, without a place.
func (g *queueGate) wait(ctx context.Context, limit int64, stopped <-chan struct{}) error {
	w := &queueWaiter{ready: make(chan struct{})}
	g.mu.Lock()
	if g.tail == nil {
		g.head = w
	} else {
		g.tail.next = w
	}
	g.tail = w
	g.nwait.Add(1) // before grantLocked reads n (see release)
	g.grantLocked(limit)
	g.mu.Unlock()

	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-stopped:
		err = errStopWait
	}
	g.mu.Lock()
	if w.granted {
		// Granted as the wait ended: give the place on to the next waiter.
		g.mu.Unlock()
		g.release(limit)
		return err
	}
	g.removeLocked(w)
	g.mu.Unlock()
	return err
}

// errStopWait ends a wait for a place when the bus stops; Emit turns it
// into ErrBusClosed.
var errStopWait = fmt.Errorf("%w: stopped while waiting for queue room", ErrBusClosed)

// admit takes a place in b's queue for an Emit with context ctx, waiting
// for one when the policy allows it (see WithMaxQueue). parentRow is the
// handler row of ctx, if any: an emit from a handler never waits.
func (b *Bus) admit(ctx context.Context, parentRow *Result) error {
	limit := int64(b.cfg.maxQueue)
	if b.gate.tryTake(limit) {
		return nil // a full history still rejects the emit (HIST-4), later in Emit
	}
	if hl, n := b.hist.limit(), b.hist.count.Load(); hl > 0 && !b.hist.drop() && n >= int64(hl) {
		// HIST-4 takes precedence: a full history that does not drop never
		// frees up, so waiting for queue room could only end in this error.
		return &HistoryFullError{Bus: b.Label(), Len: int(n), Limit: hl}
	}
	if b.cfg.queuePolicy == QueueReject || parentRow != nil {
		return &QueueFullError{Bus: b.Label(), Limit: b.cfg.maxQueue}
	}
	switch err := b.gate.wait(ctx, limit, b.stopped); err {
	case nil:
		return nil
	case errStopWait:
		return fmt.Errorf("%w: cannot emit on %s", ErrBusClosed, b.Label())
	default:
		qf := &QueueFullError{Bus: b.Label(), Limit: b.cfg.maxQueue, Err: err}
		if c := context.Cause(ctx); c != err {
			qf.Cause = c
		}
		return qf
	}
}

// onPathOf reports whether label is in e's event_path (EMIT-8).
func (e *Event) onPathOf(label string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.onPathLocked(label)
}
