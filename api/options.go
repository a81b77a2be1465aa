package api

import (
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/engine"
)

// Modes and statuses, re-exported from package engine.
const (
	GlobalSerial     = engine.GlobalSerial
	BusSerial        = engine.BusSerial
	ParallelEvents   = engine.ParallelEvents
	SerialHandlers   = engine.SerialHandlers
	ParallelHandlers = engine.ParallelHandlers
	CompleteAll      = engine.CompleteAll
	CompleteFirst    = engine.CompleteFirst

	StatusPending   = engine.StatusPending
	StatusStarted   = engine.StatusStarted
	StatusCompleted = engine.StatusCompleted
	StatusError     = engine.StatusError

	// QueueBlock makes Emit wait for room in a full queue.
	QueueBlock = engine.QueueBlock
	// QueueReject makes Emit fail at once on a full queue.
	QueueReject = engine.QueueReject

	// Wildcard is the pattern matching every event type.
	Wildcard = engine.Wildcard
	// UnlimitedHistory disables the history limit.
	UnlimitedHistory = engine.UnlimitedHistory
)

// Bus options. Each returns an Option for NewBus; an invalid value makes
// NewBus fail with an error matching ErrBadOption.

// WithEventConcurrency sets how the bus runs events relative to each
// other: BusSerial (the default) runs one event at a time on this bus,
// GlobalSerial one at a time across every bus of the domain, and
// ParallelEvents starts events in order but lets them overlap. An event's
// own setting (SetConcurrency, or its type's) wins over the bus's.
func WithEventConcurrency(m EventConcurrency) Option { return engine.WithEventConcurrency(m) }

// WithHandlerConcurrency sets how one event's handlers run: SerialHandlers
// (the default) one after another in registration order, ParallelHandlers
// all at once.
func WithHandlerConcurrency(m HandlerConcurrency) Option { return engine.WithHandlerConcurrency(m) }

// WithCompletion sets when an event's handlers are done: CompleteAll (the
// default) when every handler has finished, CompleteFirst when one returns
// a value that is not nil (the others are then cancelled or aborted).
func WithCompletion(m Completion) Option { return engine.WithCompletion(m) }

// WithEventTimeout sets the longest an event's handlers may run on this bus
// before the event is finished with the unfinished handlers aborted; 0
// disables it. Default 60s. Events and their types may set their own.
func WithEventTimeout(d time.Duration) Option { return engine.WithEventTimeout(d) }

// WithEventSlowTimeout sets after how long a still-running event logs a
// slow-event warning; 0 disables it. Default 300s.
func WithEventSlowTimeout(d time.Duration) Option { return engine.WithEventSlowTimeout(d) }

// WithDefaultHandlerSlowTimeout sets after how long a still-running handler
// logs a slow-handler warning, for handlers and events that set none; 0
// disables it. Default 30s.
func WithDefaultHandlerSlowTimeout(d time.Duration) Option {
	return engine.WithDefaultHandlerSlowTimeout(d)
}

// WithMaxHistory limits the bus history to n events. Default 100.
// UnlimitedHistory (or any negative n) keeps every event; 0 keeps only
// events in flight, and Emit then never fails for history size.
//
// By default a full history makes Emit fail with an error matching
// ErrHistoryFull, even when every event in it has completed: a default bus
// accepts 100 events in its life, as an abxbus bus does. A long-running
// bus wants WithHistoryDrop(true).
func WithMaxHistory(n int) Option { return engine.WithMaxHistory(n) }

// WithHistoryDrop with drop true makes a full history drop its oldest
// events instead of rejecting new ones: completed events first, then, if it
// is still over the limit, the oldest whatever their status (logged once).
// A dropped event still completes and can still be awaited by whoever
// holds it.
func WithHistoryDrop(drop bool) Option { return engine.WithHistoryDrop(drop) }

// WithMaxQueue limits how many events the bus holds queued (emitted and not
// yet started on it, children and forwarded events included) to n; 0 (the
// default) is unlimited. What Emit does on a full queue is set by
// WithQueueFullPolicy. An Emit with a handler's context never waits: on a
// full queue it fails at once, since waiting could deadlock. The history
// limit is checked first: without WithHistoryDrop a bus never queues more
// events than its history holds.
func WithMaxQueue(n int) Option { return engine.WithMaxQueue(n) }

// WithQueueFullPolicy sets what Emit does when the queue limit of
// WithMaxQueue is reached: QueueBlock (the default) waits for room, first
// come first served, until its ctx is done; QueueReject fails at once. Both
// failures match ErrQueueFull.
func WithQueueFullPolicy(p QueueFullPolicy) Option { return engine.WithQueueFullPolicy(p) }

// WithMaxRecursionDepth sets how many nested levels of events one handler
// may process before Emit fails with an error matching ErrRecursion.
// Default 2.
func WithMaxRecursionDepth(n int) Option { return engine.WithMaxRecursionDepth(n) }

// WithDetectFilePaths turns the recording of handlers' source positions on
// or off. Default on.
func WithDetectFilePaths(on bool) Option { return engine.WithDetectFilePaths(on) }

// WithLogger sets the bus's logger. Default slog.Default(). Records carry
// their values as attributes ("bus", "event_type", "event_id", "handler",
// "error", ...). Warn is for slow and timed-out handlers, slow events, a
// renamed bus, a handler registered twice and a history that drops
// unfinished events; a failed handler is logged at Debug only, since its
// error reaches the caller through the event's results.
func WithLogger(l *slog.Logger) Option { return engine.WithLogger(l) }

// WithMiddlewares adds middlewares to the bus, called in the order given.
// One middleware whose hooks do nothing adds about 850 instructions per
// event, 24% over a bare bus (BenchmarkEmitBatchMiddleware in package perf).
// See Middleware for when hooks run and what they may do.
func WithMiddlewares(m ...Middleware) Option { return engine.WithMiddlewares(m...) }

// WithHandlerWrappers wraps every handler registered on the bus with ws,
// the first given outermost; wrappers given to one handler (WithWrappers)
// run inside them. They are composed once at registration: a bus without
// wrappers pays nothing per event. See HandlerWrapper.
func WithHandlerWrappers(ws ...HandlerWrapper) Option { return engine.WithHandlerWrappers(ws...) }

// Options combines opts into one Option, applied in order, so that an
// integration needing several (a middleware and a handler wrapper) can
// hand out a single value. Nil options are skipped.
func Options(opts ...Option) Option { return engine.Options(opts...) }

// WithID gives the bus an explicit id, which must parse as a UUID; by
// default a bus gets a new UUIDv7.
func WithID(id string) Option { return engine.WithID(id) }

// WithDomain places the bus in d, a set of buses with its own global-serial
// lock and its own registry of bus names; by default buses share one
// process-wide domain.
func WithDomain(d *Domain) Option { return engine.WithDomain(d) }

// NewDomain returns an empty, isolated bus domain (see WithDomain).
func NewDomain() *Domain { return engine.NewDomain() }

// Handler options, for On, OnType and OnAll.

// WithHandlerName names a handler. By default a handler is named after its
// function.
func WithHandlerName(name string) HandlerOption { return engine.WithHandlerName(name) }

// WithHandlerTimeout sets the longest the handler may run for one event;
// when it expires, the handler's ctx is cancelled and its result fails
// with a *HandlerTimeoutError. 0 leaves it to the event and the bus.
func WithHandlerTimeout(d time.Duration) HandlerOption { return engine.WithHandlerTimeout(d) }

// WithHandlerSlowTimeout sets after how long this handler, still running,
// logs a slow-handler warning.
func WithHandlerSlowTimeout(d time.Duration) HandlerOption {
	return engine.WithHandlerSlowTimeout(d)
}

// WithWrappers wraps this handler with ws, the first given outermost,
// inside the bus's wrappers (WithHandlerWrappers). See HandlerWrapper.
func WithWrappers(ws ...HandlerWrapper) HandlerOption { return engine.WithWrappers(ws...) }

// WithHandlerID gives a handler an explicit id, which must parse as a UUID;
// by default the id is derived from the bus, the handler's name and its
// registration time, as every abxbus runtime derives it.
func WithHandlerID(id string) HandlerOption { return engine.WithHandlerID(id) }

// Find options, for Find, Filter and the bus's Find and Filter.

// Past limits the history search to events created within the last window;
// 0 searches the whole history. By default Find searches the whole history.
func Past(window time.Duration) FindOption { return engine.Past(window) }

// NoPast skips the history: only events emitted from now on match.
func NoPast() FindOption { return engine.NoPast() }

// Future makes Find wait up to d for a matching event emitted after the
// call, when the history has none.
func Future(d time.Duration) FindOption { return engine.Future(d) }

// FieldEquals keeps only events whose field name (a payload field by its
// JSON name, or an event_* field) equals value as the two read on the
// wire: numbers as numbers whatever their Go type, statuses by name,
// durations by seconds, pointers by what they point to.
func FieldEquals(name string, value any) FindOption { return engine.FieldEquals(name, value) }

// ChildOf keeps only the descendants of ancestor: its children, their
// children, and so on. ancestor is a typed event (a *OrderPlaced) or an
// untyped *BaseEvent.
func ChildOf(ancestor Eventer) FindOption { return engine.ChildOf(engine.Core(ancestor)) }

// ChildOfEvent is ChildOf.
//
// Deprecated: use ChildOf, which takes typed events too.
func ChildOfEvent(e Eventer) FindOption { return ChildOf(e) }

// Result options, for Result, Results and ResultValues.

// IgnoreErrors returns the values of the handlers that succeeded even when
// others failed; by default a failed handler's error is returned.
func IgnoreErrors() ResultOption { return engine.IgnoreErrors() }

// AllowEmpty returns no value and no error when no handler returned one;
// by default that is an error matching ErrNoResult.
func AllowEmpty() ResultOption { return engine.AllowEmpty() }

// Include replaces the default choice of which results count (those that
// are not nil and not events) with f.
func Include(f func(value any, r *Result) bool) ResultOption { return engine.Include(f) }

// WithClear makes Stop and Close also clear the bus's history and
// handlers.
func WithClear() StopOption { return engine.WithClear() }

// Errors, re-exported so callers match them with errors.Is.
var (
	ErrBusClosed        = engine.ErrBusClosed
	ErrHistoryFull      = engine.ErrHistoryFull
	ErrQueueFull        = engine.ErrQueueFull
	ErrNilEvent         = engine.ErrNilEvent
	ErrNilHandler       = engine.ErrNilHandler
	ErrBadOption        = engine.ErrBadOption
	ErrNotAttached      = engine.ErrNotAttached
	ErrRecursion        = engine.ErrRecursion
	ErrHandlerExpired   = engine.ErrHandlerExpired
	ErrNoResult         = engine.ErrNoResult
	ErrResultType       = engine.ErrResultType
	ErrPayloadType      = engine.ErrPayloadType
	ErrHandlerTimeout   = engine.ErrHandlerTimeout
	ErrHandlerAborted   = engine.ErrHandlerAborted
	ErrHandlerCancelled = engine.ErrHandlerCancelled
	ErrHandlerPanic     = engine.ErrHandlerPanic
	ErrStopped          = engine.ErrStopped
	ErrResultSchema     = engine.ErrResultSchema
)

// ErrEventTypeConflict is returned when two Go event types want one
// event_type name, such as two structs of one name in different packages.
var ErrEventTypeConflict = engine.ErrEventTypeConflict

// Typed errors.
type (
	// HandlerTimeoutError reports that a handler exceeded its own timeout.
	HandlerTimeoutError = engine.HandlerTimeoutError
	// HandlerAbortedError reports that a running handler was interrupted.
	HandlerAbortedError = engine.HandlerAbortedError
	// HandlerCancelledError reports that a handler was cancelled before it started.
	HandlerCancelledError = engine.HandlerCancelledError
	// HandlerPanicError reports that a handler panicked, with the value and stack.
	HandlerPanicError = engine.HandlerPanicError
	// HandlerErrors aggregates several handler errors.
	HandlerErrors = engine.HandlerErrors
	// RecursionError reports that a handler nested events deeper than the limit.
	RecursionError = engine.RecursionError
	// HistoryFullError reports that Emit found the history full.
	HistoryFullError = engine.HistoryFullError
	// QueueFullError reports that Emit found the queue at its limit.
	QueueFullError = engine.QueueFullError
	// QueueFullPolicy says what Emit does on a full queue (see
	// WithQueueFullPolicy).
	QueueFullPolicy = engine.QueueFullPolicy
	// EventConcurrency says how a bus runs events relative to each other
	// (see WithEventConcurrency).
	EventConcurrency = engine.EventConcurrency
	// HandlerConcurrency says how one event's handlers run (see
	// WithHandlerConcurrency).
	HandlerConcurrency = engine.HandlerConcurrency
	// Completion says when an event's handlers are done (see
	// WithCompletion).
	Completion = engine.Completion
	// HandlerFunc is a handler as the bus runs it, untyped: typed handlers
	// registered with On are adapted to it.
	HandlerFunc = engine.HandlerFunc
	// HandlerWrapper wraps a handler (see WithHandlerWrappers and
	// WithWrappers): given the function it wraps, it returns the function
	// the bus runs instead, which may run code around the call, pass on a
	// derived ctx, retry, or not call it at all.
	HandlerWrapper = engine.HandlerWrapper
	// ResultSchemaError reports that a handler result did not match the event's result schema.
	ResultSchemaError = engine.ResultSchemaError
)

// The hooks a HookSelector may select, one bit per transition.
const (
	// EventPendingHook selects OnEventChange with StatusPending.
	EventPendingHook = engine.EventPendingHook
	// EventStartedHook selects OnEventChange with StatusStarted.
	EventStartedHook = engine.EventStartedHook
	// EventCompletedHook selects OnEventChange with StatusCompleted.
	EventCompletedHook = engine.EventCompletedHook
	// ResultPendingHook selects OnResultChange with StatusPending.
	ResultPendingHook = engine.ResultPendingHook
	// ResultStartedHook selects OnResultChange with StatusStarted.
	ResultStartedHook = engine.ResultStartedHook
	// ResultCompletedHook selects OnResultChange with StatusCompleted.
	ResultCompletedHook = engine.ResultCompletedHook
	// HandlerHooks selects OnHandlersChange.
	HandlerHooks = engine.HandlerHooks
	// EventHooks selects every OnEventChange.
	EventHooks = engine.EventHooks
	// ResultHooks selects every OnResultChange.
	ResultHooks = engine.ResultHooks
	// AllHooks selects every hook, as for a middleware without Hooks.
	AllHooks = engine.AllHooks
)
