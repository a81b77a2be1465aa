package engine

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ringbus/ringbus/internal/logattr"
)

// Log messages. Each is fixed; the values are attributes under the keys of
// internal/logattr. The two slow warnings keep the words "Slow event
// handler:" and "Slow event processing:" that abxbus logs and tests match
// on (SLOW-1, SLOW-2, SLOW-5).
//
// Levels: Warn for what an operator should look at (a slow or timed-out
// handler, a slow event, a renamed bus, a duplicate registration, history
// that drops unfinished events); Error only for a failure nobody else is
// told about (a panicking middleware, an event a runaway recursion left
// unprocessed with no handler awaiting it); Debug for what the caller
// already gets as an error (a failed handler's row error, ERR-1 in Go) and
// for per-event detail.
const (
	msgBusRenamed       = "ringbus: bus name already taken; renamed"
	msgDuplicateHandler = "ringbus: handler already registered for this pattern"
	msgHistoryDropping  = "ringbus: history full; dropping the oldest events, unfinished ones too"
	msgMiddlewarePanic  = "ringbus: middleware panicked"
	msgEventSkipped     = "ringbus: event not processed"
	msgRecursionAtLimit = "ringbus: handler at the recursion depth limit"
	msgHandlerFailed    = "ringbus: handler failed"
	msgSlowEvent        = "ringbus: Slow event processing: still running"
	msgSlowHandler      = "ringbus: Slow event handler: still running"
	msgHandlerTimedOut  = "ringbus: handler timed out"
)

func attrBus(b *Bus) slog.Attr              { return slog.String(logattr.Bus, b.Label()) }
func attrEventType(e *Event) slog.Attr      { return slog.String(logattr.EventType, e.Type()) }
func attrEventID(e *Event) slog.Attr        { return slog.String(logattr.EventID, e.ID()) }
func attrHandler(h *Handler) slog.Attr      { return slog.String(logattr.Handler, h.Label()) }
func attrError(err error) slog.Attr         { return slog.Any(logattr.Error, err) }
func attrElapsed(d time.Duration) slog.Attr { return slog.Duration(logattr.Elapsed, d) }

func busLabel(b *Bus) string {
	if b == nil {
		return ""
	}
	return b.Label()
}

// logRow logs a record about row r of the processing: bus, event type, event
// id and handler, then extra. The ctx is the handler's, so a handler that
// reads trace ids from it can correlate the record. Nothing is computed when
// the level is off.
func (p *processing) logRow(r *Result, level slog.Level, msg string, extra slog.Attr) {
	b, e := p.bus, r.event
	var ctx context.Context = hctx{r}
	if !b.logger.Enabled(ctx, level) {
		return
	}
	b.logger.LogAttrs(ctx, level, msg, attrBus(b), attrEventType(e), attrEventID(e), attrHandler(r.handler), extra)
}

// logSetupErr logs the error that kept the event's handlers from running
// (a RecursionError). A queue-jump returns it to the awaiting handler, so
// it is Debug then; otherwise nobody else is told, so it is Error.
func (p *processing) logSetupErr(err error) {
	b, e := p.bus, p.ev
	level, ctx := slog.LevelError, eventCtx(e)
	if jf := p.jumpFrom; jf != nil {
		level, ctx = slog.LevelDebug, hctx{jf}
	}
	if !b.logger.Enabled(ctx, level) {
		return
	}
	b.logger.LogAttrs(ctx, level, msgEventSkipped, attrBus(b), attrEventType(e), attrEventID(e), attrError(err))
}

// logRecursionAtLimitLocked notes, at Debug, a handler about to run at
// exactly the recursion limit (REC-1): one level more fails with a
// RecursionError, which is reported on its own. Called with e.mu held, so
// it reads the event type without the lock and logs with a background ctx
// (the event's ctx takes e.mu).
func (p *processing) logRecursionAtLimitLocked(h *Handler, depth int) {
	b, e := p.bus, p.ev
	ctx := context.Background()
	if !b.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	b.logger.LogAttrs(ctx, slog.LevelDebug, msgRecursionAtLimit, attrBus(b), slog.String(logattr.EventType, e.typeLocked()), attrEventID(e),
		attrHandler(h), slog.Int(logattr.Depth, depth), slog.Int(logattr.Limit, b.cfg.maxRecursion))
}

// logRenamed warns that NewBus renamed a bus whose name another bus of the
// domain has (BUS-5). The bus's label is not set yet.
func (b *Bus) logRenamed(asked, name string) {
	b.logger.LogAttrs(context.Background(), slog.LevelWarn, msgBusRenamed,
		slog.String(logattr.Name, asked), slog.String(logattr.Bus, name+"#"+b.id.Suffix4()))
}

// logDuplicate warns that handler h is registered a second time for pattern
// (REG-8): it will run twice per event.
func (b *Bus) logDuplicate(h *Handler, pattern string) {
	b.logger.LogAttrs(context.Background(), slog.LevelWarn, msgDuplicateHandler,
		attrBus(b), attrHandler(h), slog.String(logattr.Pattern, pattern))
}

// logHistoryDropping warns, once per bus, that the history dropped events
// that had not finished (HIST-5).
func (b *Bus) logHistoryDropping() {
	b.logger.LogAttrs(context.Background(), slog.LevelWarn, msgHistoryDropping,
		attrBus(b), slog.Int(logattr.Limit, b.hist.limit()))
}

// logMiddlewarePanic reports a middleware hook that panicked (MW-9). The
// bus carries on and nobody else is told, so it is Error, with the stack.
func (b *Bus) logMiddlewarePanic(v any) {
	b.logger.LogAttrs(context.Background(), slog.LevelError, msgMiddlewarePanic,
		attrBus(b), slog.Any(logattr.Panic, v), slog.String(logattr.Stack, string(debug.Stack())))
}
