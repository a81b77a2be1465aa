package engine

import (
	"sync"
	"sync/atomic"
)

// fifoLock is a FIFO-fair mutual-exclusion lock (CONC-8, LOCK-5): Unlock hands
// the lock to the longest waiter, so a new Lock call cannot slip in ahead of
// queued waiters. Taking and releasing an uncontended lock is one
// compare-and-swap each; waiters queue under a mutex.
// Re-entrancy is not handled here: callers check the handler context for a
// lock they already hold before calling lock (LOCK-3).
type fifoLock struct {
	state   atomic.Int32 // lockFree, lockHeld, or lockQueued (held, waiters queued)
	mu      sync.Mutex   // guards waiters, park and the transitions out of lockQueued
	waiters []chan struct{}
	park    *lockPark // made on the first park or borrow attempt; guarded by mu
}

// lockPark is the state of a holder parked behind an event's handler lock
// (LOCK-2), guarded by fifoLock.mu. While the holder waits for ev's handler
// lock it runs no handler, so a queue-jump awaited by the handler chain that
// holds ev's handler lock may borrow the lock meanwhile (priority
// inheritance, AWAIT-5, LOCK-3); other callers wait as usual. The holder
// takes the lock back only once every borrower has finished. Nothing here
// is touched on the uncontended path, and a lock that never parks has none.
type lockPark struct {
	ev        *Event        // the holder waits for ev's handler lock; nil: not parked
	sig       chan struct{} // closed when the holder parks; made by waiters that may borrow
	borrowers int           // queue-jumps running on the lock borrowed
	idle      chan struct{} // closed when borrowers drops to 0 (the unparked holder waits)
}

const (
	lockFree int32 = iota
	lockHeld
	lockQueued
)

// lock acquires the lock, or gives up when abort is closed (returning false).
func (l *fifoLock) lock(abort <-chan struct{}) bool {
	return l.state.CompareAndSwap(lockFree, lockHeld) || l.lockSlow(abort)
}

// lockSlow is lock once the lock was found taken: it queues for it.
func (l *fifoLock) lockSlow(abort <-chan struct{}) bool {
	l.mu.Lock()
	for {
		switch l.state.Load() {
		case lockFree:
			if l.state.CompareAndSwap(lockFree, lockHeld) {
				l.mu.Unlock()
				return true
			}
			continue
		case lockHeld:
			if !l.state.CompareAndSwap(lockHeld, lockQueued) {
				continue // released meanwhile: try again
			}
		}
		break
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-abort:
		l.mu.Lock()
		if l.dropWaiterLocked(ch) {
			l.mu.Unlock()
			return false
		}
		l.mu.Unlock()
		// The lock was handed to us just as we gave up: pass it on.
		l.unlock()
		return false
	}
}

// dropWaiterLocked removes waiter ch from the queue and reports whether it
// was still queued (false: the lock was handed to it). Called with l.mu held.
func (l *fifoLock) dropWaiterLocked(ch chan struct{}) bool {
	for i, w := range l.waiters {
		if w == ch {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			if len(l.waiters) == 0 {
				l.state.Store(lockHeld)
			}
			return true
		}
	}
	return false
}

// lockOrBorrow is lock for a queue-jump inside the handler of row parent: it
// acquires the lock (held), or borrows it (borrowed) when the holder is
// parked behind the handler lock of an event whose handler lock parent's
// chain holds (see lockPark), or gives up when abort is closed (neither).
// A borrower calls giveBack when it finishes.
func (l *fifoLock) lockOrBorrow(abort <-chan struct{}, parent *Result) (held, borrowed bool) {
	if l.state.CompareAndSwap(lockFree, lockHeld) {
		return true, false
	}
	l.mu.Lock()
	for {
		switch l.state.Load() {
		case lockFree:
			if l.state.CompareAndSwap(lockFree, lockHeld) {
				l.mu.Unlock()
				return true, false
			}
			continue
		case lockHeld:
			if !l.state.CompareAndSwap(lockHeld, lockQueued) {
				continue
			}
		}
		break
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	if l.park == nil {
		l.park = &lockPark{}
	}
	var refused *Event // a parked event parent's chain does not hold
	for {
		// Called with l.mu held; ch is queued.
		if ev := l.park.ev; ev != nil && ev != refused {
			l.mu.Unlock()
			// holdsEventLock takes event locks: not under l.mu. The
			// answer does not change while parent waits here.
			may := holdsEventLock(parent, ev)
			l.mu.Lock()
			if !may {
				refused = ev
				continue
			}
			if l.park.ev == ev && l.dropWaiterLocked(ch) {
				l.park.borrowers++
				l.mu.Unlock()
				return false, true
			}
			if l.park.ev != ev {
				continue // unparked meanwhile
			}
			l.mu.Unlock()
			return true, false // handed to us
		}
		if l.park.sig == nil {
			l.park.sig = make(chan struct{})
		}
		sig := l.park.sig
		l.mu.Unlock()
		select {
		case <-ch:
			return true, false
		case <-abort:
			l.mu.Lock()
			if l.dropWaiterLocked(ch) {
				l.mu.Unlock()
				return false, false
			}
			l.mu.Unlock()
			l.unlock()
			return false, false
		case <-sig:
		}
		l.mu.Lock()
		if !l.queuedLocked(ch) {
			l.mu.Unlock()
			return true, false
		}
	}
}

func (l *fifoLock) queuedLocked(ch chan struct{}) bool {
	for _, w := range l.waiters {
		if w == ch {
			return true
		}
	}
	return false
}

// parkOn records that the holder waits for ev's handler lock and wakes the
// waiters that may borrow the lock. It reports false, doing nothing, when
// the lock is parked already (by the holder's chain further up).
func (l *fifoLock) parkOn(ev *Event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.park == nil {
		l.park = &lockPark{}
	}
	if l.park.ev != nil {
		return false
	}
	l.park.ev = ev
	if l.park.sig != nil {
		close(l.park.sig)
		l.park.sig = nil
	}
	return true
}

// unpark ends the park: no new borrower comes in, and it returns once the
// borrowers have given the lock back, or when abort is closed.
func (l *fifoLock) unpark(abort <-chan struct{}) {
	l.mu.Lock()
	l.park.ev = nil
	if l.park.borrowers == 0 {
		l.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	l.park.idle = idle
	l.mu.Unlock()
	select {
	case <-idle:
	case <-abort:
		l.mu.Lock()
		if l.park.idle == idle {
			l.park.idle = nil
		}
		l.mu.Unlock()
	}
}

// giveBack ends a borrow taken by lockOrBorrow.
func (l *fifoLock) giveBack() {
	l.mu.Lock()
	l.park.borrowers--
	if l.park.borrowers == 0 && l.park.idle != nil {
		close(l.park.idle)
		l.park.idle = nil
	}
	l.mu.Unlock()
}

// tryLock acquires the lock only if it is free (so nobody waits).
func (l *fifoLock) tryLock() bool {
	return l.state.CompareAndSwap(lockFree, lockHeld)
}

func (l *fifoLock) unlock() {
	if !l.state.CompareAndSwap(lockHeld, lockFree) {
		l.unlockSlow()
	}
}

// unlockSlow is unlock with waiters queued (or one that just gave up): it
// hands the lock to the longest waiter.
func (l *fifoLock) unlockSlow() {
	l.mu.Lock()
	if l.state.Load() != lockQueued {
		// A waiter gave up and the queue emptied: plain release.
		if !l.state.CompareAndSwap(lockHeld, lockFree) {
			l.mu.Unlock()
			panic("ringbus: unlock of unlocked fifoLock")
		}
		l.mu.Unlock()
		return
	}
	ch := l.waiters[0]
	copy(l.waiters, l.waiters[1:])
	l.waiters[len(l.waiters)-1] = nil
	l.waiters = l.waiters[:len(l.waiters)-1]
	if len(l.waiters) == 0 {
		l.state.Store(lockHeld) // ownership passes on; nobody else queued
	}
	l.mu.Unlock()
	close(ch)
}

// hasWaiters reports whether someone is queued for the lock.
func (l *fifoLock) hasWaiters() bool {
	return l.state.Load() == lockQueued
}
