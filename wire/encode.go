package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic/encoder"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/schema"
)

// The writer modes are WIRE-14; Encoder writes the event JSON of wire.md
// §2 and the EventResult JSON of §3.

// Mode selects which version of the event JSON a writer produces: that of
// abxbus 2.4.2 or that of the current abxbus releases.
type Mode uint8

const (
	// Compat242 writes the event JSON of abxbus 2.4.2: without
	// event_blocks_parent_completion and event_results, which 2.4.2
	// rejects. Current Python and TypeScript releases accept it too. The
	// default.
	Compat242 Mode = iota
	// Upstream writes the event JSON of the current abxbus releases: with
	// event_blocks_parent_completion (a bool) and, when the event has result
	// rows, event_results as an object keyed by handler id in row order.
	Upstream
)

// String returns "compat242" or "upstream".
func (m Mode) String() string {
	if m == Upstream {
		return "upstream"
	}
	return "compat242"
}

// Encoder writes event JSON in one of the two versions (see [Mode]). The
// zero Encoder writes the Compat242 form. An Encoder is a small value, safe
// for concurrent use.
type Encoder struct {
	// Mode is the wire version to write.
	Mode Mode
	// ResultsAsList writes event_results as a JSON array of rows (the form
	// of TypeScript 2.4.2 and of 2.4.2 bus snapshots) instead of an
	// object keyed by handler id. It matters only in Upstream mode.
	ResultsAsList bool
}

// Marshal encodes e with the zero Encoder (Compat242).
func Marshal(e engine.Eventer) ([]byte, error) { return Encoder{}.Append(nil, e) }

// Marshal encodes e.
func (enc Encoder) Marshal(e engine.Eventer) ([]byte, error) { return enc.Append(nil, e) }

// Append appends the JSON of e to dst.
//
// Every event_* key that abxbus defines is written, null when unset, in
// the order of the Python package's event fields, followed by the payload
// (the typed struct's fields by their json tags, or the untyped event's
// fields in sorted key order), then wire fields the event carried in from
// another runtime, then (Upstream) event_results. Timestamps have exactly
// nine fractional digits; durations are seconds; output is compact UTF-8
// without HTML escaping.
func (enc Encoder) Append(dst []byte, e engine.Eventer) ([]byte, error) {
	// The event_* keys of wire.md §2.1, all written (WIRE-5), in the Python
	// order (WIRE-8); timestamps WIRE-2, durations WIRE-4, UTF-8 WIRE-7.
	core := engine.Bind(e)
	if core == nil {
		return dst, fmt.Errorf("%w: nil event", ErrEncode)
	}
	es := encPool.Get().(*encodeState)
	defer putEnc(es)
	es.enc = enc
	n := len(dst)
	// A middleware or handler often holds the *engine.Event of a typed
	// event: write the typed value's payload all the same.
	b, err := es.event(dst, core.Payload(), core, 0)
	if err != nil {
		return dst[:n], err
	}
	return b, nil
}

type encodeState struct {
	enc   Encoder
	st    []engine.EventState // one per nesting level
	stack []*engine.Event
	keys  []string
	// snap is set while writing the events of a bus snapshot: in
	// Compat242 mode the top-level event then carries its rows as an
	// event_results array, as abxbus 2.4.2's bus dump does (WIRE-22).
	snap bool
	tc   ident.TimeCache // kept across uses of the pooled state
}

var encPool = sync.Pool{New: func() any { return &encodeState{st: make([]engine.EventState, 1)} }}

func putEnc(es *encodeState) {
	for i := range es.st {
		s := &es.st[i]
		rows := s.Rows[:0]
		for j := range s.Rows {
			s.Rows[j] = engine.RowState{Children: s.Rows[j].Children[:0]}
		}
		*s = engine.EventState{Path: s.Path[:0], Rows: rows}
	}
	clear(es.keys)
	es.keys = es.keys[:0]
	es.stack = es.stack[:0]
	es.snap = false
	encPool.Put(es)
}

// allConfigNull is the config block of an event without overrides.
const allConfigNull = `,"event_timeout":null,"event_slow_timeout":null,"event_concurrency":null,"event_handler_timeout":null,` +
	`"event_handler_slow_timeout":null,"event_handler_concurrency":null,"event_handler_completion":null`

// maxNesting bounds events nested as handler results.
const maxNesting = 8

var encOpts = encoder.SortMapKeys | encoder.CompactMarshaler | encoder.ValidateString

func (es *encodeState) event(b []byte, outer engine.Eventer, core *engine.Event, depth int) ([]byte, error) {
	if depth >= len(es.st) {
		es.st = append(es.st, engine.EventState{})
	}
	st := &es.st[depth]
	engine.StateInto(core, st)
	es.stack = append(es.stack, core)
	defer func() { es.stack = es.stack[:len(es.stack)-1] }()
	up := es.enc.Mode == Upstream

	b = append(b, `{"event_type":`...)
	b = appendString(b, st.Type)
	b = append(b, `,"event_version":`...)
	b = appendString(b, st.Version)
	if st.Timeout < 0 && st.SlowTimeout < 0 && st.HandlerTimeout < 0 && st.HandlerSlowTimeout < 0 &&
		st.Concurrency == 0 && st.HandlerConcurrency == 0 && st.Completion == 0 {
		b = append(b, allConfigNull...)
	} else {
		b = append(b, `,"event_timeout":`...)
		b = appendDuration(b, st.Timeout)
		b = append(b, `,"event_slow_timeout":`...)
		b = appendDuration(b, st.SlowTimeout)
		b = append(b, `,"event_concurrency":`...)
		b = appendMode(b, st.Concurrency.String())
		b = append(b, `,"event_handler_timeout":`...)
		b = appendDuration(b, st.HandlerTimeout)
		b = append(b, `,"event_handler_slow_timeout":`...)
		b = appendDuration(b, st.HandlerSlowTimeout)
		b = append(b, `,"event_handler_concurrency":`...)
		b = appendMode(b, st.HandlerConcurrency.String())
		b = append(b, `,"event_handler_completion":`...)
		b = appendMode(b, st.Completion.String())
	}
	if up {
		b = append(b, `,"event_blocks_parent_completion":`...)
		blocks, _ := st.Extra[keyBlocks].(bool)
		b = strconv.AppendBool(b, blocks)
	}
	b = append(b, `,"event_result_type":`...)
	var sch *schema.Schema
	if v, ok := st.Extra[keyResultType]; ok {
		sch, _ = v.(*schema.Schema)
	} else {
		sch = typeSchema(st.Meta)
	}
	b = appendSchema(b, sch)
	b = append(b, `,"event_id":"`...)
	b = st.ID.AppendText(b)
	b = append(b, `","event_path":[`...)
	for i, p := range st.Path {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	b = append(b, `],"event_parent_id":`...)
	b = appendUUID(b, st.ParentID)
	b = append(b, `,"event_emitted_by_handler_id":`...)
	b = appendUUID(b, st.EmittedBy)
	b = append(b, `,"event_pending_bus_count":`...)
	b = strconv.AppendInt(b, int64(st.PendingBusCount), 10)
	b = append(b, `,"event_created_at":`...)
	b = es.appendTime(b, st.CreatedAt)
	b = append(b, `,"event_status":"`...)
	b = append(b, st.Status.String()...)
	b = append(b, `","event_started_at":`...)
	b = es.appendTime(b, st.StartedAt)
	b = append(b, `,"event_completed_at":`...)
	b = es.appendTime(b, st.CompletedAt)

	var err error
	// Payload.
	if rt := reflect.TypeOf(outer); rt != reflect.TypeFor[*engine.Event]() {
		if b, err = typedPayload(b, outer, rt, st.Type, es.enc.Mode); err != nil {
			return b, err
		}
	} else if len(st.Fields) > 0 {
		if b, err = es.members(b, st.Fields, false, depth); err != nil {
			return b, err
		}
	}
	// Wire fields carried in from elsewhere.
	if len(st.Extra) > 0 {
		if b, err = es.members(b, st.Extra, true, depth); err != nil {
			return b, err
		}
	}
	if up && len(st.Rows) > 0 || !up && es.snap && depth == 0 {
		if b, err = es.results(b, st, depth); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// typedPayload writes ,"k":v for the payload fields of a typed event.
func typedPayload(b []byte, outer engine.Eventer, rt reflect.Type, typ string, mode Mode) ([]byte, error) {
	codec, err := codecFor(rt.Elem())
	if err != nil {
		return b, err
	}
	if codec.hasFirst && mode == Compat242 {
		return b, fmt.Errorf("%w: payload of %s: %w", ErrEncode, typ, checkWriteKey("first", mode))
	}
	p := reflect.ValueOf(outer).UnsafePointer()
	if codec.byName != nil {
		return codec.encodeScalars(b, p)
	}
	mark := len(b)
	b, err = sonicAppend(b, codec.view(p))
	if err != nil {
		return b[:mark], fmt.Errorf("%w: payload of %s: %v", ErrEncode, typ, err)
	}
	if codec.numbers && !numbersFinite(b[mark:]) {
		return b[:mark], fmt.Errorf("%w: payload of %s: a json.Number beyond the float64 range", ErrEncode, typ)
	}
	if len(b)-mark <= 2 { // {}
		return b[:mark], nil
	}
	b[mark] = ','
	return b[:len(b)-1], nil
}

// members writes ,"k":v for the map's keys in sorted order, skipping the
// codec's own Extra keys when extra is set.
func (es *encodeState) members(b []byte, m map[string]any, extra bool, depth int) ([]byte, error) {
	start := len(es.keys)
	for k := range m {
		if extra && (k == keyResultType || k == keyBlocks) {
			continue
		}
		es.keys = append(es.keys, k)
	}
	keys := es.keys[start:]
	slices.Sort(keys)
	var err error
	for _, k := range keys {
		if len(k) <= len("eventResultsList") {
			if kerr := checkWriteKey(k, es.enc.Mode); kerr != nil {
				es.keys = es.keys[:start]
				return b, fmt.Errorf("%w: field %q: %w", ErrEncode, k, kerr)
			}
		}
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = es.value(b, m[k], depth); err != nil {
			return b, fmt.Errorf("%w: field %q: %w", ErrEncode, k, err)
		}
	}
	es.keys = es.keys[:start]
	return b, nil
}

func (es *encodeState) results(b []byte, st *engine.EventState, depth int) ([]byte, error) {
	list := es.enc.ResultsAsList || es.enc.Mode != Upstream // Compat242: a bus snapshot's list
	if list {
		b = append(b, `,"event_results":[`...)
	} else {
		b = append(b, `,"event_results":{`...)
	}
	var err error
	for i := range st.Rows {
		r := &st.Rows[i]
		if i > 0 {
			b = append(b, ',')
		}
		h := &r.Handler
		if !list {
			b = append(b, '"')
			b = h.ID.AppendText(b)
			b = append(b, `":`...)
		}
		b = append(b, `{"id":"`...)
		b = r.ID.AppendText(b)
		b = append(b, `","status":"`...)
		b = append(b, r.Status.String()...)
		b = append(b, `","event_id":"`...)
		b = st.ID.AppendText(b)
		b = append(b, `","handler_id":"`...)
		b = h.ID.AppendText(b)
		b = append(b, `","handler_name":`...)
		b = appendString(b, h.Name)
		b = append(b, `,"handler_file_path":`...)
		if h.FilePath == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, h.FilePath)
		}
		// handler_file_path, started_at and completed_at are written null
		// as TypeScript and Python write them; the other keys whose value
		// would be null are left out, as TypeScript leaves them out. A
		// missing key reads as null everywhere, while TypeScript takes any
		// "error" key, null included, as a failure (WIRE-5, WIRE-16,
		// WIRE-18).
		switch {
		case h.Timeout > 0:
			b = append(b, `,"handler_timeout":`...)
			b = appendDuration(b, h.Timeout)
		case h.Timeout < 0: // an explicit 0 read from the wire
			b = append(b, `,"handler_timeout":0`...)
		}
		if h.SlowTimeout >= 0 {
			b = append(b, `,"handler_slow_timeout":`...)
			b = appendDuration(b, h.SlowTimeout)
		}
		if h.RegisteredAt != 0 {
			b = append(b, `,"handler_registered_at":`...)
			b = es.appendTime(b, h.RegisteredAt)
		}
		b = append(b, `,"handler_event_pattern":`...)
		b = appendString(b, h.Pattern)
		b = append(b, `,"eventbus_id":"`...)
		b = h.BusID.AppendText(b)
		b = append(b, `","eventbus_name":`...)
		b = appendString(b, h.BusName)
		b = append(b, `,"started_at":`...)
		b = es.appendTime(b, r.StartedAt)
		b = append(b, `,"completed_at":`...)
		b = es.appendTime(b, r.CompletedAt)
		switch r.Status {
		case engine.StatusCompleted:
			// null here is the handler's own nil result.
			b = append(b, `,"result":`...)
			if b, err = es.value(b, r.Value, depth); err != nil {
				return b, fmt.Errorf("%w: result of handler %s: %w", ErrEncode, h.Name, err)
			}
		case engine.StatusError:
			b = append(b, `,"error":`...)
			b = appendError(b, r)
		}
		b = append(b, `,"event_children":[`...)
		for j, c := range r.Children {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = c.AppendText(b)
			b = append(b, '"')
		}
		b = append(b, "]}"...)
	}
	if list {
		return append(b, ']'), nil
	}
	return append(b, '}'), nil
}

// appendError writes the error of a failed row (WIRE-18).
func appendError(b []byte, r *engine.RowState) []byte {
	if r.Err == nil {
		return append(b, `{"type":"Error","message":""}`...)
	}
	if re, ok := r.Err.(*RemoteError); ok && len(re.Raw) > 0 {
		return append(b, re.Raw...)
	}
	b = append(b, `{"type":`...)
	b = appendString(b, engine.ErrorTypeName(r.Err))
	b = append(b, `,"message":`...)
	b = appendString(b, r.Err.Error())
	return append(b, '}')
}

// value writes a payload field, an extra field or a handler result
// (WIRE-17).
func (es *encodeState) value(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		if !validNumber(string(x)) {
			return b, fmt.Errorf("invalid json.Number %q", string(x))
		}
		if !finiteNumber(string(x)) {
			return b, fmt.Errorf("json.Number %q is beyond the float64 range: other runtimes read it as Infinity", string(x))
		}
		return append(b, x...), nil
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...), nil
		}
		return append(b, x...), nil
	case float64:
		return appendFloat(b, x, 64)
	case float32:
		return appendFloat(b, float64(x), 32)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case time.Time:
		return appendTime(b, ident.FromStd(x)), nil
	case ident.Time:
		return appendTime(b, x), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = es.value(b, x[k], depth); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = es.value(b, e, depth); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case engine.Eventer:
		c := engine.Bind(x)
		if c == nil || depth+1 >= maxNesting || slices.Contains(es.stack, c) {
			// The event itself (a forwarding handler's result, FWD-6) or
			// a cycle: no nested copy.
			return append(b, "null"...), nil
		}
		return es.event(b, c.Payload(), c, depth+1)
	case error:
		b = append(b, `{"type":`...)
		b = appendString(b, engine.ErrorTypeName(x))
		b = append(b, `,"message":`...)
		b = appendString(b, x.Error())
		return append(b, '}'), nil
	}
	mark := len(b)
	b, err := sonicAppend(b, v)
	if err == nil && mayHoldNumber(reflect.TypeOf(v)) && !numbersFinite(b[mark:]) {
		return b[:mark], fmt.Errorf("a json.Number in %T is beyond the float64 range", v)
	}
	return b, err
}

var (
	numberType  = reflect.TypeFor[json.Number]()
	timeType    = reflect.TypeFor[time.Time]()
	numberTypes sync.Map // reflect.Type -> bool, for mayHoldNumber
)

// mayHoldNumber reports whether a value of type t may encode a json.Number
// (or text of its own MarshalJSON), whose range sonic does not check: t
// contains json.Number, an interface or a type with its own MarshalJSON.
// The answer is cached per type.
func mayHoldNumber(t reflect.Type) bool {
	if v, ok := numberTypes.Load(t); ok {
		return v.(bool)
	}
	r := holdsNumber(t, map[reflect.Type]bool{})
	numberTypes.Store(t, r)
	return r
}

func holdsNumber(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == timeType {
		return false // its MarshalJSON writes a string
	}
	if t == numberType || t.Kind() == reflect.Interface || t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsNumber(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if holdsNumber(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// numbersFinite reports whether every number in the JSON text b is within
// the float64 range (see finiteNumber).
func numbersFinite(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				j++
			}
			if !finiteNumber(string(b[i:j])) {
				return false
			}
			i = j - 1
		}
	}
	return true
}

// sonicAppend appends the JSON of v with sonic. It is a function of its
// own so that only its copy of the slice header escapes to the heap (sonic
// takes a pointer to it), not that of every caller.
func sonicAppend(b []byte, v any) ([]byte, error) {
	err := encoder.EncodeInto(&b, v, encOpts)
	return b, err
}

func validNumber(s string) bool {
	sc := scanner{s: s}
	n, err := sc.number()
	return err == nil && len(n) == len(s)
}

// finiteNumber reports whether the JSON number s is within the float64
// range, as JavaScript and Python read numbers: "1e400" is Infinity there,
// which no JSON text can carry back. Only an exponent or more than 308
// digits can overflow.
func finiteNumber(s string) bool {
	if len(s) <= 308 && !strings.ContainsAny(s, "eE") {
		return true
	}
	f, _ := strconv.ParseFloat(s, 64)
	return !math.IsInf(f, 0)
}

// appendFloat formats like encoding/json.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("unsupported value %v", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendDuration writes seconds exactly (a plain decimal with up to nine
// fractional digits), or null for a negative (unset) duration.
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "null"...)
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	ns := int64(d % time.Second)
	if ns == 0 {
		return b
	}
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := 10
	for frac[n-1] == '0' {
		n--
	}
	return append(b, frac[:n]...)
}

func appendMode(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendUUID(b []byte, u ident.UUID) []byte {
	if u.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = u.AppendText(b)
	return append(b, '"')
}

// appendTime is appendTime with the state's TimeCache.
func (es *encodeState) appendTime(b []byte, t ident.Time) []byte {
	if t == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = es.tc.AppendText(b, t)
	return append(b, '"')
}

func appendTime(b []byte, t ident.Time) []byte {
	if t == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendText(b)
	return append(b, '"')
}

var schemaText = newBounded[*schema.Schema, string]()

func appendSchema(b []byte, s *schema.Schema) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return append(b, schemaCanon(s)...)
}

// schemaCanon returns the normalised JSON text of s, cached per schema.
func schemaCanon(s *schema.Schema) string {
	txt, ok := schemaText.load(s)
	if !ok {
		txt = schemaText.store(s, s.String())
	}
	return txt
}

// appendString writes s as a JSON string: UTF-8 as is (WIRE-7), with the
// escapes encoding/json uses except that <, > and & are not escaped;
// invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	i := plainRun(s, 0)
	if i == len(s) {
		// Printable ASCII without quotes or backslashes: as is.
		n := len(b)
		b = slices.Grow(b, len(s)+2)[:n+len(s)+2]
		b[n] = '"'
		copy(b[n+1:], s)
		b[len(b)-1] = '"'
		return b
	}
	b = append(b, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, "0123456789abcdef"[r&15])
			i += n
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
