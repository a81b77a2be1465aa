// Package pool runs tasks on a bounded set of reused goroutines without
// ever making the submitter wait.
//
// A Pool owns one ants.PoolWithFunc (github.com/panjf2000/ants/v2) in
// non-blocking mode; it never touches the ants default pool. Pool.Go hands
// the task to an idle worker, starts a new worker if fewer than the pool's
// size exist, and otherwise runs the task on a dedicated goroutine
// (counted by Pool.Overflows). So Go never blocks, and a task may submit
// more tasks, and wait for them, without risk of deadlock, even when every
// worker is busy.
//
// # Concurrency
//
// All methods of Pool are safe for concurrent use, including from inside a
// running task. A Pool must not be copied. The call to Go synchronizes
// before the task's Run starts; the return of every accepted task's Run
// synchronizes before the return of a Close that returns nil.
//
// # Ownership and shutdown
//
// Every goroutine the pool starts has an owner that waits for it: Close
// stops accepting tasks (a later Go runs nothing; TryGo reports false),
// waits, bounded by its context, for every accepted task, pooled or
// overflow, to return, and then releases the ants pool and waits until its
// workers and its two housekeeping goroutines have finished their work. If
// the context ends first, Close returns its cause and a later Close waits
// again.
//
// # Panics
//
// A task should handle its own panics. One that escapes Run is recovered
// by the pool, so the worker survives and goes on to the next task; it is
// counted by Pool.Panics and passed, with its stack, to the PanicHandler
// given to NewWithPanicHandler.
//
// # Cost
//
// Go does not allocate when the Task is a pointer type: the task's
// interface value is passed to the ants worker as its argument, so there is
// no per-task closure. Measured on the 2-core development VM (Intel Xeon,
// linux/amd64, go test -bench . -benchtime=200ms):
//
//   - submitting one trivial task and waiting for it costs about 0.5 µs
//     through the pool and 0.4 µs with a go statement and a WaitGroup
//     (BenchmarkGoRoundTrip), 0 allocations against 1;
//   - submitting trivial tasks as fast as possible costs about 0.7-0.9 µs
//     per task through the pool and 0.5-0.75 µs with go statements
//     (BenchmarkGoBurst); on two cores the submitter outruns the workers
//     and 35-85% of the tasks overflow onto their own goroutine.
//
// So the pool does not make tiny tasks cheaper than a go statement. What it
// buys is warm workers whose stacks have already grown, a bounded number of
// long-lived goroutines in steady state, and an owner that waits for every
// task on shutdown. For a task that only hands a value on, call it inline.
package pool
