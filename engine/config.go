package engine

// An event's own settings (EVT-6: instance > type > bus, never written
// back): the setters, called before the event is emitted, and the getters.
// instanceConfig hands them to the dispatcher (dispatcher.go) and to
// queue-jumps (jump.go), and resolve (rows.go) combines them with the
// type's and the bus's.

import (
	"fmt"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// eventConfig holds per-event or per-type overrides; unset durations are -1
// and unset modes are zero (EVT-6: never written back by the bus).
type eventConfig struct {
	timeout            time.Duration
	handlerTimeout     time.Duration
	slowTimeout        time.Duration
	handlerSlowTimeout time.Duration
	concurrency        EventConcurrency
	handlerConcurrency HandlerConcurrency
	completion         Completion
}

var unsetConfig = eventConfig{timeout: unsetDuration, handlerTimeout: unsetDuration, slowTimeout: unsetDuration, handlerSlowTimeout: unsetDuration}

// isUnset reports whether c == unsetConfig, field by field (the struct
// comparison compiles to a memory compare call).
func (c *eventConfig) isUnset() bool {
	return c.timeout == unsetDuration && c.handlerTimeout == unsetDuration &&
		c.slowTimeout == unsetDuration && c.handlerSlowTimeout == unsetDuration &&
		c.concurrency == 0 && c.handlerConcurrency == 0 && c.completion == 0
}

func (e *Event) setCfg(f func(*eventConfig)) {
	e.mu.Lock()
	x := e.extension()
	x.hasCfg = true
	f(&x.cfg)
	e.bits.Or(bitCfgSet)
	e.mu.Unlock()
}

// SetTimeout sets event_timeout: a hard cap on the event's handler phase on
// each bus; 0 disables it. Negative values panic.
func (e *Event) SetTimeout(d time.Duration) {
	mustNonNegative(d)
	e.setCfg(func(c *eventConfig) { c.timeout = d })
}

// SetHandlerTimeout sets event_handler_timeout, the default timeout of each
// handler of this event; 0 means unset.
func (e *Event) SetHandlerTimeout(d time.Duration) {
	mustNonNegative(d)
	e.setCfg(func(c *eventConfig) { c.handlerTimeout = d })
}

// SetSlowTimeout sets event_slow_timeout; 0 disables the warning.
func (e *Event) SetSlowTimeout(d time.Duration) {
	mustNonNegative(d)
	e.setCfg(func(c *eventConfig) { c.slowTimeout = d })
}

// SetHandlerSlowTimeout sets event_handler_slow_timeout; 0 disables it.
func (e *Event) SetHandlerSlowTimeout(d time.Duration) {
	mustNonNegative(d)
	e.setCfg(func(c *eventConfig) { c.handlerSlowTimeout = d })
}

// SetConcurrency sets event_concurrency for this event.
func (e *Event) SetConcurrency(m EventConcurrency) {
	e.setCfg(func(c *eventConfig) { c.concurrency = m })
}

// SetHandlerConcurrency sets event_handler_concurrency for this event.
func (e *Event) SetHandlerConcurrency(m HandlerConcurrency) {
	e.setCfg(func(c *eventConfig) { c.handlerConcurrency = m })
}

// SetCompletion sets event_handler_completion for this event.
func (e *Event) SetCompletion(m Completion) {
	e.setCfg(func(c *eventConfig) { c.completion = m })
}

// SetType overrides event_type for this instance.
func (e *Event) SetType(name string) error {
	if err := validEventType(name); err != nil {
		return err
	}
	e.mu.Lock()
	e.extension().typ = name
	e.bits.Or(bitTypeSet)
	e.mu.Unlock()
	return nil
}

// SetVersion overrides event_version for this instance.
func (e *Event) SetVersion(v string) {
	e.mu.Lock()
	e.extension().version = v
	e.mu.Unlock()
}

// SetID sets event_id before first use; it must parse as a UUID.
func (e *Event) SetID(id string) error {
	// TIME-2.
	u, err := ident.ParseUUID(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flags&flagEmitted != 0 {
		return fmt.Errorf("%w: event id of an emitted event", ErrBadOption)
	}
	e.id = u
	return nil
}

// SetParentID sets event_parent_id before the event is emitted. A parent
// set this way is never overwritten by the handler context the event is
// emitted with.
func (e *Event) SetParentID(id string) error {
	// CHILD-3.
	u, err := ident.ParseUUID(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flags&flagEmitted != 0 {
		return fmt.Errorf("%w: parent id of an emitted event", ErrBadOption)
	}
	e.extension().parentID = u
	return nil
}

func mustNonNegative(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("ringbus: negative duration %s", d))
	}
}

// config returns the instance overrides, or the unset config.
func (e *Event) config() eventConfig {
	if e.ext == nil || !e.ext.hasCfg {
		return unsetConfig
	}
	return e.ext.cfg
}

// instanceConfig returns the event's own settings (unset ones unset).
func (e *Event) instanceConfig() eventConfig {
	if e.bits.Load()&bitCfgSet == 0 {
		return unsetConfig // nothing set: no need for the lock
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config()
}

// Timeout returns event_timeout and whether it is set on the instance.
func (e *Event) Timeout() (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.config()
	return c.timeout, c.timeout >= 0
}

// Concurrency returns event_concurrency as set on the instance (zero when
// unset: the bus that processes the event decides, and never writes its
// choice back).
func (e *Event) Concurrency() EventConcurrency {
	// EVT-6.
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config().concurrency
}

// HandlerConcurrency returns event_handler_concurrency as set on the
// instance, zero when unset.
func (e *Event) HandlerConcurrency() HandlerConcurrency {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config().handlerConcurrency
}

// Completion returns event_handler_completion as set on the instance, zero
// when unset.
func (e *Event) Completion() Completion {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config().completion
}
