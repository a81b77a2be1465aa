package middleware

// What AutoError, AutoReturn and AutoHandlerChange share: their options,
// the ctx their events are emitted with, and how an emit failure is
// reported (MW-10..MW-12).

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/internal/logattr"
)

// AutoOption configures AutoError, AutoReturn and AutoHandlerChange.
type AutoOption interface {
	applyAuto(*autoConfig)
}

type autoConfig struct {
	log *slog.Logger // nil: the bus's logger
}

type autoOptionFunc func(*autoConfig)

func (f autoOptionFunc) applyAuto(c *autoConfig) { f(c) }

// WithErrorLogger sends the records of events that could not be emitted to
// l instead of the logger of the bus they were meant for (see
// api.WithLogger). A nil l keeps the bus's logger.
func WithErrorLogger(l *slog.Logger) AutoOption {
	return autoOptionFunc(func(c *autoConfig) { c.log = l })
}

func newAutoConfig(opts []AutoOption) autoConfig {
	var c autoConfig
	for _, o := range opts {
		if o != nil {
			o.applyAuto(&c)
		}
	}
	return c
}

// synthetic reports whether eventType is one the auto middlewares emit
// themselves, which never leads to another auto event (the recursion guard
// of MW-10 and MW-11).
func synthetic(eventType string) bool {
	return strings.HasSuffix(eventType, "ErrorEvent") || strings.HasSuffix(eventType, "ResultEvent")
}

// Log messages of the auto middlewares, fixed; the values are attributes.
const msgEmitFailed = "ringbus: auto event not emitted"

// emit emits ev on bus with the values of ctx, as a root event, and never
// waits: the hooks that call it run on the bus's processing path. A
// failure is logged and dropped (MW-10: fire-and-forget, failures logged
// and swallowed). src and r name what the event reports on, for the log;
// either may be nil.
func (c *autoConfig) emit(ctx context.Context, bus *api.Bus, ev api.Eventer, src *api.BaseEvent, r *api.Result) {
	rc := rootCtx{parent: ctx}
	if n, policy := bus.MaxQueue(); n > 0 && policy == api.QueueBlock {
		rc.nowait = true
	}
	err := bus.Emit(rc, ev)
	if err == nil {
		return
	}
	l := c.log
	if l == nil {
		l = bus.Logger()
	}
	// A bus that is closing refuses new events; that is expected then, so
	// it is Debug. Any other failure loses an event nobody else hears of.
	level := slog.LevelError
	if errors.Is(err, api.ErrBusClosed) {
		level = slog.LevelDebug
	}
	if l == nil || !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String(logattr.Bus, bus.Label()), slog.String(logattr.EventType, engine.Core(ev).Type()))
	if src != nil {
		attrs = append(attrs, slog.String(logattr.EventID, src.ID()))
	}
	if r != nil {
		attrs = append(attrs, slog.String(logattr.Handler, r.Handler().Label()))
	}
	attrs = append(attrs, slog.Any(logattr.Error, err))
	l.LogAttrs(ctx, level, msgEmitFailed, attrs...)
}

// rootCtx is the ctx the auto middlewares emit with. It carries the values
// of the hook's ctx (a trace id, a request id) but not the handler that
// ctx belongs to, so the event emitted is a root event, as in abxbus: its
// hooks run after the handler's context has been left. With nowait it is
// done from the start, so that Emit on a bus whose full queue would make it
// wait fails at once instead (a hook must not wait for the queue it is
// holding up).
type rootCtx struct {
	parent context.Context
	nowait bool
}

// closed is the Done channel of a nowait rootCtx.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (rootCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c rootCtx) Done() <-chan struct{} {
	if c.nowait {
		return closed
	}
	return nil
}

func (c rootCtx) Err() error {
	if c.nowait {
		return context.Canceled
	}
	return nil
}

// Value returns the parent's values, except the handler's result row,
// which is what makes the bus link an emitted event to its parent: a
// *engine.Result is never handed out. (An engine helper that strips the
// handler from a ctx would be the clean way; engine has none.)
func (c rootCtx) Value(key any) any {
	if c.parent == nil {
		return nil
	}
	v := c.parent.Value(key)
	if _, isRow := v.(*engine.Result); isRow {
		return nil
	}
	return v
}
