package middleware

// Slog, the structured flavour of the logger middleware (MW-14 in
// log/slog's terms: one record per transition, MW-1..MW-4).

import (
	"context"
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/logattr"
)

// SlogLogger is the middleware Slog returns.
type SlogLogger struct {
	h      slog.Handler
	levels [5]slog.Level // by what: see the what* constants
}

// What a record reports, indexing SlogLogger.levels.
const (
	whatPending   = iota // an event or a row pending
	whatStarted          // an event or a row started
	whatEventDone        // an event completed
	whatRowDone          // a row completed without error
	whatRowFailed        // a row completed with an error
)

// SlogOption configures Slog.
type SlogOption interface {
	applySlog(*SlogLogger)
}

type slogOptionFunc func(*SlogLogger)

func (f slogOptionFunc) applySlog(l *SlogLogger) { f(l) }

// WithPendingLevel sets the level of the records of events and handlers
// becoming pending (default slog.LevelDebug). Every handler of an event is
// pending from the moment the bus begins the event, so these records say
// little that the started ones do not; slog.LevelDebug-4 keeps them out of
// a Debug log.
func WithPendingLevel(level slog.Level) SlogOption {
	return slogOptionFunc(func(l *SlogLogger) { l.levels[whatPending] = level })
}

// WithStartedLevel sets the level of the records of events and handlers
// starting (default slog.LevelDebug).
func WithStartedLevel(level slog.Level) SlogOption {
	return slogOptionFunc(func(l *SlogLogger) { l.levels[whatStarted] = level })
}

// WithCompletedLevel sets the level of the records of events completing
// and of handlers that finished without an error (default
// slog.LevelDebug).
func WithCompletedLevel(level slog.Level) SlogOption {
	return slogOptionFunc(func(l *SlogLogger) {
		l.levels[whatEventDone] = level
		l.levels[whatRowDone] = level
	})
}

// WithFailureLevel sets the level of the records of handlers that failed,
// timed out, or were cancelled or aborted (default slog.LevelWarn).
func WithFailureLevel(level slog.Level) SlogOption {
	return slogOptionFunc(func(l *SlogLogger) { l.levels[whatRowFailed] = level })
}

// The records' messages, fixed; the values are attributes.
const (
	msgEventPending = "ringbus: event pending"
	msgEventStarted = "ringbus: event started"
	msgEventDone    = "ringbus: event completed"
	msgRowPending   = "ringbus: handler pending"
	msgRowStarted   = "ringbus: handler started"
	msgRowDone      = "ringbus: handler completed"
	msgRowFailed    = "ringbus: handler failed"
)

// Slog returns a middleware that writes every transition of the bus's
// events and result rows to logger as a structured record: a fixed message
// and attributes under the keys ringbus's own records use.
//
//	ringbus: event pending      bus, event_type, event_id
//	ringbus: handler pending    bus, event_type, event_id, handler
//	ringbus: handler started    bus, event_type, event_id, handler
//	ringbus: event started      bus, event_type, event_id
//	ringbus: handler completed  bus, event_type, event_id, handler, elapsed
//	ringbus: handler failed     bus, event_type, event_id, handler, elapsed, error
//	ringbus: event completed    bus, event_type, event_id, elapsed
//
// bus and handler are labels ("Orders#ab12", "charge#cd34"); elapsed is a
// time.Duration: from a handler's start to its end (absent when it never
// started), or from an event's creation to its completion. Records carry
// the hook's ctx, so a handler that reads trace ids from the ctx can
// correlate them, and no source location.
//
// Transitions and completions are Debug and failures Warn, unless set
// otherwise (WithPendingLevel, WithStartedLevel, WithCompletedLevel,
// WithFailureLevel).
// The handler's Enabled is asked first: a level that is off costs a call
// and nothing else. A nil logger means slog.Default().
//
// Cost (BenchmarkEmitBatchLogger in package perf/mwbench, one handler, six
// transitions per event, instructions counted with callgrind): with every
// level off, about 31% more per event than a bus without middlewares;
// building the six records for a handler that takes them, about 116% more,
// without allocating (a record's ids become strings only when the handler
// resolves them). What the handler does with a record is its own cost:
// slog.TextHandler formatting all six makes the event 17 times as costly,
// so keep a busy bus's transitions below the handler's level.
func Slog(logger *slog.Logger, opts ...SlogOption) *SlogLogger {
	if logger == nil {
		logger = slog.Default()
	}
	l := &SlogLogger{h: logger.Handler()}
	l.levels = [5]slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelDebug, slog.LevelDebug, slog.LevelWarn}
	for _, o := range opts {
		if o != nil {
			o.applySlog(l)
		}
	}
	return l
}

// Hooks tells the bus that Slog logs event and result-row transitions,
// not registrations.
func (*SlogLogger) Hooks() api.Hooks { return api.EventHooks | api.ResultHooks }

// OnEventChange writes the record of an event's transition.
func (l *SlogLogger) OnEventChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, s api.Status) {
	level, msg := l.levels[whatPending], msgEventPending
	switch s {
	case api.StatusStarted:
		level, msg = l.levels[whatStarted], msgEventStarted
	case api.StatusCompleted:
		level, msg = l.levels[whatEventDone], msgEventDone
	}
	if !l.h.Enabled(ctx, level) {
		return
	}
	// The Record is built here rather than by Logger.LogAttrs, which would
	// look up the caller's source location: a hook's caller is the engine,
	// never the user's code, and the lookup is the most costly part.
	if s == api.StatusCompleted {
		done := e.CompletedTime()
		r := slog.NewRecord(done.Std(), level, msg, 0)
		r.AddAttrs(slog.String(logattr.Bus, bus.Label()), slog.String(logattr.EventType, e.Type()),
			slog.Any(logattr.EventID, eventID{e}), slog.Duration(logattr.Elapsed, time.Duration(done-e.CreatedTime())))
		_ = l.h.Handle(ctx, r)
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(slog.String(logattr.Bus, bus.Label()), slog.String(logattr.EventType, e.Type()),
		slog.Any(logattr.EventID, eventID{e}))
	_ = l.h.Handle(ctx, r)
}

// OnResultChange writes the record of a result row's transition.
func (l *SlogLogger) OnResultChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, res *api.Result, s api.Status) {
	level, msg := l.levels[whatPending], msgRowPending
	var err error
	switch s {
	case api.StatusStarted:
		level, msg = l.levels[whatStarted], msgRowStarted
	case api.StatusCompleted:
		if err = res.Error(); err != nil {
			level, msg = l.levels[whatRowFailed], msgRowFailed
		} else {
			level, msg = l.levels[whatRowDone], msgRowDone
		}
	}
	if !l.h.Enabled(ctx, level) {
		return
	}
	// A row's records carry the times the row records (started_at,
	// completed_at); only its creation has none.
	var at time.Time
	switch s {
	case api.StatusStarted:
		at = res.StartedAt()
	case api.StatusCompleted:
		at = res.CompletedAt()
	default:
		at = time.Now()
	}
	// One AddAttrs call with every attribute: each call costs as much
	// again as the attributes it adds.
	var buf [6]slog.Attr
	attrs := append(buf[:0], slog.String(logattr.Bus, bus.Label()), slog.String(logattr.EventType, e.Type()),
		slog.Any(logattr.EventID, eventID{e}), slog.Any(logattr.Handler, handlerLabel{res.Handler()}))
	if s == api.StatusCompleted {
		if started := res.StartedTime(); started != 0 {
			attrs = append(attrs, slog.Duration(logattr.Elapsed, time.Duration(res.CompletedTime()-started)))
		}
		if err != nil {
			attrs = append(attrs, slog.Any(logattr.Error, err))
		}
	}
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.h.Handle(ctx, r)
}

// eventID and handlerLabel are attribute values that become the event's id
// and the handler's label when a handler resolves them: making those
// strings allocates, and a handler that drops the record never pays for it.
// Each is one pointer, so putting it in a slog.Value allocates nothing.
type (
	eventID      struct{ e *api.BaseEvent }
	handlerLabel struct{ h *api.Handler }
)

func (v eventID) LogValue() slog.Value      { return slog.StringValue(v.e.ID()) }
func (v handlerLabel) LogValue() slog.Value { return slog.StringValue(v.h.Label()) }

// OnHandlersChange does nothing: registrations are not logged.
func (*SlogLogger) OnHandlersChange(*api.Bus, *api.Handler, bool) {}
