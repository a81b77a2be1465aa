package engine

// The Event: its fields, its identity and type, given on first use
// (init), NewEvent for untyped events, and the getters. Its own settings
// are in config.go, its lists in inline.go, waiting in wait.go and event
// types in eventtype.go; its way through a bus starts in emit.go.

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ringbus/ringbus/ident"
)

// Status is the lifecycle state of an event or of one handler's result.
type Status uint32

// The statuses: STAT-1, STAT-5.

// Statuses. Events use Pending, Started and Completed; result rows also use
// Error.
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
	// A nil pointer in the interface (a typed nil): every Eventer is a
	// pointer type or a struct embedding *Event, and a pointer-shaped value
	// is stored as the interface's data word, so a nil data word is a nil
	// pointer. Cheaper than reflect, and Core runs on every Emit.
	if (*[2]unsafe.Pointer)(unsafe.Pointer(&e))[1] == nil && isTypedNil(e) {
		return nil
	}
	return e.eventCore()
}

// isTypedNil reports whether e, whose data word is nil, holds a nil pointer.
// Out of line so that Core inlines.
func isTypedNil(e Eventer) bool { return reflect.TypeOf(e).Kind() == reflect.Pointer }

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
	bits      atomic.Uint32 // bitCfgSet, bitCtxLive, bitTypeSet

	mu      sync.Mutex // guards the fields below
	pending int32      // bus processings outstanding + children not yet complete
	flags   uint32
	path0   string          // first event_path entry; the rest live in ext
	row0    *Result         // first result row; the rest live in ext
	bus0    *Bus            // first bus emitted to; the rest live in ext
	ctx     context.Context // captured at first emit (CTX-1)
	done    chan struct{}   // closed on completion; made lazily by waiters
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Bits of Event.bits, read without the lock.
const (
	bitCfgSet  uint32 = 1 << iota // some instance setting was set (see instanceConfig)
	bitCtxLive                    // ctx is still the emitter's, maybe cancellable (see valuesCtx)
	bitTypeSet                    // ext.typ overrides the type's name (SetType, restore)
	bitIDSet                      // id is final: given, restored or made from created (see idOf)
	bitIDBusy                     // a goroutine is making the id (see idOf)
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
// as its payload. Field names starting with "event_" or "model_" are
// rejected, as are the names abxbus reserves for an event's methods (bus,
// first, emit, now, wait, toString, toJSON, fromJSON).
func NewEvent(eventType string, fields map[string]any) (*Event, error) {
	// Untyped events EVT-16; reserved names EVT-8.
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

// initForEmitLocked initialises e, if it is not yet, for an Emit of outer.
// Called with e.mu held; small enough to inline into Emit.
func (e *Event) initForEmitLocked(outer Eventer) {
	if e.outer == nil || e.created.Load() == 0 {
		e.initFirstLocked(outer)
	}
}

// initFirstLocked is initLocked with a short path for the common first Emit
// of a typed event built as a struct literal: nothing set yet and its Go
// type the one the type cache holds. Called with e.mu held.
func (e *Event) initFirstLocked(outer Eventer) {
	if c := lastMeta.Load(); e.outer == nil && e.meta == nil && e.created.Load() == 0 &&
		c != nil && c.tab == typeWord(outer) && !c.m.replaced.Load() {
		e.outer = outer
		e.meta = c.m
		// TIME-1: the id is made from this instant when it is first read.
		e.created.Store(int64(ident.Now()))
		return
	}
	e.initLocked(outer)
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
		// The cache holds typed events' types only: an untyped event's
		// type word never matches it.
		if c := lastMeta.Load(); c != nil && e.outer != nil && c.tab == typeWord(e.outer) && !c.m.replaced.Load() {
			e.meta = c.m
		} else if t := reflect.TypeOf(e.outer); e.outer != nil && t != untypedBase {
			e.meta = metaForGoType(t)
			lastMeta.Store(&metaCacheEntry{tab: typeWord(e.outer), m: e.meta})
		} else {
			e.meta = metaForName("BaseEvent")
		}
	}
	if e.created.Load() == 0 {
		// TIME-1: the id is made from this instant when it is first read
		// (uuidLocked), which gives the id NewV7At(now) gave here before,
		// at no cost for an event nobody asks the id of.
		e.created.Store(int64(ident.Now()))
	}
}

// uuid returns the event_id, making it on first use from the creation time
// (TIME-1): NewV7At of that instant, as unique and as ordered as the
// creation times are (TIME-5).
func (e *Event) uuid() ident.UUID {
	e.ensure()
	return e.idOf()
}

// idOf is uuid without the initialisation, for an event known to be
// initialised, and without e.mu, so that it may be called with any event's
// lock held (a parent's rows list their children's ids). The first caller
// claims the making with bitIDBusy; a concurrent one waits for bitIDSet,
// which is set once e.id is written. Ids given or restored are kept.
func (e *Event) idOf() ident.UUID {
	if e.bits.Load()&bitIDSet != 0 {
		return e.id
	}
	if e.bits.Or(bitIDBusy)&bitIDBusy == 0 {
		if e.id.IsZero() {
			e.id = ident.NewV7At(ident.Time(e.created.Load()))
		}
		e.bits.Or(bitIDSet)
		return e.id
	}
	for e.bits.Load()&bitIDSet == 0 {
		runtime.Gosched() // another goroutine is writing the id
	}
	return e.id
}

func (e *Event) ensure() *Event {
	if e.created.Load() == 0 {
		e.init(nil)
	}
	return e
}

// ID returns the event_id (a UUIDv7 string).
func (e *Event) ID() string { return e.uuid().String() }

// UUID returns the event_id as a UUID value.
func (e *Event) UUID() ident.UUID { return e.uuid() }

// Type returns the event_type.
func (e *Event) Type() string {
	// Lock-free once processing has begun: the type (e.meta, set by Emit
	// before the event is queued) no longer changes, and the status word
	// leaves Pending after it was set. An instance override (SetType, a
	// restored type) takes the locked path.
	if e.bits.Load()&bitTypeSet == 0 && Status(e.status.Load()&^statusHooking) != StatusPending {
		return e.meta.name
	}
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
	if e.created.Load() == 0 || e.outer == nil {
		return e.payloadSlow()
	}
	return e.outer // initialised with its Go value: the common case, inlined
}

func (e *Event) payloadSlow() Eventer {
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
func (e *Event) Status() Status { return Status(e.status.Load() &^ statusHooking) }

// statusHooking is set in an event's status word, beside StatusCompleted,
// while the bus that completed it runs its middlewares' completion hooks:
// Status reports the event completed (a hook sees it so), but waiters are
// not released until the hooks have returned (released), so that what a
// hook records (a WAL line, a counter) is there when Wait returns.
const statusHooking uint32 = 1 << 8

// released reports that the event completed and every completion hook has
// run: what Wait, Done and Now wait for.
func (e *Event) released() bool { return e.status.Load() == uint32(StatusCompleted) }

// CreatedAt returns event_created_at.
func (e *Event) CreatedAt() time.Time { return ident.Time(e.ensure().created.Load()).Std() }

// CreatedTime returns event_created_at as an ident.Time.
func (e *Event) CreatedTime() ident.Time { return ident.Time(e.ensure().created.Load()) }

// event_started_at: STAT-2, STAT-3.

// StartedAt returns event_started_at: the earliest start of any of its
// handlers on any bus, or the completion time for an event without
// handlers. Zero while no handler has started.
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
// to, in order.
func (e *Event) Path() []string {
	// EVT-13.
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, e.pathLen())
	for i := range out {
		out[i] = e.pathAt(i)
	}
	return out
}

// Rows returns the event's result rows in creation order.
func (e *Event) Rows() []*Result {
	// EVT-11.
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

// Children returns the events emitted by its handlers, in result order.
func (e *Event) Children() []*Event {
	// EVT-12.
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

// The emit-time context: CTX-1, CTX-9.

// Context returns the values of the context the event was first emitted
// with, or nil before that. It carries the values only: neither the
// emitter's cancellation nor its deadline.
func (e *Event) Context() context.Context { return e.valuesCtx() }

// valuesCtx returns e.ctx, first detaching it from the emitter's
// cancellation if that was not done yet. Emit stores a context that may be
// cancellable as it is and marks it live, so that the common event, whose
// handlers never ask for a value, saves the allocation of
// context.WithoutCancel, and Emit's short path saves asking the context
// for its Done channel: a live context is detached here if its Done
// channel is not nil, as the general path decided at the emit.
func (e *Event) valuesCtx() context.Context {
	if e.bits.Load()&bitCtxLive != 0 {
		// The ctx's Done is the caller's code: it runs outside the lock.
		// A live ctx is the first captured (CTX-1) and only changes here,
		// once, so the one read under the lock is the one detached.
		e.mu.Lock()
		ctx := e.ctx
		e.mu.Unlock()
		cancellable := ctx.Done() != nil
		e.mu.Lock()
		if e.bits.Load()&bitCtxLive != 0 {
			if cancellable {
				e.ctx = context.WithoutCancel(ctx)
			}
			e.bits.And(^bitCtxLive)
		}
		e.mu.Unlock()
	}
	return e.ctx
}

// String returns "{last bus label}▶ {type}#{id4} {icon}", as abxbus
// prints an event; the icon is ⏳ while pending, 🏃 once started and ✅
// when completed.
func (e *Event) String() string {
	// The format: LOG-7.
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

// The label format: TIME-10.

// Label returns "{event_type}#{last 4 of id}", the short form abxbus's
// logs name an event by.
func (e *Event) Label() string { return e.Type() + "#" + e.uuid().Suffix4() }

// markStarted moves the event from pending to started.
func (e *Event) markStarted() bool {
	return e.status.CompareAndSwap(uint32(StatusPending), uint32(StatusStarted))
}

// Validation of results: RTYPE-2, RTYPE-6.

// ResultValidator checks handler results against an event's
// event_result_type. *schema.Schema implements it; a TypeMeta whose
// ResultType implements it (see wire.Declare), or an event decoded with its
// own schema, has every non-nil, non-event handler result validated, and a
// mismatch fails that handler's row with *ResultSchemaError.
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
	return metaValidator(e.meta)
}

// metaValidator returns the result validator of an event type, nil when
// its ResultType is none.
func metaValidator(m *TypeMeta) ResultValidator {
	if rv, ok := m.resultType.(ResultValidator); ok && !isNilPointer(m.resultType) {
		return rv
	}
	return nil
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
