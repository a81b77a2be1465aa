package retry

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/logattr"
)

// Policy says how often and how a function is retried, and how many
// calls may run at once. Make one with New; a nil *Policy acts as the
// defaults (one attempt, no semaphore).
//
// A Policy is immutable and safe for concurrent use; one Policy may wrap
// any number of handlers on any number of buses.
type Policy struct {
	attempts int
	timeout  time.Duration
	delay    time.Duration
	backoff  float64
	maxDelay time.Duration
	jitter   float64
	match    []func(error) bool

	semLimit      int
	semKey        string
	semKeyFunc    func(ctx context.Context, e *api.BaseEvent) string
	semScope      Scope
	semTimeout    time.Duration
	semTimeoutSet bool
	semLax        bool
	ownKey        string // the default semaphore key outside a handler

	onRetry func(ctx context.Context, attempt int, err error, delay time.Duration)
	logger  *slog.Logger
}

// policies numbers the policies, for their own semaphore keys.
var policies atomic.Uint64

// defaults is the Policy a nil *Policy stands for.
var defaults = Policy{attempts: 1, backoff: 1, semLax: true}

// New returns a Policy with opts applied over the defaults: one attempt,
// no per-attempt timeout, no wait between attempts, backoff factor 1, no
// jitter, every error retried, and no semaphore (when one is set: global
// scope, lax). An invalid option makes New fail with an *OptionError,
// which matches api.ErrBadOption.
func New(opts ...Option) (*Policy, error) {
	p := defaults
	p.ownKey = "retry.Policy#" + strconv.FormatUint(policies.Add(1), 10)
	for _, o := range opts {
		if o == nil {
			return nil, badOption("nil", "nil option")
		}
		if err := o.apply(&p); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// Do calls fn until it succeeds, at most the policy's Attempts times, and
// returns what the last call returned: its error unchanged, so errors.Is
// and errors.As see what fn returned. An error the policy does not retry
// (see On) is returned at once. A nil p calls fn once.
//
// With a Semaphore, Do takes its place before the first attempt and keeps
// it until it returns. Called with a handler's ctx (inside a handler, or
// from a HandlerWrapper), Do keys the semaphore by that handler and logs
// to its bus's logger, as Wrap does.
//
// When ctx ends, Do stops: a wait for the semaphore or between attempts
// ends at once and Do returns an error matching both ctx's error (and
// cause) and the last attempt's error; an attempt that fails after ctx
// ended is not retried, and its error is returned unchanged.
//
// fn gets a ctx derived from ctx: with a Timeout it has the attempt's
// deadline, with a Semaphore it records that the semaphore is held.
// Events emitted with it are children of the event being handled, as they
// would be with ctx. A panic in fn is not retried: it propagates, and the
// semaphore is released.
//
// Wrapping an emit and its wait retries the whole dispatch: every attempt
// emits a new event and waits for its handlers:
//
//	n, err := retry.Do(ctx, p, func(ctx context.Context) (int, error) {
//		return api.Call(ctx, bus, &CountStock{SKU: sku})
//	})
func Do[T any](ctx context.Context, p *Policy, fn func(ctx context.Context) (T, error)) (T, error) {
	if fn == nil {
		var zero T
		return zero, ErrNilFunc
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var ev *api.BaseEvent
	if r := api.CurrentResult(ctx); r != nil {
		ev = r.Event()
	}
	return run(ctx, p.orDefaults(), ev, fn)
}

// Wrap returns a handler wrapper that runs the handler it wraps as Do
// runs fn, with the handler's ctx; give it to a bus for every handler
// (api.WithHandlerWrappers) or to one handler (api.WithWrappers). The
// semaphore key defaults to the handler's name. A per-attempt timeout that
// expires fails the attempt with a *TimeoutError, which the bus records,
// if it is the last attempt's, as a handler timeout
// (*api.HandlerTimeoutError, matching both api.ErrHandlerTimeout and
// ErrTimeout).
//
// The wrapper adds no allocation per event while no Timeout or Semaphore
// is set and the first attempt succeeds.
//
//go:noinline
func (p *Policy) Wrap() api.HandlerWrapper {
	// Not inlined: the wrapper's closures are then compiled here, where
	// escape analysis sees that run keeps no reference to the per-call
	// closure, which can stay on the stack; inlined into the caller's
	// package, it was allocated per call.
	p = p.orDefaults()
	return func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) {
			return run(ctx, p, e, func(ctx context.Context) (any, error) { return next(ctx, e) })
		}
	}
}

func (p *Policy) orDefaults() *Policy {
	if p == nil {
		return &defaults
	}
	return p
}

// run is Do; ev is the event being handled, if any.
func run[T any](ctx context.Context, p *Policy, ev *api.BaseEvent, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, stopped(ctx, 0, nil)
	}
	if p.semLimit > 0 {
		h, err := p.acquire(ctx, ev)
		if err != nil {
			return zero, err
		}
		if h != nil {
			defer h.release()
			ctx = context.WithValue(ctx, heldKey{}, h)
		}
	}
	for n := 1; ; n++ {
		v, err := attempt(ctx, p, n, fn)
		if err == nil || n >= p.attempts || ctx.Err() != nil || !p.retries(err) {
			return v, err
		}
		delay := p.delayAfter(n)
		p.notify(ctx, n, err, delay)
		if !sleep(ctx, delay) {
			return zero, stopped(ctx, n, err)
		}
	}
}

// errAttemptExpired is the cause of an attempt ctx whose Timeout expired.
var errAttemptExpired = errors.New("ringbus: retry attempt deadline")

// attempt makes attempt n of fn, under the policy's Timeout.
func attempt[T any](ctx context.Context, p *Policy, n int, fn func(ctx context.Context) (T, error)) (T, error) {
	if p.timeout <= 0 {
		return fn(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, p.timeout, errAttemptExpired)
	defer cancel()
	v, err := fn(actx)
	// The attempt's own deadline, not the caller's ctx ending: ctx is
	// still live and the cause is ours (an outer policy's deadline reaches
	// actx as a done ctx, so it fails the first test).
	if err != nil && ctx.Err() == nil && context.Cause(actx) == errAttemptExpired {
		var zero T
		return zero, &TimeoutError{Attempt: n, Limit: p.timeout, Err: err}
	}
	return v, err
}

// retries reports whether the policy retries err.
func (p *Policy) retries(err error) bool {
	if len(p.match) == 0 {
		return true
	}
	for _, m := range p.match {
		if m(err) {
			return true
		}
	}
	return false
}

// delayAfter is the wait after failed attempt n: delay·backoff^(n-1),
// jittered, capped by MaxDelay.
func (p *Policy) delayAfter(n int) time.Duration {
	if p.delay <= 0 {
		return 0
	}
	d := float64(p.delay)
	if p.backoff != 1 {
		d *= math.Pow(p.backoff, float64(n-1))
	}
	if p.jitter > 0 {
		d *= 1 + p.jitter*(2*rand.Float64()-1)
	}
	if p.maxDelay > 0 && d > float64(p.maxDelay) {
		return p.maxDelay
	}
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ctx.Err() == nil
}

// causeOf is why ctx ended: its cause, or for a handler's ctx the bus's
// reason (a timeout, an abort, Stop), else ctx.Err().
func causeOf(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return cause
	}
	if cause := api.Cause(ctx); cause != nil && cause != err {
		return cause
	}
	return err
}

// Log messages and the attribute keys that internal/logattr lacks.
const (
	msgRetrying      = "ringbus: retrying after a failed attempt"
	msgSemaphoreLax  = "ringbus: retry semaphore not acquired in time; going on without it"
	attrAttempt      = "attempt"   // the failed attempt, from 1, int
	attrAttempts     = "attempts"  // the policy's Attempts, int
	attrDelay        = "delay"     // the wait before the next attempt, time.Duration
	attrSemaphore    = "semaphore" // the semaphore key, string
	handlerAttrCount = 4
)

// notify tells OnRetry and the logger that attempt n failed with err and
// the next comes after delay.
func (p *Policy) notify(ctx context.Context, n int, err error, delay time.Duration) {
	if p.onRetry != nil {
		p.onRetry(ctx, n, err, delay)
	}
	l := p.loggerFor(ctx)
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, handlerAttrCount+4)
	attrs = handlerAttrs(ctx, attrs)
	attrs = append(attrs, slog.Int(attrAttempt, n), slog.Int(attrAttempts, p.attempts),
		slog.Duration(attrDelay, delay), slog.Any(logattr.Error, err))
	l.LogAttrs(ctx, slog.LevelDebug, msgRetrying, attrs...)
}

// loggerFor is the policy's logger, else the handler's bus's, else
// slog.Default().
func (p *Policy) loggerFor(ctx context.Context) *slog.Logger {
	if p.logger != nil {
		return p.logger
	}
	if b := api.CurrentBus(ctx); b != nil {
		return b.Logger()
	}
	return slog.Default()
}

// handlerAttrs appends the bus, event and handler of the handler running
// with ctx, if any.
func handlerAttrs(ctx context.Context, attrs []slog.Attr) []slog.Attr {
	r := api.CurrentResult(ctx)
	if r == nil {
		return attrs
	}
	e := r.Event()
	return append(attrs, slog.String(logattr.Bus, r.Bus().Label()), slog.String(logattr.EventType, e.Type()),
		slog.String(logattr.EventID, e.ID()), slog.String(logattr.Handler, r.Handler().Label()))
}
