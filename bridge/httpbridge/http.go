// Package httpbridge is the HTTP transport of package bridge, the one
// abxbus calls HTTPEventBridge: a bridge POSTs every event's JSON to a
// peer's URL (send_to) and serves the events peers POST to its own
// address (listen_on). A bridge may do either or both; it does not hear
// its own events unless it sends to its own address.
//
// On the wire it speaks exactly what abxbus's Python and TypeScript
// bridges speak: a POST with content-type application/json, a
// Content-Length (never a chunked body, which the Python listener cannot
// read) and the compact event JSON as the body; the listener answers 202
// "accepted" once the event is on the bridge's inbound bus, 400 "invalid
// json" for a body that is not JSON, 500 "failed to process event" for
// JSON that is not a valid event, 404 "not found" for another path and
// 405 "method not allowed" for another method, in text/plain with
// Connection: close (and 413 for a body over the limit, 503 while it is
// closing). W3C trace context (traceparent, tracestate, baggage)
// travels in request headers, never in the event JSON.
//
// Delivery: a send succeeds when the peer accepted the event (its 202),
// so with the default of one request at a time one sender's events arrive
// in order. A failed request is retried with backoff unless the peer
// refused the event (see StatusError).
package httpbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/bridge"
)

// Defaults of the options.
const (
	// DefaultTimeout bounds one request of the sender, as abxbus's
	// Python client does.
	DefaultTimeout = 10 * time.Second
	// DefaultReadTimeout bounds how long the listener reads one request,
	// headers and body.
	DefaultReadTimeout = 10 * time.Second
	// DefaultMaxBodySize is the largest request body the listener reads.
	DefaultMaxBodySize = bridge.DefaultMaxMessageSize
)

// traceHeaders are the request headers carried to and from
// bridge.Message.Header: the W3C trace context and baggage.
var traceHeaders = [...]string{"traceparent", "tracestate", "baggage"}

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithClient sends with c instead of the transport's own client (whose
// requests time out after DefaultTimeout). The transport does not close
// c's idle connections when it closes.
func WithClient(c *http.Client) Option { return func(t *Transport) { t.client = c } }

// WithConcurrency lets up to n requests of one batch be in flight at once
// (default 1). Above 1 the sender is faster but one sender's events may
// arrive out of order, and when a request fails the batch's later events
// are sent again, so a peer may receive some twice.
func WithConcurrency(n int) Option { return func(t *Transport) { t.conc = n } }

// WithListener serves on l instead of listening on listen_on's host and
// port (the request path must still be listen_on's). The transport closes
// l when it closes. Use it to listen on a port chosen by the system while
// telling peers the address first, or on a socket handed over by a
// supervisor.
func WithListener(l net.Listener) Option { return func(t *Transport) { t.given = l } }

// WithMaxBodySize makes the listener answer 413 to requests whose body is
// larger than n bytes (default DefaultMaxBodySize).
func WithMaxBodySize(n int64) Option { return func(t *Transport) { t.maxBody = n } }

// WithReadTimeout bounds how long the listener reads one request (default
// DefaultReadTimeout).
func WithReadTimeout(d time.Duration) Option { return func(t *Transport) { t.readTimeout = d } }

// StatusError is the error of a send the peer answered with a status
// outside 2xx. Sending again does not help when the peer refused the
// event (a 4xx other than 408 and 429, or a 500, which abxbus listeners
// answer for an event they cannot read), so the bridge drops the event and
// reports it; other statuses (408, 429, 502, 503, 504, ...) are retried.
type StatusError struct {
	URL        string
	StatusCode int
	Body       string // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ringbus: http bridge: POST %s: %d %s: %q", e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// retriable reports whether a request answered with code may succeed
// when sent again.
func retriable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusInternalServerError, http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		// abxbus answers 500 for an event it cannot process: the same
		// event fails the same way again.
		return false
	}
	return code >= 500
}

// Transport POSTs events to a URL and serves the events peers POST. Use
// New for a Bridge over it, or NewTransport with bridge.New. A Transport
// serves one Bridge; its methods are safe for concurrent use.
type Transport struct {
	sendTo      string
	listenOn    string
	addr        string // host:port to listen on
	target      string // the request target the listener accepts
	client      *http.Client
	ownClient   bool
	conc        int
	maxBody     int64
	readTimeout time.Duration
	given       net.Listener
	bopts       []bridge.Option

	mu        sync.Mutex
	srv       *http.Server
	ln        net.Listener
	in        bridge.Inbox
	closing   bool
	cancel    context.CancelFunc
	serveDone chan struct{}
	active    sync.WaitGroup // requests being handled
}

// NewTransport returns the transport that POSTs events to sendTo (an
// http:// or https:// URL) and serves them at listenOn (an http://
// host:port/path URL, the path with its query being the one request
// target accepted). Either may be empty, not both: a bridge without
// sendTo only listens (its Emit fails with bridge.ErrCannotSend), one
// without listenOn only sends. Nothing is opened until the bridge starts.
func NewTransport(sendTo, listenOn string, opts ...Option) (*Transport, error) {
	t := &Transport{sendTo: sendTo, listenOn: listenOn, conc: 1, maxBody: DefaultMaxBodySize, readTimeout: DefaultReadTimeout}
	for _, o := range opts {
		o(t)
	}
	if sendTo == "" && listenOn == "" {
		return nil, fmt.Errorf("%w: an HTTP bridge needs send_to, listen_on or both", bridge.ErrConfig)
	}
	if sendTo != "" {
		u, err := url.Parse(sendTo)
		if err != nil {
			return nil, fmt.Errorf("%w: send_to %q: %w", bridge.ErrConfig, sendTo, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%w: send_to %q: HTTPEventBridge send_to must be http:// or https://", bridge.ErrConfig, sendTo)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("%w: send_to %q: missing host", bridge.ErrConfig, sendTo)
		}
	}
	if listenOn != "" {
		var err error
		if t.addr, t.target, err = parseListen(listenOn); err != nil {
			return nil, err
		}
	}
	switch {
	case t.conc <= 0:
		return nil, fmt.Errorf("%w: concurrency %d", bridge.ErrConfig, t.conc)
	case t.maxBody <= 0:
		return nil, fmt.Errorf("%w: max body size %d", bridge.ErrConfig, t.maxBody)
	case t.readTimeout <= 0:
		return nil, fmt.Errorf("%w: read timeout %v", bridge.ErrConfig, t.readTimeout)
	}
	if t.client == nil && sendTo != "" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(t.conc, 2)
		t.client = &http.Client{Transport: tr, Timeout: DefaultTimeout}
		t.ownClient = true
	}
	return t, nil
}

// parseListen splits an http://host:port/path?query URL into the address
// to listen on and the request target to accept, as abxbus does: port 80
// when none is given, "/" for an empty path, the query kept.
func parseListen(listenOn string) (addr, target string, err error) {
	u, err := url.Parse(listenOn)
	if err != nil {
		return "", "", fmt.Errorf("%w: listen_on %q: %w", bridge.ErrConfig, listenOn, err)
	}
	if u.Scheme != "http" {
		return "", "", fmt.Errorf("%w: listen_on %q: HTTPEventBridge listen_on must be http://", bridge.ErrConfig, listenOn)
	}
	if u.Hostname() == "" {
		return "", "", fmt.Errorf("%w: listen_on %q: missing host", bridge.ErrConfig, listenOn)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	target = u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	return net.JoinHostPort(u.Hostname(), port), target, nil
}

// New returns a bridge that POSTs events to sendTo and serves them at
// listenOn, like abxbus's HTTPEventBridge(send_to, listen_on).
func New(sendTo, listenOn string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(sendTo, listenOn, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// Kind returns "HTTPEventBridge".
func (t *Transport) Kind() string { return "HTTPEventBridge" }

// CanSend reports whether the transport has a URL to send to.
func (t *Transport) CanSend() bool { return t.sendTo != "" }

// Addr returns the address the listener serves on once the bridge has
// started (the port the system chose for listen_on's port 0), or nil.
func (t *Transport) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// Open starts the listener, when there is a listen address.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	if t.listenOn == "" {
		return nil
	}
	t.mu.Lock()
	ln := t.given
	t.given = nil // a listener serves one Open; a later one binds listen_on
	t.mu.Unlock()
	if ln == nil {
		var err error
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", t.addr); err != nil {
			return fmt.Errorf("http bridge: listen on %s: %w", t.listenOn, err)
		}
	}
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           http.HandlerFunc(t.serve),
		ReadHeaderTimeout: t.readTimeout,
		ReadTimeout:       t.readTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan struct{})
	t.mu.Lock()
	t.srv, t.ln, t.in, t.cancel, t.serveDone, t.closing = srv, ln, in, cancel, done, false
	t.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			in.Report(fmt.Errorf("%w: http bridge listener on %s stopped: %w", bridge.ErrDisconnected, t.listenOn, err))
		}
	}()
	return nil
}

// Close stops the listener, waiting within ctx for the requests being
// handled, and closes the client's idle connections.
func (t *Transport) Close(ctx context.Context) error {
	if t.ownClient {
		t.client.CloseIdleConnections()
	}
	t.mu.Lock()
	srv, cancel, done, given := t.srv, t.cancel, t.serveDone, t.given
	t.srv, t.closing, t.given = nil, true, nil
	t.mu.Unlock()
	if given != nil {
		_ = given.Close() // handed over but never served
	}
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// Requests still running past ctx: stop them (their Deliver
		// returns when its ctx is done) and drop their connections.
		cancel()
		_ = srv.Close()
	}
	<-done
	cancel()
	t.active.Wait()
	return err
}

// Send POSTs the messages, one request at a time unless WithConcurrency
// allows more, and returns how many were accepted before the first that
// failed.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	if t.sendTo == "" {
		return 0, bridge.Permanent(bridge.ErrCannotSend)
	}
	if t.conc == 1 || len(msgs) == 1 {
		for i := range msgs {
			if err := t.post(ctx, &msgs[i]); err != nil {
				return i, err
			}
		}
		return len(msgs), nil
	}
	// Bounded concurrency: workers take the next message; after a failure
	// no new request starts, so few accepted events are sent again.
	errs := make([]error, len(msgs))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(t.conc, len(msgs)) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				if errs[i] = t.post(ctx, &msgs[i]); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	// Messages are taken in order, so the first error comes before any
	// message left untaken.
	for i, err := range errs {
		if err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// post sends one message and reads the answer.
func (t *Transport) post(ctx context.Context, m *bridge.Message) error {
	// BR-25, BR-28: a byte body, so net/http sends Content-Length. The
	// body is a copy: net/http may read a request body after Do returns,
	// and the bridge reuses m.Data once Send has returned.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.sendTo, bytes.NewReader(bytes.Clone(m.Data)))
	if err != nil {
		return bridge.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range m.Header {
		req.Header.Set(k, v)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	var head [256]byte
	n, _ := io.ReadFull(resp.Body, head[:])
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &StatusError{URL: t.sendTo, StatusCode: resp.StatusCode, Body: string(head[:n])}
	if retriable(resp.StatusCode) {
		return serr
	}
	return bridge.Permanent(serr)
}

// bodyPool holds the listener's request buffers.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serve handles one request to the listener.
func (t *Transport) serve(w http.ResponseWriter, r *http.Request) {
	// BR-26: the status codes and bodies of abxbus's listeners.
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	if r.Method != http.MethodPost {
		h.Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.RequestURI != t.target {
		reply(w, http.StatusNotFound, "not found")
		return
	}
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		reply(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	in := t.in
	t.active.Add(1)
	t.mu.Unlock()
	defer t.active.Done()

	if r.ContentLength > t.maxBody {
		in.Report(fmt.Errorf("%w: an HTTP request of %d bytes, at most %d accepted", bridge.ErrMessageTooLarge, r.ContentLength, t.maxBody))
		reply(w, http.StatusRequestEntityTooLarge, "payload too large")
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bodyPool.Put(buf)
		}
	}()
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, t.maxBody+1)); err != nil {
		in.Report(fmt.Errorf("http bridge: reading a request body: %w", err))
		reply(w, http.StatusBadRequest, "incomplete body")
		return
	}
	if int64(buf.Len()) > t.maxBody {
		in.Report(fmt.Errorf("%w: an HTTP request body over %d bytes", bridge.ErrMessageTooLarge, t.maxBody))
		reply(w, http.StatusRequestEntityTooLarge, "payload too large")
		return
	}
	m := bridge.Message{Data: buf.Bytes()}
	for _, k := range traceHeaders {
		if v := r.Header.Get(k); v != "" {
			if m.Header == nil {
				m.Header = make(map[string]string, len(traceHeaders))
			}
			m.Header[k] = v
		}
	}
	acc, ok := in.(bridge.Acceptor)
	if !ok {
		in.Deliver(r.Context(), m)
		reply(w, http.StatusAccepted, "accepted")
		return
	}
	switch err := acc.Accept(r.Context(), m); {
	case err == nil:
		reply(w, http.StatusAccepted, "accepted")
	case errors.Is(err, bridge.ErrMessageTooLarge):
		reply(w, http.StatusRequestEntityTooLarge, "payload too large")
	case errors.Is(err, bridge.ErrInvalidMessage):
		// abxbus (TS) answers 400 when JSON.parse fails and 500 when the
		// JSON is not a valid event; the decoder does both checks, and
		// only a failure tells which of the two it was.
		if !json.Valid(m.Data) {
			reply(w, http.StatusBadRequest, "invalid json")
			return
		}
		reply(w, http.StatusInternalServerError, "failed to process event")
	default:
		// The inbound bus is closing or full past the request's life: the
		// event may succeed later, elsewhere.
		reply(w, http.StatusServiceUnavailable, "unavailable")
	}
}

// reply writes a short text/plain answer.
func reply(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
