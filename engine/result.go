package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// Result rows: RES; the handler context's values CTX-1.

// Result is one handler's result row for one event. It records the
// handler, status, value or error, timings and the child events the handler
// emitted.
//
// The context a handler receives is bound to its row: its values are those
// of the context the event was emitted with; its Done channel closes
// when the handler is timed out, aborted or the bus stops, and once the
// handler has returned. Cause reports why.
//
// Getters are safe for concurrent use. A Result must not be copied.
type Result struct {
	_ noCopy

	event   *Event
	handler *Handler
	id      ident.UUID
	status  atomic.Uint32
	flags   uint32 // set before the handler starts; read-only afterwards

	started   atomic.Int64 // ident.Time
	completed atomic.Int64 // ident.Time
	deadline  atomic.Int64 // ident.Since reading at which the ctx expires, 0 none

	// out is the handler's value once the row is Completed and its error
	// once it is Error (RES-5, ERR-1): one word pair for both keeps a row
	// at 96 bytes, so that a row chunk holds more rows and the GC runs
	// less often. Read it through Value and errOut, which check the status.
	out any

	sig atomic.Pointer[rowSignal]
	ext *rowExt // guarded by event.mu
}

const (
	rowHoldsBusLock    uint32 = 1 << iota // the processing holds its bus's event lock
	rowHoldsGlobalLock                    // the processing holds the domain lock
	rowHoldsEventLock                     // the processing holds the event's handler lock
	rowForwarder                          // the handler forwards to another bus
	rowSeeded                             // created from wire data, not by processing
)

type rowExt struct {
	children []*Event
	jumps    []*processing // events processed inside this handler (queue-jumps)
	jumpFrom *Result       // the handler that queue-jumped this row's event
	proc     *processing   // set for rows of parallel-handler processings
}

func (r *Result) extension() *rowExt {
	if r.ext == nil {
		r.ext = &rowExt{}
	}
	return r.ext
}

// jumpParent returns the handler row inside which this row's event is being
// processed (a queue-jump), or nil.
func (r *Result) jumpParent() *Result {
	r.event.mu.Lock()
	defer r.event.mu.Unlock()
	if r.ext == nil {
		return nil
	}
	return r.ext.jumpFrom
}

func (r *Result) processing() *processing {
	r.event.mu.Lock()
	defer r.event.mu.Unlock()
	if r.ext == nil {
		return nil
	}
	return r.ext.proc
}

type rowSignal struct {
	done   chan struct{}
	once   sync.Once
	cause  error
	expiry bool // cause was a deadline

	// The functions registered with hctx.AfterFunc that are still to run;
	// fired is set, under mu, once done is closed.
	mu     sync.Mutex
	fired  bool
	afters map[*afterFunc]struct{}
}

// afterFunc is one hctx.AfterFunc registration.
type afterFunc struct {
	s *rowSignal
	f func()
}

func (s *rowSignal) fire(cause error, deadline bool) {
	s.once.Do(func() {
		s.cause = cause
		s.expiry = deadline
		close(s.done)
		s.mu.Lock()
		s.fired = true
		afters := s.afters
		s.afters = nil
		s.mu.Unlock()
		for a := range afters {
			go a.f()
		}
	})
}

// afterFunc registers f to run on its own goroutine once the signal fires,
// at once if it has fired.
func (s *rowSignal) afterFunc(f func()) (stop func() bool) {
	a := &afterFunc{s: s, f: f}
	s.mu.Lock()
	if s.fired {
		s.mu.Unlock()
		go f()
		return a.stop
	}
	if s.afters == nil {
		s.afters = make(map[*afterFunc]struct{})
	}
	s.afters[a] = struct{}{}
	s.mu.Unlock()
	return a.stop
}

// stop unregisters a; it reports whether a was still to run.
func (a *afterFunc) stop() bool {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.afters[a]; !ok {
		return false
	}
	delete(s.afters, a)
	return true
}

// TIME-9.

// ID returns the row's id (a UUIDv7 string).
func (r *Result) ID() string { return r.UUID().String() }

// UUID returns the row's id. It is made on first use, stamped with the
// row's start (or its event's creation) time, so that rows nobody reads
// cost no id generation.
func (r *Result) UUID() ident.UUID {
	e := r.event
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.id.IsZero() {
		t := r.startedTime()
		if t == 0 {
			t = ident.Time(e.created.Load())
		}
		r.id = ident.NewV7At(t)
	}
	return r.id
}

// Event returns the event the row belongs to.
func (r *Result) Event() *Event { return r.event }

// Handler returns the handler that produced the row.
func (r *Result) Handler() *Handler { return r.handler }

// HandlerID returns the handler's id.
func (r *Result) HandlerID() string { return r.handler.ID() }

// HandlerName returns the handler's name.
func (r *Result) HandlerName() string { return r.handler.Name() }

// Bus returns the bus that ran (or will run) the handler.
func (r *Result) Bus() *Bus { return r.handler.bus }

// Status returns the row status. A row whose outcome is being written
// reports Started.
func (r *Result) Status() Status {
	s := Status(r.status.Load())
	if s == statusFinishing {
		return StatusStarted
	}
	return s
}

// Value returns the handler's return value: nil unless the status is
// Completed. For a forwarding handler it is the forwarded event.
func (r *Result) Value() any {
	// A forwarder's value: FWD-6.
	if Status(r.status.Load()) != StatusCompleted {
		return nil
	}
	return r.out
}

// Error returns the handler's error, nil unless the status is Error.
func (r *Result) Error() error {
	if Status(r.status.Load()) != StatusError {
		return nil
	}
	return r.errOut()
}

// errOut is out as an error: the row's error when its status is Error
// (the caller checks the status).
func (r *Result) errOut() error {
	err, _ := r.out.(error)
	return err
}

// StartedAt returns when the handler started, zero if it has not.
func (r *Result) StartedAt() time.Time { return r.startedTime().Std() }

func (r *Result) startedTime() ident.Time { return ident.Time(r.started.Load()) }

// StartedTime is StartedAt as an ident.Time.
func (r *Result) StartedTime() ident.Time { return r.startedTime() }

// CompletedAt returns when the row reached Completed or Error.
func (r *Result) CompletedAt() time.Time { return ident.Time(r.completed.Load()).Std() }

// CompletedTime is CompletedAt as an ident.Time.
func (r *Result) CompletedTime() ident.Time { return ident.Time(r.completed.Load()) }

// Timeout returns the effective timeout applied to the handler, 0 for none:
// the smaller of the handler's resolved timeout and the event's.
func (r *Result) Timeout() time.Duration {
	// TIMEOUT-1.
	e := r.event
	e.mu.Lock()
	ic := e.config()
	e.mu.Unlock()
	return rowTimeout(r.handler, &ic, &e.meta.cfg)
}

// Children returns the events this handler emitted.
func (r *Result) Children() []*Event {
	// CHILD-1.
	r.event.mu.Lock()
	defer r.event.mu.Unlock()
	if r.ext == nil {
		return nil
	}
	return append([]*Event(nil), r.ext.children...)
}

// IsForwarder reports whether the row belongs to a forwarding handler.
func (r *Result) IsForwarder() bool { return r.flags&rowForwarder != 0 }

// String returns "{bus}.{handler}() -> {summary} ({status})", as abxbus
// prints a result row.
func (r *Result) String() string {
	// The format: LOG-7.
	sum := "pending"
	switch r.Status() {
	case StatusStarted:
		sum = "started"
	case StatusError:
		sum = "error:" + ErrorTypeName(r.errOut())
	case StatusCompleted:
		switch v := r.out.(type) {
		case nil:
			sum = "result:none"
		case Eventer:
			sum = "event"
		default:
			sum = "result:" + typeName(v)
		}
	}
	return r.handler.bus.Label() + "." + r.handler.Name() + "() -> " + sum + " (" + r.Status().String() + ")"
}

func (r *Result) isTerminal() bool {
	s := Status(r.status.Load())
	return s == StatusCompleted || s == StatusError
}

// startAt moves a pending row to started, stamping the process clock
// reading mono (ident.Since).
func (r *Result) startAt(mono int64) bool {
	if !r.status.CompareAndSwap(uint32(StatusPending), uint32(StatusStarted)) {
		return false
	}
	r.started.Store(int64(ident.At(time.Duration(mono))))
	return true
}

// finish records the outcome if the row is not terminal yet and reports
// whether this call decided it. Late outcomes of timed-out handlers lose
// (TIMEOUT-8).
func (r *Result) finish(value any, err error, from Status) bool {
	return r.finishAt(value, err, from, monoNow())
}

// finishAt is finish with the clock reading mono (ident.Since) supplied.
func (r *Result) finishAt(value any, err error, from Status, mono int64) bool {
	if !r.status.CompareAndSwap(uint32(from), uint32(statusFinishing)) {
		return false
	}
	now := ident.At(time.Duration(mono))
	if r.started.Load() == 0 && from == StatusStarted {
		r.started.Store(int64(now))
	}
	r.completed.Store(int64(now))
	st := StatusCompleted
	if err != nil {
		st = StatusError
		r.out = err
	} else if value != nil || r.out != nil {
		r.out = value
	}
	r.status.Store(uint32(st))
	return true
}

// cancel closes the row's context with cause.
func (r *Result) cancel(cause error, deadline bool) {
	r.signal().fire(cause, deadline)
}

func (r *Result) signal() *rowSignal {
	if s := r.sig.Load(); s != nil {
		return s
	}
	s := &rowSignal{done: make(chan struct{})}
	if !r.sig.CompareAndSwap(nil, s) {
		return r.sig.Load()
	}
	if r.isTerminal() {
		s.fire(r.stopCause())
	}
	return s
}

// stopCause is the cause of a terminal row's context: its own timeout,
// abort or cancellation error, else context.Canceled (the handler returned).
func (r *Result) stopCause() (error, bool) {
	if Status(r.status.Load()) != StatusError {
		return context.Canceled, false
	}
	// out is read after the status: Error is stored after it was written.
	if err := r.errOut(); isOwnError(err) {
		_, timeout := err.(*HandlerTimeoutError)
		ab, aborted := err.(*HandlerAbortedError)
		return err, timeout || aborted && (ab.Reason == ReasonEventTimeout || ab.Reason == ReasonParentTimeout)
	}
	return context.Canceled, false
}

// released closes the context once the handler has returned.
func (r *Result) released() {
	if s := r.sig.Load(); s != nil {
		s.fire(context.Canceled, false)
	}
}

// --- context.Context ---

// hctx is the context a handler receives. It is pointer-shaped, so turning
// it into a context.Context does not allocate.
type hctx struct{ r *Result }

// Deadline returns the handler's deadline, if it has one.
func (c hctx) Deadline() (time.Time, bool) {
	d := c.r.deadline.Load()
	if d == 0 {
		return time.Time{}, false
	}
	return time.Now().Add(time.Duration(d - int64(ident.Since()))), true
}

// Done returns a channel closed when the handler must stop.
func (c hctx) Done() <-chan struct{} { return c.r.signal().done }

// Err returns nil while the handler may run, context.DeadlineExceeded after a
// timeout and context.Canceled otherwise. Cause gives the precise reason.
func (c hctx) Err() error {
	s := c.r.sig.Load()
	if s == nil {
		if c.r.isTerminal() {
			return context.Canceled
		}
		return nil
	}
	select {
	case <-s.done:
		if s.expiry {
			return context.DeadlineExceeded
		}
		return context.Canceled
	default:
		return nil
	}
}

type rowKey struct{}

// Value returns the values of the context the event was emitted with.
func (c hctx) Value(key any) any {
	if key == (rowKey{}) {
		return c.r
	}
	if ctx := c.r.event.valuesCtx(); ctx != nil {
		return ctx.Value(key)
	}
	return nil
}

func (c hctx) String() string { return "ringbus.HandlerContext(" + c.r.handler.Name() + ")" }

// AfterFunc arranges to call f on its own goroutine once the handler
// context is done (see Done), or at once if it is done already, as
// context.AfterFunc does. Calling the returned stop function unregisters f:
// it reports true if that kept f from being run, and false if f has been
// started already or stop was called before. Registrations are
// independent of one another.
//
// Contexts derived from a handler context (context.WithTimeout,
// context.WithCancel, and so every net or database call that derives one)
// use this method to follow the handler context's cancellation, so
// deriving one starts no goroutine.
func (c hctx) AfterFunc(f func()) (stop func() bool) {
	return c.r.signal().afterFunc(f)
}

// Cause returns why a handler context was stopped: a *HandlerTimeoutError,
// *HandlerAbortedError, *HandlerCancelledError, ErrStopped, or
// context.Canceled once the handler returned. For a context derived from a
// handler context (context.WithTimeout, say) it is the handler context's
// cause once that is stopped, and the derived context's own cause
// (context.Cause) when only the derived one is done. For any other context
// it is context.Cause(ctx). It returns nil while the context is live.
func Cause(ctx context.Context) error {
	r := handlerRow(ctx)
	if r == nil {
		return context.Cause(ctx)
	}
	if s := r.sig.Load(); s != nil {
		select {
		case <-s.done:
			return s.cause
		default:
		}
	} else if err := (hctx{r}).Err(); err != nil {
		return err
	}
	if _, own := ctx.(hctx); own {
		return nil
	}
	return context.Cause(ctx) // derived: its own deadline or cancel
}

// handlerRow returns the running handler row carried by ctx, if any.
func handlerRow(ctx context.Context) *Result {
	if ctx == nil {
		return nil
	}
	if c, ok := ctx.(hctx); ok {
		return c.r
	}
	r, _ := ctx.Value(rowKey{}).(*Result)
	return r
}

// CurrentEvent returns the event whose handler ctx belongs to, or nil when
// ctx is not a handler context.
func CurrentEvent(ctx context.Context) *Event {
	if r := handlerRow(ctx); r != nil {
		return r.event
	}
	return nil
}

// CurrentBus returns the bus running the handler whose context is ctx, or
// nil outside a handler.
func CurrentBus(ctx context.Context) *Bus {
	// EVT-15.
	if r := handlerRow(ctx); r != nil {
		return r.handler.bus
	}
	return nil
}

// CurrentResult returns the result row of the handler whose context is ctx.
func CurrentResult(ctx context.Context) *Result { return handlerRow(ctx) }
