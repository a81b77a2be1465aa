package retry

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"github.com/ringbus/ringbus/api"
)

// Option configures a Policy; pass options to New.
type Option interface {
	apply(p *Policy) error
}

type optionFunc func(p *Policy) error

func (f optionFunc) apply(p *Policy) error { return f(p) }

// Scope says which calls share a semaphore of one key (see Semaphore).
type Scope uint8

// Semaphore scopes.
const (
	// ScopeGlobal shares one semaphore per key across the process: every
	// bus, every handler. The default.
	ScopeGlobal Scope = iota
	// ScopeBus gives each bus its own semaphore per key: handlers on one
	// bus share it, handlers on other buses do not.
	ScopeBus
	// ScopeHandler gives each registered handler its own semaphore per
	// key: two handlers never wait for each other, even on one bus.
	ScopeHandler
)

// String returns "global", "bus" or "handler".
func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeBus:
		return "bus"
	case ScopeHandler:
		return "handler"
	}
	return "Scope(" + strconv.Itoa(int(s)) + ")"
}

// Attempts sets how many times the function is called at most, the first
// call included. Default 1 (no retry); n < 1 counts as 1.
func Attempts(n int) Option {
	return optionFunc(func(p *Policy) error {
		p.attempts = max(n, 1)
		return nil
	})
}

// Timeout bounds each attempt: the attempt's ctx is cancelled after d, and
// an attempt that then returns an error fails with a *TimeoutError, which
// is retried like any other error. A bus running a wrapped handler records
// that error as a handler timeout. The function must return once its ctx
// is done: an attempt is never abandoned while it runs. An attempt that
// returns a nil error after its deadline succeeded. Default 0: no per-attempt
// timeout. A negative d is an error.
func Timeout(d time.Duration) Option {
	return optionFunc(func(p *Policy) error {
		if d < 0 {
			return badOption("Timeout", "%s is negative", d)
		}
		p.timeout = d
		return nil
	})
}

// Delay sets the wait before the second attempt; with Backoff, the wait
// before attempt n+1 is d·factor^(n-1). Default 0; a negative d counts as
// 0.
func Delay(d time.Duration) Option {
	return optionFunc(func(p *Policy) error {
		p.delay = max(d, 0)
		return nil
	})
}

// Backoff sets the factor each wait is multiplied by after the first
// (see Delay). Default 1: every wait is the same. factor must be a finite
// number, 0 or more.
func Backoff(factor float64) Option {
	return optionFunc(func(p *Policy) error {
		if math.IsNaN(factor) || math.IsInf(factor, 0) || factor < 0 {
			return badOption("Backoff", "factor %v is not a finite number >= 0", factor)
		}
		p.backoff = factor
		return nil
	})
}

// MaxDelay caps every wait between attempts, jitter included. Default 0:
// no cap. A negative d is an error.
func MaxDelay(d time.Duration) Option {
	return optionFunc(func(p *Policy) error {
		if d < 0 {
			return badOption("MaxDelay", "%s is negative", d)
		}
		p.maxDelay = d
		return nil
	})
}

// Jitter spreads the waits between attempts: each is multiplied by a
// random factor between 1-fraction and 1+fraction. Default 0: no jitter.
// fraction must be between 0 and 1.
func Jitter(fraction float64) Option {
	return optionFunc(func(p *Policy) error {
		if !(fraction >= 0 && fraction <= 1) {
			return badOption("Jitter", "fraction %v is not between 0 and 1", fraction)
		}
		p.jitter = fraction
		return nil
	})
}

// On retries the errors that match one of targets with errors.Is. With no
// On, OnType, OnMatch or If option every error is retried; with some, an
// error that matches none of them is returned at once. The options add
// up: an error is retried when any of them matches it.
func On(targets ...error) Option {
	return optionFunc(func(p *Policy) error {
		for i, t := range targets {
			if t == nil {
				return badOption("On", "error %d is nil", i)
			}
		}
		for _, t := range targets {
			p.match = append(p.match, func(err error) bool { return errors.Is(err, t) })
		}
		return nil
	})
}

// OnType retries the errors in which errors.As finds an E: a concrete
// type such as OnType[*net.OpError](), or an interface such as
// OnType[interface{ Temporary() bool }](). E must be an interface or a
// type that implements error. See On for how the matching options
// combine.
func OnType[E any]() Option {
	return optionFunc(func(p *Policy) error {
		if t := reflect.TypeFor[E](); t.Kind() != reflect.Interface && !t.Implements(errorType) {
			return badOption("OnType", "%s is neither an error type nor an interface", t)
		}
		p.match = append(p.match, func(err error) bool {
			var target E
			return errors.As(err, &target)
		})
		return nil
	})
}

var errorType = reflect.TypeFor[error]()

// OnMatch retries the errors whose "TypeName: message" text re matches,
// where TypeName is the error's type as ringbus writes it in JSON: the
// value of its TypeName method if it has one, else its Go type's name
// without package or pointer star ("TimeoutError" for a
// *retry.TimeoutError), else "Error" for the standard library's plain and
// wrapped errors (errors.New, fmt.Errorf). Only the outermost error is
// named; its message includes the wrapped ones'. See On for how the
// matching options combine.
func OnMatch(re *regexp.Regexp) Option {
	return optionFunc(func(p *Policy) error {
		if re == nil {
			return badOption("OnMatch", "nil regexp")
		}
		p.match = append(p.match, func(err error) bool {
			return re.MatchString(api.ErrorTypeName(err) + ": " + err.Error())
		})
		return nil
	})
}

// If retries the errors for which f returns true. See On for how the
// matching options combine.
func If(f func(err error) bool) Option {
	return optionFunc(func(p *Policy) error {
		if f == nil {
			return badOption("If", "nil function")
		}
		p.match = append(p.match, f)
		return nil
	})
}

// Semaphore limits how many calls of the policy with one semaphore key run
// at once to limit. A call takes its place before the first attempt and
// keeps it across every attempt and wait, until it returns. The key is the
// handler's name unless SemaphoreKey or SemaphoreKeyFunc says otherwise,
// and which calls share it is set by SemaphoreScope. Default 0: no
// semaphore. A negative limit is an error.
//
// Calls of policies that use one key share a semaphore when their limits
// are equal; a policy with another limit gets a semaphore of its own. A
// call nested inside another that holds the semaphore (directly, or
// through an event emitted with the holder's ctx and handled on the
// caller's ctx chain) does not wait for it again, so recursion does not
// deadlock. A semaphore is forgotten when no call holds or waits for it:
// any number of distinct keys can be used over time.
func Semaphore(limit int) Option {
	return optionFunc(func(p *Policy) error {
		if limit < 0 {
			return badOption("Semaphore", "limit %d is negative", limit)
		}
		p.semLimit = limit
		return nil
	})
}

// SemaphoreKey names the semaphore (see Semaphore); by default it is the
// name of the handler being run, or, outside a handler, one of the
// policy's own. The name must not be empty.
func SemaphoreKey(name string) Option {
	return optionFunc(func(p *Policy) error {
		if name == "" {
			return badOption("SemaphoreKey", "empty name")
		}
		p.semKey = name
		return nil
	})
}

// SemaphoreKeyFunc computes the semaphore's name per call from the call's
// ctx and the event being handled (nil when Do is called outside a
// handler). An empty result falls back to SemaphoreKey or the default.
func SemaphoreKeyFunc(f func(ctx context.Context, e *api.BaseEvent) string) Option {
	return optionFunc(func(p *Policy) error {
		if f == nil {
			return badOption("SemaphoreKeyFunc", "nil function")
		}
		p.semKeyFunc = f
		return nil
	})
}

// SemaphoreScope sets which calls share a semaphore of one key:
// ScopeGlobal (the default), ScopeBus or ScopeHandler. Outside a handler
// there is no bus or handler, and every scope acts as ScopeGlobal.
func SemaphoreScope(s Scope) Option {
	return optionFunc(func(p *Policy) error {
		if s > ScopeHandler {
			return badOption("SemaphoreScope", "unknown scope %d", s)
		}
		p.semScope = s
		return nil
	})
}

// SemaphoreTimeout bounds the wait for the semaphore to d; 0 waits
// without a bound. Without it, a policy with a Timeout waits at most
// Timeout·max(1, limit-1), and one without waits without a bound. The
// call's ctx ends the wait in every case. What happens when the wait
// times out is set by SemaphoreLax. A negative d is an error.
func SemaphoreTimeout(d time.Duration) Option {
	return optionFunc(func(p *Policy) error {
		if d < 0 {
			return badOption("SemaphoreTimeout", "%s is negative", d)
		}
		p.semTimeout, p.semTimeoutSet = d, true
		return nil
	})
}

// SemaphoreLax sets what a call does when its wait for the semaphore
// times out: with lax true (the default) it logs a warning and goes on
// without the semaphore; with lax false it returns a
// *SemaphoreTimeoutError without attempting anything.
func SemaphoreLax(lax bool) Option {
	return optionFunc(func(p *Policy) error {
		p.semLax = lax
		return nil
	})
}

// OnRetry calls f after each failed attempt that will be retried, before
// the wait: attempt is the failed attempt's number (from 1), err its
// error and delay the wait before the next. f runs on the caller's
// goroutine and delays the retry while it runs.
func OnRetry(f func(ctx context.Context, attempt int, err error, delay time.Duration)) Option {
	return optionFunc(func(p *Policy) error {
		if f == nil {
			return badOption("OnRetry", "nil function")
		}
		p.onRetry = f
		return nil
	})
}

// WithLogger sets where the policy logs: a Debug record for each retry
// and a Warn record when a lax semaphore wait times out. By default a
// call inside a handler logs to its bus's logger, and any other call to
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(p *Policy) error {
		if l == nil {
			return badOption("WithLogger", "nil logger")
		}
		p.logger = l
		return nil
	})
}
