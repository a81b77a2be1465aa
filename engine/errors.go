package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error the engine returns matches one of these with
// errors.Is, directly or through a typed error's Is method.
var (
	// ErrBusClosed is returned by operations on a bus after Stop or Close.
	ErrBusClosed = errors.New("ringbus: bus closed")
	// ErrHistoryFull is matched by *HistoryFullError: Emit found the bus
	// history at its WithMaxHistory limit with dropping off.
	ErrHistoryFull = errors.New("ringbus: history limit reached")
	// ErrQueueFull is matched by *QueueFullError: Emit found the bus's
	// queue at the limit set by WithMaxQueue.
	ErrQueueFull = errors.New("ringbus: queue full")
	// ErrNilEvent is returned when a nil event is emitted or awaited.
	ErrNilEvent = errors.New("ringbus: nil event")
	// ErrNilHandler is returned when a nil handler function is registered.
	ErrNilHandler = errors.New("ringbus: nil handler")
	// ErrBadOption is returned for an invalid bus, event or handler option.
	ErrBadOption = errors.New("ringbus: invalid option")
	// ErrNotAttached is returned when waiting on an event that was never
	// emitted on any bus.
	ErrNotAttached = errors.New("ringbus: event was never emitted")
	// ErrRecursion is matched by *RecursionError.
	ErrRecursion = errors.New("ringbus: infinite loop detected")
	// ErrHandlerExpired is returned by Emit when called with the context of
	// a handler that already timed out or was cancelled; the event is not
	// enqueued.
	ErrHandlerExpired = errors.New("ringbus: emit from an expired handler")
	// ErrNoResult is returned by result helpers when no handler produced an
	// included value and the caller did not allow that.
	ErrNoResult = errors.New("ringbus: no handler returned a result")
	// ErrResultType is returned when a stored handler result cannot be
	// converted to the requested Go type.
	ErrResultType = errors.New("ringbus: result has the wrong type")
	// ErrPayloadType is the error of a typed handler, or of a typed find,
	// given an event of its event_type whose payload does not decode into
	// the handler's Go type.
	ErrPayloadType = errors.New("ringbus: event payload has the wrong type")
	// ErrEventTypeConflict is returned when a Go event type would take an
	// event_type name that another Go type already has: two structs of one
	// name in different packages. Give one of them a name of its own with
	// TypeOptions.Name.
	ErrEventTypeConflict = errors.New("ringbus: event type name already belongs to another Go type")

	// ErrHandlerTimeout is matched by *HandlerTimeoutError.
	ErrHandlerTimeout = errors.New("ringbus: handler timed out")
	// ErrHandlerAborted is matched by *HandlerAbortedError.
	ErrHandlerAborted = errors.New("ringbus: handler aborted")
	// ErrHandlerCancelled is matched by *HandlerCancelledError.
	ErrHandlerCancelled = errors.New("ringbus: handler cancelled")
	// ErrHandlerPanic is matched by *HandlerPanicError.
	ErrHandlerPanic = errors.New("ringbus: handler panicked")
	// ErrResultSchema is matched by *ResultSchemaError.
	ErrResultSchema = errors.New("ringbus: handler result did not match event_result_type")
	// ErrStopped is the cause given to handlers interrupted by Stop or Close.
	ErrStopped = errors.New("ringbus: bus stopped")
)

// HandlerTimeoutError records that a handler exceeded its own effective
// timeout, which was strictly tighter than the event's remaining budget. A
// timeout error the handler returned itself (one whose Timeout method
// reports true, from a retry wrapper say) is recorded as a
// HandlerTimeoutError too, with that error as Err. Its wire type name is
// EventHandlerTimeoutError.
type HandlerTimeoutError struct {
	Handler  string        // handler label
	Bus      string        // label of the bus that ran the handler
	Event    string        // event label, Type#abcd
	Timeout  time.Duration // the effective timeout that expired
	Children int           // child events whose processing was interrupted
	Err      error         // the handler's own timeout error, when it returned one
}

// Unwrap returns the handler's own timeout error, if any.
func (e *HandlerTimeoutError) Unwrap() error { return e.Err }

// Error returns the message of Err when the handler returned its own timeout
// error, else "ringbus: handler Bus#ab12.name#cd34(Event#ef56) timed out
// after 50ms", followed by " and interrupted any processing of n child
// events" when the handler had children.
func (e *HandlerTimeoutError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	msg := "ringbus: handler " + handlerRef(e.Bus, e.Handler, e.Event) + " timed out after " + e.Timeout.String()
	if e.Children > 0 {
		msg += " and interrupted any processing of " + strconv.Itoa(e.Children) + " child events"
	}
	return msg
}

// Is reports whether target is ErrHandlerTimeout or context.DeadlineExceeded
// (which the handler's ctx.Err() returns once the timeout expired).
func (e *HandlerTimeoutError) Is(target error) bool {
	return target == ErrHandlerTimeout || target == context.DeadlineExceeded
}

// TypeName returns the cross-language error type name.
func (e *HandlerTimeoutError) TypeName() string { return "EventHandlerTimeoutError" }

// Why a running handler was interrupted or a pending one cancelled.
const (
	ReasonEventTimeout  = "event timeout"
	ReasonParentTimeout = "parent timeout"
	ReasonFirstResult   = "first result resolved"
	ReasonStopped       = "bus stopped"
	// ReasonParentAborted: the handler that awaited the event was aborted
	// for a reason other than a timeout (it lost a first-result race, say).
	ReasonParentAborted = "parent aborted"
)

// HandlerAbortedError records that a handler was running and was
// interrupted: by its event's hard timeout, a parent's timeout, a first-mode
// winner, the abort of the handler awaiting its event, or Stop. Its wire
// type name is EventHandlerAbortedError.
type HandlerAbortedError struct {
	Handler string        // handler label
	Bus     string        // label of the bus that ran the handler
	Event   string        // event label
	Reason  string        // one of the Reason constants
	Timeout time.Duration // the event timeout, for ReasonEventTimeout
}

// Error returns "ringbus: handler Bus#ab12.name#cd34(Event#ef56) was
// interrupted because the event timed out after 50ms" (or "because of a
// parent timeout", "because the handler awaiting it was aborted"), or "...
// was aborted: " and the reason.
func (e *HandlerAbortedError) Error() string {
	msg := "ringbus: handler " + handlerRef(e.Bus, e.Handler, e.Event)
	switch e.Reason {
	case ReasonEventTimeout:
		return msg + " was interrupted because the event timed out after " + e.Timeout.String()
	case ReasonParentTimeout:
		return msg + " was interrupted because of a parent timeout"
	case ReasonParentAborted:
		return msg + " was interrupted because the handler awaiting it was aborted"
	default: // ReasonFirstResult, ReasonStopped
		return msg + " was aborted: " + e.Reason
	}
}

// Is reports whether target is ErrHandlerAborted, or ErrStopped for a
// handler aborted by Stop or Close.
func (e *HandlerAbortedError) Is(target error) bool {
	return target == ErrHandlerAborted || target == ErrStopped && e.Reason == ReasonStopped
}

// TypeName returns the cross-language error type name.
func (e *HandlerAbortedError) TypeName() string { return "EventHandlerAbortedError" }

// HandlerCancelledError records that a handler never started because its
// event timed out, a first-mode winner was found, a parent failed, or the
// bus stopped. Its wire type name is EventHandlerCancelledError.
type HandlerCancelledError struct {
	Handler string        // handler label
	Bus     string        // label of the bus the handler is on
	Event   string        // event label
	Reason  string        // one of the Reason constants
	Timeout time.Duration // the event timeout, for ReasonEventTimeout
	Parent  error         // the parent's error, for ReasonParentTimeout and ReasonParentAborted
}

// Error returns "ringbus: handler Bus#ab12.name#cd34(Event#ef56) was
// cancelled because the event timed out after 50ms" (or "was cancelled: "
// and the reason), or for a parent's failure "ringbus: cancelled pending
// handler ... as a result of parent error: " and the parent's error.
func (e *HandlerCancelledError) Error() string {
	ref := handlerRef(e.Bus, e.Handler, e.Event)
	switch e.Reason {
	case ReasonEventTimeout:
		return "ringbus: handler " + ref + " was cancelled because the event timed out after " + e.Timeout.String()
	case ReasonParentTimeout, ReasonParentAborted:
		// ERR-3: the word "pending" is what abxbus's timeout-tree printer
		// keys on.
		msg := "ringbus: cancelled pending handler " + ref + " as a result of parent error"
		if e.Parent == nil {
			return msg
		}
		return msg + ": " + inner(e.Parent)
	default: // ReasonFirstResult, ReasonStopped
		return "ringbus: handler " + ref + " was cancelled: " + e.Reason
	}
}

// Is reports whether target is ErrHandlerCancelled, or ErrStopped for a
// handler cancelled by Stop or Close.
func (e *HandlerCancelledError) Is(target error) bool {
	return target == ErrHandlerCancelled || target == ErrStopped && e.Reason == ReasonStopped
}

// Unwrap returns the parent's error, if any.
func (e *HandlerCancelledError) Unwrap() error { return e.Parent }

// TypeName returns the cross-language error type name.
func (e *HandlerCancelledError) TypeName() string { return "EventHandlerCancelledError" }

// HandlerPanicError is the error of a handler that panicked. The bus
// recovers the panic; only that handler's result fails.
type HandlerPanicError struct {
	Handler string // handler label
	Bus     string // label of the bus that ran the handler
	Event   string // event label
	Value   any    // the value passed to panic
	Stack   []byte // the goroutine stack at the panic
}

// Error returns "ringbus: handler Bus#ab12.name#cd34(Event#ef56) panicked: "
// and the panic value.
func (e *HandlerPanicError) Error() string {
	return fmt.Sprintf("ringbus: handler %s panicked: %v", handlerRef(e.Bus, e.Handler, e.Event), e.Value)
}

// Is reports whether target is ErrHandlerPanic.
func (e *HandlerPanicError) Is(target error) bool { return target == ErrHandlerPanic }

// Unwrap returns the panic value when it is an error.
func (e *HandlerPanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// TypeName returns the cross-language error type name.
func (e *HandlerPanicError) TypeName() string { return "HandlerPanicError" }

// RecursionError reports a handler that recursively processed more nested
// events than the bus allows (WithMaxRecursionDepth). The event that would
// have gone one level deeper gets no handler rows; the error is returned to
// the handler awaiting that event.
type RecursionError struct {
	Handler string // handler label
	Bus     string // bus label
	Event   string // label of the event that was not processed
	Depth   int    // levels of events the handler has recursively processed
	Limit   int    // the WithMaxRecursionDepth limit
}

// Error returns "ringbus: infinite loop detected: handler
// Bus#ab12.name#cd34(Event#ef56) has recursively processed 3 levels of
// events (limit 2, set with api.WithMaxRecursionDepth)".
func (e *RecursionError) Error() string {
	return fmt.Sprintf("ringbus: infinite loop detected: handler %s has recursively processed %d levels of events (limit %d, set with api.WithMaxRecursionDepth)",
		handlerRef(e.Bus, e.Handler, e.Event), e.Depth, e.Limit)
}

// Is reports whether target is ErrRecursion.
func (e *RecursionError) Is(target error) bool { return target == ErrRecursion }

// HistoryFullError is returned by Emit when the bus history holds its limit
// of events and the bus does not drop old ones (the default). The event is
// neither queued nor recorded. A bus created with WithHistoryDrop(true)
// never returns it.
type HistoryFullError struct {
	Bus   string // the bus label
	Len   int    // events in the history
	Limit int    // the WithMaxHistory limit
}

// Error returns the error message. It keeps abxbus's "history limit
// reached (n/N)" text, which other runtimes match on, and names the options
// that lift the limit.
func (e *HistoryFullError) Error() string {
	// HIST-4: the message contains "history limit reached ({n}/{N})".
	return fmt.Sprintf("ringbus: %s history limit reached (%d/%d): completed events are kept until dropped; "+
		"create the bus with api.WithHistoryDrop(true) to keep only the newest events, or raise the limit with api.WithMaxHistory",
		e.Bus, e.Len, e.Limit)
}

// Is reports whether target is ErrHistoryFull.
func (e *HistoryFullError) Is(target error) bool { return target == ErrHistoryFull }

// QueueFullError is returned by Emit when the bus's queue holds Limit
// events: at once under QueueReject or from inside a handler, or when the
// emitter's ctx ended the wait for room under QueueBlock. It matches
// ErrQueueFull, and after a wait also the ctx's error and cause.
type QueueFullError struct {
	Bus   string // bus label
	Limit int    // the queue limit
	Err   error  // ctx.Err() when the ctx ended the wait, else nil
	Cause error  // context.Cause of that ctx when it differs from Err
}

// Error returns "ringbus: Bus#ab12 queue full (limit n)", followed by the
// ctx's cause or error when a wait for room ended.
func (e *QueueFullError) Error() string {
	msg := fmt.Sprintf("ringbus: %s queue full (limit %d)", e.Bus, e.Limit)
	if e.Cause != nil {
		return msg + ": " + inner(e.Cause)
	}
	if e.Err != nil {
		return msg + ": " + inner(e.Err)
	}
	return msg
}

// Is reports whether target is ErrQueueFull.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }

// Unwrap returns the ctx's error and cause, if any.
func (e *QueueFullError) Unwrap() []error {
	switch {
	case e.Err == nil:
		return nil
	case e.Cause == nil:
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// HandlerErrors aggregates the errors of several failed handlers of one
// event, in result order. It unwraps to each of them.
type HandlerErrors struct {
	Event  string  // event label
	Errors []error // the handlers' errors, two or more
}

// Error returns "ringbus: event Type#abcd had 2 handler error(s): " and
// the errors, separated by "; ".
func (e *HandlerErrors) Error() string {
	// RES-3: abxbus's group message, "Event {type}#{id4} had {n} handler
	// error(s)", after the package prefix.
	var b strings.Builder
	fmt.Fprintf(&b, "ringbus: event %s had %d handler error(s)", e.Event, len(e.Errors))
	for i, err := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(inner(err))
	}
	return b.String()
}

// Unwrap returns the individual handler errors.
func (e *HandlerErrors) Unwrap() []error { return e.Errors }

// ErrorTypeName returns the cross-language type name of err: the TypeName
// method's value when err has one, else the Go dynamic type name without
// package path or pointer star, else "Error".
func ErrorTypeName(err error) string {
	if err == nil {
		return ""
	}
	if t, ok := err.(interface{ TypeName() string }); ok {
		return t.TypeName()
	}
	name := fmt.Sprintf("%T", err)
	name = strings.TrimLeft(name, "*")
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	switch name {
	case "", "errorString", "wrapError", "wrapErrors", "joinError":
		return "Error"
	}
	return name
}

// handlerRef names a handler in an error message as the event tree does:
// "Bus#ab12.handler#cd34(Event#ef56)", leaving out what is unknown.
func handlerRef(bus, handler, event string) string {
	if handler == "" {
		handler = "?"
	}
	if bus != "" {
		handler = bus + "." + handler
	}
	if event != "" {
		handler += "(" + event + ")"
	}
	return handler
}

// inner is the message of an error quoted inside another ringbus error,
// without a second "ringbus: " prefix. A nil error gives "<nil>".
func inner(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(err.Error(), "ringbus: ")
}

// ResultSchemaError is the error of a handler whose return value does not
// match the event's event_result_type. Only that handler's row fails. Its
// wire type name is EventHandlerResultSchemaError.
type ResultSchemaError struct {
	Handler    string // handler label
	Bus        string // label of the bus that ran the handler
	Event      string // event label
	Identifier string // the schema identifier: string, number, object, ...
	Err        error  // the validator's error
}

// Error returns "ringbus: handler Bus#ab12.name#cd34(Event#ef56) returned a
// value that did not match expected event_result_type object", followed by
// where and why when the validator says.
func (e *ResultSchemaError) Error() string {
	msg := "ringbus: handler " + handlerRef(e.Bus, e.Handler, e.Event) + " returned a value that did not match expected event_result_type " + e.Identifier
	if e.Err == nil {
		return msg
	}
	detail := inner(e.Err)
	// The schema package's mismatch error starts with the same words and
	// identifier: keep only what it adds (" at #/path: reason").
	if rest, ok := strings.CutPrefix(detail, "result did not match expected event_result_type "+e.Identifier); ok {
		return msg + rest
	}
	return msg + ": " + detail
}

// Is reports whether target is ErrResultSchema.
func (e *ResultSchemaError) Is(target error) bool { return target == ErrResultSchema }

// Unwrap returns the validator's error.
func (e *ResultSchemaError) Unwrap() error { return e.Err }

// TypeName returns the cross-language error type name.
func (e *ResultSchemaError) TypeName() string { return "EventHandlerResultSchemaError" }
