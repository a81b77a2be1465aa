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
	mu      sync.Mutex   // guards waiters and the transitions out of lockQueued
	waiters []chan struct{}
}

const (
	lockFree int32 = iota
	lockHeld
	lockQueued
)

// lock acquires the lock, or gives up when abort is closed (returning false).
func (l *fifoLock) lock(abort <-chan struct{}) bool {
	if l.state.CompareAndSwap(lockFree, lockHeld) {
		return true
	}
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
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				if len(l.waiters) == 0 {
					l.state.Store(lockHeld)
				}
				l.mu.Unlock()
				return false
			}
		}
		l.mu.Unlock()
		// The lock was handed to us just as we gave up: pass it on.
		l.unlock()
		return false
	}
}

// tryLock acquires the lock only if it is free (so nobody waits).
func (l *fifoLock) tryLock() bool {
	return l.state.CompareAndSwap(lockFree, lockHeld)
}

func (l *fifoLock) unlock() {
	if l.state.CompareAndSwap(lockHeld, lockFree) {
		return
	}
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
