package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/ring"
)

// This file is the engine side of the wire codec (package wire): it exposes
// an event's serialisable state and rebuilds an event from it. It only uses
// the engine's existing internals; see the notes on RemoteBus and
// DetachedHandler for the invariants it relies on.
//
// The codec's hooks are free functions, not methods, so that they stay off
// the method sets of Event, Handler and Result, which package api
// re-exports to users: StateOf, StateInto, Restore, Bind, MetaOf, IsStub,
// DescOf, IsDetached, DetachedHandler and RemoteBus are for codecs and snapshot code, not for handlers.

// ErrDetachedHandler is the error of a handler that was restored from the
// wire and never bound to a Go function (see DetachedHandler).
var ErrDetachedHandler = errors.New("ringbus: handler restored from the wire has no function")

// flagStub marks an event known only by its id: a child listed in a
// restored result row's event_children. It uses a high bit so that it
// cannot collide with the flags declared in event.go.
const flagStub uint32 = 1 << 31

// The event JSON: wire.md §2; the rows: §3.

// EventState is the serialisable state of an event: every event_* field of
// abxbus's event JSON except event_result_type and
// event_blocks_parent_completion, which the engine does not model (they
// travel in Extra), plus the untyped payload and the result rows.
//
// Durations follow the engine's conventions: a negative value means "not
// set" (JSON null), 0 means disabled.
type EventState struct {
	// Meta is the event's type. StateOf fills it in; Restore uses it when
	// it is the type of outer (saving a registry lookup) and ignores it
	// otherwise.
	Meta *TypeMeta

	ID          ident.UUID
	Type        string
	Version     string
	Status      Status
	CreatedAt   ident.Time
	StartedAt   ident.Time // 0 = null
	CompletedAt ident.Time // 0 = null
	ParentID    ident.UUID // zero = null
	EmittedBy   ident.UUID // zero = null
	Path        []string
	// PendingBusCount is event_pending_bus_count: the buses that still have
	// to process the event, or the value read from the wire for an event
	// that was never emitted in this process.
	PendingBusCount int

	Timeout            time.Duration
	SlowTimeout        time.Duration
	HandlerTimeout     time.Duration
	HandlerSlowTimeout time.Duration
	Concurrency        EventConcurrency   // 0 = null
	HandlerConcurrency HandlerConcurrency // 0 = null
	Completion         Completion         // 0 = null

	// Fields is the payload of an untyped event (nil for typed events).
	Fields map[string]any
	// Extra holds wire fields the engine keeps but does not interpret
	// (the wire codec stores event_result_type, the blocks flag and unknown
	// keys here). It is shared, not copied: treat it as read-only.
	Extra map[string]any

	Rows []RowState
}

// RowState is the serialisable state of one result row, what abxbus's
// EventResult JSON holds.
type RowState struct {
	ID          ident.UUID
	Status      Status
	Handler     HandlerDesc
	StartedAt   ident.Time // 0 = null
	CompletedAt ident.Time // 0 = null
	Value       any        // meaningful when Status is StatusCompleted
	Err         error      // meaningful when Status is StatusError
	Children    []ident.UUID
}

// The handler JSON: WIRE-21.

// HandlerDesc describes a handler by its metadata alone, as a result row
// carries it on the wire (abxbus's EventHandler fields). It is comparable.
type HandlerDesc struct {
	ID           ident.UUID
	Name         string
	FilePath     string        // "" = null
	Pattern      string        // event type or "*"
	Timeout      time.Duration // 0 = unset (null); negative = an explicit 0 from the wire, also unset here
	SlowTimeout  time.Duration // negative = unset (null)
	RegisteredAt ident.Time
	BusID        ident.UUID
	BusName      string
}

// DescOf returns h's metadata, as a result row carries it on the wire. It
// is for codecs; the Handler methods (ID, Name, Pattern, ...) give the same
// pieces one by one.
func DescOf(h *Handler) HandlerDesc {
	d := HandlerDesc{ID: h.id, Name: h.name, FilePath: h.filePath, Pattern: h.pattern,
		Timeout: h.timeout, SlowTimeout: h.slowTimeout, RegisteredAt: h.registeredAt}
	if h.bus != nil {
		d.BusID, d.BusName = h.bus.id, h.bus.name // the name it had, not "_stopped_…"
	}
	return d
}

// MetaOf returns e's type description, the TypeMeta a codec writes and
// reads the event's payload with. Event.Type and Event.Version give the
// event_type and event_version.
func MetaOf(e *Event) *TypeMeta { return e.ensure().meta }

// StateOf returns a snapshot of e's serialisable state, what a codec
// writes (Restore is its inverse). It is safe to call while the event is
// in flight; the snapshot is then consistent per field, not across fields.
func StateOf(e *Event) EventState {
	var s EventState
	StateInto(e, &s)
	return s
}

// StateInto is StateOf writing into s, reusing the capacity of s.Path,
// s.Rows and the rows' Children slices, so that a codec that keeps one
// EventState per goroutine does not allocate.
func StateInto(e *Event, s *EventState) {
	e.ensure()
	rows := s.Rows[:0]
	path := s.Path[:0]
	e.mu.Lock()
	s.ID = e.idOf()
	s.Meta = e.meta
	s.Type = e.meta.name
	s.Version = e.meta.version
	cfg := e.config()
	s.ParentID, s.EmittedBy, s.Fields, s.Extra = ident.UUID{}, ident.UUID{}, nil, nil
	if x := e.ext; x != nil {
		if x.typ != "" {
			s.Type = x.typ
		}
		if x.version != "" {
			s.Version = x.version
		}
		s.ParentID, s.EmittedBy = x.parentID, x.emittedBy
		s.Fields, s.Extra = x.fields, x.extraJSON
	}
	for i, n := 0, e.pathLen(); i < n; i++ {
		path = append(path, e.pathAt(i))
	}
	nb, unclaimed := e.busCount(), 0
	for i := 0; i < nb; i++ {
		if _, claimed := e.busAt(i); !claimed {
			unclaimed++
		}
	}
	if nb == 0 && e.ext != nil {
		unclaimed = e.ext.pendingN
	}
	s.PendingBusCount = unclaimed
	n := e.rowCount()
	var rbuf [8]*Result
	rps := rbuf[:0]
	for i := 0; i < n; i++ {
		r := e.rowAt(i)
		rps = append(rps, r)
		var rs *RowState
		if len(rows) < cap(rows) {
			rows = rows[:len(rows)+1]
			rs = &rows[len(rows)-1]
		} else {
			rows = append(rows, RowState{})
			rs = &rows[len(rows)-1]
		}
		kids := rs.Children[:0]
		if r.ext != nil {
			for _, c := range r.ext.children {
				kids = append(kids, c.idOf())
			}
		}
		*rs = RowState{Handler: DescOf(r.handler), Children: kids, ID: r.id}
		if rs.ID.IsZero() {
			t := r.startedTime()
			if t == 0 {
				t = ident.Time(e.created.Load())
			}
			r.id = ident.NewV7At(t)
			rs.ID = r.id
		}
	}
	e.mu.Unlock()
	for i, r := range rps {
		rs := &rows[i]
		rs.Status = r.Status()
		rs.StartedAt, rs.CompletedAt = r.StartedTime(), r.CompletedTime()
		switch rs.Status {
		case StatusCompleted:
			rs.Value = r.Value()
		case StatusError:
			rs.Err = r.Error()
		}
	}
	s.Path, s.Rows = path, rows
	s.Status = e.Status()
	s.CreatedAt = ident.Time(e.created.Load())
	s.CompletedAt = ident.Time(e.completed.Load())
	s.StartedAt = e.StartedTime()
	s.Timeout, s.SlowTimeout = cfg.timeout, cfg.slowTimeout
	s.HandlerTimeout, s.HandlerSlowTimeout = cfg.handlerTimeout, cfg.handlerSlowTimeout
	s.Concurrency, s.HandlerConcurrency, s.Completion = cfg.concurrency, cfg.handlerConcurrency, cfg.completion
}

// Restore gives e, an event that has not been emitted, the state *s: id,
// type and version, lifecycle, routing, config overrides, untyped payload,
// extra wire fields and result rows (seeded rows whose handlers are
// DetachedHandler values unless s names a live handler). outer is the value
// that embeds e (the typed struct), or nil/e for an untyped event. Restore
// replaces whatever state e had. It must not run concurrently with any other
// use of e. Restore keeps s's strings, maps and values (not s itself):
// they must not alias buffers the caller reuses.
//
// A zero s.ID gets a new UUIDv7 and a zero s.CreatedAt the current time.
// Rows whose status is completed or error keep their value or error; a
// pending row is run by the first bus that processes the event and has a
// handler with the same id.
func Restore(e *Event, outer Eventer, s *EventState) error {
	// Pending rows run later: ERU-5.
	if e == nil {
		return ErrNilEvent
	}
	if outer == nil {
		outer = e
	}
	if Core(outer) != e {
		return badOption("restore: outer value does not embed the event")
	}
	if err := validEventType(s.Type); err != nil {
		return err
	}
	switch s.Status {
	case StatusPending, StatusStarted, StatusCompleted:
	default:
		return badOption("restore: event status %s", s.Status)
	}
	if s.PendingBusCount < 0 {
		return badOption("restore: negative event_pending_bus_count")
	}
	var meta *TypeMeta
	if rt := reflect.TypeOf(outer); rt == untypedBase {
		if m := s.Meta; m != nil && m.name == s.Type && m.goType == nil {
			meta = m
		} else if m, ok := metaByName.Load(s.Type); ok {
			meta = m
		} else {
			// Not registered: a stream of unknown type names must not grow
			// the process-wide registry.
			meta = &TypeMeta{name: s.Type, version: defaultEventVersion, cfg: unsetConfig}
		}
	} else if m := s.Meta; m != nil && m.goType != nil && m.goType == rt.Elem() {
		meta = m
	} else {
		meta = metaForGoType(rt)
	}
	// The rows are built before e changes, so that an invalid row leaves e
	// as it was; the usual handful is collected on the stack.
	var rbuf [4]*Result
	rows := rbuf[:0]
	for i := range s.Rows {
		r, err := seededRow(e, &s.Rows[i])
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flags&flagEmitted != 0 {
		return fmt.Errorf("%w: restore of an event that was emitted", ErrBadOption)
	}
	e.outer, e.meta = outer, meta
	e.ext = nil
	e.path0, e.row0 = "", nil
	e.flags = 0
	e.id = s.ID
	created := s.CreatedAt
	if created == 0 {
		created = ident.Now()
	}
	if e.id.IsZero() {
		e.id = ident.NewV7At(created)
	}
	e.created.Store(int64(created))
	e.status.Store(uint32(s.Status))
	if s.Status == StatusCompleted {
		c := s.CompletedAt
		if c == 0 {
			c = created
		}
		e.completed.Store(int64(c))
		if e.done != nil {
			select {
			case <-e.done:
			default:
				close(e.done)
			}
		}
	} else {
		e.completed.Store(0)
	}
	if s.Type != meta.name {
		e.extension().typ = s.Type
		e.bits.Or(bitTypeSet)
	}
	if s.Version != "" && s.Version != meta.version {
		e.extension().version = s.Version
	}
	cfg := eventConfig{timeout: s.Timeout, slowTimeout: s.SlowTimeout, handlerTimeout: s.HandlerTimeout,
		handlerSlowTimeout: s.HandlerSlowTimeout, concurrency: s.Concurrency,
		handlerConcurrency: s.HandlerConcurrency, completion: s.Completion}
	for _, d := range []*time.Duration{&cfg.timeout, &cfg.slowTimeout, &cfg.handlerTimeout, &cfg.handlerSlowTimeout} {
		if *d < 0 {
			*d = unsetDuration
		}
	}
	if cfg != unsetConfig {
		x := e.extension()
		x.cfg, x.hasCfg = cfg, true
		e.bits.Or(bitCfgSet)
	}
	if !s.ParentID.IsZero() {
		e.extension().parentID = s.ParentID
	}
	if !s.EmittedBy.IsZero() {
		e.extension().emittedBy = s.EmittedBy
	}
	if s.StartedAt != 0 && s.StartedAt != rowsStart(rows) {
		e.extension().started = s.StartedAt
	}
	if s.PendingBusCount != 0 {
		e.extension().pendingN = s.PendingBusCount
	}
	if s.Fields != nil {
		e.extension().fields = s.Fields
	}
	if s.Extra != nil {
		e.extension().extraJSON = s.Extra
	}
	for _, p := range s.Path {
		e.addPath(p)
	}
	for _, r := range rows {
		e.addRow(r)
	}
	return nil
}

// rowsStart returns the earliest start time of rows when a finished row
// has it, and 0 otherwise. StartedTime is the earliest of the stored start
// and the rows' starts, and a finished row's start never changes: an event
// start equal to rowsStart need not be stored. That is the usual case (an
// event starts with its first handler), and it spares the event its
// extension, an allocation, on every decode.
func rowsStart(rows []*Result) ident.Time {
	var t ident.Time
	final := false
	for _, r := range rows {
		s := ident.Time(r.started.Load())
		if s == 0 || t != 0 && s > t {
			continue
		}
		if s < t || t == 0 {
			t, final = s, false
		}
		final = final || r.isTerminal()
	}
	if !final {
		return 0
	}
	return t
}

// seededRow builds a restored row of e.
func seededRow(e *Event, rs *RowState) (*Result, error) {
	switch rs.Status {
	case StatusPending, StatusStarted, StatusCompleted, StatusError:
	default:
		return nil, badOption("restore: result status %s", rs.Status)
	}
	h, err := DetachedHandler(rs.Handler)
	if err != nil {
		return nil, err
	}
	r := &Result{event: e, handler: h, id: rs.ID, flags: rowSeeded}
	if r.id.IsZero() {
		t := rs.StartedAt
		if t == 0 {
			t = ident.Now()
		}
		r.id = ident.NewV7At(t)
	}
	r.status.Store(uint32(rs.Status))
	r.started.Store(int64(rs.StartedAt))
	r.completed.Store(int64(rs.CompletedAt))
	switch rs.Status {
	case StatusCompleted:
		r.out = rs.Value
	case StatusError:
		if rs.Err == nil {
			r.out = errors.New("ringbus: unknown handler error")
		} else {
			r.out = rs.Err
		}
	}
	if len(rs.Children) > 0 {
		kids := make([]*Event, len(rs.Children))
		stubs := make([]Event, len(rs.Children))
		for i, id := range rs.Children {
			c := &stubs[i]
			c.id = id
			c.meta = stubMeta
			c.outer = c
			c.flags = flagStub
			c.created.Store(int64(ident.Time(1)))
			kids[i] = c
		}
		r.ext = &rowExt{children: kids}
	}
	return r, nil
}

// Bind returns the engine event behind outer, like Core, after giving a
// never-used event its identity as Emit would: outer becomes its payload
// value and its type is outer's Go type. (A getter called on a typed event
// before its first Emit initialises it without knowing outer, as the
// untyped "BaseEvent"; Bind corrects that.) It returns nil for a nil outer.
func Bind(outer Eventer) *Event {
	e := Core(outer)
	if e == nil {
		return nil
	}
	if e.created.Load() != 0 && e.outer != nil {
		return e
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.initLocked(outer)
	if rt := reflect.TypeOf(outer); rt != untypedBase && e.meta.goType == nil && e.flags&flagEmitted == 0 {
		e.meta = metaForGoType(rt)
	}
	return e
}

// IsEmitted reports whether e was emitted on a bus of this process.
func (e *Event) IsEmitted() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flags&flagEmitted != 0
}

// stubMeta is the type of child events known only by id.
var stubMeta = &TypeMeta{name: "BaseEvent", version: defaultEventVersion, cfg: unsetConfig}

// IsStub reports whether e is a placeholder for an event known only by its
// id: an entry of a restored result row's event_children. A stub never
// runs; re-linking it to the real event is the job of a bus restore (see
// RelinkChildren).
func IsStub(e *Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flags&flagStub != 0
}

// --- detached handlers and remote buses ---

const remoteCacheLimit = 4096

var (
	remoteDomain  = NewDomain()
	remoteLogger  = slog.New(slog.NewTextHandler(io.Discard, nil))
	remoteBuses   = xsync.NewMap[remoteKey, *Bus]()
	remoteBusN    atomic.Int64
	detached      = xsync.NewMap[HandlerDesc, *Handler]()
	detachedN     atomic.Int64
	remoteBusMu   sync.Mutex
	detachedNoRun = func(context.Context, *Event) (any, error) { return nil, ErrDetachedHandler }
)

type remoteKey struct {
	id   ident.UUID
	name string
}

// RemoteBus returns a placeholder for a bus known only by its id and name:
// the bus of a result row read from the wire. It is a closed bus of a
// private domain, so every Bus method is safe on it (Emit and On return
// ErrBusClosed); Name, ID and Label report the given identity. Placeholders
// are small (about 1.4 KB with their identity and label: they share one
// closed queue and one empty handler table) and cached, so the same identity gives the same *Bus up to
// a bounded number of identities; nothing else keeps them.
func RemoteBus(id ident.UUID, name string) *Bus {
	if name == "" {
		name = "EventBus"
	}
	k := remoteKey{id, name}
	if b, ok := remoteBuses.Load(k); ok {
		return b
	}
	remoteBusMu.Lock()
	defer remoteBusMu.Unlock()
	if b, ok := remoteBuses.Load(k); ok {
		return b
	}
	name = strings.Clone(name)
	k.name = name
	b := newRemoteBus(id, name)
	if remoteBusN.Add(1) <= remoteCacheLimit {
		remoteBuses.Store(k, b)
	}
	return b
}

// The parts every placeholder bus shares. A closed bus never writes to
// them: Push on the closed queue fails, registration is refused before it
// touches the handler table, and nothing is tracked on a bus that is not
// open.
var (
	remoteQueue   = closedQueue()
	remoteStopped = closedChan()
)

func closedQueue() *ring.Queue[*Event] {
	q := ring.New[*Event]()
	q.Close()
	return q
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// newRemoteBus builds the closed placeholder bus of RemoteBus: a Bus in the
// state Close leaves one in, registered nowhere (its domain's registry
// stays empty, so a stream of peers cannot grow it: issue 9, item 2.2),
// with the shared parts above instead of a queue of its own (its handler
// table and tracked set are empty zero values, which allocate nothing).
func newRemoteBus(id ident.UUID, name string) *Bus {
	cfg := defaultBusConfig()
	cfg.id, cfg.domain, cfg.logger = id, remoteDomain, remoteLogger
	b := &Bus{
		id:      id,
		name:    name,
		cfg:     cfg,
		domain:  remoteDomain,
		logger:  remoteLogger,
		queue:   remoteQueue,
		stopped: remoteStopped,
	}
	b.hist.setLimit(cfg.maxHistory, cfg.historyDrop)
	b.state.Store(busClosed)
	b.setLabel(name)
	return b
}

// DetachedHandler returns a handler described by d alone: its bus is
// RemoteBus(d.BusID, d.BusName) and its function fails with
// ErrDetachedHandler. It is what result rows read from the wire point to.
// Missing pieces default as abxbus defaults them (name "anonymous",
// pattern "*", bus name "EventBus"); a zero d.ID is derived from the rest,
// as the handler ids of registered handlers are.
// Handlers are cached by d (up to a bounded number). DetachedHandler keeps
// copies of d's strings, never d's own, so they may alias a buffer the
// caller reuses.
func DetachedHandler(d HandlerDesc) (*Handler, error) {
	// The defaults: WIRE-19; the derived id: TIME-8.
	if d.Name == "" {
		d.Name = defaultHandlerName
	}
	if d.Pattern == "" {
		d.Pattern = Wildcard
	}
	if d.BusName == "" {
		d.BusName = "EventBus"
	}
	if d.Timeout < 0 {
		d.Timeout = -1 // TypeScript's handler_timeout 0: kept for the wire, unset here (TIMEOUT-3)
	}
	if d.SlowTimeout < 0 {
		d.SlowTimeout = unsetDuration
	}
	if d.ID.IsZero() {
		fp := d.FilePath
		if fp == "" {
			fp = "unknown"
		}
		d.ID = ident.HandlerID(d.BusID.String(), d.Name, fp, d.RegisteredAt.String(), d.Pattern)
	}
	// Fast path: the handler last seen with this id, if its description is
	// d exactly (plain field equality, no hashing of the strings).
	slot := &detachedRecent[detachedSlot(d.ID)]
	c := slot.Load()
	if c != nil && c.d == d {
		return c.h, nil
	}
	if h, ok := detached.Load(d); ok {
		if c == nil {
			slot.CompareAndSwap(nil, &detachedEntry{d: DescOf(h), h: h})
		}
		return h, nil
	}
	// d's strings may alias a decoder's input buffer: keep copies only.
	d.Name, d.FilePath, d.Pattern, d.BusName = strings.Clone(d.Name), strings.Clone(d.FilePath), strings.Clone(d.Pattern), strings.Clone(d.BusName)
	h := &Handler{id: d.ID, name: d.Name, filePath: d.FilePath, registeredAt: d.RegisteredAt,
		pattern: d.Pattern, bus: RemoteBus(d.BusID, d.BusName), fn: detachedNoRun,
		timeout: d.Timeout, slowTimeout: d.SlowTimeout}
	h.setIDText()
	if detachedN.Add(1) <= remoteCacheLimit {
		if old, loaded := detached.LoadOrStore(d, h); loaded {
			h = old
		}
		// Only handlers that detached holds go into detachedRecent, so
		// both levels give the same *Handler for the same description.
		if c == nil {
			slot.CompareAndSwap(nil, &detachedEntry{d: DescOf(h), h: h})
		}
	}
	return h, nil
}

// detachedRecent is a small direct-mapped cache in front of detached,
// indexed by handler id. A lookup in detached hashes every string of the
// description; the rows of a stream of events name the same few handlers
// over and over, and checking the slot's entry by equality is much cheaper.
// Entries are immutable and hold handlers of detached only; a slot is
// filled once and never replaced (like detached, whose entries stay), so
// ids that share a slot cannot make each lookup allocate a new entry.
var detachedRecent [256]atomic.Pointer[detachedEntry]

type detachedEntry struct {
	d HandlerDesc // DescOf(h), the description h is cached under
	h *Handler
}

// detachedSlot picks id's slot from bytes that vary between ids of every
// kind: the last one (random in v4 and v7, hash output in v5).
func detachedSlot(id ident.UUID) byte { return id[len(id)-1] ^ id[7] }

// IsDetached reports whether h was made by DetachedHandler: a handler a
// decoded result row points to, with no function.
func IsDetached(h *Handler) bool {
	return h.bus != nil && h.bus.domain == remoteDomain
}
