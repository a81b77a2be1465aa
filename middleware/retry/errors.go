package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ringbus/ringbus/api"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrTimeout is matched by *TimeoutError: an attempt outlived the
	// policy's Timeout.
	ErrTimeout = errors.New("ringbus: retry attempt timed out")
	// ErrSemaphoreTimeout is matched by *SemaphoreTimeoutError: a strict
	// policy (SemaphoreLax(false)) did not get its semaphore in time.
	ErrSemaphoreTimeout = errors.New("ringbus: retry semaphore not acquired in time")
	// ErrNilFunc is returned by Do when given a nil function.
	ErrNilFunc = errors.New("ringbus: retry of a nil function")
)

// TimeoutError reports that an attempt was still running when the
// policy's Timeout expired and returned an error. Its Timeout method
// reports true, so a bus that runs a wrapped handler records it as a
// handler timeout (*api.HandlerTimeoutError, with this error inside). It
// matches ErrTimeout and context.DeadlineExceeded.
type TimeoutError struct {
	Attempt int           // the attempt that timed out, from 1
	Limit   time.Duration // the per-attempt timeout
	Err     error         // what the attempt returned
}

// Error returns "ringbus: retry attempt 2 timed out after 50ms".
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("ringbus: retry attempt %d timed out after %s", e.Attempt, e.Limit)
}

// Unwrap returns the attempt's own error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is ErrTimeout or context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// Timeout reports true: the error is a timeout, in the sense of net.Error.
func (e *TimeoutError) Timeout() bool { return true }

// SemaphoreTimeoutError reports that a strict policy gave up waiting for
// its semaphore; nothing was attempted. Like *TimeoutError it is a timeout
// (a bus records it as a handler timeout) and matches ErrSemaphoreTimeout
// and context.DeadlineExceeded.
type SemaphoreTimeoutError struct {
	Key   string        // the semaphore's key, scope included
	Limit int           // the semaphore's limit
	Wait  time.Duration // the bound on the wait, which expired
}

// Error returns `ringbus: retry semaphore "key" (limit 2) not acquired
// within 1s`.
func (e *SemaphoreTimeoutError) Error() string {
	return fmt.Sprintf("ringbus: retry semaphore %q (limit %d) not acquired within %s", e.Key, e.Limit, e.Wait)
}

// Is reports whether target is ErrSemaphoreTimeout or
// context.DeadlineExceeded.
func (e *SemaphoreTimeoutError) Is(target error) bool {
	return target == ErrSemaphoreTimeout || target == context.DeadlineExceeded
}

// Timeout reports true: the error is a timeout, in the sense of net.Error.
func (e *SemaphoreTimeoutError) Timeout() bool { return true }

// OptionError reports an invalid option given to New. It matches
// api.ErrBadOption.
type OptionError struct {
	Option string // the option's name, "Timeout"
	Reason string // what is wrong with its value
}

// Error returns "ringbus: invalid retry option Timeout: -1s is negative".
func (e *OptionError) Error() string {
	return "ringbus: invalid retry option " + e.Option + ": " + e.Reason
}

// Is reports whether target is api.ErrBadOption.
func (e *OptionError) Is(target error) bool { return target == api.ErrBadOption }

func badOption(option, format string, args ...any) error {
	return &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

// stoppedError is what Do returns when its ctx ends before or between
// attempts: it matches the ctx's error, its cause and the last attempt's
// error.
type stoppedError struct {
	attempt int   // the last attempt made, 0 before the first
	err     error // ctx.Err()
	cause   error // why the ctx ended, when that says more than err
	last    error // the last attempt's error, nil before the first
}

// stopped is the stoppedError of ctx after attempt n failed with last.
func stopped(ctx context.Context, n int, last error) *stoppedError {
	e := &stoppedError{attempt: n, err: ctx.Err(), last: last}
	if cause := causeOf(ctx); cause != e.err {
		e.cause = cause
	}
	return e
}

func (e *stoppedError) Error() string {
	var b strings.Builder
	b.WriteString("ringbus: retry stopped")
	if e.last != nil {
		fmt.Fprintf(&b, " after attempt %d", e.attempt)
	}
	b.WriteString(": ")
	why := e.err
	if e.cause != nil {
		why = e.cause
	}
	b.WriteString(strings.TrimPrefix(why.Error(), "ringbus: "))
	if e.last != nil {
		b.WriteString("; last error: ")
		b.WriteString(strings.TrimPrefix(e.last.Error(), "ringbus: "))
	}
	return b.String()
}

func (e *stoppedError) Unwrap() []error {
	errs := []error{e.err}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.last != nil {
		errs = append(errs, e.last)
	}
	return errs
}
