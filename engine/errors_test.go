package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

type testTimeoutErr struct{}

func (testTimeoutErr) Error() string    { return "retry gave up: upstream timed out" }
func (testTimeoutErr) Timeout() bool    { return true }
func (testTimeoutErr) TypeName() string { return "TimeoutError" }

type testMismatch struct{}

func (testMismatch) Error() string {
	return "ringbus: result did not match expected event_result_type object at #/a: expected integer, got string"
}

// ERR-3, RES-3, RTYPE-2, FIRST-2, FIRST-3, REC-1, ERR-4: the Go messages of
// the engine's error types, pinned on purpose: "ringbus: " prefix, lowercase,
// bus and handler named, Go durations, and the key words abxbus's messages
// have ("timed out", "interrupted"/"aborted", "cancelled", "pending",
// "did not match expected event_result_type", "history limit reached").
// The wire type names do not change.
func TestErrorMessages_ERR3(t *testing.T) {
	const (
		bus = "Orders#ab12"
		h   = "save#cd34"
		ev  = "OrderPlaced#ef56"
	)
	timeout := &HandlerTimeoutError{Handler: h, Bus: bus, Event: ev, Timeout: 30 * time.Millisecond}
	cases := []struct {
		err      error
		msg      string
		typeName string
	}{
		{timeout,
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) timed out after 30ms", "EventHandlerTimeoutError"},
		{&HandlerTimeoutError{Handler: h, Bus: bus, Event: ev, Timeout: 1500 * time.Millisecond, Children: 2},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) timed out after 1.5s and interrupted any processing of 2 child events", "EventHandlerTimeoutError"},
		{&HandlerTimeoutError{Handler: h, Bus: bus, Event: ev, Timeout: time.Second, Err: testTimeoutErr{}},
			"retry gave up: upstream timed out", "EventHandlerTimeoutError"}, // ERR-2: keeps its own message
		{&HandlerAbortedError{Handler: h, Bus: bus, Event: ev, Reason: ReasonEventTimeout, Timeout: 60 * time.Second},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was interrupted because the event timed out after 1m0s", "EventHandlerAbortedError"},
		{&HandlerAbortedError{Handler: h, Bus: bus, Event: ev, Reason: ReasonParentTimeout},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was interrupted because of a parent timeout", "EventHandlerAbortedError"},
		{&HandlerAbortedError{Handler: h, Bus: bus, Event: ev, Reason: ReasonParentAborted},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was interrupted because the handler awaiting it was aborted", "EventHandlerAbortedError"},
		{&HandlerAbortedError{Handler: h, Bus: bus, Event: ev, Reason: ReasonFirstResult},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was aborted: first result resolved", "EventHandlerAbortedError"},
		{&HandlerAbortedError{Handler: h, Bus: bus, Event: ev, Reason: ReasonStopped},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was aborted: bus stopped", "EventHandlerAbortedError"},
		{&HandlerCancelledError{Handler: h, Bus: bus, Event: ev, Reason: ReasonEventTimeout, Timeout: 50 * time.Millisecond},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was cancelled because the event timed out after 50ms", "EventHandlerCancelledError"},
		{&HandlerCancelledError{Handler: h, Bus: bus, Event: ev, Reason: ReasonFirstResult},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) was cancelled: first result resolved", "EventHandlerCancelledError"},
		{&HandlerCancelledError{Handler: h, Bus: bus, Event: ev, Reason: ReasonParentTimeout, Parent: timeout},
			"ringbus: cancelled pending handler Orders#ab12.save#cd34(OrderPlaced#ef56) as a result of parent error: " +
				"handler Orders#ab12.save#cd34(OrderPlaced#ef56) timed out after 30ms", "EventHandlerCancelledError"},
		{&HandlerPanicError{Handler: h, Bus: bus, Event: ev, Value: "boom"},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) panicked: boom", "HandlerPanicError"},
		{&RecursionError{Handler: h, Bus: bus, Event: ev, Depth: 3, Limit: 2},
			"ringbus: infinite loop detected: handler Orders#ab12.save#cd34(OrderPlaced#ef56) has recursively processed 3 levels of events (limit 2, set with api.WithMaxRecursionDepth)", "RecursionError"},
		{&ResultSchemaError{Handler: h, Bus: bus, Event: ev, Identifier: "object", Err: testMismatch{}},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) returned a value that did not match expected event_result_type object at #/a: expected integer, got string", "EventHandlerResultSchemaError"},
		{&ResultSchemaError{Handler: h, Bus: bus, Event: ev, Identifier: "string", Err: errors.New("not a string")},
			"ringbus: handler Orders#ab12.save#cd34(OrderPlaced#ef56) returned a value that did not match expected event_result_type string: not a string", "EventHandlerResultSchemaError"},
		{&HandlerErrors{Event: ev, Errors: []error{errors.New("a failed"), timeout}},
			"ringbus: event OrderPlaced#ef56 had 2 handler error(s): a failed; handler Orders#ab12.save#cd34(OrderPlaced#ef56) timed out after 30ms", "HandlerErrors"},
		{&QueueFullError{Bus: bus, Limit: 5, Err: context.Canceled, Cause: errStopWait},
			"ringbus: Orders#ab12 queue full (limit 5): bus closed: stopped while waiting for queue room", "QueueFullError"},
		{&HistoryFullError{Bus: bus, Len: 3, Limit: 3},
			"ringbus: Orders#ab12 history limit reached (3/3): completed events are kept until dropped; create the bus with api.WithHistoryDrop(true) to keep only the newest events, or raise the limit with api.WithMaxHistory", "HistoryFullError"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.msg {
			t.Errorf("%T message\n got: %s\nwant: %s", c.err, got, c.msg)
		}
		if got := ErrorTypeName(c.err); got != c.typeName {
			t.Errorf("%T wire type %q, want %q", c.err, got, c.typeName)
		}
	}
	if !errors.Is(timeout, context.DeadlineExceeded) || !errors.Is(timeout, ErrHandlerTimeout) {
		t.Error("a handler timeout matches context.DeadlineExceeded and ErrHandlerTimeout")
	}
	if errors.Is(&HandlerAbortedError{Reason: ReasonEventTimeout}, context.DeadlineExceeded) {
		t.Error("an aborted handler is not a handler timeout")
	}
	// A zero error still reads as a sentence.
	if got := (&HandlerTimeoutError{}).Error(); got != "ringbus: handler ? timed out after 0s" {
		t.Errorf("zero HandlerTimeoutError: %q", got)
	}
}
