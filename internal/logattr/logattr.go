// Package logattr holds the attribute keys of every record ringbus logs, so
// that engine and wire name the same thing the same way. The keys are part
// of the contract (engine.WithLogger lists them): a user's slog.Handler may
// filter or index on them.
//
// A record's message is short and fixed ("ringbus: handler failed"); the
// values travel as attributes under these keys. Labels are the ones
// ringbus prints elsewhere: a bus is "Name#ab12", a handler "name#cd34".
package logattr

// Attribute keys.
const (
	Bus       = "bus"        // bus label, string
	EventType = "event_type" // event_type, string
	EventID   = "event_id"   // event id (full UUID), string
	Handler   = "handler"    // handler label, string
	Error     = "error"      // the error value
	Timeout   = "timeout"    // the timeout that expired, time.Duration
	Elapsed   = "elapsed"    // time the handler or event has been running, time.Duration
	Running   = "running"    // handlers of the event still running, int
	Depth     = "depth"      // recursion depth reached, int
	Limit     = "limit"      // the configured limit that applies, int
	Pattern   = "pattern"    // the event type or "*" a handler listens to, string
	Name      = "name"       // the bus name that was asked for, string
	Panic     = "panic"      // the value passed to panic
	Stack     = "stack"      // the goroutine stack at a panic, string
)
