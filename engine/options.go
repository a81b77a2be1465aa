package engine

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// Event concurrency: CONC.

// EventConcurrency says how many events a bus processes at once.
// The zero value means "not set": use the processing bus's default.
type EventConcurrency uint8

// The modes: global-serial CONC-3, bus-serial CONC-2, parallel CONC-4.

// Event concurrency modes.
const (
	// GlobalSerial processes at most one event at a time across every bus
	// of the domain, FIFO-fair across buses.
	GlobalSerial EventConcurrency = iota + 1
	// BusSerial processes one event at a time per bus. The default.
	BusSerial
	// ParallelEvents starts queued events as soon as they are dequeued, in
	// emit order, without waiting for the previous one.
	ParallelEvents
)

// String returns the wire name ("global-serial", "bus-serial", "parallel").
func (c EventConcurrency) String() string {
	switch c {
	case GlobalSerial:
		return "global-serial"
	case BusSerial:
		return "bus-serial"
	case ParallelEvents:
		return "parallel"
	}
	return ""
}

// ParseEventConcurrency returns the mode whose wire name is s.
func ParseEventConcurrency(s string) (EventConcurrency, bool) {
	return parseMode(s, GlobalSerial, ParallelEvents)
}

// Handler concurrency: HCONC; serial HCONC-1, parallel HCONC-2.

// HandlerConcurrency says whether one event's handlers run one at a time or
// all at once. The zero value means "not set".
type HandlerConcurrency uint8

// Handler concurrency modes.
const (
	// SerialHandlers runs handlers one after another in registration order,
	// typed before wildcard. The default.
	SerialHandlers HandlerConcurrency = iota + 1
	// ParallelHandlers starts every handler of the event at once.
	ParallelHandlers
)

// String returns the wire name ("serial", "parallel").
func (c HandlerConcurrency) String() string {
	switch c {
	case SerialHandlers:
		return "serial"
	case ParallelHandlers:
		return "parallel"
	}
	return ""
}

// ParseHandlerConcurrency returns the mode whose wire name is s.
func ParseHandlerConcurrency(s string) (HandlerConcurrency, bool) {
	return parseMode(s, SerialHandlers, ParallelHandlers)
}

// Completion modes: FIRST.

// Completion says when an event's handler phase on a bus ends.
// The zero value means "not set".
type Completion uint8

// Completion modes.
const (
	// CompleteAll waits for every handler. The default.
	CompleteAll Completion = iota + 1
	// CompleteFirst ends the handler phase at the first handler that returns
	// a non-nil, non-event value without error; the others are cancelled.
	CompleteFirst
)

// String returns the wire name ("all", "first").
func (c Completion) String() string {
	switch c {
	case CompleteAll:
		return "all"
	case CompleteFirst:
		return "first"
	}
	return ""
}

// ParseCompletion returns the mode whose wire name is s.
func ParseCompletion(s string) (Completion, bool) { return parseMode(s, CompleteAll, CompleteFirst) }

// parseMode returns the mode in first..last whose wire name is s.
func parseMode[M interface {
	~uint8
	String() string
}](s string, first, last M) (M, bool) {
	for m := first; m <= last; m++ {
		if m.String() == s {
			return m, true
		}
	}
	return 0, false
}

// The defaults: BUS-1, D10.

// Default bus settings, as in abxbus 2.4.2, and UnlimitedHistory, the
// history limit that means none.
const (
	DefaultEventTimeout       = 60 * time.Second
	DefaultEventSlowTimeout   = 300 * time.Second
	DefaultHandlerSlowTimeout = 30 * time.Second
	DefaultMaxHistorySize     = 100
	DefaultMaxRecursionDepth  = 2
	UnlimitedHistory          = -1
	unsetDuration             = time.Duration(-1)
	maxEventTypeLen           = 64
	defaultEventVersion       = "0.0.1"
	defaultHandlerName        = "anonymous"
)

type busConfig struct {
	id                 ident.UUID
	eventConcurrency   EventConcurrency
	handlerConcurrency HandlerConcurrency
	completion         Completion
	eventTimeout       time.Duration
	eventSlowTimeout   time.Duration
	handlerSlowTimeout time.Duration
	maxHistory         int
	historyDrop        bool
	maxRecursion       int
	maxQueue           int             // 0: unbounded
	queuePolicy        QueueFullPolicy // what Emit does at maxQueue
	detectFilePaths    bool
	logger             *slog.Logger
	middlewares        []Middleware
	eventMWs           [3][]Middleware // by status (Pending, Started, Completed): those whose OnEventChange is called
	resultMWs          [3][]Middleware // the same for OnResultChange
	handlerMWs         []Middleware    // those whose OnHandlersChange is called
	wrappers           []HandlerWrapper
	domain             *Domain
}

func defaultBusConfig() busConfig {
	return busConfig{
		eventConcurrency:   BusSerial,
		handlerConcurrency: SerialHandlers,
		completion:         CompleteAll,
		eventTimeout:       DefaultEventTimeout,
		eventSlowTimeout:   DefaultEventSlowTimeout,
		handlerSlowTimeout: DefaultHandlerSlowTimeout,
		maxHistory:         DefaultMaxHistorySize,
		maxRecursion:       DefaultMaxRecursionDepth,
		queuePolicy:        QueueBlock,
		detectFilePaths:    true,
	}
}

// Option configures a Bus. Options are validated by NewBus, which returns
// an error wrapping ErrBadOption for a bad value.
type Option interface{ applyBus(*busConfig) error }

type busOption func(*busConfig) error

func (f busOption) applyBus(c *busConfig) error { return f(c) }

// Options combines opts into one Option, applied in order: an integration
// that needs several (a middleware and a handler wrapper, say) hands its
// users a single value. Nil options are skipped.
func Options(opts ...Option) Option {
	return busOption(func(c *busConfig) error {
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o.applyBus(c); err != nil {
				return err
			}
		}
		return nil
	})
}

func badOption(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOption, fmt.Sprintf(format, args...))
}

// WithEventConcurrency sets the bus's default event concurrency.
func WithEventConcurrency(m EventConcurrency) Option {
	// BUS-2.
	return busOption(func(c *busConfig) error {
		if m < GlobalSerial || m > ParallelEvents {
			return badOption("event concurrency must be global-serial, bus-serial or parallel")
		}
		c.eventConcurrency = m
		return nil
	})
}

// WithHandlerConcurrency sets the bus's default handler concurrency.
func WithHandlerConcurrency(m HandlerConcurrency) Option {
	return busOption(func(c *busConfig) error {
		if m != SerialHandlers && m != ParallelHandlers {
			return badOption("handler concurrency must be serial or parallel")
		}
		c.handlerConcurrency = m
		return nil
	})
}

// WithCompletion sets the bus's default handler completion mode.
func WithCompletion(m Completion) Option {
	return busOption(func(c *busConfig) error {
		if m != CompleteAll && m != CompleteFirst {
			return badOption("handler completion must be all or first")
		}
		c.completion = m
		return nil
	})
}

func durationOption(d time.Duration, name string, set func(*busConfig)) Option {
	return busOption(func(c *busConfig) error {
		if d < 0 {
			return badOption("%s must be >= 0, got %s", name, d)
		}
		set(c)
		return nil
	})
}

// WithEventTimeout sets the bus's default hard cap on an event's handler
// phase; 0 disables it. Default 60s.
func WithEventTimeout(d time.Duration) Option {
	// 0 disables: TIMEOUT-3.
	return durationOption(d, "event timeout", func(c *busConfig) { c.eventTimeout = d })
}

// WithEventSlowTimeout sets after how long a still-running event logs a
// slow-event warning; 0 disables it. Default 300s.
func WithEventSlowTimeout(d time.Duration) Option {
	// SLOW-1.
	return durationOption(d, "event slow timeout", func(c *busConfig) { c.eventSlowTimeout = d })
}

// WithDefaultHandlerSlowTimeout sets after how long a still-running handler
// logs a slow-handler warning, for handlers and events that set none; 0
// disables it. Default 30s.
func WithDefaultHandlerSlowTimeout(d time.Duration) Option {
	// SLOW-2.
	return durationOption(d, "handler slow timeout", func(c *busConfig) { c.handlerSlowTimeout = d })
}

// WithMaxHistory limits the bus history to n events. n == 0 keeps only
// in-flight events: each event leaves the history when it completes, and
// Emit never fails for history size. UnlimitedHistory (or any negative n)
// keeps everything. Default 100.
//
// What happens when the history is full depends on WithHistoryDrop. By
// default (no drop) Emit returns a *HistoryFullError once the history holds
// n events, even if every one of them has completed: completed events are
// not evicted. A default bus therefore accepts 100 events in its lifetime.
// This matches abxbus. A long-running service wants WithHistoryDrop(true),
// which keeps the newest n events and never rejects, or WithMaxHistory(0).
func WithMaxHistory(n int) Option {
	return busOption(func(c *busConfig) error {
		if n < 0 {
			n = UnlimitedHistory
		}
		c.maxHistory = n
		return nil
	})
}

// WithHistoryDrop makes a full history drop its oldest entries instead of
// rejecting new events: once an event finishes and the history holds more
// than the WithMaxHistory limit, completed events are removed oldest first,
// then, if the history is still over the limit, the oldest entries whatever
// their status (a warning is logged once). A dropped event still completes
// and can still be awaited by whoever holds it. This is the setting for a
// long-running bus; the default (false) rejects emits once the history is
// full.
func WithHistoryDrop(drop bool) Option {
	return busOption(func(c *busConfig) error { c.historyDrop = drop; return nil })
}

// QueueFullPolicy says what Emit does on a bus whose queue holds as many
// events as WithMaxQueue allows.
type QueueFullPolicy uint8

// Queue-full policies.
const (
	// QueueBlock makes Emit wait until the queue has room, or until its
	// ctx is done. The default.
	QueueBlock QueueFullPolicy = iota + 1
	// QueueReject makes Emit fail at once with a *QueueFullError.
	QueueReject
)

// String returns "block" or "reject".
func (p QueueFullPolicy) String() string {
	switch p {
	case QueueBlock:
		return "block"
	case QueueReject:
		return "reject"
	}
	return ""
}

// WithMaxQueue limits how many events the bus holds queued: emitted on it
// and not yet started there. Every event counts, whoever emits it: events
// emitted from outside, children emitted by handlers and events forwarded
// from other buses. An event leaves the count when the bus starts it,
// including when a handler awaits it and so runs it ahead of the queue.
// 0, the default, means no limit.
//
// When the queue is full, Emit waits for room or fails with a
// *QueueFullError (matching ErrQueueFull), as WithQueueFullPolicy says.
// Waiting emitters get room in the order they started waiting. A wait ends
// early when Emit's ctx is done, with an error that matches both
// ErrQueueFull and the ctx's error (and its cause), or when the bus is
// stopped or closed, with ErrBusClosed. The event is then not emitted.
//
// Emit called with a handler's context (from inside a handler, including
// the handlers Forward registers) never waits: the bus whose queue is full
// may be the one running that handler, or be waiting for a lock the
// handler holds, so waiting could deadlock. Such an emit fails at once with
// the *QueueFullError whatever the policy; a forward onto a full bus fails
// its forwarding handler. To throttle a pipeline, limit the bus producers
// emit on, and give the buses it forwards to more room. A handler that
// emits with a context of its own making (not derived from its handler
// context) waits like any other emitter, so on its own bus only that
// context can end the wait.
//
// The history limit (WithMaxHistory) applies as well and takes precedence:
// with dropping off (the default), a full history rejects the emit with a
// *HistoryFullError, at once, even when the queue is full too and the
// policy is to wait, since such a history never frees up. Every queued
// event is also in the history, so on a default bus (100 events, no
// dropping) at most 100 events are ever queued and a larger queue limit
// never applies. The queue limit is what bounds the memory of a flood of
// emits on a bus whose history drops its oldest entries (WithHistoryDrop)
// or keeps only events in flight (WithMaxHistory(0)); an unlimited history
// keeps every event whatever the queue limit.
//
// On a bus without a limit Emit does no extra work; with one, each Emit
// and each start of an event cost a few atomic operations more.
func WithMaxQueue(n int) Option {
	return busOption(func(c *busConfig) error {
		if n < 0 {
			return badOption("max queue must be >= 0, got %d", n)
		}
		c.maxQueue = n
		return nil
	})
}

// WithQueueFullPolicy sets what Emit does when the queue limit set by
// WithMaxQueue is reached: QueueBlock (the default) waits for room,
// QueueReject fails at once with a *QueueFullError.
func WithQueueFullPolicy(p QueueFullPolicy) Option {
	return busOption(func(c *busConfig) error {
		if p != QueueBlock && p != QueueReject {
			return badOption("queue full policy must be block or reject")
		}
		c.queuePolicy = p
		return nil
	})
}

// WithMaxRecursionDepth sets how many nested levels of events one handler may
// process: an event one level deeper gets no handler rows on the bus, and a
// handler awaiting it gets a *RecursionError. Default 2, as in abxbus.
func WithMaxRecursionDepth(n int) Option {
	// The recursion guard: REC-1.
	return busOption(func(c *busConfig) error {
		if n < 0 {
			return badOption("max recursion depth must be >= 0")
		}
		c.maxRecursion = n
		return nil
	})
}

// WithDetectFilePaths turns the recording of handler source positions on or
// off. Default on.
func WithDetectFilePaths(on bool) Option {
	// HND-3.
	return busOption(func(c *busConfig) error { c.detectFilePaths = on; return nil })
}

// WithLogger sets the bus's logger. Default slog.Default().
//
// Records have a short fixed message starting with "ringbus: " and carry
// their values as attributes: "bus", "event_type", "event_id", "handler",
// "error", "timeout" and "elapsed" (time.Duration), and a few more. A record
// about a handler is logged with the handler's ctx, one about an event with
// the values of the ctx it was emitted with. At Warn: slow handlers and
// events, handler timeouts, a renamed bus, a handler registered twice, a
// history that drops unfinished events. At Error: a panicking middleware,
// an event a runaway recursion left unprocessed with nobody awaiting it. A
// failed handler is logged at Debug only: its error reaches the caller
// through the event's results.
func WithLogger(l *slog.Logger) Option {
	return busOption(func(c *busConfig) error {
		if l == nil {
			return badOption("nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithMiddlewares adds middlewares, called in the order given.
//
// Cost: one middleware whose hooks do nothing adds about 850 instructions
// per event to the default path (six hook calls: three event and three row
// transitions, each with its panic guard), 24% over a bare bus
// (BenchmarkEmitBatchMiddleware in package perf, counted with callgrind).
// A middleware that implements HookSelector is called only for the hooks
// it selects.
func WithMiddlewares(m ...Middleware) Option {
	// The order: MW-5.
	return busOption(func(c *busConfig) error {
		for _, mw := range m {
			if mw == nil {
				return badOption("nil middleware")
			}
		}
		c.middlewares = append(c.middlewares, m...)
		for _, mw := range m {
			h := AllHooks
			if s, ok := mw.(HookSelector); ok {
				h = s.Hooks()
			}
			for st := range 3 {
				if h&(EventPendingHook<<st) != 0 {
					c.eventMWs[st] = append(c.eventMWs[st], mw)
				}
				if h&(ResultPendingHook<<st) != 0 {
					c.resultMWs[st] = append(c.resultMWs[st], mw)
				}
			}
			if h&HandlerHooks != 0 {
				c.handlerMWs = append(c.handlerMWs, mw)
			}
		}
		return nil
	})
}

// WithID gives the bus an explicit id; it must parse as a UUID.
func WithID(id string) Option {
	// TIME-3.
	return busOption(func(c *busConfig) error {
		u, err := ident.ParseUUID(id)
		if err != nil {
			return badOption("bus id: %v", err)
		}
		c.id = u
		return nil
	})
}

// WithDomain places the bus in an isolated domain with its own global-serial
// lock and bus registry. Default DefaultDomain.
func WithDomain(d *Domain) Option {
	// BUS-6.
	return busOption(func(c *busConfig) error {
		if d == nil {
			return badOption("nil domain")
		}
		c.domain = d
		return nil
	})
}
