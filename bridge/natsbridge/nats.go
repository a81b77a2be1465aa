// Package natsbridge is the NATS transport of package bridge, the one
// abxbus calls NATSEventBridge: every event is published on a core NATS
// subject as its compact JSON, and every bridge subscribed to the subject
// receives it, its own events included. It uses core NATS only (no
// JetStream, no queue group), so delivery is at most once: a bridge
// receives what is published while it is subscribed and connected, and
// nothing is stored for it.
//
// Trace context travels in NATS message headers (see
// bridge.WithPropagator), never in the event JSON; messages without
// headers, as abxbus sends them, are read as well.
//
// When the server goes away the connection reconnects by itself, with
// backoff and without limit. Meanwhile sending fails fast and the bridge
// keeps its events queued and retries them, and messages that others
// publish are lost; the bridge reports the disconnection
// (bridge.ErrDisconnected) and, once reconnected, the possible loss (a
// *bridge.LostError).
package natsbridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ringbus/ringbus/bridge"
)

// Defaults of the transport.
const (
	// DefaultPendingMsgs and DefaultPendingBytes bound the messages that
	// the subscription holds while the bridge is busy (bursts); beyond
	// them the client drops messages, which is reported as a
	// *bridge.LostError.
	DefaultPendingMsgs  = 1 << 20
	DefaultPendingBytes = 256 << 20
	// DefaultReconnectMin and DefaultReconnectMax bound the pause between
	// reconnection attempts, which doubles from the first to the second.
	DefaultReconnectMin = 50 * time.Millisecond
	DefaultReconnectMax = 2 * time.Second
	// DefaultFlushTimeout bounds the wait for the server to acknowledge a
	// flush (Close's, and Send's under WithFlush).
	DefaultFlushTimeout = 5 * time.Second
)

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithConn makes the transport use nc, a connection the caller owns,
// instead of connecting to the server itself (server is then only
// checked for being set). Close unsubscribes and leaves nc open. The
// connection's handlers stay the caller's: the transport reports no
// disconnections on it, only messages its subscription dropped.
func WithConn(nc *nats.Conn) Option { return func(t *Transport) { t.conn = nc } }

// WithOptions adds options for the connection the transport makes (not
// for one given with WithConn), after its own: the defaults are a
// reconnection without limit with backoff from DefaultReconnectMin to
// DefaultReconnectMax, and no buffering of publishes while reconnecting
// (the bridge queues and retries them instead). Handlers set here are
// called before the transport's own.
func WithOptions(opts ...nats.Option) Option {
	return func(t *Transport) { t.natsOpts = append(t.natsOpts, opts...) }
}

// WithPendingLimits sets how many messages, and bytes of them, the
// subscription holds while the bridge is busy (defaults DefaultPendingMsgs
// and DefaultPendingBytes; -1 for no limit).
func WithPendingLimits(msgs, bytes int) Option {
	return func(t *Transport) { t.pendMsgs, t.pendBytes = msgs, bytes }
}

// WithFlush makes every Send wait until the server acknowledged the batch
// (a NATS flush). Without it, Send returns once the client took the
// messages and the client writes them out at once in the background.
func WithFlush() Option { return func(t *Transport) { t.flush = true } }

// Transport publishes events on a NATS subject and subscribes to it. Use
// New for a Bridge over it, or NewTransport with bridge.New.
type Transport struct {
	server, subject     string
	natsOpts            []nats.Option
	bopts               []bridge.Option
	pendMsgs, pendBytes int
	flush               bool
	conn                *nats.Conn // from WithConn; nil when the transport connects itself

	mu       sync.Mutex
	nc       *nats.Conn
	sub      *nats.Subscription
	owned    bool          // the transport made nc and closes it
	closedCh chan struct{} // closed by nc's closed handler (owned only)
	in       bridge.Inbox
	ctx      context.Context // cancelled when Close gives up: Deliver returns
	cancel   context.CancelFunc

	closing  atomic.Bool  // Close started: connection events are Close's own
	stopping atomic.Bool  // Close is done with the subscription: no more deliveries
	gate     sync.RWMutex // held shared by a message callback, so Close can wait them out
	dropMu   sync.Mutex
	dropped  int // subscription drops already reported
}

// NewTransport returns the transport for subject on the NATS server at
// server ("nats://127.0.0.1:4222", or a comma-separated list). Both are
// required, as in abxbus. It does not connect; the bridge's Start does.
func NewTransport(server, subject string, opts ...Option) (*Transport, error) {
	if server == "" {
		return nil, fmt.Errorf("%w: empty NATS server", bridge.ErrConfig)
	}
	if subject == "" {
		return nil, fmt.Errorf("%w: empty NATS subject", bridge.ErrConfig)
	}
	if !validSubject(subject) {
		return nil, fmt.Errorf("%w: invalid NATS subject %q", bridge.ErrConfig, subject)
	}
	t := &Transport{server: server, subject: subject, pendMsgs: DefaultPendingMsgs, pendBytes: DefaultPendingBytes}
	for _, o := range opts {
		o(t)
	}
	if t.pendMsgs == 0 || t.pendBytes == 0 {
		return nil, fmt.Errorf("%w: pending limits %d messages, %d bytes", bridge.ErrConfig, t.pendMsgs, t.pendBytes)
	}
	return t, nil
}

// validSubject reports whether s is a subject one can publish and
// subscribe to: dot-separated non-empty tokens without whitespace.
// Wildcards are refused, since the bridge publishes on the subject too.
func validSubject(s string) bool {
	tokenStart := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n', '*', '>':
			return false
		case '.':
			if tokenStart {
				return false
			}
			tokenStart = true
		default:
			tokenStart = false
		}
	}
	return !tokenStart
}

// New returns a bridge over subject on the NATS server at server, like
// abxbus's NATSEventBridge(server, subject).
func New(server, subject string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(server, subject, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// Kind returns "NATSEventBridge".
func (t *Transport) Kind() string { return "NATSEventBridge" }

// Open connects (unless WithConn gave a connection) and subscribes to the
// subject; messages published after it returns are received.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.in = in
	t.ctx, t.cancel = context.WithCancel(context.Background())
	nc, owned := t.conn, false
	if nc == nil {
		var err error
		if nc, err = t.connect(ctx); err != nil {
			t.cancel()
			return err
		}
		owned = true
	}
	sub, err := nc.Subscribe(t.subject, t.onMsg)
	if err == nil {
		err = sub.SetPendingLimits(t.pendMsgs, t.pendBytes)
	}
	if err == nil {
		// The subscription reaches the server before Open returns.
		fctx, cancel := context.WithTimeout(ctx, DefaultFlushTimeout)
		err = nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		t.closing.Store(true)
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		if owned {
			nc.Close()
			<-t.closedCh
		}
		t.stop()
		return fmt.Errorf("nats bridge: subscribe %s: %w", t.subject, err)
	}
	t.nc, t.sub, t.owned = nc, sub, owned
	return nil
}

// connect makes the transport's own connection, with its handlers after
// the user's.
func (t *Transport) connect(ctx context.Context) (*nats.Conn, error) {
	o := nats.GetDefaultOptions()
	o.Url = t.server
	o.MaxReconnect = -1
	o.ReconnectBufSize = -1 // fail fast while reconnecting: the bridge queues and retries
	o.CustomReconnectDelayCB = reconnectDelay
	if d, ok := ctx.Deadline(); ok {
		o.Timeout = min(o.Timeout, max(time.Until(d), time.Millisecond))
	}
	for _, opt := range t.natsOpts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("%w: nats option: %w", bridge.ErrConfig, err)
		}
	}
	// The handlers run, in order, on the connection's callback goroutine;
	// the closed handler is the last thing it runs.
	closed := make(chan struct{})
	t.closedCh = closed
	userDisc, userRecon, userErr, userClosed := o.DisconnectedErrCB, o.ReconnectedCB, o.AsyncErrorCB, o.ClosedCB
	o.DisconnectedCB = nil
	o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
		if userDisc != nil {
			userDisc(nc, err)
		}
		if err == nil {
			err = errors.New("connection closed by the server")
		}
		t.report(fmt.Errorf("%w: nats %s: %w", bridge.ErrDisconnected, t.subject, err))
	}
	o.ReconnectedCB = func(nc *nats.Conn) {
		if userRecon != nil {
			userRecon(nc)
		}
		// BR-23: core NATS keeps nothing for a disconnected subscriber.
		t.report(&bridge.LostError{Err: fmt.Errorf("nats %s: reconnected to %s; messages published while disconnected were not received", t.subject, nc.ConnectedUrlRedacted())})
	}
	o.AsyncErrorCB = func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if userErr != nil {
			userErr(nc, sub, err)
		}
		if errors.Is(err, nats.ErrSlowConsumer) {
			t.reportDrops(sub)
			return
		}
		if sub == nil {
			// The client failed to write out what it buffered; it
			// reconnects, and those messages are gone.
			t.report(&bridge.LostError{Err: fmt.Errorf("nats %s: writing to the server: %w", t.subject, err)})
			return
		}
		t.report(fmt.Errorf("nats bridge %s: %w", t.subject, err))
	}
	o.ClosedCB = func(nc *nats.Conn) {
		if userClosed != nil {
			userClosed(nc)
		}
		close(closed)
	}
	nc, err := o.Connect()
	if err != nil {
		return nil, fmt.Errorf("nats bridge: connect %s: %w", t.server, err)
	}
	return nc, nil
}

// reconnectDelay is the pause before reconnection attempt n (from 1):
// DefaultReconnectMin doubling up to DefaultReconnectMax, with up to a
// quarter more at random so that many clients do not come back at once.
func reconnectDelay(attempts int) time.Duration {
	d := DefaultReconnectMin << min(max(attempts-1, 0), 10)
	d = min(d, DefaultReconnectMax)
	return d + rand.N(d/4+1)
}

// report passes a connection event to the bridge unless Close has
// started (closing the connection is no disconnection to report).
func (t *Transport) report(err error) {
	if t.closing.Load() {
		return
	}
	t.in.Report(err)
}

// stop ends deliveries: a Deliver still waiting returns, and once the
// callbacks running now return the bridge is not called again.
func (t *Transport) stop() {
	t.stopping.Store(true)
	t.cancel()
	t.gate.Lock()
	t.gate.Unlock() //nolint:staticcheck // SA2001: the empty section waits out the callbacks
}

// reportDrops reports the messages sub dropped since the last report.
func (t *Transport) reportDrops(sub *nats.Subscription) {
	if sub == nil {
		return
	}
	n, err := sub.Dropped()
	if err != nil {
		return
	}
	t.dropMu.Lock()
	delta := n - t.dropped
	t.dropped = max(t.dropped, n)
	t.dropMu.Unlock()
	if delta > 0 && !t.stopping.Load() {
		t.in.Report(&bridge.LostError{Count: delta, Err: fmt.Errorf("nats %s: %w", t.subject, nats.ErrSlowConsumer)})
	}
}

// onMsg hands a received message to the bridge.
func (t *Transport) onMsg(m *nats.Msg) {
	t.gate.RLock()
	defer t.gate.RUnlock()
	if t.stopping.Load() {
		return
	}
	msg := bridge.Message{Data: m.Data}
	if len(m.Header) > 0 {
		msg.Header = make(map[string]string, len(m.Header))
		for k, v := range m.Header {
			if len(v) > 0 {
				msg.Header[k] = v[0]
			}
		}
	}
	t.in.Deliver(t.ctx, msg)
	if !t.owned {
		// A shared connection's error handler is not ours: look for drops
		// here instead.
		t.reportDrops(m.Sub)
	}
}

// Send publishes the messages in order, with their headers. The client
// writes them out in the background (or, under WithFlush, Send waits
// for the server's acknowledgement). While the connection is down, Send
// fails at once and the bridge tries again later.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	t.mu.Lock()
	nc := t.nc
	t.mu.Unlock()
	if nc == nil {
		return 0, bridge.ErrClosed
	}
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		var err error
		if len(m.Header) == 0 {
			err = nc.Publish(t.subject, m.Data)
		} else {
			nm := nats.Msg{Subject: t.subject, Data: m.Data, Header: make(nats.Header, len(m.Header))}
			for k, v := range m.Header {
				nm.Header[k] = []string{v}
			}
			err = nc.PublishMsg(&nm)
		}
		if err != nil {
			return i, sendError(err)
		}
	}
	if t.flush {
		fctx, cancel := context.WithTimeout(ctx, DefaultFlushTimeout)
		defer cancel()
		// The messages were handed to the client whatever the flush
		// says: sending them again could duplicate them. A connection
		// lost meanwhile loses them, as core NATS does (at most once).
		_ = nc.FlushWithContext(fctx)
	}
	return len(msgs), nil
}

// sendError marks the errors that sending again cannot cure.
func sendError(err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrHeadersNotSupported),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrBadSubject):
		return bridge.Permanent(fmt.Errorf("nats bridge: %w", err))
	}
	return fmt.Errorf("nats bridge: %w", err)
}

// Close drains the subscription (messages already received are
// delivered), flushes what was published and closes the connection it
// made, or only unsubscribes on a connection given with WithConn. It
// returns within ctx, also while the server is down; what it could not
// deliver by then is dropped.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	nc, sub, owned, closed := t.nc, t.sub, t.owned, t.closedCh
	t.nc, t.sub = nil, nil
	t.mu.Unlock()
	if nc == nil {
		return nil
	}
	t.closing.Store(true)
	var err error
	if owned {
		err = t.closeOwned(ctx, nc, closed)
	} else {
		err = t.closeShared(ctx, nc, sub)
	}
	t.reportDrops(sub)
	t.stop()
	return err
}

// closeOwned drains and closes the transport's own connection, waiting
// for its closed handler: the client's goroutines end then.
func (t *Transport) closeOwned(ctx context.Context, nc *nats.Conn, closed chan struct{}) error {
	// Drain refuses a reconnecting connection and closes it instead.
	if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		nc.Close()
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
	}
	t.cancel() // a Deliver waiting for the inbound bus returns
	nc.Close()
	<-closed // Close pushes the closed handler at once
	return ctx.Err()
}

// closeShared drains the subscription on a connection the caller owns.
func (t *Transport) closeShared(ctx context.Context, nc *nats.Conn, sub *nats.Subscription) error {
	if nc.IsConnected() && sub.Drain() == nil {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for sub.IsValid() {
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.cancel()
				_ = sub.Unsubscribe()
				return ctx.Err()
			}
		}
		return nil
	}
	_ = sub.Unsubscribe()
	return nil
}
