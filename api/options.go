package api

import (
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

// Bus options (see the engine functions of the same names).
var (
	// WithEventConcurrency sets the bus default event concurrency.
	WithEventConcurrency = engine.WithEventConcurrency
	// WithHandlerConcurrency sets the bus default handler concurrency.
	WithHandlerConcurrency = engine.WithHandlerConcurrency
	// WithCompletion sets the bus default completion mode.
	WithCompletion = engine.WithCompletion
	// WithEventTimeout sets the bus default event timeout (0 disables).
	WithEventTimeout = engine.WithEventTimeout
	// WithEventSlowTimeout sets the slow-event warning threshold.
	WithEventSlowTimeout = engine.WithEventSlowTimeout
	// WithDefaultHandlerSlowTimeout sets the slow-handler warning threshold.
	WithDefaultHandlerSlowTimeout = engine.WithDefaultHandlerSlowTimeout
	// WithMaxHistory limits the history size.
	WithMaxHistory = engine.WithMaxHistory
	// WithHistoryDrop drops the oldest history instead of rejecting.
	WithHistoryDrop = engine.WithHistoryDrop
	// WithMaxQueue limits how many events a bus holds queued.
	WithMaxQueue = engine.WithMaxQueue
	// WithQueueFullPolicy sets whether Emit waits or fails on a full queue.
	WithQueueFullPolicy = engine.WithQueueFullPolicy
	// WithMaxRecursionDepth sets the handler recursion limit.
	WithMaxRecursionDepth = engine.WithMaxRecursionDepth
	// WithDetectFilePaths turns handler source positions on or off.
	WithDetectFilePaths = engine.WithDetectFilePaths
	// WithLogger sets the bus logger.
	WithLogger = engine.WithLogger
	// WithMiddlewares adds middlewares.
	WithMiddlewares = engine.WithMiddlewares
	// WithID gives the bus an explicit id.
	WithID = engine.WithID
	// WithDomain places the bus in a domain.
	WithDomain = engine.WithDomain
	// NewDomain returns an isolated bus domain.
	NewDomain = engine.NewDomain
)

// Handler options.
var (
	// WithHandlerName names a handler.
	WithHandlerName = engine.WithHandlerName
	// WithHandlerTimeout sets a handler's own timeout.
	WithHandlerTimeout = engine.WithHandlerTimeout
	// WithHandlerSlowTimeout sets a handler's slow-warning threshold.
	WithHandlerSlowTimeout = engine.WithHandlerSlowTimeout
	// WithHandlerID gives a handler an explicit id.
	WithHandlerID = engine.WithHandlerID
)

// Find options.
var (
	// Past limits the history search to a time window.
	Past = engine.Past
	// NoPast skips the history.
	NoPast = engine.NoPast
	// Future waits for a matching future event.
	Future = engine.Future
	// FieldEquals keeps only events whose field equals a value.
	FieldEquals = engine.FieldEquals
)

// ChildOf keeps only the descendants of ancestor: its children, their
// children, and so on. ancestor is a typed event (a *OrderPlaced) or an
// untyped *BaseEvent.
func ChildOf(ancestor Eventer) FindOption { return engine.ChildOf(engine.Core(ancestor)) }

// ChildOfEvent is ChildOf.
//
// Deprecated: use ChildOf, which takes typed events too.
func ChildOfEvent(e Eventer) FindOption { return ChildOf(e) }

// Result options.
var (
	// IgnoreErrors returns results even if handlers failed.
	IgnoreErrors = engine.IgnoreErrors
	// AllowEmpty returns no value instead of ErrNoResult.
	AllowEmpty = engine.AllowEmpty
	// Include replaces the default result filter.
	Include = engine.Include
)

// WithClear makes Stop and Close clear history and handlers.
var WithClear = engine.WithClear

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
	// HandlerTimeoutError: a handler exceeded its own timeout.
	HandlerTimeoutError = engine.HandlerTimeoutError
	// HandlerAbortedError: a running handler was interrupted.
	HandlerAbortedError = engine.HandlerAbortedError
	// HandlerCancelledError: a handler never started.
	HandlerCancelledError = engine.HandlerCancelledError
	// HandlerPanicError: a handler panicked.
	HandlerPanicError = engine.HandlerPanicError
	// HandlerErrors aggregates several handler errors.
	HandlerErrors = engine.HandlerErrors
	// RecursionError: the recursion guard fired.
	RecursionError = engine.RecursionError
	// HistoryFullError: the history is full.
	HistoryFullError = engine.HistoryFullError
	// QueueFullError: the queue is at its limit.
	QueueFullError = engine.QueueFullError
	// QueueFullPolicy says what Emit does on a full queue.
	QueueFullPolicy = engine.QueueFullPolicy
	// ResultSchemaError: a handler result did not match event_result_type.
	ResultSchemaError = engine.ResultSchemaError
)
