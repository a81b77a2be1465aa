package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/ants/v2"
)

// Task is a unit of work for a Pool. Run should handle its own panics; a
// panic that escapes Run is recovered by the pool (see Pool.Go) so the
// worker survives.
//
// Use a pointer type for Task: storing a pointer in an interface does not
// allocate, so Go adds no allocation of its own per task.
type Task interface {
	Run()
}

// PanicHandler is called with the value and stack of a panic that escaped
// Task.Run, on the goroutine that ran the task, after the task has stopped
// and before the pool counts it as finished. A panic inside the handler is
// recovered and dropped.
type PanicHandler func(value any, stack []byte)

// ErrInvalidSize is returned by New for a size that is not positive.
var ErrInvalidSize = errors.New("ringbus/pool: size must be positive")

// closedBit is set in Pool.state by Close. The rest of state counts accepted
// tasks that have not finished, in units of inflightOne.
const (
	closedBit   = 1
	inflightOne = 2
)

// Pool runs tasks on at most a fixed number of reused worker goroutines,
// and on extra goroutines when all workers are busy, so that submitting
// never blocks.
//
// All methods are safe for concurrent use, including Go from inside a
// running task. A Pool must not be copied. Create pools with New; the zero
// value is not usable.
type Pool struct {
	// state is closedBit | inflight*inflightOne. Go adds inflightOne before
	// handing the task over and the task's goroutine subtracts it after Run
	// returns; Close sets closedBit.
	state atomic.Int64

	workers   *ants.PoolWithFunc
	size      int
	onPanic   PanicHandler
	overflows atomic.Uint64
	panics    atomic.Uint64

	// idle is closed once the pool is closed and every accepted task has
	// finished. idleOnce guards the close: both Close and the last task
	// can see the transition.
	idle     chan struct{}
	idleOnce sync.Once

	// released is closed when the ants pool has been released and all its
	// goroutines have finished. releaseOnce starts that release.
	released    chan struct{}
	releaseOnce sync.Once
	releaseErr  error
}

// New returns a pool of size workers. It returns ErrInvalidSize if size is
// not positive, and wraps any error from ants.
//
// The pool owns its own ants.PoolWithFunc in non-blocking mode; it never
// uses the ants default pool. Worker goroutines are started on demand and
// exit after about a second idle; ants also runs two housekeeping
// goroutines per pool until Close.
func New(size int) (*Pool, error) {
	return NewWithPanicHandler(size, nil)
}

// NewWithPanicHandler is like New, and calls h (when not nil) for every
// panic that escapes a task.
func NewWithPanicHandler(size int, h PanicHandler) (*Pool, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidSize, size)
	}
	p := &Pool{
		size:     size,
		onPanic:  h,
		idle:     make(chan struct{}),
		released: make(chan struct{}),
	}
	// The worker function is created once here, so handing a task to a
	// worker allocates nothing: the Task interface value travels as the
	// ants argument.
	workers, err := ants.NewPoolWithFunc(size, p.invoke, ants.WithNonblocking(true))
	if err != nil {
		return nil, fmt.Errorf("ringbus/pool: %w", err)
	}
	p.workers = workers
	return p, nil
}

// invoke is the ants worker function.
func (p *Pool) invoke(arg any) {
	p.run(arg.(Task))
}

// run runs t and then marks it finished, whatever t does.
func (p *Pool) run(t Task) {
	defer p.finish()
	t.Run()
}

// finish is deferred by run: it recovers a panic from the task (so that an
// ants worker is not lost to it) and marks the task finished.
func (p *Pool) finish() {
	if v := recover(); v != nil {
		p.panics.Add(1)
		if p.onPanic != nil {
			p.callPanicHandler(v, debug.Stack())
		}
	}
	p.done()
}

func (p *Pool) callPanicHandler(v any, stack []byte) {
	defer func() { _ = recover() }()
	p.onPanic(v, stack)
}

// done marks one accepted task finished.
func (p *Pool) done() {
	if p.state.Add(-inflightOne) == closedBit {
		p.idleOnce.Do(func() { close(p.idle) })
	}
}

// Go runs t on a pooled worker goroutine. If every worker is busy, Go runs t
// on a new goroutine instead (counted by Overflows) rather than wait, so Go
// never blocks and a task may call Go without risk of deadlock, even when
// the pool is full.
//
// A panic that escapes t.Run is recovered, counted by Panics and passed to
// the PanicHandler if there is one; the worker goes on to run other tasks.
//
// After Close has started, Go does nothing: t is not run. Use TryGo to
// learn whether t was accepted. A nil t is ignored.
//
// The call to Go synchronizes before t.Run starts. Go does not allocate
// (for a pointer Task); handing a task to an idle worker and learning that
// it finished costs about 0.5 µs (BenchmarkGoRoundTrip): see the package
// documentation.
func (p *Pool) Go(t Task) {
	p.TryGo(t)
}

// TryGo is Go, reporting whether t was accepted: it returns false, and does
// not run t, if t is nil or Close has started. When TryGo returns true, t
// runs exactly once and the next Close that returns nil waits for it.
func (p *Pool) TryGo(t Task) bool {
	if t == nil {
		return false
	}
	if p.state.Add(inflightOne)&closedBit != 0 {
		// Too late: undo the increment. This may be the decrement that
		// makes the closed pool idle.
		p.done()
		return false
	}
	// closedBit was clear when we counted t, so Close will wait for t and
	// will not release the workers before t finishes: Invoke cannot see a
	// released pool.
	if err := p.workers.Invoke(t); err != nil {
		// ants.ErrPoolOverload: every worker is busy. (Any other error is
		// handled the same way: t was accepted and must run.)
		p.overflows.Add(1)
		go p.run(t)
	}
	return true
}

// Close stops the pool: Go calls that start after Close has started run
// nothing. Close then waits until every task already accepted, on workers
// and on overflow goroutines, has returned, and releases the workers,
// waiting until all goroutines the pool started have finished their work.
// It returns nil when all that is done, or context.Cause(ctx) if ctx ends
// first; the tasks keep running then, and a later Close waits again.
//
// Close is idempotent and safe to call concurrently. The return of a Close
// that returns nil synchronizes after the return of every task's Run.
func (p *Pool) Close(ctx context.Context) error {
	if old := p.state.Or(closedBit); old == 0 {
		// No task in flight: the pool is idle now. (When tasks are in
		// flight, the last one to finish closes idle in done.)
		p.idleOnce.Do(func() { close(p.idle) })
	}
	if err := waitFor(ctx, p.idle); err != nil {
		return err
	}
	p.releaseOnce.Do(func() {
		// Every task has returned, so the release only has to stop idle
		// workers and the two ants housekeeping goroutines: it finishes
		// quickly. It runs on its own goroutine so that Close can still
		// honour ctx.
		go func() {
			if err := p.workers.ReleaseContext(context.Background()); err != nil {
				p.releaseErr = fmt.Errorf("ringbus/pool: release workers: %w", err)
			}
			close(p.released)
		}()
	})
	if err := waitFor(ctx, p.released); err != nil {
		return err
	}
	return p.releaseErr
}

// waitFor waits until ch is closed or ctx ends, preferring ch when both are
// ready.
func waitFor(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Running returns the number of tasks accepted by Go that have not finished
// yet, on workers and on overflow goroutines. It is a snapshot.
func (p *Pool) Running() int {
	return int(p.state.Load() / inflightOne)
}

// Cap returns the number of pooled workers, the size given to New.
func (p *Pool) Cap() int {
	return p.size
}

// Overflows returns how many tasks have run on a dedicated goroutine
// because every pooled worker was busy.
func (p *Pool) Overflows() uint64 {
	return p.overflows.Load()
}

// Panics returns how many tasks have panicked.
func (p *Pool) Panics() uint64 {
	return p.panics.Load()
}
