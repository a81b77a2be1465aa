package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/ringbus/ringbus/ident"
)

// Status is the lifecycle state of an event or of one handler's result.
type Status uint32

// Statuses. Events use Pending, Started and Completed; result rows also use
// Error (STAT-1, STAT-5).
const (
	StatusPending Status = iota
	StatusStarted
	StatusCompleted
	StatusError
	statusFinishing // internal: a row whose outcome is being written
)

// String returns the wire name of the status.
func (s Status) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusStarted:
		return "started"
	case StatusCompleted:
		return "completed"
	case StatusError:
		return "error"
	case statusFinishing:
		return "started"
	}
	return fmt.Sprintf("Status(%d)", uint32(s))
}

// Eventer is implemented by every event: *Event itself and any struct that
// embeds Event (the typed events of package api). The method is unexported,
// so only types embedding Event implement it.
type Eventer interface{ eventCore() *Event }

// Core returns the engine event behind e, or nil for a nil e.
func Core(e Eventer) *Event {
	if e == nil {
		return nil
	}
	if v := reflect.ValueOf(e); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return e.eventCore()
}

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

// TypeMeta describes one event type: its event_type name, default version,
// per-type config defaults (EVT-9) and, for typed events, the Go type.
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
	t reflect.Type // pointer type of the emitted value
	m *TypeMeta
}

var (
	metaByGoType = xsync.NewMap[reflect.Type, *TypeMeta]()
	metaByName   = xsync.NewMap[string, *TypeMeta]()
	untypedBase  = reflect.TypeFor[*Event]()
)

// TypeOptions configures a declared event type.
type TypeOptions struct {
	Name       string // event_type; default the Go type name
	Version    string // default "0.0.1"
	ResultType any    // stored opaquely for the wire layer
	// Per-type defaults (EVT-9); nil leaves the setting to the bus.
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

// Event is one event: its identity, lifecycle, routing and results. Typed
// events embed Event in a payload struct (see package api); untyped events
// are made with NewEvent.
//
// An Event must not be copied after first use. Its getters are safe for
// concurrent use. Its setters (SetTimeout, ...) must be called before the
// event is emitted; setting them on an event in flight is a data race.
type Event struct {
	_ noCopy

	outer   Eventer   // the value given to Emit (the typed struct or the Event itself)
	meta    *TypeMeta // type name, version, per-type defaults
	ext     *eventExt // rarely used fields, allocated on demand
	id      ident.UUID
	created atomic.Int64 // ident.Time; zero until the event is initialised

	completed atomic.Int64 // ident.Time of completion, 0 while incomplete
	status    atomic.Uint32
	bits      atomic.Uint32 // bitCfgSet, bitCtxLive

	mu      sync.Mutex // guards the fields below
	pending int32      // bus processings outstanding + children not yet complete
	flags   uint32
	path0   string          // first event_path entry; the rest live in ext
	row0    *Result         // first result row; the rest live in ext
	bus0    *Bus            // first bus emitted to; the rest live in ext
	ctx     context.Context // captured at first emit (CTX-1)
	done    chan struct{}   // closed on completion; made lazily by waiters
}

// The first path entry, row and bus are stored inline so that the common
// single-bus, single-handler event makes no extra allocation for them.

func (e *Event) pathLen() int {
	if e.path0 == "" {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.pathMore)
}

func (e *Event) pathAt(i int) string {
	if i == 0 {
		return e.path0
	}
	return e.ext.pathMore[i-1]
}

func (e *Event) addPath(label string) {
	if e.path0 == "" {
		e.path0 = label
		return
	}
	x := e.extension()
	x.pathMore = append(x.pathMore, label)
}

func (e *Event) rowCount() int {
	if e.row0 == nil {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.rowsMore)
}

func (e *Event) rowAt(i int) *Result {
	if i == 0 {
		return e.row0
	}
	return e.ext.rowsMore[i-1]
}

func (e *Event) addRow(r *Result) {
	if e.row0 == nil {
		e.row0 = r
		return
	}
	x := e.extension()
	x.rowsMore = append(x.rowsMore, r)
}

func (e *Event) busCount() int {
	if e.bus0 == nil {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.busesMore)
}

// busAt returns the i-th bus and whether its processing was claimed.
func (e *Event) busAt(i int) (*Bus, bool) {
	if i == 0 {
		return e.bus0, e.flags&flagClaimed0 != 0
	}
	be := e.ext.busesMore[i-1]
	return be.bus, be.claimed
}

// reopenLocked makes a completed event incomplete again, so that another
// bus runs it (EMIT-9). Called with e.mu held.
func (e *Event) reopenLocked() {
	if e.Status() == StatusCompleted {
		e.status.Store(uint32(StatusStarted))
		e.completed.Store(0)
		e.done = nil
	}
}

func (e *Event) setClaimed(i int) {
	if i == 0 {
		e.flags |= flagClaimed0
		return
	}
	e.ext.busesMore[i-1].claimed = true
}

func (e *Event) removeLastBus(b *Bus) {
	if e.ext != nil && len(e.ext.busesMore) > 0 {
		if last := len(e.ext.busesMore) - 1; e.ext.busesMore[last].bus == b {
			e.ext.busesMore = e.ext.busesMore[:last]
		}
		return
	}
	if e.bus0 == b {
		e.bus0 = nil
		e.flags &^= flagClaimed0
	}
}

func (e *Event) addBus(b *Bus) {
	if e.bus0 == nil {
		e.bus0 = b
		return
	}
	x := e.extension()
	x.busesMore = append(x.busesMore, busEntry{bus: b})
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Bits of Event.bits, read without the lock.
const (
	bitCfgSet  uint32 = 1 << iota // some instance setting was set (see instanceConfig)
	bitCtxLive                    // ctx is still the emitter's cancellable context
)

const (
	flagLinkedParent uint32 = 1 << iota // counted in the parent's pending
	flagEmitted                         // emitted at least once
	flagClaimed0                        // bus0's processing was claimed
	flagHandlerLock                     // a serial processing holds the handler lock (LOCK-2)
)

// busEntry records one bus the event was emitted to and whether a runner has
// claimed its processing there.
type busEntry struct {
	bus     *Bus
	claimed bool
}

type eventExt struct {
	typ       string // instance override of event_type
	version   string // instance override of event_version
	cfg       eventConfig
	hasCfg    bool
	parentID  ident.UUID
	parent    *Event
	emittedBy ident.UUID
	fields    map[string]any // untyped payload and unknown extra fields
	started   ident.Time     // explicit started_at for rehydrated events
	pendingN  int            // event_pending_bus_count read from the wire
	extraJSON map[string]any // wire fields this runtime does not model
	pathMore  []string
	rowsMore  []*Result
	busesMore []busEntry

	// hwaiters queues the processings waiting for the handler lock
	// (LOCK-2), nil until one waits: a pointer keeps eventExt in the
	// 240-byte size class.
	hwaiters *[]chan struct{}
	orig     *Event // the event this one is a view of (see NewView)
}

func (e *Event) eventCore() *Event { return e }

// NewEvent returns an untyped event of the given event_type carrying fields
// as its payload (EVT-16). Field names starting with "event_" or "model_" are
// rejected, as are the reserved names of EVT-8.
func NewEvent(eventType string, fields map[string]any) (*Event, error) {
	if err := validEventType(eventType); err != nil {
		return nil, err
	}
	for k := range fields {
		if err := validPayloadField(k); err != nil {
			return nil, err
		}
	}
	e := &Event{}
	e.meta = metaForName(eventType)
	e.extension().fields = fields
	e.init(e)
	return e, nil
}

func validPayloadField(k string) error {
	switch {
	case len(k) >= 6 && k[:6] == "event_":
		return badOption("payload field %q starts with \"event_\" but is not a recognized event field", k)
	case len(k) >= 6 && k[:6] == "model_":
		return badOption("payload field %q must not start with \"model_\"", k)
	}
	switch k {
	case "bus", "first", "emit", "now", "wait", "toString", "toJSON", "fromJSON":
		return badOption("payload field %q is a reserved name", k)
	}
	return nil
}

func (e *Event) extension() *eventExt {
	if e.ext == nil {
		e.ext = &eventExt{cfg: unsetConfig}
	}
	return e.ext
}

// init gives the event its id, creation time and type; it is idempotent and
// is called by Emit and by the getters, so that an event built as a struct
// literal gets its identity on first use (TIME-1, STAT-2).
func (e *Event) init(outer Eventer) {
	if e.created.Load() != 0 && e.outer != nil {
		return
	}
	e.mu.Lock()
	e.initLocked(outer)
	e.mu.Unlock()
}

func (e *Event) initLocked(outer Eventer) {
	if e.outer == nil && outer != nil {
		e.outer = outer
		// A getter called before the first Emit initialised a typed event
		// without knowing its Go type; now that it is known, fix the type.
		if e.meta != nil && e.meta.goType == nil && e.flags&flagEmitted == 0 && reflect.TypeOf(outer) != untypedBase {
			e.meta = nil
		}
	}
	if e.meta == nil {
		if t := reflect.TypeOf(e.outer); e.outer != nil && t != untypedBase {
			if c := lastMeta.Load(); c != nil && c.t == t && !c.m.replaced.Load() {
				e.meta = c.m
			} else {
				e.meta = metaForGoType(t)
				lastMeta.Store(&metaCacheEntry{t: t, m: e.meta})
			}
		} else {
			e.meta = metaForName("BaseEvent")
		}
	}
	if e.created.Load() == 0 {
		now := ident.Now()
		if e.id.IsZero() {
			e.id = ident.NewV7At(now)
		}
		e.created.Store(int64(now))
	}
}

func (e *Event) ensure() *Event {
	if e.created.Load() == 0 {
		e.init(nil)
	}
	return e
}

// ID returns the event_id (a UUIDv7 string).
func (e *Event) ID() string { return e.ensure().id.String() }

// UUID returns the event_id as a UUID value.
func (e *Event) UUID() ident.UUID { return e.ensure().id }

// Type returns the event_type.
func (e *Event) Type() string {
	e.ensure()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.typeLocked()
}

func (e *Event) typeLocked() string {
	if e.ext != nil && e.ext.typ != "" {
		return e.ext.typ
	}
	return e.meta.name
}

// Version returns the event_version.
func (e *Event) Version() string {
	e.ensure()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ext != nil && e.ext.version != "" {
		return e.ext.version
	}
	return e.meta.version
}

// Payload returns the value that was emitted: the typed struct pointer for
// typed events, the *Event itself for untyped ones.
func (e *Event) Payload() Eventer {
	e.ensure()
	if e.outer == nil {
		return e
	}
	return e.outer
}

// Fields returns the untyped payload fields (nil for typed events).
func (e *Event) Fields() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ext == nil {
		return nil
	}
	return e.ext.fields
}

// Status returns the event_status.
func (e *Event) Status() Status { return Status(e.status.Load()) }

// CreatedAt returns event_created_at.
func (e *Event) CreatedAt() time.Time { return ident.Time(e.ensure().created.Load()).Std() }

// CreatedTime returns event_created_at as an ident.Time.
func (e *Event) CreatedTime() ident.Time { return ident.Time(e.ensure().created.Load()) }

// StartedAt returns event_started_at: the earliest start of any of its
// handlers on any bus, or the completion time for an event without
// handlers (STAT-2, STAT-3). Zero while no handler has started.
func (e *Event) StartedAt() time.Time { return e.StartedTime().Std() }

// StartedTime is StartedAt as an ident.Time (zero when unset).
func (e *Event) StartedTime() ident.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var t ident.Time
	if e.ext != nil {
		t = e.ext.started
	}
	for i, n := 0, e.rowCount(); i < n; i++ {
		if s := e.rowAt(i).startedTime(); s != 0 && (t == 0 || s < t) {
			t = s
		}
	}
	if t == 0 {
		t = ident.Time(e.completed.Load())
	}
	return t
}

// CompletedAt returns event_completed_at, zero while incomplete.
func (e *Event) CompletedAt() time.Time { return ident.Time(e.completed.Load()).Std() }

// CompletedTime is CompletedAt as an ident.Time.
func (e *Event) CompletedTime() ident.Time { return ident.Time(e.completed.Load()) }

// ParentID returns event_parent_id, "" for a root event.
func (e *Event) ParentID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ext == nil || e.ext.parentID.IsZero() {
		return ""
	}
	return e.ext.parentID.String()
}

// Parent returns the parent event when it is known in this process.
func (e *Event) Parent() *Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ext == nil {
		return nil
	}
	if orig := e.ext.orig; orig != nil {
		return orig.Parent()
	}
	return e.ext.parent
}

// EmittedByHandlerID returns event_emitted_by_handler_id, "" if none.
func (e *Event) EmittedByHandlerID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ext == nil || e.ext.emittedBy.IsZero() {
		return ""
	}
	return e.ext.emittedBy.String()
}

// Path returns event_path: the labels of the buses the event was emitted
// to, in order (EVT-13).
func (e *Event) Path() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, e.pathLen())
	for i := range out {
		out[i] = e.pathAt(i)
	}
	return out
}

// Rows returns the event's result rows in creation order (EVT-11).
func (e *Event) Rows() []*Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	if orig := e.viewOfLocked(); orig != nil {
		return orig.Rows()
	}
	out := make([]*Result, e.rowCount())
	for i := range out {
		out[i] = e.rowAt(i)
	}
	return out
}

// Children returns the events emitted by its handlers, in result order
// (EVT-12).
func (e *Event) Children() []*Event {
	var out []*Event
	for _, r := range e.Rows() {
		out = append(out, r.Children()...)
	}
	return out
}

// PendingBusCount returns how many buses still have to process the event.
func (e *Event) PendingBusCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for i, c := 0, e.busCount(); i < c; i++ {
		if _, claimed := e.busAt(i); !claimed {
			n++
		}
	}
	if e.ext != nil && n == 0 && e.Status() == StatusPending {
		n = e.ext.pendingN
	}
	return n
}

// Context returns the values of the context the event was first emitted
// with, or nil before that (CTX-1). It carries the values only: neither the
// emitter's cancellation nor its deadline (CTX-9).
func (e *Event) Context() context.Context { return e.valuesCtx() }

// valuesCtx returns e.ctx, first detaching it from the emitter's
// cancellation if that was not done yet. Emit stores a cancellable context
// as it is and marks it live, so that the common event, whose handlers never
// ask for a value, saves the allocation of context.WithoutCancel.
func (e *Event) valuesCtx() context.Context {
	if e.bits.Load()&bitCtxLive != 0 {
		e.mu.Lock()
		if e.bits.Load()&bitCtxLive != 0 {
			e.ctx = context.WithoutCancel(e.ctx)
			e.bits.And(^bitCtxLive)
		}
		e.mu.Unlock()
	}
	return e.ctx
}

// String returns "{last bus label}▶ {type}#{id4} {icon}" (LOG-7).
func (e *Event) String() string {
	e.ensure()
	e.mu.Lock()
	last := "?"
	if n := e.pathLen(); n > 0 {
		last = e.pathAt(n - 1)
	}
	e.mu.Unlock()
	icon := "⏳"
	switch e.Status() {
	case StatusStarted:
		icon = "🏃"
	case StatusCompleted:
		icon = "✅"
	}
	return last + "▶ " + e.Label() + " " + icon
}

// Label returns "{event_type}#{last 4 of id}" (TIME-10).
func (e *Event) Label() string { return e.Type() + "#" + e.ensure().id.Suffix4() }

// --- configuration (EVT-6: instance > type > bus, never written back) ---

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
	e.mu.Unlock()
	return nil
}

// SetVersion overrides event_version for this instance.
func (e *Event) SetVersion(v string) {
	e.mu.Lock()
	e.extension().version = v
	e.mu.Unlock()
}

// SetID sets event_id before first use; it must parse as a UUID (TIME-2).
func (e *Event) SetID(id string) error {
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

// Timeout returns event_timeout and whether it is set on the instance.
func (e *Event) Timeout() (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.config()
	return c.timeout, c.timeout >= 0
}

// Concurrency returns event_concurrency as set on the instance (zero when
// unset: the bus decides at processing time, EVT-6).
func (e *Event) Concurrency() EventConcurrency {
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

// --- waiting (AWAIT) ---

// Done returns a channel closed when the event completes.
func (e *Event) Done() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if orig := e.viewOfLocked(); orig != nil {
		return orig.Done()
	}
	if e.done == nil {
		e.done = make(chan struct{})
		if e.Status() == StatusCompleted {
			close(e.done)
		}
	}
	return e.done
}

// Wait blocks until the event completes on every bus it was emitted to,
// with its children (AWAIT-1, CHILD-5), or until ctx is done. It never
// changes scheduling (AWAIT-2). It returns ErrNotAttached for an event never
// emitted and ErrBusClosed when a bus holding it queued was stopped.
func (e *Event) Wait(ctx context.Context) error {
	if e == nil {
		return ErrNilEvent
	}
	for i := 0; i < waiterSpins; i++ {
		if e.Status() == StatusCompleted {
			return nil
		}
		runtime.Gosched()
	}
	e.mu.Lock()
	if e.flags&flagEmitted == 0 {
		orig := e.viewOfLocked()
		e.mu.Unlock()
		if orig != nil {
			return orig.Wait(ctx)
		}
		return ErrNotAttached
	}
	if e.done == nil {
		e.done = make(chan struct{})
	}
	ch := e.done
	e.mu.Unlock()
	if e.Status() == StatusCompleted {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-e.stoppedBus():
		if e.Status() == StatusCompleted {
			return nil
		}
		return ErrBusClosed
	}
}

// stoppedBus returns a channel closed when a bus that still holds the event
// unprocessed has been stopped, so that waiters do not hang forever.
func (e *Event) stoppedBus() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := 0, e.busCount(); i < n; i++ {
		if b, claimed := e.busAt(i); !claimed {
			return b.stopped
		}
	}
	return nil
}

// Now waits for the event like Wait, except that when ctx is the context of
// a running handler it first processes the event at once, ahead of anything
// queued, re-entering the event lock the handler holds instead of
// deadlocking (AWAIT-4, AWAIT-5, LOCK-3). Outside a handler it is Wait (D3).
func (e *Event) Now(ctx context.Context) error {
	if e == nil {
		return ErrNilEvent
	}
	if e.Status() == StatusCompleted {
		return nil
	}
	r := handlerRow(ctx)
	if r == nil || r.isTerminal() {
		return e.Wait(ctx)
	}
	if err := queueJump(ctx, e, r); err != nil {
		return err
	}
	return e.Wait(ctx)
}

// markStarted moves the event from pending to started.
func (e *Event) markStarted() bool {
	return e.status.CompareAndSwap(uint32(StatusPending), uint32(StatusStarted))
}

// SetParentID sets event_parent_id before the event is emitted. A parent
// set this way is never overwritten by the handler context (CHILD-3).
func (e *Event) SetParentID(id string) error {
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

// ResultValidator checks handler results against an event's
// event_result_type. *schema.Schema implements it; a TypeMeta whose
// ResultType implements it (see wire.Declare), or an event decoded with its
// own schema, has every non-nil, non-event handler result validated, and a
// mismatch fails that handler's row with *ResultSchemaError (RTYPE-2,
// RTYPE-6).
type ResultValidator interface {
	Validate(v any) error
	Identifier() string
}

// validatorLocked returns the event's result validator: its own decoded
// event_result_type, else its type's. Called with e.mu held.
func (e *Event) validatorLocked() ResultValidator {
	if e.ext != nil && e.ext.extraJSON != nil {
		if v, ok := e.ext.extraJSON["event_result_type"]; ok {
			if rv, ok := v.(ResultValidator); ok && !isNilPointer(v) {
				return rv
			}
		}
	}
	if rv, ok := e.meta.resultType.(ResultValidator); ok && !isNilPointer(e.meta.resultType) {
		return rv
	}
	return nil
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
