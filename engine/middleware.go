package engine

import "context"

// Middleware observes a bus: its events' and result rows' transitions and
// its handler registrations. Give it to a bus with WithMiddlewares; embed
// NopMiddleware to implement only some hooks. To run code around each
// handler call, or to change the ctx a handler gets, use a HandlerWrapper
// instead.
//
// # When hooks run
//
// Hooks run synchronously on the processing path, on the goroutine making
// the transition, in the order the middlewares were given. Statuses passed
// are Pending, Started and Completed; a failed row is reported as
// Completed with its Error set.
//
//   - OnEventChange(Pending) when the bus begins processing the event,
//     (Started) when its first handler starts, (Completed) when it
//     completes, children included.
//   - OnResultChange(Pending) when a row is created, (Started) just before
//     its handler runs, (Completed) once it has finished, failed, timed
//     out, or was cancelled or aborted.
//   - OnHandlersChange after a handler is registered or removed.
//
// An event's OnEventChange(Completed) hooks run before anyone waiting for
// the event is released: Wait, Now and Done return after every
// middleware's completion hook has returned, so what a hook records (a
// log line made durable, a counter) is there when they do. A completion
// hook must therefore not wait for the event it is told of.
//
// The transitions of one row, and of one event on one bus, are reported in
// that order. Hooks of different rows may run at the same time (the rows
// of parallel handlers, or of parallel events), so a middleware must be
// safe for concurrent use.
//
// # What a hook may do
//
// No bus lock is held while a hook runs: a hook may read the event and its
// rows, and may emit events. A hook must not block for long, since the bus
// waits for it before going on; a slow exporter belongs on a goroutine or
// a queue of its own. A hook that panics is recovered and logged, and the
// bus goes on.
//
// The ctx a hook receives carries the values of the context the event was
// emitted with (a trace id, a request id), never its cancellation. For row
// transitions it is the handler's own ctx, so Cause(ctx) and
// CurrentResult(ctx) work in the hook, and a value a HandlerWrapper adds
// to the ctx it passes on is not in it.
type Middleware interface {
	// OnEventChange reports a transition of e on bus.
	OnEventChange(ctx context.Context, bus *Bus, e *Event, status Status)
	// OnResultChange reports a transition of r, a row of e, on bus.
	OnResultChange(ctx context.Context, bus *Bus, e *Event, r *Result, status Status)
	// OnHandlersChange reports that h was registered on bus, or removed.
	OnHandlersChange(bus *Bus, h *Handler, registered bool)
}

// Hooks is a set of a Middleware's hooks and of the transitions it is
// told of (see HookSelector).
type Hooks uint16

// The hooks of a Middleware, one bit per transition.
const (
	EventPendingHook    Hooks = 1 << iota // OnEventChange with StatusPending
	EventStartedHook                      // OnEventChange with StatusStarted
	EventCompletedHook                    // OnEventChange with StatusCompleted
	ResultPendingHook                     // OnResultChange with StatusPending
	ResultStartedHook                     // OnResultChange with StatusStarted
	ResultCompletedHook                   // OnResultChange with StatusCompleted
	HandlerHooks                          // OnHandlersChange

	EventHooks  = EventPendingHook | EventStartedHook | EventCompletedHook    // every OnEventChange
	ResultHooks = ResultPendingHook | ResultStartedHook | ResultCompletedHook // every OnResultChange
	AllHooks    = EventHooks | ResultHooks | HandlerHooks
)

// HookSelector is implemented by a middleware that does something in only
// some of its hooks, or for only some transitions: the bus calls just
// those, and what it skips costs nothing per event. A middleware without
// it gets every hook.
//
//	func (*Audit) Hooks() api.Hooks { return api.ResultCompletedHook }
type HookSelector interface {
	Hooks() Hooks
}

// BusCloseObserver is implemented by a middleware that wants to know when
// a bus it was given to is shut down (by Stop or Close): a collector that
// reads per-bus gauges forgets the bus, a tracer ends what it still holds.
// OnBusClosed runs once per bus, after the bus's goroutines have stopped
// and before Stop or Close returns; the bus's getters still work, Emit and
// On fail. A panic in it is recovered and logged.
type BusCloseObserver interface {
	OnBusClosed(bus *Bus)
}

// NopMiddleware implements Middleware with hooks that do nothing. Embed it
// in a middleware that implements only some hooks.
type NopMiddleware struct{}

// OnEventChange does nothing.
func (NopMiddleware) OnEventChange(context.Context, *Bus, *Event, Status) {}

// OnResultChange does nothing.
func (NopMiddleware) OnResultChange(context.Context, *Bus, *Event, *Result, Status) {}

// OnHandlersChange does nothing.
func (NopMiddleware) OnHandlersChange(*Bus, *Handler, bool) {}

// eventCtx is the ctx of an event's hooks: the values of the context it was
// emitted with, or Background.
func eventCtx(e *Event) context.Context {
	if ctx := e.valuesCtx(); ctx != nil {
		return ctx
	}
	return context.Background()
}
