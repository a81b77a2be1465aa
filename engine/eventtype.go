package engine

// Event types: TypeMeta (an event_type's name, version, per-type defaults
// and Go type), DeclareType, and the registries by Go type and by name
// from which an event gets its type when it is first used (initLocked,
// event.go).

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"
)

// Per-type defaults: EVT-9.

// TypeMeta describes one event type: its event_type name, default version,
// per-type config defaults and, for typed events, the Go type.
// TypeMeta values are created once per type and never change after the first
// event of the type is emitted. Safe for concurrent use.
type TypeMeta struct {
	name       string
	version    string
	goType     reflect.Type // pointer-free struct type, nil for untyped events
	cfg        eventConfig
	resultType any // opaque: the result schema, owned by higher layers
	fields     *xsync.Map[string, []int]
	// err is set on the TypeMeta of a Go type that could not be declared
	// because its name belongs to another Go type (ErrEventTypeConflict):
	// such a TypeMeta is in neither registry, and Emit refuses its events.
	err error
	// replaced is set when a later declaration of the same Go type took
	// this one's place, so that the lastMeta cache never serves it again
	// even if an Emit racing with the declaration stored it there.
	replaced atomic.Bool
}

// Name returns the event_type.
func (m *TypeMeta) Name() string { return m.name }

// Version returns the default event_version.
func (m *TypeMeta) Version() string { return m.version }

// GoType returns the Go struct type of typed events, nil for untyped ones.
func (m *TypeMeta) GoType() reflect.Type { return m.goType }

// ResultType returns what SetResultType stored.
func (m *TypeMeta) ResultType() any { return m.resultType }

// lastMeta caches the most recently resolved Go type: emitting many events
// of one type then skips the map lookup.
var lastMeta atomic.Pointer[metaCacheEntry]

type metaCacheEntry struct {
	// tab is the type word of the Eventer the type was resolved for (see
	// typeWord): comparing it is a pointer comparison, where comparing
	// reflect.Types is an interface comparison after a reflect.TypeOf.
	tab unsafe.Pointer
	m   *TypeMeta
}

// typeWord returns the first word of v: the runtime's descriptor of v's
// dynamic type as an Eventer (its itab). Values of one dynamic type have the
// same word, so an equal word means an equal type; a type seen under two
// words (which the runtime does not make, but nothing here relies on that)
// would only miss the cache.
func typeWord(v Eventer) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[0] }

var (
	metaByGoType = xsync.NewMap[reflect.Type, *TypeMeta]()
	metaByName   = xsync.NewMap[string, *TypeMeta]()
	untypedBase  = reflect.TypeFor[*Event]()
)

// Per-type defaults: EVT-9.

// TypeOptions configures a declared event type.
type TypeOptions struct {
	Name       string // event_type; default the Go type name
	Version    string // default "0.0.1"
	ResultType any    // stored opaquely for the wire layer
	// Per-type defaults: an event's own setting overrides them, and they
	// override the bus's; nil leaves the setting to the bus.
	Timeout            *time.Duration
	HandlerTimeout     *time.Duration
	SlowTimeout        *time.Duration
	HandlerSlowTimeout *time.Duration
	Concurrency        EventConcurrency
	HandlerConcurrency HandlerConcurrency
	Completion         Completion
}

func (o TypeOptions) isZero() bool {
	return o.Name == "" && o.Version == "" && o.ResultType == nil && o.Timeout == nil && o.HandlerTimeout == nil &&
		o.SlowTimeout == nil && o.HandlerSlowTimeout == nil && o.Concurrency == 0 && o.HandlerConcurrency == 0 && o.Completion == 0
}

// DeclareType registers the Go type t (a struct type or pointer to one whose
// struct embeds Event) under opts. It returns the existing TypeMeta when t
// was already declared or emitted with the same options. An event_type
// name belongs to one Go type: DeclareType fails with ErrEventTypeConflict
// when the name is another Go type's, as when two structs of one name in
// different packages both default to it.
func DeclareType(t reflect.Type, opts TypeOptions) (*TypeMeta, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := metaByGoType.Load(t); ok && opts.isZero() {
		return m, nil
	}
	replace := !opts.isZero()
	m := &TypeMeta{name: opts.Name, version: opts.Version, goType: t, cfg: unsetConfig, resultType: opts.ResultType, fields: xsync.NewMap[string, []int]()}
	if m.name == "" {
		m.name = t.Name()
	}
	if m.version == "" {
		m.version = defaultEventVersion
	}
	if err := validEventType(m.name); err != nil {
		return nil, err
	}
	for _, d := range []*time.Duration{opts.Timeout, opts.HandlerTimeout, opts.SlowTimeout, opts.HandlerSlowTimeout} {
		if d != nil && *d < 0 {
			return nil, badOption("negative timeout for event type %s", m.name)
		}
	}
	if opts.Timeout != nil {
		m.cfg.timeout = *opts.Timeout
	}
	if opts.HandlerTimeout != nil {
		m.cfg.handlerTimeout = *opts.HandlerTimeout
	}
	if opts.SlowTimeout != nil {
		m.cfg.slowTimeout = *opts.SlowTimeout
	}
	if opts.HandlerSlowTimeout != nil {
		m.cfg.handlerSlowTimeout = *opts.HandlerSlowTimeout
	}
	m.cfg.concurrency, m.cfg.handlerConcurrency, m.cfg.completion = opts.Concurrency, opts.HandlerConcurrency, opts.Completion
	// The name is claimed first, atomically: of two Go types with one name
	// (structs of one name in two packages), the first keeps it and the
	// second gets ErrEventTypeConflict, instead of both silently sharing an
	// event_type whose handlers then fail on the other's payloads (REG-1).
	var taken *TypeMeta
	claimed, _ := metaByName.Compute(m.name, func(cur *TypeMeta, loaded bool) (*TypeMeta, xsync.ComputeOp) {
		switch {
		case !loaded || cur.goType == nil: // a Go type beats an untyped name entry
			return m, xsync.UpdateOp
		case cur.goType != t:
			taken = cur
			return cur, xsync.CancelOp
		case replace:
			return m, xsync.UpdateOp
		}
		return cur, xsync.CancelOp // declared concurrently: keep the first
	})
	if taken != nil {
		return nil, fmt.Errorf("%w: event type %q already belongs to Go type %s; another Go type of that name (%s) "+
			"must be given a name of its own with TypeOptions.Name before it is used",
			ErrEventTypeConflict, m.name, goTypeName(taken.goType), goTypeName(t))
	}
	if replace {
		// An explicit declaration wins over a type first seen by Emit:
		// events emitted from now on use the declared settings. A name the
		// type had before is free again.
		old, loaded := metaByGoType.LoadAndStore(t, m)
		if loaded {
			old.replaced.Store(true)
		}
		if loaded && old.name != m.name {
			metaByName.Compute(old.name, func(cur *TypeMeta, loaded bool) (*TypeMeta, xsync.ComputeOp) {
				if loaded && cur == old {
					return nil, xsync.DeleteOp
				}
				return cur, xsync.CancelOp
			})
		}
		lastMeta.Store(nil)
		return m, nil
	}
	actual, _ := metaByGoType.LoadOrStore(t, claimed)
	if actual != claimed && claimed == m {
		// A declaration under another name won the race for t: the name
		// claimed above is not t's after all, so free it again.
		metaByName.Compute(m.name, func(cur *TypeMeta, loaded bool) (*TypeMeta, xsync.ComputeOp) {
			if loaded && cur == m {
				return nil, xsync.DeleteOp
			}
			return cur, xsync.CancelOp
		})
	}
	return actual, nil
}

// goTypeName returns the package path and name of t, for error messages.
func goTypeName(t reflect.Type) string {
	if t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// LookupType returns the TypeMeta declared for event_type name, if any.
func LookupType(name string) (*TypeMeta, bool) { return metaByName.Load(name) }

// TypeOf returns the TypeMeta of the Go event type t (a struct type or a
// pointer to one), as the first Emit of a t would find or make it: declared
// under its Go name, or a cleaned-up name for generic types. The error is
// ErrEventTypeConflict when that name belongs to another Go type.
func TypeOf(t reflect.Type) (*TypeMeta, error) {
	m := metaForGoType(t)
	return m, m.err
}

func metaForGoType(t reflect.Type) *TypeMeta {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := metaByGoType.Load(t); ok {
		return m
	}
	m, err := DeclareType(t, TypeOptions{})
	if err != nil && !errors.Is(err, ErrEventTypeConflict) {
		// An invalid Go type name (e.g. a generic instantiation) falls back
		// to a sanitised name so that emitting never panics.
		m, err = DeclareType(t, TypeOptions{Name: sanitizeTypeName(t.Name())})
	}
	if err != nil {
		// The name belongs to another Go type: a TypeMeta of its own, in
		// no registry, that makes Emit fail with err.
		m = &TypeMeta{name: sanitizeTypeName(t.Name()), version: defaultEventVersion, goType: t, cfg: unsetConfig,
			fields: xsync.NewMap[string, []int](), err: err}
	}
	return m
}

func metaForName(name string) *TypeMeta {
	if m, ok := metaByName.Load(name); ok {
		return m
	}
	m := &TypeMeta{name: name, version: defaultEventVersion, cfg: unsetConfig}
	actual, _ := metaByName.LoadOrStore(name, m)
	return actual
}

func validEventType(name string) error {
	if name == "" || len(name) > maxEventTypeLen || name[0] == '_' {
		return badOption("event type %q must be a 1-64 character identifier not starting with _", name)
	}
	// Bytes, not runes: every byte of a multi-byte rune is >= 0x80, which
	// the table rejects, as it rejects the rune.
	ok := typeNameByte[name[0]]&typeNameFirst != 0
	for i := 1; ok && i < len(name); i++ {
		ok = typeNameByte[name[i]]&typeNameLater != 0
	}
	if !ok {
		return badOption("event type %q is not a valid identifier", name)
	}
	return nil
}

// typeNameByte classifies the bytes of an event type: letters and '_' may
// come anywhere (typeNameFirst), digits and '.' after the first byte.
var typeNameByte = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			t[c] = typeNameFirst | typeNameLater
		case c >= '0' && c <= '9' || c == '.':
			t[c] = typeNameLater
		}
	}
	return t
}()

const (
	typeNameFirst uint8 = 1 << iota
	typeNameLater
)

func sanitizeTypeName(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < maxEventTypeLen; i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			out = append(out, c)
		}
	}
	if len(out) == 0 || out[0] == '_' || out[0] >= '0' && out[0] <= '9' {
		out = append([]byte("Event"), out...)
	}
	return string(out)
}
