package wire

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/schema"
)

// The zero Decoder is the strict reader of WIRE-9, for the event JSON of
// wire.md §2.

// Decoder reads event JSON. The zero Decoder is strict: it rejects a key
// that starts with "event_" but is not an event field
// ([ErrUnknownEventField]; see AllowUnknownEventFields) and a payload key
// that abxbus reserves ([ErrReservedField]). A Decoder is safe for
// concurrent use and may be copied.
type Decoder struct {
	// AllowUnknownEventFields keeps keys that start with "event_" but are
	// not event fields (a newer runtime's additions) and writes them back
	// verbatim, instead of rejecting the event with ErrUnknownEventField.
	AllowUnknownEventFields bool
	// RawFields keeps the payload of untyped events as json.RawMessage
	// values (copies of the input) instead of decoding them.
	RawFields bool
	// Untyped decodes every event as an untyped *engine.Event, even when
	// its event_type is declared with a Go type.
	Untyped bool
	// MaxDepth is the deepest nesting of JSON objects and arrays accepted,
	// counting the event object itself as one level; an event nested
	// deeper is rejected with ErrTooDeep. Zero or less means
	// DefaultMaxDepth; values above MaxDepthLimit count as MaxDepthLimit.
	// Payload fields of a typed event's struct are decoded by sonic, which
	// stops at 4095 levels within one field (ErrPayload beyond).
	MaxDepth int
	// Reset decodes the event as Reset would leave it, without the copy:
	// a new event_id, status pending, no result rows, times or pending
	// count, the rest kept. It is how a bridge reads what it receives.
	Reset bool
}

// sonic configuration: encoding/json semantics (ConfigStd) except that
// numbers in interfaces stay json.Number (lossless), field names match
// exactly and HTML characters are not escaped. CopyString makes every
// decoded string a copy, so no decoded value aliases the input.
var api = sonic.Config{
	SortMapKeys:      true,
	CompactMarshaler: true,
	CopyString:       true,
	ValidateString:   true,
	UseNumber:        true,
	CaseSensitive:    true,
}.Froze()

// Unmarshal decodes one event with the zero Decoder.
func Unmarshal(data []byte) (engine.Eventer, error) { return Decoder{}.Unmarshal(data) }

// UnmarshalInto decodes one event into dst with the zero Decoder.
func UnmarshalInto(data []byte, dst engine.Eventer) error {
	return Decoder{}.UnmarshalInto(data, dst)
}

// Unmarshal decodes one event. When its event_type is declared with a Go
// type (engine.DeclareType, Declare) the result is a pointer to a new value
// of that type; otherwise it is an untyped *engine.Event whose Fields hold
// the payload (numbers as json.Number, so nothing is lost when the event is
// forwarded). The event has not been emitted; its state (id, timestamps,
// status, path, parent, result rows) is the one in data. Errors are
// *DecodeError values. data is not retained.
func (d Decoder) Unmarshal(data []byte) (engine.Eventer, error) {
	return d.unmarshal(data, ident.UUID{})
}

// unmarshal is Unmarshal giving an event without event_id the id defID
// (when not zero) instead of a new one: a bus snapshot's event_history key.
func (d Decoder) unmarshal(data []byte, defID ident.UUID) (engine.Eventer, error) {
	ds := getState(d, data)
	defer putState(ds)
	if err := ds.scanEvent(); err != nil {
		return nil, err
	}
	if ds.st.ID.IsZero() {
		ds.st.ID = defID
	}
	var (
		outer engine.Eventer
		core  *engine.Event
		codec = ds.codec
	)
	if ds.outer != nil {
		outer = ds.outer
		core = engine.Core(outer)
	} else {
		core = new(engine.Event)
		outer = core
	}
	if err := ds.finish(outer, core, codec); err != nil {
		return nil, err
	}
	return outer, nil
}

// UnmarshalInto decodes one event into dst, a pointer to a typed event
// (or *engine.Event for an untyped one) that has not been emitted. Its
// payload fields and event state are replaced. An event_type in data that
// differs from dst's type becomes the instance's event_type. On error, dst's
// payload fields may be partly overwritten. dst must not be in use by other
// goroutines.
func (d Decoder) UnmarshalInto(data []byte, dst engine.Eventer) error {
	core := engine.Core(dst)
	if core == nil {
		return &DecodeError{Err: fmt.Errorf("%w: nil destination", ErrUnsupportedType)}
	}
	var codec *typeCodec
	rt := reflect.TypeOf(dst)
	if rt != reflect.TypeFor[*engine.Event]() {
		if rt.Kind() != reflect.Pointer {
			return &DecodeError{Err: fmt.Errorf("%w: %s is not a pointer", ErrUnsupportedType, rt)}
		}
		c, err := codecFor(rt.Elem())
		if err != nil {
			return &DecodeError{Err: err}
		}
		codec = c
	}
	if core.IsEmitted() {
		return &DecodeError{Err: fmt.Errorf("%w: cannot decode into an event that was emitted", ErrBadValue)}
	}
	ds := getState(d, data)
	defer putState(ds)
	ds.into = true
	ds.codec, ds.outer = codec, dst
	if codec != nil && codec.byName != nil {
		ds.direct, ds.outerPtr = codec, reflect.ValueOf(dst).UnsafePointer()
	}
	if err := ds.scanEvent(); err != nil {
		return err
	}
	return ds.finish(dst, core, codec)
}

// --- decode state ---

type decodeState struct {
	decodeCur // this decode's state, zeroed by putState
	// Buffers whose capacity the next decode reuses (empty between
	// decodes), and caches: kept across uses of the pooled state. They sit
	// outside decodeCur so that resetting the state leaves them untouched,
	// which matters while the GC is marking: every pointer slot a reset
	// writes then goes through the write barrier.
	rowsBuf    []engine.RowState
	pathBuf    []string
	payloadBuf []rawField
	owedBuf    []owedStr
	keep       decodeCache
}

// decodeCur is the state of one decode.
type decodeCur struct {
	d        Decoder
	sc       scanner
	st       engine.EventState
	into     bool
	meta     *engine.TypeMeta
	typeOff  int
	sawType  bool
	codec    *typeCodec     // payload codec of the typed destination
	outer    engine.Eventer // the typed destination, once known
	outerPtr unsafe.Pointer
	direct   *typeCodec // set when payload scalars are decoded in place
	pnext    int        // the direct field predicted next (see directRun)
	idText   string     // the event_id value as it appears in the input
	payload  []rawField // payload keys not decoded in place, in input order
	extra    map[string]any
	blocks   bool
	schema   *schema.Schema
	hasRT    bool // event_result_type present (possibly null)
	schemaAt int
	// owed are strings that alias the input and must be copied before the
	// decode returns; settleStrings copies them into one new buffer.
	owed []owedStr
}

// owedStr is a string still aliasing the input: the value of a payload
// field (dst) or the result of row row (dst == nil).
type owedStr struct {
	dst *string
	row int
	s   string
}

// decodeCache holds what a pooled decodeState remembers from one decode to
// the next: nothing in it aliases an input.
type decodeCache struct {
	tc         ident.TimeCache
	schemaText []byte // the last event_result_type text parsed
	schema     *schema.Schema
	label      string // the last event_path label interned
	handlerID  uuidMemo
	busID      uuidMemo
	// The last question answered by declared, and its answer.
	rtSchema *schema.Schema
	rtMeta   *engine.TypeMeta
	rtSame   bool
	rtKnown  bool
}

type rawField struct {
	key   string // aliases the input unless escaped
	raw   string // aliases the input
	off   int
	owned bool
}

var statePool = sync.Pool{New: func() any { return new(decodeState) }}

func getState(d Decoder, data []byte) *decodeState {
	ds := statePool.Get().(*decodeState)
	ds.d = d
	ds.sc = scanner{s: unsafe.String(unsafe.SliceData(data), len(data)), limit: min(d.MaxDepth, MaxDepthLimit)}
	ds.st.Rows, ds.st.Path, ds.payload, ds.owed = ds.rowsBuf, ds.pathBuf, ds.payloadBuf, ds.owedBuf
	return ds
}

func putState(ds *decodeState) {
	// The rows are left zero but for their Children capacity, which
	// rowBody relies on.
	for i := range ds.st.Rows {
		ds.st.Rows[i] = engine.RowState{Children: ds.st.Rows[i].Children[:0]}
	}
	clear(ds.payload)
	clear(ds.owed)
	// Keep the buffers that grew (a write only then).
	if cap(ds.st.Rows) > cap(ds.rowsBuf) {
		ds.rowsBuf = ds.st.Rows[:0]
	}
	if cap(ds.st.Path) > cap(ds.pathBuf) {
		ds.pathBuf = ds.st.Path[:0]
	}
	if cap(ds.payload) > cap(ds.payloadBuf) {
		ds.payloadBuf = ds.payload[:0]
	}
	if cap(ds.owed) > cap(ds.owedBuf) {
		ds.owedBuf = ds.owed[:0]
	}
	ds.decodeCur = decodeCur{}
	statePool.Put(ds)
}

func (ds *decodeState) errAt(field string, off int, sentinel error, format string, args ...any) error {
	msg := sentinel
	if format != "" {
		msg = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	return &DecodeError{Field: field, Offset: off, Err: msg}
}

func (ds *decodeState) syntax(field string, err error) error { return syntaxError(field, err) }

// syntaxError turns a scanner error into a *DecodeError for field.
func syntaxError(field string, err error) error {
	var se *syntaxErr
	if errors.As(err, &se) {
		sentinel := ErrMalformed
		if se.deep {
			sentinel = ErrTooDeep
		}
		return &DecodeError{Field: field, Offset: se.off, Err: fmt.Errorf("%w: %s", sentinel, se.msg)}
	}
	return err
}

// wrongType reports the JSON type found at off.
func (ds *decodeState) wrongType(field string, off int, want string) error {
	return ds.errAt(field, off, ErrFieldType, "expected %s, found %s", want, jsonKind(ds.sc.s, off))
}

func jsonKind(s string, off int) string {
	if off >= len(s) {
		return "end of input"
	}
	switch c := s[off]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	}
	return "invalid JSON"
}

// scanEvent reads the top-level object into ds.
func (ds *decodeState) scanEvent() error {
	sc := &ds.sc
	ds.st.Timeout, ds.st.SlowTimeout, ds.st.HandlerTimeout, ds.st.HandlerSlowTimeout = -1, -1, -1, -1
	if c := sc.peek(); c != '{' {
		if c == 0 {
			return ds.syntax("", sc.fail("unexpected end of JSON input"))
		}
		if _, err := sc.skip(0); err != nil {
			return ds.syntax("", err)
		}
		return ds.errAt("", 0, ErrMalformed, "an event must be a JSON object")
	}
	sc.pos++
	if sc.peek() == '}' {
		sc.pos++
	} else {
		next := 0
		for {
			keyOff := sc.pos
			id, key, err := topKeys.read(sc, next)
			if err != nil {
				return ds.syntax(key, err)
			}
			for {
				if id >= 0 {
					next = id + 1
				}
				if err := ds.field(id, key, id < 0 && !aliases(sc.s, key), keyOff); err != nil {
					return err
				}
				// Fast path: the predicted key follows at once.
				n, ok := topKeys.follows(sc, next)
				if !ok && ds.direct != nil && ds.direct.keys != nil {
					// Or declared payload fields, then the predicted key.
					ran, err := ds.directRun()
					if err != nil {
						return err
					}
					if ran {
						n, ok = topKeys.follows(sc, next)
					}
				}
				if !ok {
					break
				}
				keyOff = sc.pos + 1
				sc.pos += n
				id, key = next, topKeys.names[next]
			}
			more, err := sc.next('}')
			if err != nil {
				return ds.syntax("", err)
			}
			if !more {
				break
			}
		}
	}
	if sc.peek() != 0 {
		return ds.syntax("", sc.fail("invalid character "+quoteByte(sc.s[sc.pos])+" after the event object"))
	}
	ds.settleStrings()
	return nil
}

// owe records that *dst (or the result of row row, when dst is nil) is s,
// which aliases the input, until settleStrings copies it.
func (ds *decodeState) owe(dst *string, row int, s string) {
	ds.owed = append(ds.owed, owedStr{dst: dst, row: row, s: s})
}

// settleStrings gives the owed strings their values: copies, all in one
// new buffer, so that nothing decoded aliases the input.
func (ds *decodeState) settleStrings() {
	if len(ds.owed) == 0 {
		return
	}
	n := 0
	for _, o := range ds.owed {
		n += len(o.s)
	}
	buf := make([]byte, n)
	off := 0
	for i := range ds.owed {
		o := &ds.owed[i]
		v := ""
		if len(o.s) > 0 {
			v = unsafe.String(&buf[off], len(o.s))
			off += copy(buf[off:], o.s)
		}
		if o.dst != nil {
			*o.dst = v
		} else {
			ds.st.Rows[o.row].Value = v
		}
		*o = owedStr{}
	}
	ds.owed = ds.owed[:0]
}

// Known keys, in the order the Python and ringbus writers use.
const (
	tEventType = iota
	tEventVersion
	tEventTimeout
	tEventSlowTimeout
	tEventConcurrency
	tEventHandlerTimeout
	tEventHandlerSlowTimeout
	tEventHandlerConcurrency
	tEventHandlerCompletion
	tEventBlocksParentCompletion
	tEventResultType
	tEventId
	tEventPath
	tEventParentId
	tEventEmittedByHandlerId
	tEventPendingBusCount
	tEventCreatedAt
	tEventStatus
	tEventStartedAt
	tEventCompletedAt
	tEventResults
)

const (
	rId = iota
	rStatus
	rEventId
	rHandlerId
	rHandlerName
	rHandlerFilePath
	rHandlerTimeout
	rHandlerSlowTimeout
	rHandlerRegisteredAt
	rHandlerEventPattern
	rEventbusId
	rEventbusName
	rStartedAt
	rCompletedAt
	rResult
	rError
	rEventChildren
	rHandler
	rClosed // the number of row keys
)

var (
	topKeys = newKeySet("event_type", "event_version", "event_timeout", "event_slow_timeout", "event_concurrency", "event_handler_timeout", "event_handler_slow_timeout", "event_handler_concurrency", "event_handler_completion", "event_blocks_parent_completion", "event_result_type", "event_id", "event_path", "event_parent_id", "event_emitted_by_handler_id", "event_pending_bus_count", "event_created_at", "event_status", "event_started_at", "event_completed_at", "event_results")
	rowKeys = newKeySet("id", "status", "event_id", "handler_id", "handler_name", "handler_file_path", "handler_timeout", "handler_slow_timeout", "handler_registered_at", "handler_event_pattern", "eventbus_id", "eventbus_name", "started_at", "completed_at", "result", "error", "event_children", "handler")
)

// field decodes the value of one top-level key at sc.pos.
func (ds *decodeState) field(id int, key string, escaped bool, keyOff int) error {
	sc := &ds.sc
	off := sc.pos
	st := &ds.st
	var err error
	switch id {
	case tEventType:
		var s string
		if s, err = ds.strField(key, false); err == nil {
			err = ds.setType(s, off)
		}
	case tEventVersion:
		var s string
		if s, err = ds.strField(key, true); err == nil && s != "" {
			if s == "0.0.1" {
				st.Version = "0.0.1"
			} else {
				st.Version = intern(s)
			}
		}
	case tEventTimeout:
		st.Timeout, err = ds.duration(key)
	case tEventSlowTimeout:
		st.SlowTimeout, err = ds.duration(key)
	case tEventHandlerTimeout:
		st.HandlerTimeout, err = ds.duration(key)
	case tEventHandlerSlowTimeout:
		st.HandlerSlowTimeout, err = ds.duration(key)
	case tEventConcurrency:
		err = modeField(ds, key, off, "event_concurrency", engine.ParseEventConcurrency, &st.Concurrency)
	case tEventHandlerConcurrency:
		err = modeField(ds, key, off, "event_handler_concurrency", engine.ParseHandlerConcurrency, &st.HandlerConcurrency)
	case tEventHandlerCompletion:
		err = modeField(ds, key, off, "event_handler_completion", engine.ParseCompletion, &st.Completion)
	case tEventBlocksParentCompletion:
		switch {
		case sc.null(), sc.literal("false"):
			ds.blocks = false
		case sc.literal("true"):
			ds.blocks = true
		default:
			err = ds.wrongType(key, off, "boolean")
		}
	case tEventResultType:
		ds.hasRT, ds.schemaAt = true, off
		if sc.null() {
			ds.schema = nil
			break
		}
		if c := sc.peek(); c != '{' && c != 't' && c != 'f' {
			return ds.wrongType(key, off, "object")
		}
		k := &ds.keep
		// Fast path: the text of the last schema parsed follows. A JSON
		// object (or literal) ends where its text does, so equal bytes are
		// the same valid value and need no scan.
		if t := k.schemaText; k.schema != nil && len(sc.s)-sc.pos >= len(t) && sc.s[sc.pos:sc.pos+len(t)] == string(t) {
			sc.pos += len(t)
			ds.schema = k.schema
			break
		}
		var raw string
		if raw, err = sc.skip(1); err != nil {
			return ds.syntax(key, err)
		}
		s, perr := parseSchema(raw)
		if perr != nil {
			return ds.errAt(key, off, fmt.Errorf("%w: %w", ErrBadSchema, perr), "")
		}
		ds.schema = s
		if len(raw) <= 4<<10 {
			k.schemaText, k.schema = append(k.schemaText[:0], raw...), s
		}
	case tEventId:
		if st.ID, err = ds.uuid(key); err == nil && sc.pos-off == 38 {
			ds.idText = sc.s[off:sc.pos] // a quoted id, for the rows' event_id
		}
	case tEventParentId:
		st.ParentID, err = ds.uuid(key)
	case tEventEmittedByHandlerId:
		st.EmittedBy, err = ds.uuid(key)
	case tEventPath:
		err = ds.path()
	case tEventPendingBusCount:
		if sc.null() {
			break
		}
		var n int64
		if n, err = ds.integer(key); err == nil {
			if n < 0 || n > math.MaxInt32 {
				err = ds.errAt(key, off, ErrBadValue, "event_pending_bus_count %d out of range", n)
			}
			st.PendingBusCount = int(n)
		}
	case tEventCreatedAt:
		st.CreatedAt, err = ds.timestamp(key, true)
	case tEventStartedAt:
		st.StartedAt, err = ds.timestamp(key, true)
	case tEventCompletedAt:
		st.CompletedAt, err = ds.timestamp(key, true)
	case tEventStatus:
		var s string
		if s, err = ds.strField(key, true); err == nil {
			switch s {
			case "", "pending":
				st.Status = engine.StatusPending
			case "started":
				st.Status = engine.StatusStarted
			case "completed":
				st.Status = engine.StatusCompleted
			default:
				err = ds.errAt(key, off, ErrBadValue, "unknown event_status %q", s)
			}
		}
	case tEventResults:
		err = ds.results()
	default:
		return ds.other(key, escaped, keyOff)
	}
	return err
}

// lastWasNull reports whether the value that started at off was null.
func (ds *decodeState) lastWasNull(off int) bool {
	return off+4 <= len(ds.sc.s) && ds.sc.s[off:off+4] == "null"
}

// other handles payload keys and unknown keys.
func (ds *decodeState) other(key string, escaped bool, keyOff int) error {
	sc := &ds.sc
	off := sc.pos
	if err := checkPayloadKey(key); err != nil {
		if err == ErrUnknownEventField && ds.d.AllowUnknownEventFields {
			raw, serr := sc.skip(1)
			if serr != nil {
				return ds.syntax(key, serr)
			}
			ds.addExtra(own(key), json.RawMessage(raw))
			return nil
		}
		what := "reserved payload field name"
		if err == ErrUnknownEventField {
			what = "starts with \"event_\" but is not a recognized event field"
		}
		return ds.errAt(key, keyOff, err, "%q %s", key, what)
	}
	if ds.direct != nil {
		if i := ds.direct.fieldIndex(key); i >= 0 {
			return ds.directField(i)
		}
	}
	raw, err := sc.skip(1)
	if err != nil {
		return ds.syntax(key, err)
	}
	ds.payload = append(ds.payload, rawField{key: key, raw: raw, off: off, owned: escaped})
	return nil
}

// directField decodes the value at sc.pos into the declared payload field
// i of the typed event (ds.direct), and predicts field i+1 next.
func (ds *decodeState) directField(i int) error {
	sc := &ds.sc
	off := sc.pos
	f := &ds.direct.scalars[i]
	key := f.name
	ds.pnext = i + 1
	if f.kind == reflect.String && sc.peek() == '"' {
		v, _, err := sc.str()
		if err != nil {
			return ds.syntax(key, err)
		}
		// Set in settleStrings, with the field's other values in input
		// order, so that a repeated key ends with its last value.
		ds.owe((*string)(unsafe.Add(ds.outerPtr, f.off)), 0, v)
		return nil
	}
	raw, err := sc.skip(1)
	if err != nil {
		return ds.syntax(key, err)
	}
	if msg := decodeScalar(f, ds.outerPtr, raw); msg != "" {
		return ds.errAt(key, off, ErrPayload, "%s", msg)
	}
	return nil
}

// directRun is the fast path of typed payloads: it decodes the declared
// fields that follow, as long as each is the one declared after the
// previous one (the order every writer uses), with no lookup of the key.
// It reports whether it decoded any. The names of declared fields passed
// checkPayloadKey when the codec was built, so they need no check here.
func (ds *decodeState) directRun() (bool, error) {
	keys := ds.direct.keys
	ran := false
	for {
		n, ok := keys.follows(&ds.sc, ds.pnext)
		if !ok {
			return ran, nil
		}
		ds.sc.pos += n
		ran = true
		if err := ds.directField(ds.pnext); err != nil {
			return true, err
		}
	}
}

func (ds *decodeState) addExtra(k string, v any) {
	if ds.extra == nil {
		ds.extra = make(map[string]any, 2)
	}
	ds.extra[k] = v
}

func (ds *decodeState) setType(s string, off int) error {
	if !validType(s) {
		return ds.errAt("event_type", off, ErrBadValue, "event_type %q is not a 1-64 character identifier", s)
	}
	if ds.sawType {
		return ds.errAt("event_type", off, ErrBadValue, "duplicate event_type")
	}
	ds.sawType, ds.typeOff = true, off
	if m, ok := engine.LookupType(s); ok {
		ds.meta = m
		ds.st.Type = m.Name()
		if t := m.GoType(); t != nil && !ds.into && !ds.d.Untyped {
			c, err := codecFor(t)
			if err != nil {
				return &DecodeError{Field: "event_type", Offset: off, Err: err}
			}
			v := reflect.New(t)
			ds.codec, ds.outer = c, v.Interface().(engine.Eventer)
			if c.byName != nil {
				ds.direct, ds.outerPtr = c, v.UnsafePointer()
			}
		}
		return nil
	}
	ds.meta = nil
	ds.st.Type = intern(s)
	return nil
}

// validType mirrors the engine's event_type rule (EVT-4).
func validType(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '_' {
		return false
	}
	for i, r := range name {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '.') {
			continue
		}
		return false
	}
	return true
}

// strField reads a string, or null (as "") when nullable.
func (ds *decodeState) strField(field string, nullable bool) (string, error) {
	sc := &ds.sc
	off := sc.pos
	if nullable && sc.null() {
		return "", nil
	}
	if sc.peek() != '"' {
		if _, err := sc.skip(1); err != nil {
			return "", ds.syntax(field, err)
		}
		return "", ds.wrongType(field, off, "string")
	}
	s, _, err := sc.str()
	if err != nil {
		return "", ds.syntax(field, err)
	}
	return s, nil
}

func (ds *decodeState) uuid(field string) (ident.UUID, error) {
	// Fast path: a plain 36-byte string that parses; else rewind and take
	// the general path, which also reports errors with their offset.
	p := ds.sc.pos
	if span, ok := ds.plain(36); ok {
		if u, err := ident.ParseUUID(span); err == nil {
			return u, nil
		}
		ds.sc.pos = p
	}
	off := ds.sc.pos
	s, err := ds.strField(field, true)
	if err != nil {
		return ident.UUID{}, err
	}
	if s == "" && ds.lastWasNull(off) {
		// A null id means "not given" (a required one is then made anew).
		return ident.UUID{}, nil
	}
	u, perr := ident.ParseUUID(s)
	if perr != nil {
		return u, ds.errAt(field, off, fmt.Errorf("%w: %w", ErrBadUUID, perr), "")
	}
	return u, nil
}

// uuidMemo remembers the last id a field held: handler and bus ids repeat
// from one event to the next, and comparing 36 bytes is much cheaper than
// parsing them.
type uuidMemo struct {
	text [36]byte
	u    ident.UUID
	ok   bool
}

// memoUUID is uuid for a field whose ids repeat, remembered in m.
func (ds *decodeState) memoUUID(field string, m *uuidMemo) (ident.UUID, error) {
	p := ds.sc.pos
	if span, ok := ds.plain(36); ok {
		if m.ok && span == string(m.text[:]) {
			return m.u, nil
		}
		if u, err := ident.ParseUUID(span); err == nil {
			copy(m.text[:], span)
			m.u, m.ok = u, true
			return u, nil
		}
		ds.sc.pos = p
	}
	return ds.uuid(field)
}

func (ds *decodeState) timestamp(field string, nullable bool) (ident.Time, error) {
	p := ds.sc.pos // fast path as in uuid
	if span, ok := ds.plain(30); ok {
		if t, err := ds.keep.tc.Parse(span); err == nil {
			return t, nil
		}
		ds.sc.pos = p
	}
	off := ds.sc.pos
	s, err := ds.strField(field, nullable)
	if err != nil {
		return 0, err
	}
	if s == "" && ds.lastWasNull(off) {
		return 0, nil
	}
	t, perr := ds.keep.tc.Parse(s)
	if perr != nil {
		return 0, ds.errAt(field, off, fmt.Errorf("%w: %w", ErrBadTimestamp, perr), "")
	}
	return t, nil
}

// plain is the fast path of ids and timestamps: when the next value is a
// string of exactly n bytes, it consumes it and returns its text without
// checking its characters (the caller's parser does); otherwise it consumes
// nothing. A caller whose parser rejects the text falls back to the full
// path, which also handles escapes.
func (ds *decodeState) plain(n int) (string, bool) {
	sc := &ds.sc
	p := sc.pos
	if p+n+2 > len(sc.s) || sc.s[p] != '"' || sc.s[p+n+1] != '"' {
		return "", false
	}
	sc.pos = p + n + 2
	return sc.s[p+1 : p+n+1], true
}

// numberField reads a JSON number's text, or "" for null.
func (ds *decodeState) numberField(field string) (string, error) {
	sc := &ds.sc
	off := sc.pos
	if sc.null() {
		return "", nil
	}
	if c := sc.peek(); c != '-' && (c < '0' || c > '9') {
		if _, err := sc.skip(1); err != nil {
			return "", ds.syntax(field, err)
		}
		return "", ds.wrongType(field, off, "number")
	}
	n, err := sc.number()
	if err != nil {
		return "", ds.syntax(field, err)
	}
	return n, nil
}

// maxSeconds is the largest duration in seconds that fits time.Duration.
const maxSeconds = float64(math.MaxInt64) / 1e9

// duration reads seconds (WIRE-4) as a Duration; null gives -1 (unset).
func (ds *decodeState) duration(field string) (time.Duration, error) {
	off := ds.sc.pos
	n, err := ds.numberField(field)
	if err != nil || n == "" {
		return -1, err
	}
	d, ok := parseSeconds(n)
	if !ok {
		return -1, ds.errAt(field, off, ErrBadValue, "%s is not a duration in seconds >= 0", n)
	}
	return d, nil
}

// parseSeconds converts a JSON number of seconds to a Duration: exactly
// (rounding to the nanosecond) for plain decimals, the form every writer
// uses, and through float64 for exponent forms.
func parseSeconds(n string) (time.Duration, bool) {
	if n == "" || n[0] == '-' {
		if f, err := strconv.ParseFloat(n, 64); err == nil && f == 0 {
			return 0, true // -0
		}
		return 0, false
	}
	intPart, frac, _ := strings.Cut(n, ".")
	if strings.ContainsAny(n, "eE") {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || f < 0 || f >= maxSeconds {
			return 0, false
		}
		return time.Duration(math.Round(f * 1e9)), true
	}
	if len(intPart) > 10 {
		return 0, false
	}
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, false
	}
	var ns int64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += int64(frac[i] - '0')
		}
	}
	if len(frac) > 9 && frac[9] >= '5' {
		ns++
	}
	if sec > (math.MaxInt64-ns)/1e9 {
		return 0, false
	}
	return time.Duration(sec*1e9 + ns), true
}

func (ds *decodeState) integer(field string) (int64, error) {
	off := ds.sc.pos
	n, err := ds.numberField(field)
	if err != nil {
		return 0, err
	}
	v, ok := parseInteger(n)
	if !ok {
		return 0, ds.errAt(field, off, ErrBadValue, "%s is not an integer", n)
	}
	return v, nil
}

// parseInteger reads a JSON number that is an integer: integer digits, or
// an integral float within ±2^53, where floats are exact.
func parseInteger(n string) (int64, bool) {
	if v, err := strconv.ParseInt(n, 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (ds *decodeState) path() error {
	const field = "event_path"
	sc := &ds.sc
	off := sc.pos
	if sc.null() {
		return nil
	}
	if sc.peek() != '[' {
		if _, err := sc.skip(1); err != nil {
			return ds.syntax(field, err)
		}
		return ds.wrongType(field, off, "array")
	}
	sc.pos++
	if sc.peek() == ']' {
		sc.pos++
		return nil
	}
	for {
		eoff := sc.pos
		s, err := ds.strField(field, false)
		if err != nil {
			return err
		}
		if s == "" {
			return ds.errAt(field, eoff, ErrBadValue, "empty bus label")
		}
		if s != ds.keep.label {
			ds.keep.label = intern(s)
		}
		ds.st.Path = append(ds.st.Path, ds.keep.label)
		more, err := sc.next(']')
		if err != nil {
			return ds.syntax(field, err)
		}
		if !more {
			return nil
		}
	}
}

// results reads event_results: an object keyed by handler id (upstream),
// or an array of rows (TS 2.4.2 and 2.4.2 bus snapshots).
func (ds *decodeState) results() error {
	const field = "event_results"
	sc := &ds.sc
	off := sc.pos
	if sc.null() {
		return nil
	}
	switch sc.peek() {
	case '{':
		sc.pos++
		if sc.peek() == '}' {
			sc.pos++
			return nil
		}
		for {
			koff := sc.pos
			key, _, err := sc.str()
			if err != nil {
				return ds.syntax(field, err)
			}
			if err := sc.expect(':'); err != nil {
				return ds.syntax(field, err)
			}
			if err := ds.row(key, koff); err != nil {
				return err
			}
			more, err := sc.next('}')
			if err != nil {
				return ds.syntax(field, err)
			}
			if !more {
				return nil
			}
		}
	case '[':
		sc.pos++
		if sc.peek() == ']' {
			sc.pos++
			return nil
		}
		for {
			if err := ds.row("", -1); err != nil {
				return err
			}
			more, err := sc.next(']')
			if err != nil {
				return ds.syntax(field, err)
			}
			if !more {
				return nil
			}
		}
	}
	if _, err := sc.skip(1); err != nil {
		return ds.syntax(field, err)
	}
	return ds.wrongType(field, off, "object or array")
}

// row reads one EventResult object (wire.md §3). Field names in its errors
// are "event_results.<key or index>/<row key>".
func (ds *decodeState) row(key string, keyOff int) error {
	st := &ds.st
	if len(st.Rows) < cap(st.Rows) {
		st.Rows = st.Rows[:len(st.Rows)+1]
	} else {
		st.Rows = append(st.Rows, engine.RowState{})
	}
	idx := len(st.Rows) - 1
	err := ds.rowBody(&st.Rows[idx], key, keyOff)
	if de, ok := err.(*DecodeError); ok {
		prefix := "event_results." + key
		if key == "" {
			prefix = "event_results." + strconv.Itoa(idx)
		}
		if de.Field != "" {
			prefix += "/" + de.Field
		}
		de.Field = prefix
	}
	return err
}

func (ds *decodeState) rowBody(rs *engine.RowState, key string, keyOff int) error {
	sc := &ds.sc
	// rs is zero but for Children (see putState): no need to clear it.
	kids := rs.Children[:0]
	rs.Handler.SlowTimeout = -1
	off := sc.pos
	if sc.peek() != '{' {
		if _, err := sc.skip(1); err != nil {
			return ds.syntax("", err)
		}
		return ds.wrongType("", off, "object")
	}
	sc.pos++
	sawHID := false
	var statusSet bool
	var resultRaw string
	resultOff := -1
	var errRaw string
	next := 0
	if sc.peek() == '}' {
		sc.pos++
	} else {
		for {
			id, k, err := rowKeys.read(sc, next)
			if err != nil {
				return ds.syntax(k, err)
			}
		member:
			next = id + 1
			voff := sc.pos
			switch id {
			case rId:
				rs.ID, err = ds.uuid(k)
			case rStatus:
				var s string
				if s, err = ds.strField(k, false); err == nil {
					statusSet = true
					switch s {
					case "pending":
						rs.Status = engine.StatusPending
					case "started":
						rs.Status = engine.StatusStarted
					case "completed":
						rs.Status = engine.StatusCompleted
					case "error":
						rs.Status = engine.StatusError
					default:
						err = ds.errAt(k, voff, ErrBadValue, "unknown result status %q", s)
					}
				}
			case rEventId:
				// Usually the event's own id, already checked: then the
				// same text needs no parsing (the value is not kept).
				if t := ds.idText; t != "" && strings.HasPrefix(sc.s[sc.pos:], t) {
					sc.pos += len(t)
					break
				}
				_, err = ds.uuid(k)
			case rHandlerId:
				var u ident.UUID
				if u, err = ds.memoUUID(k, &ds.keep.handlerID); err == nil && !u.IsZero() {
					rs.Handler.ID, sawHID = u, true
				}
			case rHandlerName:
				rs.Handler.Name, err = ds.strField(k, true)
			case rHandlerFilePath:
				rs.Handler.FilePath, err = ds.strField(k, true)
			case rHandlerTimeout:
				var d time.Duration
				if d, err = ds.duration(k); err == nil && d >= 0 {
					// 0 is kept apart from null: TypeScript reads them
					// differently (issue 9, 4.3); see engine.HandlerDesc.
					rs.Handler.Timeout = cmp.Or(d, explicitZeroTimeout)
				}
			case rHandlerSlowTimeout:
				rs.Handler.SlowTimeout, err = ds.duration(k)
			case rHandlerRegisteredAt:
				rs.Handler.RegisteredAt, err = ds.timestamp(k, true)
			case rHandlerEventPattern:
				rs.Handler.Pattern, err = ds.strField(k, true)
			case rEventbusId:
				rs.Handler.BusID, err = ds.memoUUID(k, &ds.keep.busID)
			case rEventbusName:
				rs.Handler.BusName, err = ds.strField(k, true)
			case rStartedAt:
				rs.StartedAt, err = ds.timestamp(k, true)
			case rCompletedAt:
				rs.CompletedAt, err = ds.timestamp(k, true)
			case rResult:
				resultOff = voff
				// Depth 3: below the event, event_results and the row.
				if resultRaw, err = sc.skip(3); err != nil {
					return ds.syntax(k, err)
				}
			case rError:
				if errRaw, err = sc.skip(3); err != nil {
					return ds.syntax(k, err)
				}
			case rEventChildren:
				kids, err = ds.children(k, kids)
			case rHandler:
				return ds.errAt(k, voff, ErrReservedField, "result rows no longer accept nested handler payloads; use flat handler_* fields")
			default:
				if _, err = sc.skip(1); err != nil {
					return ds.syntax(k, err)
				}
			}
			if err != nil {
				return err
			}
			// Fast path: the predicted key follows at once, or one of the two after
			// it (handler_timeout, handler_slow_timeout, result and error
			// are left out when null, as ringbus and TypeScript write rows).
			for ahead := next; ahead < next+3 && ahead < rClosed; ahead++ {
				if n, ok := rowKeys.follows(sc, ahead); ok {
					sc.pos += n
					id, k = ahead, rowKeys.names[ahead]
					goto member
				}
			}
			more, err := sc.next('}')
			if err != nil {
				return ds.syntax("", err)
			}
			if !more {
				break
			}
		}
	}
	if !statusSet {
		rs.Status = engine.StatusPending
	}
	if !sawHID && key != "" {
		u, err := ident.ParseUUID(key)
		if err != nil {
			return ds.errAt("", keyOff, fmt.Errorf("%w: %w", ErrBadUUID, err), "event_results key")
		}
		rs.Handler.ID = u
	}
	rs.Children = kids
	if resultOff >= 0 && rs.Status == engine.StatusCompleted {
		if len(resultRaw) > 2 && resultRaw[0] == '"' {
			rsc := scanner{s: resultRaw}
			if s, aliased, _ := rsc.str(); aliased {
				// A plain string: copied with the event's other strings.
				ds.owe(nil, len(ds.st.Rows)-1, s)
				return nil
			}
		}
		v, err := ds.value("result", resultRaw, resultOff, false)
		if err != nil {
			return err
		}
		rs.Value = v
	}
	if rs.Status == engine.StatusError {
		rs.Err = remoteError(errRaw)
	}
	return nil
}

func (ds *decodeState) children(field string, kids []ident.UUID) ([]ident.UUID, error) {
	sc := &ds.sc
	off := sc.pos
	if sc.null() {
		return kids, nil
	}
	if sc.peek() != '[' {
		if _, err := sc.skip(1); err != nil {
			return kids, ds.syntax(field, err)
		}
		return kids, ds.wrongType(field, off, "array")
	}
	sc.pos++
	if sc.peek() == ']' {
		sc.pos++
		return kids, nil
	}
	for {
		u, err := ds.uuid(field)
		if err != nil {
			return kids, err
		}
		kids = append(kids, u)
		more, err := sc.next(']')
		if err != nil {
			return kids, ds.syntax(field, err)
		}
		if !more {
			return kids, nil
		}
	}
}

// remoteError builds the error of a failed row from its JSON (WIRE-18): a
// string becomes the message; an object gives type and message and is kept
// verbatim; null or a missing key is an error without a message.
func remoteError(raw string) error {
	if raw == "" {
		return &RemoteError{Type: "Error", Raw: json.RawMessage("null")}
	}
	switch raw[0] {
	case '"':
		sc := scanner{s: raw}
		s, _, _ := sc.str()
		// Raw keeps the string form, so it is written back as a string.
		return &RemoteError{Type: "Error", Message: own(s), Raw: json.RawMessage(own(raw))}
	case '{':
		e := &RemoteError{Type: "Error", Message: own(raw), Raw: json.RawMessage(own(raw))}
		var obj struct {
			Type    any `json:"type"`
			Message any `json:"message"`
		}
		if api.UnmarshalFromString(raw, &obj) == nil {
			if t, ok := obj.Type.(string); ok && t != "" {
				e.Type = t
			}
			if m, ok := obj.Message.(string); ok {
				e.Message = m
			}
		}
		return e
	}
	return &RemoteError{Type: "Error", Message: own(raw), Raw: json.RawMessage(own(raw))}
}

// value decodes an arbitrary JSON value into Go values (json.Number for
// numbers) or keeps it raw.
func (ds *decodeState) value(field, raw string, off int, keepRaw bool) (any, error) {
	if keepRaw {
		return json.RawMessage(own(raw)), nil
	}
	switch c := raw[0]; {
	case c == 'n':
		return nil, nil
	case c == 't':
		return true, nil
	case c == 'f':
		return false, nil
	case c == '"':
		sc := scanner{s: raw}
		s, isRaw, _ := sc.str()
		if isRaw {
			s = own(s)
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		return json.Number(own(raw)), nil
	}
	if ds.sc.deepest >= sonicDepth {
		// Beyond sonic's nesting limit (the scan has checked the value).
		bsc := scanner{s: raw}
		v, err := buildValue(&bsc)
		if err != nil {
			return nil, ds.errAt(field, off, ErrMalformed, "%v", err)
		}
		return v, nil
	}
	// sonic copies strings (CopyString) but not json.Number texts: give it
	// a private copy so that nothing decoded aliases the input.
	var v any
	if err := api.UnmarshalFromString(own(raw), &v); err != nil {
		return nil, ds.errAt(field, off, ErrMalformed, "%v", err)
	}
	return v, nil
}

// buildValue decodes the JSON value at sc.pos, which skip has checked, as
// value does (json.Number for numbers, copies of strings). It recurses once
// per level, so its depth is bounded by the decoder's nesting limit.
func buildValue(sc *scanner) (any, error) {
	switch c := sc.peek(); {
	case c == '{':
		sc.pos++
		m := map[string]any{}
		if sc.peek() == '}' {
			sc.pos++
			return m, nil
		}
		for {
			k, aliased, err := sc.str()
			if err != nil {
				return nil, err
			}
			if aliased {
				k = own(k)
			}
			if err := sc.expect(':'); err != nil {
				return nil, err
			}
			if m[k], err = buildValue(sc); err != nil {
				return nil, err
			}
			if more, err := sc.next('}'); err != nil || !more {
				return m, err
			}
		}
	case c == '[':
		sc.pos++
		a := []any{}
		if sc.peek() == ']' {
			sc.pos++
			return a, nil
		}
		for {
			v, err := buildValue(sc)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if more, err := sc.next(']'); err != nil || !more {
				return a, err
			}
		}
	case c == '"':
		s, aliased, err := sc.str()
		if aliased {
			s = own(s)
		}
		return s, err
	case c == 't' && sc.literal("true"):
		return true, nil
	case c == 'f' && sc.literal("false"):
		return false, nil
	case c == 'n' && sc.null():
		return nil, nil
	case c == '-' || c >= '0' && c <= '9':
		n, err := sc.number()
		return json.Number(own(n)), err
	}
	return nil, sc.fail("invalid JSON value")
}

// finish turns the scanned state into the event.
func (ds *decodeState) finish(outer engine.Eventer, core *engine.Event, codec *typeCodec) error {
	st := &ds.st
	if !ds.sawType {
		if codec != nil {
			m := codec.metaOf()
			if m == nil {
				return &DecodeError{Field: "event_type", Err: fmt.Errorf("%w: %s has no valid event_type", ErrUnsupportedType, codec.t)}
			}
			ds.meta = m
			st.Type = m.Name()
		} else {
			st.Type = "BaseEvent"
		}
	}
	for i := range st.Rows {
		if st.Rows[i].Handler.Pattern == "" {
			st.Rows[i].Handler.Pattern = st.Type // WIRE-19
		}
	}
	if st.Version == "" {
		if ds.meta != nil {
			st.Version = ds.meta.Version()
		} else {
			st.Version = "0.0.1"
		}
	}
	// Payload.
	if codec != nil {
		if err := ds.typedPayload(outer, codec); err != nil {
			return err
		}
	} else if len(ds.payload) > 0 {
		fields := make(map[string]any, len(ds.payload))
		for _, f := range ds.payload {
			v, err := ds.value(f.key, f.raw, f.off, ds.d.RawFields)
			if err != nil {
				return err
			}
			fields[ownKey(f)] = v
		}
		st.Fields = fields
	}
	// Extra wire fields.
	tm := ds.meta
	if codec != nil && (tm == nil || tm.GoType() != codec.t) {
		tm = codec.metaOf()
	}
	st.Meta = tm
	if ds.hasRT && !ds.keep.declared(ds.schema, tm) {
		if ds.schema == nil {
			ds.addExtra(keyResultType, nil)
		} else {
			ds.addExtra(keyResultType, ds.schema)
		}
	}
	if ds.blocks {
		ds.addExtra(keyBlocks, true)
	}
	st.Extra = ds.extra
	if ds.d.Reset {
		fresh := resetState(st)
		st = &fresh
	}
	if err := engine.Restore(core, outer, st); err != nil {
		return &DecodeError{Err: fmt.Errorf("%w: %w", ErrBadValue, err)}
	}
	return nil
}

func ownKey(f rawField) string {
	if f.owned {
		return f.key
	}
	return own(f.key)
}

// declared reports whether s is the result schema tm declares. The answer
// only depends on the two pointers (a TypeMeta's result type is fixed, and
// so is a parsed schema), so the last one is remembered: a stream of events
// of one type asks the same question every time. The remembered pointers
// keep their targets alive, so they cannot be reused for other values.
func (k *decodeCache) declared(s *schema.Schema, tm *engine.TypeMeta) bool {
	if k.rtKnown && s == k.rtSchema && tm == k.rtMeta {
		return k.rtSame
	}
	same := sameSchema(s, typeSchema(tm))
	k.rtSchema, k.rtMeta, k.rtSame, k.rtKnown = s, tm, same, true
	return same
}

func sameSchema(a, b *schema.Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return schemaCanon(a) == schemaCanon(b)
}

// explicitZeroTimeout is the engine.HandlerDesc.Timeout of a handler_timeout
// of 0 on the wire, which is not the same as null to TypeScript.
const explicitZeroTimeout time.Duration = -1

// Keys of EventState.Extra that the codec itself uses.
const (
	keyResultType = "event_result_type"
	keyBlocks     = "event_blocks_parent_completion"
)

// typedPayload decodes the payload keys into the typed struct; unknown
// keys are kept raw in Extra.
func (ds *decodeState) typedPayload(outer engine.Eventer, codec *typeCodec) error {
	if len(ds.payload) == 0 {
		return nil
	}
	if codec.byName != nil {
		p := reflect.ValueOf(outer).UnsafePointer()
		for _, f := range ds.payload {
			i := codec.fieldIndex(f.key)
			if i < 0 {
				ds.addExtra(ownKey(f), json.RawMessage(own(f.raw)))
				continue
			}
			if msg := decodeScalar(&codec.scalars[i], p, f.raw); msg != "" {
				return ds.errAt(f.key, f.off, ErrPayload, "%s", msg)
			}
		}
		return nil
	}
	// A fresh buffer: sonic's json.Number values (in interface fields)
	// alias it, so it must not be reused.
	size := 2
	for _, f := range ds.payload {
		size += len(f.key) + len(f.raw) + 4
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	n := 0
	for _, f := range ds.payload {
		if !codec.names[f.key] {
			ds.addExtra(ownKey(f), json.RawMessage(own(f.raw)))
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, f.key)
		buf = append(buf, ':')
		buf = append(buf, f.raw...)
		n++
	}
	buf = append(buf, '}')
	if n == 0 {
		return nil
	}
	p := reflect.ValueOf(outer).UnsafePointer()
	if err := api.Unmarshal(buf, codec.view(p)); err != nil {
		// Find the field at fault, one at a time.
		for _, f := range ds.payload {
			if !codec.names[f.key] {
				continue
			}
			one := appendString([]byte{'{'}, f.key)
			one = append(append(append(one, ':'), f.raw...), '}')
			if e1 := api.Unmarshal(one, reflect.New(codec.shadow).Interface()); e1 != nil {
				return ds.errAt(f.key, f.off, ErrPayload, "%v", e1)
			}
		}
		return ds.errAt("", 0, ErrPayload, "%v", err)
	}
	return nil
}

// modeField reads an enum field (null or one of the mode's wire names) into
// *dst; null leaves it unset.
func modeField[T any](ds *decodeState, key string, off int, name string, parse func(string) (T, bool), dst *T) error {
	s, err := ds.strField(key, true)
	if err != nil {
		return err
	}
	if s == "" {
		if !ds.lastWasNull(off) {
			return ds.errAt(key, off, ErrBadValue, "empty %s", name)
		}
		return nil
	}
	m, ok := parse(s)
	if !ok {
		return ds.errAt(key, off, ErrBadValue, "unknown %s %q", name, s)
	}
	*dst = m
	return nil
}
