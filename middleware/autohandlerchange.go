package middleware

// AutoHandlerChange: MW-12; the handler JSON is wire.md's WIRE-21, the
// form MarshalBus writes a bus snapshot's handlers in.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/wire"
)

// HandlerChangeEvents is the middleware AutoHandlerChange returns.
type HandlerChangeEvents struct {
	api.NopMiddleware
	cfg autoConfig
}

// AutoHandlerChange returns a middleware that emits a
// BusHandlerRegisteredEvent on the bus when a handler is registered on it
// and a BusHandlerUnregisteredEvent when one is removed; their Handler
// field describes the handler.
//
// The handler that listens for these events is itself a registration, so
// it produces one. Each of them takes a place in the bus's history like
// any event: a bus that registers and removes handlers all the time
// should drop old history (api.WithHistoryDrop). The events are emitted
// without waiting, as root events; one that cannot be emitted (the bus is
// closed, its history is full) is logged and dropped.
func AutoHandlerChange(opts ...AutoOption) *HandlerChangeEvents {
	return &HandlerChangeEvents{cfg: newAutoConfig(opts)}
}

// Hooks tells the bus that AutoHandlerChange needs only registrations;
// no event costs it anything.
func (*HandlerChangeEvents) Hooks() api.Hooks { return api.HandlerHooks }

// OnHandlersChange emits the event for h's registration or removal.
func (m *HandlerChangeEvents) OnHandlersChange(bus *api.Bus, h *api.Handler, registered bool) {
	info := HandlerInfoOf(h)
	var ev api.Eventer
	if registered {
		ev = &BusHandlerRegisteredEvent{Handler: info}
	} else {
		ev = &BusHandlerUnregisteredEvent{Handler: info}
	}
	m.cfg.emit(context.Background(), bus, ev, nil, nil)
}

// BusHandlerRegisteredEvent is emitted by AutoHandlerChange when a handler
// is registered. Its event_type is "BusHandlerRegisteredEvent", as in
// abxbus.
type BusHandlerRegisteredEvent struct {
	api.Event[any]
	Handler HandlerInfo `json:"handler"` // the handler registered
}

// BusHandlerUnregisteredEvent is emitted by AutoHandlerChange when a
// handler is removed. Its event_type is "BusHandlerUnregisteredEvent".
type BusHandlerUnregisteredEvent struct {
	api.Event[any]
	Handler HandlerInfo `json:"handler"` // the handler removed
}

// HandlerInfo describes a registered handler as abxbus's EventHandler JSON
// does, the form a bus snapshot (wire.MarshalBus) writes handlers in:
//
//	{"id", "handler_name", "handler_file_path", "handler_timeout",
//	 "handler_slow_timeout", "handler_registered_at", "event_pattern",
//	 "eventbus_name", "eventbus_id"}
//
// with null for a missing file path and for timeouts that are not set,
// timeouts in seconds and the registration time with nine fractional
// digits.
type HandlerInfo struct {
	ID           string         // the handler's id
	Name         string         // the handler's name
	FilePath     string         // where it was registered, "" when unknown
	Timeout      *time.Duration // its own timeout; nil when it has none
	SlowTimeout  *time.Duration // its own slow-warning threshold; nil when it has none
	RegisteredAt time.Time      // when it was registered
	Pattern      string         // the event type it listens to, or "*"
	BusName      string         // the name of its bus
	BusID        string         // the id of its bus

	handler *api.Handler
}

// HandlerInfoOf returns the description of h.
func HandlerInfoOf(h *api.Handler) HandlerInfo {
	d := engine.SnapshotDescOf(h)
	info := HandlerInfo{
		ID: d.ID.String(), Name: d.Name, FilePath: d.FilePath, Pattern: d.Pattern,
		RegisteredAt: d.RegisteredAt.Std(), BusName: d.BusName, BusID: d.BusID.String(),
		handler: h,
	}
	switch {
	case d.Timeout > 0:
		t := d.Timeout
		info.Timeout = &t
	case d.Timeout < 0: // an explicit 0 read from another runtime
		var zero time.Duration
		info.Timeout = &zero
	}
	if d.SlowTimeout >= 0 {
		t := d.SlowTimeout
		info.SlowTimeout = &t
	}
	return info
}

// Handler returns the handler described, when the description was made in
// this process (by HandlerInfoOf or AutoHandlerChange), else nil.
func (h HandlerInfo) Handler() *api.Handler { return h.handler }

// MarshalJSON writes the abxbus EventHandler JSON, as a bus snapshot
// writes the handler. It fails when ID or BusID is not a UUID.
func (h HandlerInfo) MarshalJSON() ([]byte, error) {
	d := engine.HandlerDesc{Name: h.Name, FilePath: h.FilePath, Pattern: h.Pattern, BusName: h.BusName, SlowTimeout: -1}
	var err error
	if d.ID, err = ident.ParseUUID(h.ID); err != nil {
		return nil, fmt.Errorf("ringbus: handler id %q: %w", h.ID, err)
	}
	if d.BusID, err = ident.ParseUUID(h.BusID); err != nil {
		return nil, fmt.Errorf("ringbus: handler eventbus_id %q: %w", h.BusID, err)
	}
	switch {
	case h.Timeout == nil:
	case *h.Timeout <= 0:
		d.Timeout = -1 // an explicit 0, written as 0
	default:
		d.Timeout = *h.Timeout
	}
	if h.SlowTimeout != nil {
		d.SlowTimeout = max(*h.SlowTimeout, 0)
	}
	if !h.RegisteredAt.IsZero() {
		d.RegisteredAt = ident.FromStd(h.RegisteredAt)
	}
	return wire.AppendHandler(make([]byte, 0, 320), d), nil
}

// handlerJSON is the EventHandler JSON as UnmarshalJSON reads it.
type handlerJSON struct {
	ID                 string   `json:"id"`
	HandlerName        string   `json:"handler_name"`
	HandlerFilePath    *string  `json:"handler_file_path"`
	HandlerTimeout     *float64 `json:"handler_timeout"`
	HandlerSlowTimeout *float64 `json:"handler_slow_timeout"`
	RegisteredAt       *string  `json:"handler_registered_at"`
	EventPattern       string   `json:"event_pattern"`
	EventbusName       string   `json:"eventbus_name"`
	EventbusID         string   `json:"eventbus_id"`
}

// UnmarshalJSON reads the abxbus EventHandler JSON. Unknown keys are
// ignored; a registration time that is not an RFC 3339 timestamp is an
// error.
func (h *HandlerInfo) UnmarshalJSON(data []byte) error {
	var j handlerJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	out := HandlerInfo{ID: j.ID, Name: j.HandlerName, Pattern: j.EventPattern, BusName: j.EventbusName, BusID: j.EventbusID}
	if j.HandlerFilePath != nil {
		out.FilePath = *j.HandlerFilePath
	}
	out.Timeout = durationOf(j.HandlerTimeout)
	out.SlowTimeout = durationOf(j.HandlerSlowTimeout)
	if j.RegisteredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *j.RegisteredAt)
		if err != nil {
			return fmt.Errorf("ringbus: handler_registered_at: %w", err)
		}
		out.RegisteredAt = t.UTC()
	}
	*h = out
	return nil
}

func durationOf(sec *float64) *time.Duration {
	if sec == nil {
		return nil
	}
	d := time.Duration(*sec * float64(time.Second))
	return &d
}
