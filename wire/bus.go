package wire

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/internal/logattr"
)

// --- writing (WIRE-20, WIRE-21, WIRE-22) ---

// MarshalBus writes the snapshot of b as abxbus's EventBus JSON: the bus's
// id, name and settings, its handlers in registration order (abxbus's
// EventHandler objects, keyed by handler id), the handler index (pattern to
// handler ids, in registration order), its history (event id to event JSON,
// in history order) and the ids of the events waiting in its queue, with
// the keys in that order, which is the order abxbus writes them in.
//
// The events are written by enc, with their result rows: in Compat242 mode
// as an event_results array of rows (abxbus 2.4.2's bus dump), in Upstream
// mode as the event_results object keyed by handler id (or an array with
// enc.ResultsAsList). Disabled timeouts (0) are written as null, as
// abxbus writes "no timeout"; see UnmarshalBus for how null reads back.
//
// pending_event_queue lists the history events not yet taken by b's
// dispatcher (engine.QueuedEvents). MarshalBus may run while b is busy:
// every event is then consistent in itself, not across events.
func MarshalBus(b *engine.Bus, enc Encoder) ([]byte, error) {
	// The snapshot of wire.md §6 (SER-1): key order WIRE-20, handler JSON
	// WIRE-21, the row form of each writer mode WIRE-22.
	if b == nil {
		return nil, fmt.Errorf("%w: nil bus", ErrEncode)
	}
	out := make([]byte, 0, 1024)
	out = append(out, `{"id":"`...)
	out = append(out, b.ID()...)
	out = append(out, `","name":`...)
	out = appendString(out, b.Name())
	limit, drop := b.MaxHistory()
	out = append(out, `,"max_history_size":`...)
	if limit < 0 {
		out = append(out, "null"...)
	} else {
		out = strconv.AppendInt(out, int64(limit), 10)
	}
	out = append(out, `,"max_history_drop":`...)
	out = strconv.AppendBool(out, drop)
	out = append(out, `,"event_concurrency":`...)
	out = appendMode(out, b.EventConcurrency().String())
	out = append(out, `,"event_timeout":`...)
	out = appendTimeout(out, b.EventTimeout())
	out = append(out, `,"event_slow_timeout":`...)
	out = appendTimeout(out, b.EventSlowTimeout())
	out = append(out, `,"event_handler_concurrency":`...)
	out = appendMode(out, b.HandlerConcurrency().String())
	out = append(out, `,"event_handler_completion":`...)
	out = appendMode(out, b.Completion().String())
	out = append(out, `,"event_handler_slow_timeout":`...)
	out = appendTimeout(out, b.HandlerSlowTimeout())
	out = append(out, `,"event_handler_detect_file_paths":`...)
	out = strconv.AppendBool(out, b.DetectFilePaths())

	handlers := b.Handlers()
	out = append(out, `,"handlers":{`...)
	var keys []string
	index := map[string][]ident.UUID{}
	for i, h := range handlers {
		if i > 0 {
			out = append(out, ',')
		}
		d := engine.SnapshotDescOf(h)
		out = append(out, '"')
		out = d.ID.AppendText(out)
		out = append(out, `":`...)
		out = appendHandler(out, &d)
		if _, ok := index[d.Pattern]; !ok {
			keys = append(keys, d.Pattern)
		}
		index[d.Pattern] = append(index[d.Pattern], d.ID)
	}
	out = append(out, `},"handlers_by_key":{`...)
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, k)
		out = append(out, ":["...)
		for j, id := range index[k] {
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = id.AppendText(out)
			out = append(out, '"')
		}
		out = append(out, ']')
	}

	out = append(out, `},"event_history":{`...)
	es := encPool.Get().(*encodeState)
	defer putEnc(es)
	es.enc, es.snap = enc, true
	hist := b.History()
	queued := engine.QueuedEvents(b)
	// QueuedEvents reads the queue from the history, so every queued event
	// is in event_history (SER-2) without promoting any.
	for i, e := range hist {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = e.UUID().AppendText(out)
		out = append(out, `":`...)
		var err error
		if out, err = es.event(out, e.Payload(), e, 0); err != nil {
			return nil, fmt.Errorf("%w (event %s)", err, e.ID())
		}
	}
	out = append(out, `},"pending_event_queue":[`...)
	for i, e := range queued {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = e.UUID().AppendText(out)
		out = append(out, '"')
	}
	return append(out, "]}"...), nil
}

// appendTimeout writes a timeout in seconds, null when disabled or unset
// (<= 0).
func appendTimeout(b []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(b, "null"...)
	}
	return appendDuration(b, d)
}

// AppendHandler appends d as abxbus's EventHandler JSON, the form a bus
// snapshot (MarshalBus) writes each handler in, to dst.
func AppendHandler(dst []byte, d engine.HandlerDesc) []byte { return appendHandler(dst, &d) }

// appendHandler writes the EventHandler JSON of WIRE-21.
func appendHandler(b []byte, d *engine.HandlerDesc) []byte {
	b = append(b, `{"id":"`...)
	b = d.ID.AppendText(b)
	b = append(b, `","handler_name":`...)
	b = appendString(b, d.Name)
	b = append(b, `,"handler_file_path":`...)
	if d.FilePath == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, d.FilePath)
	}
	b = append(b, `,"handler_timeout":`...)
	if d.Timeout < 0 {
		b = append(b, '0') // explicitZeroTimeout
	} else {
		b = appendTimeout(b, d.Timeout)
	}
	b = append(b, `,"handler_slow_timeout":`...)
	b = appendDuration(b, d.SlowTimeout)
	b = append(b, `,"handler_registered_at":`...)
	b = appendTime(b, d.RegisteredAt)
	b = append(b, `,"event_pattern":`...)
	b = appendString(b, d.Pattern)
	b = append(b, `,"eventbus_name":`...)
	b = appendString(b, d.BusName)
	b = append(b, `,"eventbus_id":"`...)
	b = d.BusID.AppendText(b)
	return append(b, `"}`...)
}

// --- reading (WIRE-23, SER-2..4) ---

// BusOption configures UnmarshalBus.
type BusOption func(*busOptions)

type busOptions struct {
	dec     Decoder
	paused  bool
	fns     map[string]engine.HandlerFunc
	resolve func(engine.HandlerDesc) engine.HandlerFunc
	engine  []engine.Option
}

// WithBusDecoder sets the Decoder that reads the snapshot's events (the zero
// Decoder, the strict reader, by default). An event it rejects is skipped.
// Its MaxDepth also limits the nesting of the snapshot as a whole.
func WithBusDecoder(d Decoder) BusOption {
	return func(o *busOptions) { o.dec = d }
}

// WithHandlerFuncs binds restored handlers to Go functions at restore time,
// by handler id, before any requeued event runs. Handlers without a
// function are no-op stubs (see UnmarshalBus).
func WithHandlerFuncs(fns map[string]engine.HandlerFunc) BusOption {
	return func(o *busOptions) { o.fns = fns }
}

// WithHandlerResolver binds restored handlers to the Go function f returns
// for their metadata (nil leaves a no-op stub). It is asked for handlers
// WithHandlerFuncs does not bind.
func WithHandlerResolver(f func(engine.HandlerDesc) engine.HandlerFunc) BusOption {
	return func(o *busOptions) { o.resolve = f }
}

// Paused leaves the restored bus's dispatcher stopped: the requeued events
// wait until the next Emit on the bus, or engine.Resume, starts it (they
// then run first, in queue order). Handlers can be bound in between with
// engine.BindHandler. Until then WaitUntilIdle on the bus waits.
func Paused() BusOption {
	return func(o *busOptions) { o.paused = true }
}

// WithEngineOptions adds options for the restored bus (a logger, a domain,
// middlewares, ...). They are applied after the snapshot's settings, so a
// setting given here wins over the snapshot's.
func WithEngineOptions(opts ...engine.Option) BusOption {
	return func(o *busOptions) { o.engine = append(o.engine, opts...) }
}

// UnmarshalBus rebuilds a bus from its snapshot (the EventBus JSON that
// MarshalBus or abxbus writes), as abxbus's restore does:
//
//   - id and name are restored exactly: a name a live bus already has is
//     kept as is (engine.RestoreBus). A missing or invalid id gets a new
//     one, a missing or invalid name the default name.
//   - Settings with a missing, null or ill-typed value take their defaults,
//     except that a null max_history_size means unlimited and a null
//     event_slow_timeout or event_handler_slow_timeout means disabled; a
//     missing or null event_timeout is 60 s, and 0 disables it.
//   - Every entry of handlers becomes a handler of the bus with its id and
//     metadata, in the snapshot's order; its function is the one
//     WithHandlerFuncs or WithHandlerResolver gives, else a stub that does
//     nothing and returns nil. engine.BindHandler binds a stub later.
//     handlers_by_key is not needed to rebuild the index: the bus indexes
//     handlers by their event_pattern, in registration order.
//   - Every event of event_history is decoded (with its result rows as an
//     array or an object, as either writer mode writes them) and put in
//     the history in the snapshot's order; an event that cannot be
//     decoded is skipped. A row whose handler is not among the handlers
//     re-creates that handler from the row's metadata (appended after the
//     others; its bus is the row's eventbus_id and eventbus_name, or this
//     bus when the row has no eventbus_id). Children listed in a row's
//     event_children are re-linked to the history events with those ids;
//     the others stay id-only stubs, so they are written back unchanged.
//   - The events of pending_event_queue that are in the history are queued
//     again, in that order (engine.Requeue): they run when the bus's
//     dispatcher starts, at once unless Paused is given. A requeued event
//     keeps its rows: handlers with a terminal row are skipped, and a
//     pending row runs its handler (the bound function or the stub).
//
// The input must be one JSON object; anything else is a *DecodeError
// wrapping ErrMalformed. Other errors come from creating the bus (an engine
// option). data is not retained. The caller owns the bus and must close it.
func UnmarshalBus(data []byte, opts ...BusOption) (*engine.Bus, error) {
	// The restore of wire.md §6 (WIRE-23, SER-1..4): settings' defaults
	// SER-4, rows in either form WIRE-22, requeued events keep their rows
	// and pending rows run SER-3, ERU-5.
	var o busOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	s := unsafe.String(unsafe.SliceData(data), len(data))
	top := map[string]span{}
	sc := scanner{s: s, limit: min(o.dec.MaxDepth, MaxDepthLimit)} // the decoder's nesting limit
	isObj, err := members(&sc, func(key string, v span) { top[key] = v })
	if err != nil {
		return nil, err
	}
	if !isObj {
		return nil, &DecodeError{Err: fmt.Errorf("%w: a bus snapshot must be a JSON object", ErrMalformed)}
	}
	if sc.peek() != 0 {
		return nil, &DecodeError{Offset: sc.pos, Err: fmt.Errorf("%w: invalid character %s after the bus object", ErrMalformed, quoteByte(s[sc.pos]))}
	}
	// get returns a member's raw JSON, "" when it is missing: every raw*
	// reader below refuses "", so a missing member sets nothing.
	get := func(k string) string {
		if v, ok := top[k]; ok {
			return s[v.start:v.end]
		}
		return ""
	}

	name := ""
	var bopts []engine.Option
	if str, ok := rawString(get("id")); ok {
		if u, err := ident.ParseUUID(str); err == nil {
			bopts = append(bopts, engine.WithID(u.String()))
		}
	}
	if str, ok := rawString(get("name")); ok && validType(str) {
		name = own(str)
	}
	if raw := get("max_history_size"); raw == "null" {
		bopts = append(bopts, engine.WithMaxHistory(engine.UnlimitedHistory))
	} else if n, ok := rawInt(raw); ok {
		bopts = append(bopts, engine.WithMaxHistory(n))
	}
	if v, ok := rawBool(get("max_history_drop")); ok {
		bopts = append(bopts, engine.WithHistoryDrop(v))
	}
	bopts = appendModeOpt(bopts, get("event_concurrency"), engine.ParseEventConcurrency, engine.WithEventConcurrency)
	bopts = appendModeOpt(bopts, get("event_handler_concurrency"), engine.ParseHandlerConcurrency, engine.WithHandlerConcurrency)
	bopts = appendModeOpt(bopts, get("event_handler_completion"), engine.ParseCompletion, engine.WithCompletion)
	// event_timeout null (or missing) is the 60 s default (SER-4); the slow
	// thresholds' null disables them.
	if d, ok := rawSeconds(get("event_timeout")); ok {
		bopts = append(bopts, engine.WithEventTimeout(d))
	}
	if d, ok := rawSlowTimeout(get("event_slow_timeout")); ok {
		bopts = append(bopts, engine.WithEventSlowTimeout(d))
	}
	if d, ok := rawSlowTimeout(get("event_handler_slow_timeout")); ok {
		bopts = append(bopts, engine.WithDefaultHandlerSlowTimeout(d))
	}
	if v, ok := rawBool(get("event_handler_detect_file_paths")); ok {
		bopts = append(bopts, engine.WithDetectFilePaths(v))
	}
	bopts = append(bopts, o.engine...)
	b, err := engine.RestoreBus(name, bopts...)
	if err != nil {
		return nil, err
	}

	fnFor := func(d engine.HandlerDesc) engine.HandlerFunc {
		if fn := o.fns[d.ID.String()]; fn != nil {
			return fn
		}
		if o.resolve != nil {
			return o.resolve(d)
		}
		return nil
	}
	restoreHandler := func(d engine.HandlerDesc) {
		if _, err := engine.RestoreHandler(b, d, fnFor(d)); err != nil {
			b.Logger().Debug("ringbus: bus restore skipped a handler",
				logattr.Bus, b.Label(), logattr.Handler, d.Name+"#"+d.ID.Suffix4(), logattr.Error, err)
		}
	}

	// Handlers, in the snapshot's order.
	if v, ok := top["handlers"]; ok {
		hsc := scanner{s: s, pos: v.start}
		_, _ = members(&hsc, func(key string, hv span) {
			if d, ok := handlerDesc(s, key, hv); ok {
				restoreHandler(d)
			}
		})
	}

	// History, in the snapshot's order.
	byID := map[ident.UUID]*engine.Event{}
	busID, _ := ident.ParseUUID(b.ID())
	var events []*engine.Event
	var state engine.EventState
	if v, ok := top["event_history"]; ok {
		hsc := scanner{s: s, pos: v.start}
		_, _ = members(&hsc, func(key string, ev span) {
			if s[ev.start] != '{' {
				return
			}
			defID, _ := ident.ParseUUID(key)
			outer, err := o.dec.unmarshal(data[ev.start:ev.end], defID)
			if err != nil {
				b.Logger().Debug("ringbus: bus restore skipped an event it cannot decode",
					logattr.Bus, b.Label(), logattr.EventID, key, logattr.Error, err)
				return
			}
			e := engine.Core(outer)
			id := e.UUID()
			if byID[id] != nil {
				return // a duplicate id: the first entry wins
			}
			byID[id] = e
			events = append(events, e)
			engine.StateInto(e, &state)
			for i := range state.Rows {
				d := state.Rows[i].Handler
				if b.HandlerByID(d.ID.String()) != nil {
					continue
				}
				if d.BusID.IsZero() {
					// A row without eventbus_id: the handler was this bus's.
					d.BusID = busID
					if d.BusName == "" || d.BusName == "EventBus" {
						d.BusName = b.Name()
					}
				}
				restoreHandler(d)
			}
			_ = engine.RestoreHistory(b, outer)
		})
	}
	lookup := func(id ident.UUID) *engine.Event { return byID[id] }
	for _, e := range events {
		engine.RelinkChildren(e, lookup)
	}

	// The queue, in the snapshot's order.
	queued := 0
	if v, ok := top["pending_event_queue"]; ok && s[v.start] == '[' {
		qsc := scanner{s: s, pos: v.start + 1}
		if qsc.peek() != ']' {
			for {
				raw, err := qsc.skip(1)
				if err != nil {
					break // cannot happen: the value was validated
				}
				if str, ok := rawString(raw); ok {
					if u, err := ident.ParseUUID(str); err == nil {
						if e := byID[u]; e != nil {
							if err := engine.Requeue(b, e.Payload()); err == nil {
								queued++
							}
						}
					}
				}
				if more, err := qsc.next(']'); err != nil || !more {
					break
				}
			}
		}
	}
	if queued > 0 && !o.paused {
		engine.Resume(b)
	}
	return b, nil
}

// span is the byte range of a JSON value in the input.
type span struct{ start, end int }

// members calls f for each member of the JSON object at sc, in order. It
// reports false, consuming the value, when the value is not an object.
// Keys alias the input unless they had escapes.
func members(sc *scanner, f func(key string, v span)) (bool, error) {
	if sc.peek() != '{' {
		if _, err := sc.skip(0); err != nil {
			return false, syntaxError("", err)
		}
		return false, nil
	}
	sc.pos++
	if sc.peek() == '}' {
		sc.pos++
		return true, nil
	}
	for {
		key, _, err := sc.str()
		if err != nil {
			return true, syntaxError("", err)
		}
		if err := sc.expect(':'); err != nil {
			return true, syntaxError("", err)
		}
		sc.peek()
		start := sc.pos
		if _, err := sc.skip(1); err != nil {
			return true, syntaxError("", err)
		}
		f(key, span{start, sc.pos})
		more, err := sc.next('}')
		if err != nil {
			return true, syntaxError("", err)
		}
		if !more {
			return true, nil
		}
	}
}

// handlerDesc reads the EventHandler JSON of WIRE-21 at v, the entry of
// handlers under key. Ill-typed fields take their defaults; it reports
// false when the entry is not an object.
func handlerDesc(s, key string, v span) (engine.HandlerDesc, bool) {
	d := engine.HandlerDesc{SlowTimeout: -1}
	sc := scanner{s: s, pos: v.start}
	var id ident.UUID
	isObj, err := members(&sc, func(k string, fv span) {
		raw := s[fv.start:fv.end]
		str, isStr := rawString(raw)
		switch k {
		case "id":
			if isStr {
				id, _ = ident.ParseUUID(str)
			}
		case "handler_name":
			if isStr && str != "" {
				d.Name = own(str)
			}
		case "handler_file_path":
			if isStr {
				d.FilePath = own(str)
			}
		case "handler_timeout":
			if t, ok := rawSeconds(raw); ok && t >= 0 {
				d.Timeout = cmp.Or(t, explicitZeroTimeout)
			}
		case "handler_slow_timeout":
			if t, ok := rawSeconds(raw); ok {
				d.SlowTimeout = t
			}
		case "handler_registered_at":
			if isStr {
				d.RegisteredAt, _ = ident.ParseTime(str)
			}
		case "event_pattern":
			if isStr && (str == engine.Wildcard || validType(str)) {
				d.Pattern = own(str)
			}
		case "eventbus_name":
			if isStr && validType(str) {
				d.BusName = own(str)
			}
		case "eventbus_id":
			if isStr {
				d.BusID, _ = ident.ParseUUID(str)
			}
		}
	})
	if err != nil || !isObj {
		return d, false
	}
	if id.IsZero() {
		id, _ = ident.ParseUUID(key)
	}
	d.ID = id
	return d, true
}

// rawString returns the value of a JSON string (aliasing raw when it has
// no escapes).
func rawString(raw string) (string, bool) {
	if raw == "" || raw[0] != '"' {
		return "", false
	}
	sc := scanner{s: raw}
	str, _, err := sc.str()
	return str, err == nil
}

func rawBool(raw string) (bool, bool) {
	switch raw {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// rawInt reads an integral JSON number.
func rawInt(raw string) (int, bool) {
	if raw == "" || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	n, ok := parseInteger(raw)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// appendModeOpt appends the option with(m) when raw is a JSON string naming
// a mode m that parse knows; anything else sets nothing.
func appendModeOpt[M any](opts []engine.Option, raw string, parse func(string) (M, bool), with func(M) engine.Option) []engine.Option {
	if str, ok := rawString(raw); ok {
		if m, ok := parse(str); ok {
			return append(opts, with(m))
		}
	}
	return opts
}

// rawSlowTimeout reads a slow-warning threshold: null disables it (0),
// else seconds as rawSeconds reads them.
func rawSlowTimeout(raw string) (time.Duration, bool) {
	if raw == "null" {
		return 0, true
	}
	return rawSeconds(raw)
}

// rawSeconds reads a JSON number of seconds >= 0 (WIRE-4).
func rawSeconds(raw string) (time.Duration, bool) {
	if raw == "" || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	return parseSeconds(raw)
}

// BusShapeOf returns the Encoder that writes a bus snapshot back in the
// shape of data (a bus snapshot): Upstream when one of its events
// has event_blocks_parent_completion or an event_results object (with
// ResultsAsList when that event has the blocks flag and an event_results
// array); Compat242 otherwise, whose events carry their rows as an
// event_results array like abxbus 2.4.2's bus dump. Malformed data gives
// the zero Encoder.
func BusShapeOf(data []byte) Encoder {
	// The row forms of a snapshot: WIRE-22.
	s := unsafe.String(unsafe.SliceData(data), len(data))
	sc := scanner{s: s}
	var hist span
	found := false
	if ok, err := members(&sc, func(key string, v span) {
		if key == "event_history" {
			hist, found = v, true
		}
	}); err != nil || !ok || !found {
		return Encoder{}
	}
	var enc Encoder
	hsc := scanner{s: s, pos: hist.start}
	_, _ = members(&hsc, func(_ string, v span) {
		if enc.Mode == Upstream {
			return
		}
		blocks := false
		var results byte
		esc := scanner{s: s, pos: v.start}
		_, _ = members(&esc, func(key string, fv span) {
			switch key {
			case keyBlocks:
				blocks = true
			case "event_results":
				results = s[fv.start]
			}
		})
		switch {
		case results == '{':
			enc = Encoder{Mode: Upstream}
		case blocks:
			enc = Encoder{Mode: Upstream, ResultsAsList: results == '['}
		}
	})
	return enc
}
