package retry

// The semaphores of RETRY-4: a registry of counting semaphores by key and
// limit, each entry reference-counted by the calls holding or waiting for
// it and removed when the last one leaves, so the registry holds only the
// keys in use however many distinct keys come and go.

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/logattr"
)

type semKey struct {
	name  string
	limit int
}

type semaphore struct {
	slots chan struct{} // one element per holder; capacity = limit
	refs  int           // calls holding or waiting; guarded by registry.mu
}

type registry struct {
	mu sync.Mutex
	m  map[semKey]*semaphore
}

var sems = registry{m: make(map[semKey]*semaphore)}

// ref returns the semaphore of k, creating it, and counts the caller in.
func (r *registry) ref(k semKey) *semaphore {
	r.mu.Lock()
	s := r.m[k]
	if s == nil {
		s = &semaphore{slots: make(chan struct{}, k.limit)}
		r.m[k] = s
	}
	s.refs++
	r.mu.Unlock()
	return s
}

// unref counts the caller out, forgetting the semaphore after the last.
func (r *registry) unref(k semKey, s *semaphore) {
	r.mu.Lock()
	if s.refs--; s.refs == 0 {
		delete(r.m, k)
	}
	r.mu.Unlock()
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// hold is a place taken in a semaphore. The attempts' ctx carries it, so
// that a nested call for the same semaphore (RETRY-6: re-entrancy) goes
// on without waiting for the place its own caller holds.
type hold struct {
	key      semKey
	s        *semaphore
	outer    *hold // the hold of an enclosing call, if any
	released atomic.Bool
}

type heldKey struct{}

func (h *hold) release() {
	h.released.Store(true)
	<-h.s.slots
	sems.unref(h.key, h.s)
}

// holds reports whether the call chain of ctx holds k.
func holds(ctx context.Context, k semKey) bool {
	h, _ := ctx.Value(heldKey{}).(*hold)
	for ; h != nil; h = h.outer {
		if h.key == k && !h.released.Load() {
			return true
		}
	}
	return false
}

// acquire takes a place in the policy's semaphore for this call. It
// returns nil and no error when the call goes on without one: its caller
// holds it already, or a lax wait timed out.
func (p *Policy) acquire(ctx context.Context, ev *api.BaseEvent) (*hold, error) {
	k := semKey{name: p.semName(ctx, ev), limit: p.semLimit}
	if holds(ctx, k) {
		return nil, nil
	}
	s := sems.ref(k)
	outer, _ := ctx.Value(heldKey{}).(*hold)
	h := &hold{key: k, s: s, outer: outer}
	select {
	case s.slots <- struct{}{}:
		return h, nil
	default:
	}
	var expired <-chan time.Time
	wait, bounded := p.semWait()
	if bounded {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case s.slots <- struct{}{}:
		return h, nil
	case <-ctx.Done():
		sems.unref(k, s)
		return nil, stopped(ctx, 0, nil)
	case <-expired:
		sems.unref(k, s)
		if !p.semLax {
			return nil, &SemaphoreTimeoutError{Key: k.name, Limit: k.limit, Wait: wait}
		}
		if l := p.loggerFor(ctx); l.Enabled(ctx, slog.LevelWarn) {
			attrs := make([]slog.Attr, 0, handlerAttrCount+3)
			attrs = handlerAttrs(ctx, attrs)
			attrs = append(attrs, slog.String(attrSemaphore, k.name), slog.Int(logattr.Limit, k.limit),
				slog.Duration(logattr.Timeout, wait))
			l.LogAttrs(ctx, slog.LevelWarn, msgSemaphoreLax, attrs...)
		}
		return nil, nil
	}
}

// semWait is how long a call waits for the semaphore, if bounded.
func (p *Policy) semWait() (time.Duration, bool) {
	if p.semTimeoutSet {
		return p.semTimeout, p.semTimeout > 0
	}
	if p.timeout > 0 {
		n := time.Duration(max(1, p.semLimit-1))
		if p.timeout > time.Duration(1<<63-1)/n {
			return 0, false // longer than a Duration holds: no bound
		}
		return p.timeout * n, true
	}
	return 0, false
}

// semName is the semaphore key of a call: the name (from SemaphoreKeyFunc,
// SemaphoreKey, the handler's name, or the policy's own) inside the
// scope's bus or handler.
func (p *Policy) semName(ctx context.Context, ev *api.BaseEvent) string {
	var name string
	if p.semKeyFunc != nil {
		name = p.semKeyFunc(ctx, ev)
	}
	if name == "" {
		name = p.semKey
	}
	r := api.CurrentResult(ctx)
	if name == "" {
		if r == nil {
			name = p.ownKey
		} else {
			name = r.HandlerName()
		}
	}
	if r != nil {
		switch p.semScope {
		case ScopeBus:
			return "bus " + r.Bus().ID() + " " + name
		case ScopeHandler:
			return "handler " + r.HandlerID() + " " + name
		}
	}
	return name
}
