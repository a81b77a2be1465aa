package engine

import (
	"context"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/ringbus/ringbus/ident"
)

// HandlerFunc is the untyped handler signature the engine runs. Package api
// adapts typed handlers to it.
type HandlerFunc func(ctx context.Context, e *Event) (any, error)

// Wildcard is the pattern that matches every event type.
const Wildcard = "*"

// The handler's fields: HND-1.

// Handler is a registered handler. Off removes it. Its metadata is
// immutable after registration; a Handler is safe for concurrent use.
type Handler struct {
	id           ident.UUID
	name         string
	filePath     string
	registeredAt ident.Time
	pattern      string
	bus          *Bus
	fn           HandlerFunc
	timeout      time.Duration // 0 = unset (HND-6, TIMEOUT-3)
	slowTimeout  time.Duration // -1 = unset, 0 = disabled
	forwardTo    *Bus
	wrappers     []HandlerWrapper // WithWrappers; fn is already wrapped
	removed      atomic.Bool
	// fnKey is the identity of the function value the default name was
	// derived from (see funcValue), nil for a handler named explicitly:
	// the duplicate-name warning of REG-8 compares it, so that distinct
	// closures of one func literal, which share a derived name, do not warn.
	fnKey unsafe.Pointer

	// idText is the canonical text of id, formatted once before the
	// handler is published (see setIDText), so that ID neither formats nor
	// allocates. A string of its own rather than bytes inside the Handler:
	// an id a caller keeps must not keep the handler, and through it the
	// bus, reachable. Empty when not set.
	idText string
	// slot is the slot of pattern h was registered into (nil for handlers
	// that never were), so that removal needs no map lookup.
	slot *handlerSlot
	// origin is the bus identity of a handler restored from another bus's
	// snapshot (see RestoreHandler), nil for every other handler.
	origin *handlerOrigin
	// solo is the handler list of a pattern whose only handler this is:
	// registering the first handler of a pattern (one-off handlers) costs
	// no allocation beyond the Handler.
	solo handlerList
}

// HandlerOption configures a handler at registration.
type HandlerOption interface{ applyHandler(*Handler) error }

type handlerOption func(*Handler) error

func (f handlerOption) applyHandler(h *Handler) error { return f(h) }

// WithHandlerName names the handler; default the Go function name.
func WithHandlerName(name string) HandlerOption {
	// HND-2.
	return handlerOption(func(h *Handler) error {
		if name == "" {
			return badOption("empty handler name")
		}
		h.name, h.fnKey = name, nil
		return nil
	})
}

// WithHandlerTimeout sets the handler's own timeout; 0 leaves it unset.
func WithHandlerTimeout(d time.Duration) HandlerOption {
	// HND-6.
	return handlerOption(func(h *Handler) error {
		if d < 0 {
			return badOption("negative handler timeout")
		}
		h.timeout = d
		return nil
	})
}

// WithHandlerSlowTimeout sets the handler's slow-warning threshold; 0
// disables the warning for this handler.
func WithHandlerSlowTimeout(d time.Duration) HandlerOption {
	return handlerOption(func(h *Handler) error {
		if d < 0 {
			return badOption("negative handler slow timeout")
		}
		h.slowTimeout = d
		return nil
	})
}

// WithHandlerFilePath overrides the recorded source position.
func WithHandlerFilePath(path string) HandlerOption {
	return handlerOption(func(h *Handler) error { h.filePath = path; return nil })
}

// WithHandlerID gives the handler an explicit id instead of the derived
// UUIDv5.
func WithHandlerID(id string) HandlerOption {
	// HND-4.
	return handlerOption(func(h *Handler) error {
		u, err := ident.ParseUUID(id)
		if err != nil {
			return badOption("handler id: %v", err)
		}
		h.id = u
		return nil
	})
}

// WithHandlerRegisteredAt overrides handler_registered_at (for restoring
// handlers from a snapshot).
func WithHandlerRegisteredAt(t ident.Time) HandlerOption {
	return handlerOption(func(h *Handler) error { h.registeredAt = t; return nil })
}

// ID returns the handler id: the one given with WithHandlerID, else a
// UUIDv5 derived, as abxbus derives it, from the bus id, the handler's
// name, file path, registration time and pattern, so that every runtime
// gives a handler the same id.
func (h *Handler) ID() string {
	// The derivation: TIME-8.
	if h.idText == "" {
		return h.id.String()
	}
	return h.idText
}

// setIDText records the text of h.id for ID. It is called before h is
// published; idText never changes afterwards.
func (h *Handler) setIDText() { h.idText = h.id.String() }

// UUID returns the handler id as a UUID.
func (h *Handler) UUID() ident.UUID { return h.id }

// Name returns handler_name.
func (h *Handler) Name() string { return h.name }

// FilePath returns handler_file_path ("" if unknown).
func (h *Handler) FilePath() string { return h.filePath }

// RegisteredAt returns handler_registered_at.
func (h *Handler) RegisteredAt() ident.Time { return h.registeredAt }

// Pattern returns the event type the handler listens to, or "*".
func (h *Handler) Pattern() string { return h.pattern }

// Bus returns the bus the handler is registered on.
func (h *Handler) Bus() *Bus { return h.bus }

// Timeout returns the handler's own timeout, 0 when unset.
func (h *Handler) Timeout() time.Duration { return max(h.timeout, 0) }

// SlowTimeout returns the handler's slow threshold and whether it is set.
func (h *Handler) SlowTimeout() (time.Duration, bool) { return h.slowTimeout, h.slowTimeout >= 0 }

// The label format: HND-5.

// Label returns "{name}#{last 4 of id}", the form abxbus's logs name a
// handler by.
func (h *Handler) Label() string { return h.name + "#" + h.id.Suffix4() }

// IsForwarder reports whether the handler forwards events to another bus.
func (h *Handler) IsForwarder() bool { return h.forwardTo != nil }

// Registration snapshots: REG-7.

// Off unregisters the handler. Events whose processing already started keep
// running it. Off is idempotent.
func (h *Handler) Off() { h.bus.removeHandler(h) }

// funcInfo is the name and source position of a function, cached per code
// pointer: registering handlers in a loop (one-off handlers) must not pay
// for symbol lookups each time.
type funcInfo struct{ name, file string }

var (
	funcInfos = xsync.NewMap[uintptr, funcInfo]()
	homeDir   = sync.OnceValue(func() string {
		h, _ := os.UserHomeDir()
		return h
	})
)

func funcName(fn any) (name, file string) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return defaultHandlerName, ""
	}
	pc := v.Pointer()
	if fi, ok := funcInfos.Load(pc); ok {
		return fi.name, fi.file
	}
	name, file = lookupFunc(pc)
	funcInfos.Store(pc, funcInfo{name, file})
	return name, file
}

// funcValue returns the identity of the function value fn: the closure it
// points to, or the static value of a plain function or of a func literal
// that captures nothing. Two closures made by one func literal differ; one
// value registered twice is the same. nil when fn is not a non-nil func.
func funcValue(fn any) unsafe.Pointer {
	if v := reflect.ValueOf(fn); v.Kind() != reflect.Func || v.IsNil() {
		return nil
	}
	// A func value is a pointer to its closure, and an interface holding a
	// pointer-shaped value stores it as its data word.
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&fn))[1]
}

// isClosureName reports whether name, as runtime.FuncForPC spells it, is
// that of a func literal: "pkg.Outer.func1", "pkg.Outer.func1.2". A method
// value ("pkg.(*T).M-fm") or a plain function is not.
func isClosureName(name string) bool {
	i := strings.LastIndex(name, ".func")
	if i < 0 || i+5 == len(name) {
		return false
	}
	for _, c := range name[i+5:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// sameHandler reports whether h, about to be registered, duplicates o in
// the sense of REG-8: the same explicit name, or a derived name that came
// from the same function value.
func (h *Handler) sameHandler(o *Handler) bool {
	if o.name != h.name || h.name == defaultHandlerName {
		return false
	}
	return h.fnKey == nil || o.fnKey == nil || h.fnKey == o.fnKey
}

func lookupFunc(pc uintptr) (name, file string) {
	f := runtime.FuncForPC(pc)
	if f == nil {
		return defaultHandlerName, ""
	}
	name = f.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	path, line := f.FileLine(f.Entry())
	if home := homeDir(); home != "" && strings.HasPrefix(path, home) {
		path = "~" + path[len(home):]
	}
	if path != "" {
		file = path + ":" + strconv.Itoa(line)
	}
	return name, file
}

// handlerList is an immutable snapshot of the handlers of one pattern, in
// registration order. Registration appends in place past the snapshot's
// length (readers never see those slots); removal copies.
type handlerList struct {
	hs  []*Handler
	one [1]*Handler // backing array of hs for a single handler: one allocation
}

// handlerSlot holds the current handlerList of one pattern; readers load it
// without a lock, registration swaps it under the bus's hmu.
type handlerSlot struct {
	list atomic.Pointer[handlerList]
}

// newHandlerList returns the snapshot hs + h. It appends in place when hs
// has room past its length: no reader of an older snapshot looks there. A
// list of h alone is h's own solo list, which h fills once, while it is not
// yet published.
func newHandlerList(hs []*Handler, h *Handler) *handlerList {
	if len(hs) == 0 {
		l := &h.solo
		l.one[0] = h
		l.hs = l.one[:]
		return l
	}
	return &handlerList{hs: append(hs, h)}
}

// without returns the snapshot minus h, or nil when nothing is left.
func (l *handlerList) without(h *Handler) *handlerList {
	n := 0
	for _, o := range l.hs {
		if o != h {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	hs := make([]*Handler, 0, n)
	for _, o := range l.hs {
		if o != h {
			hs = append(hs, o)
		}
	}
	return &handlerList{hs: hs}
}
