package retry_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/middleware/retry"
)

// holdSem makes a call of p that holds its semaphore until the returned
// func is called; the func waits for the call to return.
func holdSem(t *testing.T, p *retry.Policy) (release func()) {
	t.Helper()
	in, out, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, err := retry.Do(context.Background(), p, func(context.Context) (int, error) {
			close(in)
			<-out
			return 0, nil
		})
		assert.NoError(t, err)
	}()
	<-in
	return func() { close(out); <-done }
}

// RETRY-4: the semaphore is taken once before the first attempt and held
// across every attempt and wait; a limit of 2 lets two calls in.
func TestRetrySemaphoreHeldAcrossAttempts_RETRY4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("across"), retry.Attempts(3), retry.Delay(10*time.Millisecond))
		start := time.Now()
		starts := make(chan time.Duration, 6)
		call := func(done chan<- struct{}) {
			defer close(done)
			_, _ = retry.Do(context.Background(), p, func(context.Context) (int, error) {
				starts <- time.Since(start)
				return 0, errFlaky
			})
		}
		d1, d2 := make(chan struct{}), make(chan struct{})
		go call(d1)
		synctest.Wait() // the first call holds the semaphore, waiting between attempts
		go call(d2)
		<-d1
		<-d2
		close(starts)
		var got []time.Duration
		for s := range starts {
			got = append(got, s)
		}
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 10 * ms, 20 * ms, 20 * ms, 30 * ms, 40 * ms}, got,
			"the second call's attempts begin when the first call returns")

		two := mustNew(t, retry.Semaphore(2), retry.SemaphoreKey("two"), retry.SemaphoreLax(false),
			retry.SemaphoreTimeout(time.Millisecond))
		r1 := holdSem(t, two)
		r2 := holdSem(t, two)
		_, err := retry.Do(t.Context(), two, func(context.Context) (int, error) { return 0, nil })
		require.ErrorIs(t, err, retry.ErrSemaphoreTimeout, "a third call does not get in")
		r1()
		_, err = retry.Do(t.Context(), two, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		r2()
	})
}

// RETRY-4: the wait for the semaphore is bounded by SemaphoreTimeout, else
// by Timeout·max(1, limit-1), else only by the ctx.
func TestRetrySemaphoreWaitBound_RETRY4(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		opts []retry.Option
		want time.Duration
	}{
		{"SemaphoreTimeout", []retry.Option{retry.Semaphore(3), retry.Timeout(10 * ms), retry.SemaphoreTimeout(5 * ms)}, 5 * ms},
		{"Timeout x (limit-1)", []retry.Option{retry.Semaphore(3), retry.Timeout(10 * ms)}, 20 * ms},
		{"Timeout x 1", []retry.Option{retry.Semaphore(1), retry.Timeout(10 * ms)}, 10 * ms},
		{"Timeout x 1 for limit 2", []retry.Option{retry.Semaphore(2), retry.Timeout(10 * ms)}, 10 * ms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := mustNew(t, append(c.opts, retry.SemaphoreKey("bound "+c.name), retry.SemaphoreLax(false))...)
				var releases []func()
				for range 3 {
					if rel, ok := tryHold(t, p); ok {
						releases = append(releases, rel)
					}
				}
				start := time.Now()
				_, err := retry.Do(t.Context(), p, func(context.Context) (int, error) { return 0, nil })
				require.ErrorIs(t, err, retry.ErrSemaphoreTimeout)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, c.want, time.Since(start))
				var se *retry.SemaphoreTimeoutError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, c.want, se.Wait)
				assert.True(t, se.Timeout())
				for _, rel := range releases {
					rel()
				}
			})
		})
	}

	// Unbounded: SemaphoreTimeout(0), or no timeouts at all. Only the ctx
	// ends the wait, however long, and the caller sees the ctx's error.
	for name, p := range map[string]*retry.Policy{
		"SemaphoreTimeout(0)": mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("unbounded"), retry.Timeout(ms), retry.SemaphoreTimeout(0)),
		"no timeouts":         mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("unbounded")),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := holdSem(t, p)
				ctx, cancel := context.WithTimeout(t.Context(), 24*time.Hour)
				defer cancel()
				start := time.Now()
				calls := 0
				_, err := retry.Do(ctx, p, failing(&calls))
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.NotErrorIs(t, err, retry.ErrSemaphoreTimeout)
				assert.Equal(t, 24*time.Hour, time.Since(start))
				assert.Zero(t, calls)
				release()
			})
		})
	}
}

// tryHold holds p's semaphore from another goroutine if a place is free.
func tryHold(t *testing.T, p *retry.Policy) (func(), bool) {
	t.Helper()
	in, out, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, _ = retry.Do(context.Background(), p, func(context.Context) (int, error) {
			close(in)
			<-out
			return 0, nil
		})
	}()
	select {
	case <-in:
		return func() { close(out); <-done }, true
	case <-done:
		return nil, false
	}
}

// A ctx that ends while a call waits for the semaphore ends the wait at
// once.
func TestRetrySemaphoreWaitEndsWithCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("cancelled wait"))
		release := holdSem(t, p)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() {
			_, err := retry.Do(ctx, p, func(context.Context) (int, error) { return 0, nil })
			errc <- err
		}()
		synctest.Wait()
		assert.Equal(t, 1, retry.SemaphoreCount())
		start := time.Now()
		cancel()
		err := <-errc
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, time.Since(start))
		release()
		assert.Zero(t, retry.SemaphoreCount())
	})
}

// Which calls share a semaphore outside a handler: one policy's calls do
// by default; two policies do when they name one key and agree on the
// limit.
func TestRetrySemaphoreSharing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		free := func(p *retry.Policy) bool {
			_, err := retry.Do(t.Context(), p, func(context.Context) (int, error) { return 0, nil })
			return err == nil
		}
		opts := []retry.Option{retry.Semaphore(1), retry.SemaphoreLax(false), retry.SemaphoreTimeout(time.Millisecond)}
		a, b := mustNew(t, opts...), mustNew(t, opts...)
		release := holdSem(t, a)
		assert.False(t, free(a), "one policy's calls share its own semaphore")
		assert.True(t, free(b), "another policy without a key has its own")
		release()

		named := append([]retry.Option{retry.SemaphoreKey("named")}, opts...)
		a, b = mustNew(t, named...), mustNew(t, named...)
		other := mustNew(t, append(named, retry.Semaphore(2))...)
		release = holdSem(t, a)
		assert.False(t, free(b), "one key, one limit: shared")
		assert.True(t, free(other), "one key, another limit: its own")
		release()
	})
}

// RETRY-6: a call nested in one that holds the semaphore, on the holder's
// ctx, does not wait for it; once the holder returned, its ctx no longer
// lets a call past.
func TestRetrySemaphoreReentrant_RETRY6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Semaphore(1), retry.SemaphoreKey("re-entrant"), retry.SemaphoreLax(false),
			retry.SemaphoreTimeout(time.Millisecond))
		var kept context.Context
		v, err := retry.Do(t.Context(), p, func(ctx context.Context) (int, error) {
			kept = ctx
			return retry.Do(ctx, p, func(ctx context.Context) (int, error) {
				return retry.Do(ctx, p, func(context.Context) (int, error) { return 3, nil })
			})
		})
		require.NoError(t, err)
		assert.Equal(t, 3, v)

		release := holdSem(t, p)
		_, err = retry.Do(kept, p, func(context.Context) (int, error) { return 0, nil })
		require.ErrorIs(t, err, retry.ErrSemaphoreTimeout, "the hold in kept was released")
		release()
	})
}
