package engine

import (
	"sync"
)

// fifoLock is a FIFO-fair mutual-exclusion lock (CONC-8, LOCK-5): Unlock hands
// the lock to the longest waiter, so a new Lock call cannot slip in ahead of
// queued waiters. The uncontended path takes one short mutex section.
// Re-entrancy is not handled here: callers check the handler context for a
// lock they already hold before calling Lock (LOCK-3).
type fifoLock struct {
	mu      sync.Mutex
	held    bool
	waiters []chan struct{}
}

// lock acquires the lock, or gives up when abort is closed (returning false).
func (l *fifoLock) lock(abort <-chan struct{}) bool {
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return true
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

// tryLock acquires the lock only if it is free and nobody waits.
func (l *fifoLock) tryLock() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return false
	}
	l.held = true
	return true
}

func (l *fifoLock) unlock() {
	l.mu.Lock()
	if len(l.waiters) > 0 {
		ch := l.waiters[0]
		copy(l.waiters, l.waiters[1:])
		l.waiters[len(l.waiters)-1] = nil
		l.waiters = l.waiters[:len(l.waiters)-1]
		l.mu.Unlock()
		close(ch) // ownership passes to the waiter; held stays true
		return
	}
	if !l.held {
		l.mu.Unlock()
		panic("ringbus: unlock of unlocked fifoLock")
	}
	l.held = false
	l.mu.Unlock()
}

// hasWaiters reports whether someone is queued for the lock.
func (l *fifoLock) hasWaiters() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters) > 0
}
