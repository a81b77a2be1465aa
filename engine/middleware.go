package engine

// Middleware observes a bus's events, result rows and handler registrations
// (MW-1). Hooks run synchronously on the processing path, in the order the
// middlewares were given (MW-5), without any bus lock held, so a hook may
// emit events. A panicking hook is recovered and logged (MW-9). Statuses
// passed are only Pending, Started and Completed: a failed row is reported
// as Completed with its Error set (MW-1).
//
// Embed NopMiddleware to implement only some hooks.
type Middleware interface {
	// OnEventChange is called when the bus begins processing the event
	// (Pending), when its first handler starts (Started) and when the event
	// completes (Completed) (MW-2, MW-3).
	OnEventChange(bus *Bus, e *Event, status Status)
	// OnResultChange is called for every row transition (MW-2, MW-4, MW-7).
	OnResultChange(bus *Bus, e *Event, r *Result, status Status)
	// OnHandlersChange is called after a handler is registered or removed
	// (MW-6).
	OnHandlersChange(bus *Bus, h *Handler, registered bool)
}

// NopMiddleware implements Middleware with hooks that do nothing.
type NopMiddleware struct{}

// OnEventChange does nothing.
func (NopMiddleware) OnEventChange(*Bus, *Event, Status) {}

// OnResultChange does nothing.
func (NopMiddleware) OnResultChange(*Bus, *Event, *Result, Status) {}

// OnHandlersChange does nothing.
func (NopMiddleware) OnHandlersChange(*Bus, *Handler, bool) {}
