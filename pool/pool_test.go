package pool_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/pool"
)

// The ants package starts the two housekeeping goroutines of its default
// pool when it is imported; this package never uses that pool, so exactly
// those two functions are ignored. Tests that create pools also check, with
// noLeaks, that no goroutine they started (including the housekeeping
// goroutines of their own pools) outlives them.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// noLeaks fails t if goroutines started during the test are still there
// when it ends. Tests using it must not run in parallel.
func noLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

func closePool(t *testing.T, p *pool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx))
}

// fn adapts a function to Task, for tests.
type fn func()

func (f fn) Run() { f() }

func task(f func()) pool.Task { return fn(f) }

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		f()
	}()
	select {
	case <-returned:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestNewInvalidSize(t *testing.T) {
	for _, size := range []int{0, -1} {
		p, err := pool.New(size)
		require.ErrorIs(t, err, pool.ErrInvalidSize)
		require.Nil(t, p)
	}
}

func TestTasksRun(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(4)
	require.NoError(t, err)
	require.Equal(t, 4, p.Cap())
	var ran atomic.Int64
	for range 1000 {
		p.Go(task(func() { ran.Add(1) }))
	}
	closePool(t, p)
	require.EqualValues(t, 1000, ran.Load())
	require.Zero(t, p.Running())
}

// blocker starts n tasks on p that block until release is closed, and
// returns once all of them are running.
func blocker(p *pool.Pool, n int, release <-chan struct{}) {
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		p.Go(task(func() {
			started.Done()
			<-release
		}))
	}
	started.Wait()
}

func TestOverflowDoesNotBlock(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(2)
	require.NoError(t, err)
	release := make(chan struct{})
	blocker(p, 2, release)
	require.Zero(t, p.Overflows())

	// Both workers are busy: further tasks must start at once on their own
	// goroutines, not wait for a worker.
	within(t, 5*time.Second, "blocker on a full pool", func() { blocker(p, 3, release) })
	require.EqualValues(t, 3, p.Overflows())
	require.Equal(t, 5, p.Running())
	require.LessOrEqual(t, p.WorkersForTest(), 2, "ants must not grow past its size")

	close(release)
	closePool(t, p)
	require.Zero(t, p.Running())
}

// TestNestedGoWhenFull has every task submit a child and wait for it, on a
// pool with one worker: with a blocking pool this deadlocks at once.
func TestNestedGoWhenFull(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(1)
	require.NoError(t, err)
	const depth = 50
	var ran atomic.Int64
	var nest func(level int) pool.Task
	nest = func(level int) pool.Task {
		return task(func() {
			ran.Add(1)
			if level == depth {
				return
			}
			child := make(chan struct{})
			p.Go(task(func() {
				nest(level + 1).Run()
				close(child)
			}))
			<-child
		})
	}
	done := make(chan struct{})
	within(t, 10*time.Second, "nested submission", func() {
		p.Go(task(func() {
			nest(1).Run()
			close(done)
		}))
		<-done
	})
	require.EqualValues(t, depth, ran.Load())
	require.Positive(t, p.Overflows())
	closePool(t, p)
}

func TestCloseWaitsForRunningTasks(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(2)
	require.NoError(t, err)
	release := make(chan struct{})
	var finished atomic.Int64
	var started sync.WaitGroup
	started.Add(3) // two on workers, one overflow
	for range 3 {
		p.Go(task(func() {
			started.Done()
			<-release
			time.Sleep(time.Millisecond)
			finished.Add(1)
		}))
	}
	started.Wait()
	require.EqualValues(t, 1, p.Overflows())

	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while tasks were running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the tasks finished")
	}
	require.EqualValues(t, 3, finished.Load(), "Close returned before every task finished")
	require.Zero(t, p.WorkersForTest(), "ants workers still alive after Close")
	// noLeaks checks that no worker, overflow or ants housekeeping
	// goroutine is left.
}

func TestCloseHonoursContext(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(1)
	require.NoError(t, err)
	release := make(chan struct{})
	blocker(p, 1, release)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)

	cause := errors.New("shutdown budget spent")
	ctx, cancel2 := context.WithTimeoutCause(context.Background(), 20*time.Millisecond, cause)
	defer cancel2()
	require.ErrorIs(t, p.Close(ctx), cause, "Close returns the context's cause")

	require.False(t, p.TryGo(task(func() { t.Error("task accepted after Close") })))

	close(release)
	closePool(t, p) // a later Close waits again and succeeds
	closePool(t, p) // and Close is idempotent
}

func TestGoAfterClose(t *testing.T) {
	noLeaks(t)
	p, err := pool.New(2)
	require.NoError(t, err)
	closePool(t, p)
	var ran atomic.Bool
	within(t, time.Second, "Go after Close", func() { p.Go(task(func() { ran.Store(true) })) })
	require.False(t, p.TryGo(task(func() { ran.Store(true) })))
	closePool(t, p)
	time.Sleep(10 * time.Millisecond)
	require.False(t, ran.Load(), "a task submitted after Close ran")
	require.Zero(t, p.Running())
	require.False(t, p.TryGo(nil))
	p.Go(nil) // ignored
}

// goid returns the current goroutine's id, parsed from its stack header.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// TestPanicDoesNotKillWorker panics in tasks on a one-worker pool and checks
// that the same worker goroutine goes on running tasks.
func TestPanicDoesNotKillWorker(t *testing.T) {
	noLeaks(t)
	type report struct {
		value any
		stack []byte
	}
	reports := make(chan report, 10)
	nextReport := func() report {
		t.Helper()
		select {
		case r := <-reports:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("the panic handler was not called")
			return report{}
		}
	}
	p, err := pool.NewWithPanicHandler(1, func(v any, stack []byte) {
		reports <- report{v, stack}
	})
	require.NoError(t, err)
	t.Cleanup(func() { closePool(t, p) }) // runs before noLeaks' check

	// runOnWorker runs f on the pooled worker and returns the goroutine it
	// ran on. Right after a task returns, the worker is briefly not yet back
	// in the idle list and a new task overflows; such a task does not run f,
	// and runOnWorker tries again.
	runOnWorker := func(f func()) uint64 {
		t.Helper()
		for range 1000 {
			overflows := p.Overflows()
			ran := make(chan uint64, 1)
			proceed := make(chan bool, 1)
			p.Go(task(func() {
				ran <- goid()
				if <-proceed {
					f()
				}
			}))
			// Go has returned, so the overflow count for this task is final.
			onWorker := p.Overflows() == overflows
			proceed <- onWorker
			var id uint64
			select {
			case id = <-ran:
			case <-time.After(10 * time.Second):
				t.Fatal("task did not run")
			}
			if onWorker {
				return id
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatal("could not get a task onto the worker")
		return 0
	}

	worker := runOnWorker(func() {})
	for i := range 5 {
		id := runOnWorker(func() { panic("boom " + strconv.Itoa(i)) })
		r := nextReport()
		require.Equal(t, "boom "+strconv.Itoa(i), r.value)
		require.Contains(t, string(r.stack), "TestPanicDoesNotKillWorker", "stack of the panicking task")
		require.Equal(t, worker, id, "panic %d ran on a new worker: the previous one died", i)
	}
	require.Equal(t, worker, runOnWorker(func() {}))
	require.EqualValues(t, 5, p.Panics())
	require.Equal(t, 1, p.WorkersForTest())

	// A panic on an overflow goroutine is recovered too.
	release := make(chan struct{})
	blocker(p, 1, release)
	overflowed := make(chan struct{})
	p.Go(task(func() {
		defer close(overflowed)
		panic("overflow boom")
	}))
	<-overflowed
	require.Equal(t, "overflow boom", nextReport().value)
	close(release)
	closePool(t, p)
	require.EqualValues(t, 6, p.Panics())
}

func TestPanicHandlerPanics(t *testing.T) {
	noLeaks(t)
	p, err := pool.NewWithPanicHandler(1, func(any, []byte) { panic("handler") })
	require.NoError(t, err)
	p.Go(task(func() { panic("task") }))
	closePool(t, p)
	require.EqualValues(t, 1, p.Panics())
	require.Zero(t, p.Running())
}

// TestGoRacesClose submits from several goroutines while the pool closes:
// every accepted task runs exactly once, before Close returns, and no
// rejected task runs.
func TestGoRacesClose(t *testing.T) {
	noLeaks(t)
	for range 20 {
		p, err := pool.New(4)
		require.NoError(t, err)
		var accepted, ran atomic.Int64
		var closeReturned atomic.Bool
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for i := 0; ; i++ {
					ok := p.TryGo(task(func() {
						if closeReturned.Load() {
							t.Error("a task ran after Close returned")
						}
						if i%16 == 0 {
							runtime.Gosched()
						}
						ran.Add(1)
					}))
					if !ok {
						return
					}
					accepted.Add(1)
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		closePool(t, p)
		closeReturned.Store(true)
		snapshot := ran.Load()
		wg.Wait()
		require.Equal(t, accepted.Load(), ran.Load())
		require.Equal(t, snapshot, ran.Load())
		require.Zero(t, p.Running())
	}
}
