package retry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/retry"
)

var errFlaky = errors.New("flaky")

// tempError is an error type for OnType and OnMatch.
type tempError struct{ code int }

func (e *tempError) Error() string { return fmt.Sprintf("code %d", e.code) }

// failing returns a function that fails with errs in turn, then succeeds
// with "ok", counting its calls in *calls.
func failing(calls *int, errs ...error) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		*calls++
		if *calls <= len(errs) {
			return "", errs[*calls-1]
		}
		return "ok", nil
	}
}

func mustNew(t *testing.T, opts ...retry.Option) *retry.Policy {
	t.Helper()
	p, err := retry.New(opts...)
	require.NoError(t, err)
	return p
}

// RETRY-1: bad option values are refused with a typed error; the values
// the spec clamps (attempts < 1, a negative delay) are clamped.
func TestRetryOptionsValidate_RETRY1(t *testing.T) {
	bad := map[string]retry.Option{
		"Timeout":          retry.Timeout(-time.Second),
		"MaxDelay":         retry.MaxDelay(-1),
		"Backoff":          retry.Backoff(-2),
		"Jitter":           retry.Jitter(1.5),
		"On":               retry.On(nil),
		"OnMatch":          retry.OnMatch(nil),
		"If":               retry.If(nil),
		"Semaphore":        retry.Semaphore(-1),
		"SemaphoreKey":     retry.SemaphoreKey(""),
		"SemaphoreKeyFunc": retry.SemaphoreKeyFunc(nil),
		"SemaphoreScope":   retry.SemaphoreScope(retry.Scope(9)),
		"SemaphoreTimeout": retry.SemaphoreTimeout(-1),
		"OnRetry":          retry.OnRetry(nil),
		"WithLogger":       retry.WithLogger(nil),
		"nil":              nil,
		"OnType":           retry.OnType[string](),
	}
	for name, o := range bad {
		p, err := retry.New(o)
		assert.Nil(t, p, name)
		require.ErrorIs(t, err, api.ErrBadOption, name)
		var oe *retry.OptionError
		require.ErrorAs(t, err, &oe, name)
		assert.Equal(t, name, oe.Option)
	}
	_, err := retry.New(retry.Backoff(nanFloat()))
	require.ErrorIs(t, err, api.ErrBadOption)

	synctest.Test(t, func(t *testing.T) {
		calls := 0
		start := time.Now()
		p := mustNew(t, retry.Attempts(0), retry.Delay(-time.Hour))
		_, err := retry.Do(t.Context(), p, failing(&calls, errFlaky))
		require.ErrorIs(t, err, errFlaky)
		assert.Equal(t, 1, calls, "Attempts(0) counts as 1")

		calls = 0
		p = mustNew(t, retry.Attempts(3), retry.Delay(-time.Hour))
		v, err := retry.Do(t.Context(), p, failing(&calls, errFlaky, errFlaky))
		require.NoError(t, err)
		assert.Equal(t, "ok", v)
		assert.Equal(t, 3, calls)
		assert.Zero(t, time.Since(start), "a negative delay counts as 0: no time passed on the fake clock")
	})
}

func nanFloat() float64 { zero := 0.0; return zero / zero }

// RETRY-2: the waits between attempts are delay·factor^(attempt-1),
// capped by MaxDelay; measured on synctest's fake clock, so exact and
// without real sleeps.
func TestRetryBackoffSequence_RETRY2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		var told []time.Duration
		start := time.Now()
		p := mustNew(t, retry.Attempts(5), retry.Delay(10*time.Millisecond), retry.Backoff(2),
			retry.OnRetry(func(_ context.Context, attempt int, err error, delay time.Duration) {
				assert.Equal(t, len(told)+1, attempt)
				assert.ErrorIs(t, err, errFlaky)
				told = append(told, delay)
			}))
		_, err := retry.Do(t.Context(), p, func(context.Context) (int, error) {
			at = append(at, time.Since(start))
			return 0, errFlaky
		})
		require.ErrorIs(t, err, errFlaky)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 10 * ms, 30 * ms, 70 * ms, 150 * ms}, at, "attempt start times")
		assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms}, told)

		told = nil
		p = mustNew(t, retry.Attempts(5), retry.Delay(10*ms), retry.Backoff(2), retry.MaxDelay(25*ms),
			retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { told = append(told, d) }))
		_, _ = retry.Do(t.Context(), p, func(context.Context) (int, error) { return 0, errFlaky })
		assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 25 * ms, 25 * ms}, told)

		told = nil
		p = mustNew(t, retry.Attempts(50), retry.Delay(100*ms), retry.Jitter(0.5),
			retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { told = append(told, d) }))
		_, _ = retry.Do(t.Context(), p, func(context.Context) (int, error) { return 0, errFlaky })
		require.Len(t, told, 49)
		spread := false
		for _, d := range told {
			assert.GreaterOrEqual(t, d, 50*ms)
			assert.LessOrEqual(t, d, 150*ms)
			spread = spread || d != told[0]
		}
		assert.True(t, spread, "jitter varies the waits")
	})
}

// RETRY-2: an attempt that outlives Timeout fails with a *TimeoutError
// (ErrTimeout, context.DeadlineExceeded, Timeout() true) and is retried; an
// attempt that succeeds after its deadline succeeded.
func TestRetryPerAttemptTimeout_RETRY2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		p := mustNew(t, retry.Attempts(3), retry.Timeout(50*time.Millisecond))
		start := time.Now()
		_, err := retry.Do(t.Context(), p, func(ctx context.Context) (string, error) {
			calls++
			<-ctx.Done()
			return "", ctx.Err()
		})
		assert.Equal(t, 3, calls)
		assert.Equal(t, 150*time.Millisecond, time.Since(start))
		require.ErrorIs(t, err, retry.ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var te *retry.TimeoutError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, 3, te.Attempt)
		assert.Equal(t, 50*time.Millisecond, te.Limit)
		assert.True(t, te.Timeout())
		assert.Contains(t, err.Error(), "timed out after 50ms")

		calls = 0
		v, err := retry.Do(t.Context(), p, func(ctx context.Context) (string, error) {
			calls++
			<-ctx.Done()
			return "late but done", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "late but done", v)
		assert.Equal(t, 1, calls)
	})
}

// RETRY-3: only the matching errors are retried; a non-matching one is
// returned at once, and the last error comes back unchanged.
func TestRetryOnlyMatchingErrors_RETRY3(t *testing.T) {
	other := errors.New("permanent")
	cases := []struct {
		name    string
		opt     retry.Option
		retried error
	}{
		{"On", retry.On(errFlaky), fmt.Errorf("wrapped: %w", errFlaky)},
		{"OnType", retry.OnType[*tempError](), fmt.Errorf("wrapped: %w", &tempError{code: 7})},
		{"OnType interface", retry.OnType[interface{ Timeout() bool }](), &retry.TimeoutError{Attempt: 1}},
		{"OnMatch", retry.OnMatch(regexp.MustCompile(`^tempError: code 7$`)), &tempError{code: 7}},
		{"OnMatch plain", retry.OnMatch(regexp.MustCompile(`^Error: wrapped: flaky$`)), fmt.Errorf("wrapped: %w", errFlaky)},
		{"If", retry.If(func(err error) bool { return err.Error() == "flaky" }), errFlaky},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustNew(t, retry.Attempts(3), c.opt)
			calls := 0
			_, err := retry.Do(t.Context(), p, failing(&calls, c.retried, c.retried, c.retried))
			assert.Equal(t, 3, calls, "a matching error is retried")
			assert.Same(t, c.retried, err, "the last error is returned unchanged")

			calls = 0
			_, err = retry.Do(t.Context(), p, failing(&calls, other, other))
			assert.Equal(t, 1, calls, "a non-matching error is returned at once")
			assert.Same(t, other, err)
		})
	}

	// With no matcher every error is retried; several matchers add up.
	calls := 0
	_, err := retry.Do(t.Context(), mustNew(t, retry.Attempts(3)), failing(&calls, other, other, other))
	assert.Equal(t, 3, calls)
	assert.Same(t, other, err)
	calls = 0
	p := mustNew(t, retry.Attempts(3), retry.On(errFlaky), retry.OnType[*tempError]())
	v, err := retry.Do(t.Context(), p, failing(&calls, errFlaky, &tempError{}))
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
}

// A ctx that ends stops the retrying at once: during the wait between
// attempts, and before the first attempt.
func TestRetryCtxCancelStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		stop := errors.New("shutting down")
		calls := 0
		p := mustNew(t, retry.Attempts(5), retry.Delay(time.Hour),
			retry.OnRetry(func(context.Context, int, error, time.Duration) { cancel(stop) }))
		start := time.Now()
		_, err := retry.Do(ctx, p, failing(&calls, errFlaky, errFlaky))
		assert.Equal(t, 1, calls)
		assert.Zero(t, time.Since(start), "the hour-long wait ended with the ctx")
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, stop, "the cause")
		require.ErrorIs(t, err, errFlaky, "and the last attempt's error")
		assert.Contains(t, err.Error(), "after attempt 1")

		calls = 0
		_, err = retry.Do(ctx, p, failing(&calls))
		require.ErrorIs(t, err, stop)
		assert.Zero(t, calls, "a done ctx: no attempt")

		// An attempt that fails because the ctx ended is not retried, and
		// its error is returned unchanged.
		ctx2, cancel2 := context.WithCancel(t.Context())
		calls = 0
		_, err = retry.Do(ctx2, mustNew(t, retry.Attempts(5)), func(ctx context.Context) (int, error) {
			calls++
			cancel2()
			return 0, ctx.Err()
		})
		assert.Equal(t, 1, calls)
		assert.Equal(t, context.Canceled, err)
	})
}

// RETRY-5 (defaults): one attempt, no wait, factor 1, every error retried
// once attempts are raised, a nil Policy acts as the defaults.
func TestRetryDefaults_RETRY5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, p := range []*retry.Policy{mustNew(t), nil} {
			calls := 0
			_, err := retry.Do(t.Context(), p, failing(&calls, errFlaky))
			assert.Same(t, errFlaky, err)
			assert.Equal(t, 1, calls, "one attempt by default")
		}
		var told []time.Duration
		start := time.Now()
		calls := 0
		p := mustNew(t, retry.Attempts(3),
			retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { told = append(told, d) }))
		_, err := retry.Do(t.Context(), p, failing(&calls, errFlaky, io(), errFlaky))
		assert.Same(t, errFlaky, err)
		assert.Equal(t, 3, calls, "every error is retried")
		assert.Equal(t, []time.Duration{0, 0}, told, "no wait")
		assert.Zero(t, time.Since(start))

		told = nil
		p = mustNew(t, retry.Attempts(4), retry.Delay(time.Second),
			retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { told = append(told, d) }))
		_, _ = retry.Do(t.Context(), p, func(context.Context) (int, error) { return 0, errFlaky })
		assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, told, "backoff factor 1")

		_, err = retry.Do[int](t.Context(), p, nil)
		require.ErrorIs(t, err, retry.ErrNilFunc)

		// A semaphore is lax by default: a wait that times out goes on
		// without it. (Its default global scope:
		// TestRetrySemaphoreGlobalScopeSerialisesAll_RETRY5.)
		sp := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("defaults"), retry.SemaphoreTimeout(time.Millisecond),
			retry.WithLogger(slog.New(slog.DiscardHandler)))
		release := holdSem(t, sp)
		v, err := retry.Do(t.Context(), sp, func(context.Context) (string, error) { return "ran anyway", nil })
		require.NoError(t, err)
		assert.Equal(t, "ran anyway", v)
		release()
	})
}

func io() error { return errors.New("io") }

// Each retry is logged at Debug with attributes; outside a handler to
// WithLogger's logger.
func TestRetryLogsEachRetry(t *testing.T) {
	l := &logRec{}
	p := mustNew(t, retry.Attempts(3), retry.WithLogger(slog.New(l)))
	calls := 0
	_, err := retry.Do(t.Context(), p, failing(&calls, errFlaky, errFlaky))
	require.NoError(t, err)
	recs := l.records()
	require.Len(t, recs, 2)
	for i, r := range recs {
		assert.Equal(t, slog.LevelDebug, r.level)
		assert.Equal(t, "ringbus: retrying after a failed attempt", r.msg)
		assert.Equal(t, int64(i+1), r.attrs["attempt"])
		assert.Equal(t, int64(3), r.attrs["attempts"])
		assert.Equal(t, time.Duration(0), r.attrs["delay"])
		assert.Equal(t, errFlaky, r.attrs["error"])
	}
}

// A panic is not retried; it propagates, and the semaphore is released.
func TestRetryPanicPropagates(t *testing.T) {
	p := mustNew(t, retry.Attempts(3), retry.Semaphore(1), retry.SemaphoreKey("panics"))
	calls := 0
	assert.PanicsWithValue(t, "boom", func() {
		_, _ = retry.Do(t.Context(), p, func(context.Context) (int, error) { calls++; panic("boom") })
	})
	assert.Equal(t, 1, calls)
	assert.Zero(t, retry.SemaphoreCount(), "released")
	_, err := retry.Do(t.Context(), p, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err, "the semaphore is free again")
}
