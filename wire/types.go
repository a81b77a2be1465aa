package wire

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/schema"
)

// Declare registers the Go event type t (a struct embedding engine.Event,
// usually through api.Event[R]) in the engine's type registry with the JSON
// Schema of result as its event_result_type, so that the decoder can
// rebuild events of that event_type as t and the encoder writes that
// schema with them. result may be nil for an event without a result type.
// The payload codec of t is checked at once.
//
// Declare may also run after events of t were emitted, encoded or decoded:
// the events created, emitted or decoded after it returns use the new
// declaration (their event_result_type is the schema and their handlers'
// results are checked against it), while an event emitted before keeps the
// declaration it was processed with.
func Declare(t reflect.Type, result reflect.Type, opts engine.TypeOptions) (*engine.TypeMeta, error) {
	// event_result_type as the JSON Schema of the result type: SCHEMA-1.
	if t == nil {
		return nil, fmt.Errorf("%w: nil type", ErrUnsupportedType)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, err := codecFor(t); err != nil {
		return nil, err
	}
	if result != nil && opts.ResultType == nil {
		s, err := schema.ForType(result)
		if err != nil {
			return nil, err
		}
		opts.ResultType = s
	}
	return engine.DeclareType(t, opts)
}

// DeclareFor is Declare for the Go event type E whose handlers return R.
// For an event type that embeds api.Event[R], api.Declare does the same and
// takes R from the event type, so the two cannot disagree.
func DeclareFor[E any, R any](opts engine.TypeOptions) (*engine.TypeMeta, error) {
	var rt reflect.Type
	if r := reflect.TypeFor[R](); r.Kind() != reflect.Interface || r.NumMethod() != 0 {
		rt = r
	}
	return Declare(reflect.TypeFor[E](), rt, opts)
}

// typeCodec is the payload codec of one Go event type: a "shadow" struct
// type with the same memory layout whose embedded engine.Event and
// unexported fields are opaque padding, so that sonic sees exactly the
// payload fields and none of the methods promoted from the embedded event
// (a MarshalJSON there would otherwise recurse into this package).
type typeCodec struct {
	t      reflect.Type
	shadow reflect.Type
	names  map[string]bool // JSON names of the payload fields
	copyFs []copyField     // every field but the embedded event, for Reset
	err    error
	// scalars is set when every payload field is a plain string, bool,
	// integer or float (no ",string" option, no custom (un)marshaler): the
	// payload is then encoded and decoded field by field without sonic.
	scalars []scalarField
	byName  map[string]int
	keys    *keySet // the names of scalars, for directRun; nil when none
	// hasFirst: a payload field is named "first", which Compat242 cannot
	// write (abxbus 2.4.2 reserves it).
	hasFirst bool
	// numbers: the payload may hold a json.Number, whose range the
	// encoder checks (mayHoldNumber).
	numbers bool
}

type scalarField struct {
	name      string
	off       uintptr
	kind      reflect.Kind
	omitEmpty bool
}

type copyField struct {
	off uintptr
	t   reflect.Type
}

var (
	// codecs is a copy-on-write map: reads are one atomic load and a
	// builtin map lookup (hashing a reflect.Type there is a pointer hash).
	codecs      atomic.Pointer[map[reflect.Type]*typeCodec]
	codecsMu    sync.Mutex
	eventerType = reflect.TypeFor[engine.Eventer]()
	coreType    = reflect.TypeFor[engine.Event]()
)

// codecFor returns the codec of struct type t, building it once.
func codecFor(t reflect.Type) (*typeCodec, error) {
	if m := codecs.Load(); m != nil {
		if c, ok := (*m)[t]; ok {
			return c, c.err
		}
	}
	c := buildCodec(t)
	codecsMu.Lock()
	defer codecsMu.Unlock()
	old := codecs.Load()
	if old != nil {
		if prev, ok := (*old)[t]; ok {
			return prev, prev.err
		}
	}
	next := make(map[reflect.Type]*typeCodec, 1)
	if old != nil {
		maps.Copy(next, *old)
	}
	next[t] = c
	codecs.Store(&next)
	return c, c.err
}

// metaOf returns the engine's current TypeMeta of the codec's type,
// declaring the type with default options if needed. It is looked up each
// time, not cached: a later Declare replaces the TypeMeta (issue 9, 3.5).
func (c *typeCodec) metaOf() *engine.TypeMeta {
	m, err := engine.DeclareType(c.t, engine.TypeOptions{})
	if err != nil {
		return nil
	}
	return m
}

func buildCodec(t reflect.Type) (c *typeCodec) {
	c = &typeCodec{t: t, names: map[string]bool{}}
	if t.Kind() != reflect.Struct {
		c.err = fmt.Errorf("%w: %s is not a struct", ErrUnsupportedType, t)
		return c
	}
	defer func() {
		if x := recover(); x != nil {
			c.err = fmt.Errorf("%w: %s: %v", ErrUnsupportedType, t, x)
		}
	}()
	fields := make([]reflect.StructField, 0, t.NumField())
	embedsEvent := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		isEvent := f.Anonymous && (f.Type == coreType || f.Type.Kind() == reflect.Struct && reflect.PointerTo(f.Type).Implements(eventerType))
		if isEvent {
			embedsEvent = true
		} else {
			c.copyFs = append(c.copyFs, copyField{off: f.Offset, t: f.Type})
		}
		if isEvent || !f.IsExported() || f.Tag.Get("json") == "-" {
			if f.Anonymous && !isEvent && !f.IsExported() && f.Type.Kind() == reflect.Struct {
				c.err = fmt.Errorf("%w: %s embeds the unexported struct %s", ErrUnsupportedType, t, f.Type)
				return c
			}
			fields = append(fields, reflect.StructField{
				Name: fmt.Sprintf("Pad%d", i),
				Type: reflect.ArrayOf(int(f.Type.Size()), reflect.TypeFor[byte]()),
				Tag:  `json:"-"`,
			})
			continue
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag, Anonymous: f.Anonymous})
	}
	if !embedsEvent {
		c.err = fmt.Errorf("%w: %s does not embed engine.Event", ErrUnsupportedType, t)
		return c
	}
	s := reflect.StructOf(fields)
	if s.Size() > t.Size() {
		c.err = fmt.Errorf("%w: %s: layout mismatch", ErrUnsupportedType, t)
		return c
	}
	for i := 0; i < t.NumField(); i++ {
		if s.Field(i).Offset != t.Field(i).Offset {
			c.err = fmt.Errorf("%w: %s: layout mismatch at field %s", ErrUnsupportedType, t, t.Field(i).Name)
			return c
		}
	}
	c.shadow = s
	c.numbers = mayHoldNumber(s)
	simple := true
	for _, f := range reflect.VisibleFields(s) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.IsExported() {
				simple = false // promoted fields: leave the rules to sonic
			}
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		err := checkPayloadKey(name)
		if err == nil {
			err = checkWriteKey(name, Upstream)
		}
		if err != nil {
			c.err = fmt.Errorf("%w: %s field %s: %w", ErrUnsupportedType, t, f.Name, err)
			return c
		}
		if name == "first" {
			c.hasFirst = true
		}
		if c.names[name] {
			simple = false
		}
		c.names[name] = true
		if !simple {
			continue
		}
		omit := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				omit = true
			case "", "omitzero":
				if o == "omitzero" {
					simple = false
				}
			default:
				simple = false
			}
		}
		if len(f.Index) != 1 || !scalarKind(f.Type) {
			simple = false
			continue
		}
		c.scalars = append(c.scalars, scalarField{name: name, off: f.Offset, kind: f.Type.Kind(), omitEmpty: omit})
	}
	if simple {
		c.byName = make(map[string]int, len(c.scalars))
		names := make([]string, len(c.scalars))
		for i, f := range c.scalars {
			c.byName[f.name] = i
			names[i] = f.name
		}
		if len(names) > 0 {
			c.keys = newKeySet(names...)
		}
	} else {
		c.scalars = nil
	}
	return c
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// scalarKind reports whether t is a plain JSON scalar for the fast path.
func scalarKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
	default:
		return false
	}
	if t == numberType {
		return false // a JSON number, not a string: leave it to sonic
	}
	for _, i := range []reflect.Type{marshalerType, unmarshalerType, textMarshalerType, textUnmarshaler} {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return false
		}
	}
	return true
}

// fieldIndex returns the index in c.scalars of the payload field with JSON
// name name, or -1. Short field lists are searched without hashing.
func (c *typeCodec) fieldIndex(name string) int {
	if len(c.scalars) <= 8 {
		for i := range c.scalars {
			if c.scalars[i].name == name {
				return i
			}
		}
		return -1
	}
	if i, ok := c.byName[name]; ok {
		return i
	}
	return -1
}

// view returns the shadow view of the typed event at p, for sonic.
func (c *typeCodec) view(p unsafe.Pointer) any { return reflect.NewAt(c.shadow, p).Interface() }

// checkPayloadKey rejects names a payload read from the wire must not use
// (EVT-8, WIRE-9). "first" is reserved only by abxbus 2.4.2 and accepted, as
// TypeScript and the current Python accept it.
func checkPayloadKey(k string) error {
	switch {
	case strings.HasPrefix(k, "event_"):
		if k == "event_extra_payload" {
			return ErrReservedField
		}
		return ErrUnknownEventField
	case strings.HasPrefix(k, "model_"):
		return ErrReservedField
	}
	switch k {
	case "bus", "emit", "now", "wait", "toString", "toJSON", "fromJSON":
		return ErrReservedField
	}
	return nil
}

// checkWriteKey rejects the payload names that a reader of what the encoder
// writes refuses, while the decoder accepts them: TypeScript reserves
// eventResult and eventResultsList (its Redis and socket listeners crash on
// such an event), and abxbus 2.4.2, the reader of Compat242, reserves first.
func checkWriteKey(k string, mode Mode) error {
	switch k {
	case "eventResult", "eventResultsList":
		return fmt.Errorf("%w: %q is reserved by the TypeScript abxbus", ErrReservedField, k)
	case "first":
		if mode == Compat242 {
			return fmt.Errorf("%w: %q is reserved by abxbus 2.4.2; write the Upstream form", ErrReservedField, k)
		}
	}
	return nil
}

// --- caches ---

const cacheLimit = 4096

// boundedMap is a concurrent cache that stops growing at cacheLimit
// entries, so that hostile input cannot grow it without bound.
type boundedMap[K comparable, V any] struct {
	m *xsync.Map[K, V]
	n atomic.Int64
}

func newBounded[K comparable, V any]() *boundedMap[K, V] {
	return &boundedMap[K, V]{m: xsync.NewMap[K, V]()}
}

func (b *boundedMap[K, V]) load(k K) (V, bool) { return b.m.Load(k) }

func (b *boundedMap[K, V]) store(k K, v V) V {
	if b.n.Load() >= cacheLimit {
		return v
	}
	actual, loaded := b.m.LoadOrStore(k, v)
	if !loaded {
		b.n.Add(1)
	}
	return actual
}

var (
	internCache = newBounded[string, string]()
	schemaCache = newBounded[string, *schema.Schema]()
)

// intern returns an owned copy of s, shared with earlier equal strings
// (bus labels, handler names and versions repeat across events).
func intern(s string) string {
	if len(s) > 128 {
		return own(s)
	}
	if v, ok := internCache.load(s); ok {
		return v
	}
	c := own(s)
	return internCache.store(c, c)
}

// parseSchema parses an event_result_type, caching by the exact text.
func parseSchema(raw string) (*schema.Schema, error) {
	if s, ok := schemaCache.load(raw); ok {
		return s, nil
	}
	s, err := schema.Parse([]byte(raw))
	if err != nil {
		return nil, err
	}
	if len(raw) <= 64<<10 {
		s = schemaCache.store(own(raw), s)
	}
	return s, nil
}

// typeSchema returns the result schema a TypeMeta carries, if any.
func typeSchema(m *engine.TypeMeta) *schema.Schema {
	if m == nil {
		return nil
	}
	switch v := m.ResultType().(type) {
	case *schema.Schema:
		return v
	case reflect.Type:
		s, _ := schema.ForType(v)
		return s
	}
	return nil
}
