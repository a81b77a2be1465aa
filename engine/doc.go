// Package engine is ringbus's untyped dispatch core: buses, events, result
// rows, handler registration, scheduling, locks, queue-jumps, timeouts,
// history and find. Package api is the typed front end most programs use;
// middlewares, the wire codec and bridges plug into this package.
//
// # Model
//
// A Bus queues emitted events and runs the handlers registered for their
// event_type ("*" handlers after typed ones). Each handler's outcome is a
// Result row on the event. An event completes when every bus it was emitted
// or forwarded to has finished its handlers and every child event (an event
// emitted with a handler's context) has completed, recursively.
//
// # Ordering and concurrency guarantees
//
//   - FIFO per bus: if Emit(a) happens before Emit(b) on one bus, a
//     starts before b, whatever goroutines called Emit. With BusSerial (the
//     default) b starts only after a's handlers on that bus have finished;
//     with GlobalSerial at most one event runs across the Domain, FIFO-fair
//     across buses; with ParallelEvents events start in order but overlap.
//   - The return of Emit synchronizes before the first handler call for the
//     event; a handler's return synchronizes before Wait or Now on the event
//     returns.
//   - Now, called with a handler's context, processes the awaited event at
//     once, ahead of anything queued, re-entering the event lock the handler
//     already holds instead of deadlocking. It processes exactly that
//     event (no overshoot). On another bus that is busy with a different
//     event it waits for that event, then runs before the bus's queue.
//     Outside a handler Now is Wait.
//   - Handlers of one event run one at a time in registration order
//     (SerialHandlers, the default) or all at once (ParallelHandlers).
//     Serial handlers of an event forwarded to several serial buses run one
//     at a time across all of them: the event has one handler lock.
//     A bus waiting for it keeps its event lock, so nothing overtakes the
//     event there, but a handler holding the handler lock may still await a
//     child on that bus: the child runs there at once. The wait
//     ends at the bus's own event timeout, at the timeout or abort of the
//     handler awaiting the event, and at Stop or Close. A handler abandoned
//     at a deadline or by Close (it ignored its ctx) no longer holds the
//     handler lock: like the next handler on its own bus, the
//     handlers on the next bus may then overlap it.
//   - Emit never blocks, unless the bus limits its queue (WithMaxQueue) and
//     the queue is full: then Emit waits for room, bounded by its ctx, or
//     fails with a *QueueFullError (WithQueueFullPolicy). Called with a
//     handler's context, it never waits.
//
// Every exported method of Bus, Event, Result and Handler is safe for
// concurrent use, except the Event setters (SetTimeout, ...), which must be
// called before the event is emitted. None of these types may be copied
// after first use.
//
// # Goroutines and cost
//
// A bus starts one dispatcher goroutine at its first Emit and runs handlers
// inline on it: the default path allocates no goroutine, timer or closure per
// event (about 290 bytes per event in the 50k-event benchmark, the event
// struct and its result row). Parallel events and parallel handlers run on a
// bounded pool owned by the bus. An event with more than 16 parallel
// handlers has them started in order by 16 pool workers; if none of the
// remaining handlers could start for a millisecond (every worker waiting
// inside a handler), each remaining one gets a goroutine of its own, so all
// of them still run concurrently. Timeouts and slow warnings use
// one lazily re-armed timer per dispatcher, and one per bus shared by its
// parallel events and queue-jumps; no timer of a bus fires after Stop or
// Close. After Stop or Close returns none of the bus's goroutines runs,
// except a handler that ignores its context's cancellation, which keeps
// its own goroutine until it returns (the bus itself does not wait for it:
// the event is finalised at its deadline and the queue moves on).
//
// # Handler contexts
//
// A handler's ctx carries the values of the context its event was emitted
// with, but not that context's cancellation. It is cancelled when the
// handler's timeout or its event's timeout expires, when a parent's timeout
// cascades, when a first-mode sibling wins, when the bus stops, and once the
// handler has returned. Cause(ctx) returns the precise reason
// (*HandlerTimeoutError, *HandlerAbortedError, ErrStopped, ...); ctx.Err()
// returns context.DeadlineExceeded or context.Canceled as usual. A context
// derived from a handler's ctx (context.WithTimeout, context.WithCancel,
// context.AfterFunc) follows its cancellation without a goroutine of its
// own: the handler context has the AfterFunc method the standard library
// looks for. The standard library's context.Cause cannot see ringbus's
// reason, because the handler context is not a standard cancelCtx (that
// would cost an allocation per handler call).
//
// # Errors
//
// Errors are values that errors.Is matches against the Err* sentinels; the
// typed errors (*HandlerTimeoutError, *HandlerAbortedError,
// *HandlerCancelledError, *HandlerPanicError, *RecursionError,
// *HistoryFullError, *QueueFullError, *HandlerErrors) carry fields for
// errors.As.
//
// # Codec and snapshot hooks
//
// The wire codec and bus snapshots need more than a handler does: an
// event's serialisable state, and ways to rebuild events, handlers and
// buses from it. Those hooks are free functions rather than methods, so
// that they stay off the method sets package api re-exports: for events
// StateOf, StateInto, Restore, Bind, MetaOf, IsStub and RelinkChildren;
// for handlers DescOf, SnapshotDescOf, IsDetached and DetachedHandler; for
// buses RemoteBus, RestoreBus,
// RestoreHandler, BindHandler, RestoreHistory, Requeue, Resume and
// QueuedEvents. They are for codecs and snapshot code, not for handlers.
package engine

// The guarantees above in the spec's terms: completion with children
// CHILD-5; FIFO per bus CONC-1; Now AWAIT-4, AWAIT-5, LOCK-3 and D3; one
// handler lock per event LOCK-2, a child awaited under it AWAIT-5, a
// handler abandoned at its deadline TIMEOUT-10; more than 16 parallel
// handlers HCONC-2; handler contexts without the emitter's cancellation
// CTX-9.

// The files, roughly in the order an event meets them:
//
//	eventtype.go    event types: TypeMeta, DeclareType, the type registries
//	event.go        the Event: identity, getters, NewEvent; its settings in
//	                config.go, its path, rows and buses in inline.go
//	bus.go          Domain and Bus: NewBus, getters, WaitUntilIdle, Stop, Close
//	register.go     handler registration (handler.go: the Handler itself)
//	emit.go         Bus.Emit and Event.Emit: parent link, history, queue
//	queuegate.go    the queue limit of WithMaxQueue
//	dispatcher.go   the queue consumer: event locks, claiming, hand-off
//	pool.go         the bus's goroutine pool for parallel work
//	processing.go   one bus's handling of one event: run, setup, publish
//	rows.go         settings resolution and makeRows
//	lock.go         the FIFO event lock of a bus or domain
//	handlerlock.go  the event's handler lock, shared by its buses
//	runners.go      the serial and parallel runners: beginRow, call, endRow
//	hooks.go        the status transitions middlewares are told of, and the hooks
//	cancel.go       first-mode, terminate, cascade, abort
//	timeout.go      timeouts and slow warnings; watchdog.go their timer
//	jump.go         queue-jumps: Now inside a handler
//	completion.go   finish, the pending counts, children linked to parents
//	wait.go         Done, Wait and Now
//	result.go       result rows and the handler context
//	results.go      ResultValues, First and EmitFirst
//	history.go      the bus history; find.go Find and Filter
//	logtree.go      LogTree; log.go the slog records
//	errors.go       the error types and sentinels
//	options.go      the bus options; middleware.go, wrap.go the extension points
//	view.go         a second Go value standing for one event
//	wirestate.go    the codec's hooks; snapshot.go the snapshots'
