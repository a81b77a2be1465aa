package engine

// The count of a bus's running goroutines (its dispatcher, pool tasks,
// hand-offs), which Stop and Close wait for (STOP-1, STOP-2). It replaces a
// sync.WaitGroup so that a shutdown that finds nothing running returns at
// once, without the goroutine and the timer a bounded WaitGroup.Wait needs
// (issue 13, target 3).

import (
	"sync"
	"sync/atomic"
)

// runnerGroup counts running goroutines like a sync.WaitGroup (Add, Done)
// and lets a waiter wait for the count to reach zero on a channel, so that
// the wait can be bounded with a select. The zero value is an empty group.
// A runnerGroup must not be copied after first use.
type runnerGroup struct {
	n       atomic.Int64
	waiting atomic.Int32 // registered waiters (see zeroChan)
	mu      sync.Mutex   // guards zero
	zero    chan struct{}
}

// Add adds delta, which may be negative, to the count. It panics if the
// count goes negative, as sync.WaitGroup does.
func (g *runnerGroup) Add(delta int) {
	v := g.n.Add(int64(delta))
	if v < 0 {
		panic("engine: negative runner count")
	}
	// The store to n above and the load of waiting here, against
	// zeroChan's store to waiting and the waiter's load of n (idle), are
	// sequentially consistent: either the waiter sees zero or this sees the
	// waiter and closes its channel.
	if v == 0 && g.waiting.Load() != 0 {
		g.mu.Lock()
		if g.zero != nil && g.n.Load() == 0 {
			close(g.zero)
			g.zero = nil
		}
		g.mu.Unlock()
	}
}

// Done takes one from the count.
func (g *runnerGroup) Done() { g.Add(-1) }

// idle reports whether the count is zero.
func (g *runnerGroup) idle() bool { return g.n.Load() == 0 }

// zeroChan registers a waiter and returns a channel that is closed the next
// time the count drops to zero, and the function that unregisters the
// waiter. The caller must check idle after zeroChan returns and before it
// blocks on the channel: a count that reached zero earlier closes nothing.
func (g *runnerGroup) zeroChan() (<-chan struct{}, func()) {
	g.waiting.Add(1)
	g.mu.Lock()
	if g.zero == nil {
		g.zero = make(chan struct{})
	}
	ch := g.zero
	g.mu.Unlock()
	return ch, func() { g.waiting.Add(-1) }
}
