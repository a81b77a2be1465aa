package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// Bridge connects buses in different processes over a Transport: events
// given to Emit are sent as abxbus event JSON, and events received are
// emitted on the bridge's own inbound bus, whose handlers (On) see them.
// Connect wires a bridge to an application bus both ways.
//
// A Bridge is safe for concurrent use. Sending is asynchronous and
// batched: Emit encodes the event and queues it, and one writer hands the
// queue to the transport in batches (see WithSyncEmit and Flush).
type Bridge struct {
	t       Transport
	cfg     config
	name    string
	inbound *api.Bus
	canSend bool

	mu    sync.Mutex
	state int // stateNew, stateStarting, stateStarted
	// closeGaveUp says Close stopped waiting for a Start in progress, which
	// then shuts the bridge down itself. Exactly one of the two shuts down:
	// they decide under mu.
	closeGaveUp bool
	startDone   chan struct{} // closed when a Start attempt ends
	bg          sync.WaitGroup

	started atomic.Bool // state == stateStarted, for Emit's fast path
	closed  atomic.Bool
	closing chan struct{} // closed first thing by Close
	emitMu  sync.RWMutex  // Emit holds it shared between its check and its enqueue
	queue   chan outItem
	drain   chan struct{} // closed once no Emit can enqueue: the writer drains and exits

	runCtx     context.Context // cancelled when Close gives up waiting for the writer
	cancelRun  context.CancelFunc
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	stats counters
}

const (
	stateNew = iota
	stateStarting
	stateStarted
)

type outItem struct {
	msg  Message
	buf  *[]byte    // Data's buffer, back to the pool once sent
	done chan error // nil unless someone waits for this item
	mark bool       // a Flush marker, no message
}

type counters struct {
	sent, received, delivered, invalid, sendErrors, lost, undelivered, disconnects atomic.Uint64
}

// New returns a bridge that moves events over t. It does not connect:
// Start does, and so do the first Emit and the first On.
func New(t Transport, opts ...Option) (*Bridge, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil transport", ErrConfig)
	}
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	name := cfg.name
	if name == "" {
		name = t.Kind() + "_" + randomSuffix()
	}
	busOpts := append([]api.Option{
		api.WithMaxHistory(0),
		api.WithMaxQueue(cfg.inboundQueue),
		api.WithLogger(cfg.logger),
	}, cfg.busOpts...)
	inbound, err := api.NewBus(name, busOpts...)
	if err != nil {
		return nil, fmt.Errorf("ringbus: bridge %s: inbound bus: %w", name, err)
	}
	b := &Bridge{
		t:       t,
		cfg:     cfg,
		name:    name,
		inbound: inbound,
		canSend: true,
		closing: make(chan struct{}),
		drain:   make(chan struct{}),
		queue:   make(chan outItem, cfg.queueSize),
	}
	if s, ok := t.(interface{ CanSend() bool }); ok {
		b.canSend = s.CanSend()
	}
	b.runCtx, b.cancelRun = context.WithCancel(context.Background())
	return b, nil
}

// randomSuffix returns 8 random base-36 characters, as abxbus's
// TypeScript bridges end their default names.
func randomSuffix() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b[:])
}

// Name returns the bridge's name, which is also its inbound bus's name.
func (b *Bridge) Name() string { return b.name }

// Label returns the inbound bus's label ("name#abcd"), the entry a
// received event gets in its event_path on this bridge.
func (b *Bridge) Label() string { return b.inbound.Label() }

// Start connects the transport and starts listening. It is idempotent and
// safe to call concurrently: callers that arrive while another Start is
// connecting wait for it (bounded by their ctx) and share its result. A
// Start that failed may be tried again. After Close it returns ErrClosed.
func (b *Bridge) Start(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.closed.Load() {
			b.mu.Unlock()
			return ErrClosed
		}
		switch b.state {
		case stateStarted:
			b.mu.Unlock()
			return nil
		case stateStarting:
			done := b.startDone
			b.mu.Unlock()
			select {
			case <-done:
				continue // look at what that attempt left
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		b.state = stateStarting
		done := make(chan struct{})
		b.startDone = done
		b.mu.Unlock()

		err := b.t.Open(ctx, inbox{b})
		b.mu.Lock()
		if err != nil {
			b.state = stateNew
			close(done)
			b.mu.Unlock()
			return fmt.Errorf("ringbus: bridge %s: start: %w", b.name, err)
		}
		b.state = stateStarted
		b.writerDone = make(chan struct{})
		go b.writer()
		b.started.Store(true)
		close(done)
		gaveUp, closed := b.closeGaveUp, b.closed.Load()
		b.mu.Unlock()
		if gaveUp {
			// Close gave up waiting for this Start: finish its work.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.shutdown(ctx)
		}
		if closed {
			return ErrClosed // Close, still waiting, shuts down
		}
		return nil
	}
}

// startInBackground starts the bridge without waiting, as abxbus's on()
// does; a failure goes to the error handler.
func (b *Bridge) startInBackground() {
	b.mu.Lock()
	if b.state != stateNew || b.closed.Load() {
		b.mu.Unlock()
		return
	}
	b.bg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.bg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-b.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := b.Start(ctx); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			b.report(err)
		}
	}()
}

// On registers h on the bridge's inbound bus for events of type pattern
// ("*" for every event) received from the transport, and starts the
// bridge in the background if it has not started. Events this process
// sent come back too on transports that echo (all but HTTP and the Unix
// socket); their event_path shows where they came from.
func (b *Bridge) On(pattern string, h func(ctx context.Context, e *api.BaseEvent) (any, error), opts ...api.HandlerOption) (*api.Handler, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	var hd *api.Handler
	var err error
	if pattern == "*" {
		hd, err = api.OnAll(b.inbound, h, opts...)
	} else {
		hd, err = api.OnType(b.inbound, pattern, h, opts...)
	}
	if err != nil {
		return nil, err
	}
	b.startInBackground()
	return hd, nil
}

// Emit sends e to the bridge's peers. It starts the bridge if needed,
// encodes e now (later changes to e are not sent) and queues it; it waits
// only while the queue is full, bounded by ctx, unless WithSyncEmit asks it
// to wait until the transport has taken the event. It fails with
// ErrClosed after Close, ErrCannotSend on a listen-only bridge, and an
// error from package wire when e cannot be encoded.
//
// A handler registered on an application bus can call Emit to forward
// events (see Forward and Connect).
func (b *Bridge) Emit(ctx context.Context, e api.Eventer) error {
	if !b.canSend {
		return ErrCannotSend
	}
	if b.closed.Load() {
		return ErrClosed
	}
	if !b.started.Load() {
		if err := b.Start(ctx); err != nil {
			return err
		}
	}
	bufp := bufPool.Get().(*[]byte)
	data, err := b.cfg.enc.Append((*bufp)[:0], e)
	if err != nil {
		bufPool.Put(bufp)
		return fmt.Errorf("ringbus: bridge %s: %w", b.name, err)
	}
	*bufp = data
	it := outItem{msg: Message{Data: data}, buf: bufp}
	if p := b.cfg.propagator; p != nil {
		h := make(map[string]string, 2)
		p.Inject(ctx, h)
		if len(h) > 0 {
			it.msg.Header = h
		}
	}
	if b.cfg.syncEmit {
		it.done = make(chan error, 1)
	}
	if err := b.enqueue(ctx, it); err != nil {
		bufPool.Put(bufp)
		return err
	}
	if it.done == nil {
		return nil
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bridge) enqueue(ctx context.Context, it outItem) error {
	b.emitMu.RLock()
	defer b.emitMu.RUnlock()
	if b.closed.Load() {
		return ErrClosed
	}
	select {
	case b.queue <- it:
		return nil
	default:
	}
	select {
	case b.queue <- it:
		return nil
	case <-b.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Forward is Emit as a handler: register it on an application bus to send
// every event the bus handles (api.OnAll(bus, b.Forward)). It returns no
// value, so the forwarding row's result is nil, as abxbus's Python bridges
// record it.
func (b *Bridge) Forward(ctx context.Context, e *api.BaseEvent) (any, error) {
	return nil, b.Emit(ctx, e)
}

// Connect wires the bridge to bus both ways, as abxbus documents: every
// event bus handles is sent (a "*" handler calling Emit), and every event
// received is emitted on bus. An event that already passed through bus
// (its event_path holds bus's label) is not emitted on it again, which is
// what keeps a bridge from looping a process's own events back into it.
func (b *Bridge) Connect(bus *api.Bus) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if b.canSend {
		if _, err := api.OnAll(bus, b.Forward, api.WithHandlerName(b.name+".emit")); err != nil {
			return err
		}
	}
	_, err := b.On("*", func(ctx context.Context, e *api.BaseEvent) (any, error) {
		return nil, bus.Emit(ctx, e)
	}, api.WithHandlerName(bus.Label()+".emit"))
	return err
}

// Flush waits until every event emitted before it was called has been
// handed to the transport (or reported lost), bounded by ctx.
func (b *Bridge) Flush(ctx context.Context) error {
	if !b.started.Load() {
		return nil
	}
	it := outItem{mark: true, done: make(chan error, 1)}
	if err := b.enqueue(ctx, it); err != nil {
		return err
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the bridge: it sends what Emit queued (bounded by ctx;
// what it cannot send in time is reported as a *LostError), stops
// listening, releases the transport's connections and stops the inbound
// bus. When Close returns, no goroutine of the bridge runs. It returns
// ctx's error if it had to give up waiting. Close is idempotent.
func (b *Bridge) Close(ctx context.Context) error {
	first := false
	b.closeOnce.Do(func() {
		first = true
		b.mu.Lock()
		b.closed.Store(true)
		close(b.closing)
		b.mu.Unlock()
		// Wait out every Emit that passed its closed check: after this
		// nothing enters the queue.
		b.emitMu.Lock()
		b.emitMu.Unlock() //nolint:staticcheck // SA2001: the empty section is the barrier
		b.closeErr = b.finish(ctx)
	})
	if !first {
		return nil
	}
	return b.closeErr
}

// finish waits for a Start in progress, then shuts down.
func (b *Bridge) finish(ctx context.Context) error {
	b.mu.Lock()
	state, done := b.state, b.startDone
	b.mu.Unlock()
	if state == stateStarting {
		select {
		case <-done:
		case <-ctx.Done():
			b.mu.Lock()
			state = b.state
			if state == stateStarting {
				// Start finishes the shutdown when its Open returns.
				b.closeGaveUp = true
				b.mu.Unlock()
				return errors.Join(ctx.Err(), b.inbound.Stop(ctx))
			}
			b.mu.Unlock()
			if state == stateStarted {
				return errors.Join(ctx.Err(), b.shutdown(ctx))
			}
			return errors.Join(ctx.Err(), b.inbound.Stop(ctx))
		}
		b.mu.Lock()
		state = b.state
		b.mu.Unlock()
	}
	if state != stateStarted {
		b.bg.Wait()
		return b.inbound.Stop(ctx)
	}
	return b.shutdown(ctx)
}

// shutdown drains the queue, closes the transport and the inbound bus.
func (b *Bridge) shutdown(ctx context.Context) error {
	close(b.drain)
	var gaveUp error
	select {
	case <-b.writerDone:
	case <-ctx.Done():
		gaveUp = ctx.Err()
		b.cancelRun()
		<-b.writerDone
	}
	b.cancelRun()
	err := b.t.Close(ctx)
	b.bg.Wait()
	return errors.Join(gaveUp, err, b.inbound.Stop(ctx))
}

// Stats counts what a bridge did since New.
type Stats struct {
	Sent        uint64 // messages handed to the transport
	Received    uint64 // messages the transport read
	Delivered   uint64 // received events emitted on the inbound bus
	Invalid     uint64 // received messages dropped as invalid or too large
	SendErrors  uint64 // failed sends (each retry counts)
	Lost        uint64 // accepted events reported lost before they were sent
	Undelivered uint64 // received messages the inbound bus did not take (it closed)
	Disconnects uint64 // connections lost and reconnected
	Queued      int    // events waiting to be sent
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Sent:        b.stats.sent.Load(),
		Received:    b.stats.received.Load(),
		Delivered:   b.stats.delivered.Load(),
		Invalid:     b.stats.invalid.Load(),
		SendErrors:  b.stats.sendErrors.Load(),
		Lost:        b.stats.lost.Load(),
		Undelivered: b.stats.undelivered.Load(),
		Disconnects: b.stats.disconnects.Load(),
		Queued:      len(b.queue),
	}
}

// report counts err and hands it to the error handler.
func (b *Bridge) report(err error) {
	var lost *LostError
	switch {
	case errors.As(err, &lost):
		b.stats.lost.Add(uint64(lost.Count))
	case errors.Is(err, ErrDisconnected):
		b.stats.disconnects.Add(1)
	}
	b.hand(err)
}

// hand passes err to the error handler, or logs it, without counting it.
func (b *Bridge) hand(err error) {
	if h := b.cfg.onError; h != nil {
		h(err)
		return
	}
	b.cfg.logger.Warn("ringbus: bridge error", slog.String("bridge", b.name), slog.Any("err", err))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// inbox is the Inbox a bridge gives its transport.
type inbox struct{ b *Bridge }

func (in inbox) Report(err error) { in.b.report(err) }

func (in inbox) Deliver(ctx context.Context, m Message) { _ = in.Accept(ctx, m) }

func (in inbox) Accept(ctx context.Context, m Message) error {
	// BR-4: decode, event_reset (a new id; path, parent and created time
	// kept), emit on the inbound bus. Bad input is dropped and reported,
	// never returned to the transport's listener as a reason to stop; a
	// transport that answers its sender (HTTP) learns the outcome here.
	b := in.b
	b.stats.received.Add(1)
	if len(m.Data) > b.cfg.maxMessage {
		b.stats.invalid.Add(1)
		err := fmt.Errorf("%w: %d bytes on bridge %s, at most %d accepted", ErrMessageTooLarge, len(m.Data), b.name, b.cfg.maxMessage)
		b.report(err)
		return err
	}
	dec := b.cfg.dec
	dec.Reset = true
	ev, err := dec.Unmarshal(m.Data)
	if err != nil {
		b.stats.invalid.Add(1)
		err = fmt.Errorf("%w: bridge %s: %w", ErrInvalidMessage, b.name, err)
		b.report(err)
		return err
	}
	if p := b.cfg.propagator; p != nil && len(m.Header) > 0 {
		ctx = p.Extract(ctx, m.Header)
	}
	if err := b.inbound.Emit(ctx, ev); err != nil {
		if errors.Is(err, engine.ErrBusClosed) || ctx.Err() != nil {
			// Counted apart from Lost, which accounts for what Emit
			// accepted: a bridge that both sends and listens (one file,
			// one subject) would otherwise mix its two directions.
			b.stats.undelivered.Add(1)
			b.hand(&LostError{Count: 1, Err: err})
			return err
		}
		err = fmt.Errorf("ringbus: bridge %s: inbound emit: %w", b.name, err)
		b.report(err)
		return err
	}
	b.stats.delivered.Add(1)
	return nil
}
