package httpbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/httpbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// wait bounds every wait for events.
const wait = 10 * time.Second

// listen opens a loopback listener on a port the system picks and returns
// it with the URL of path on it.
func listen(t testing.TB, path string) (net.Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l, "http://" + l.Addr().String() + path
}

func newBridge(t testing.TB, sendTo, listenOn string, opts ...httpbridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := httpbridge.New(sendTo, listenOn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pair is the conformance pair: the sender listens on its own port and
// POSTs to the receiver's, which only listens. (A receiver that also sent
// back would make the sender hear the receiver's forwards, which the
// suite's echo test counts as echoes; the two-way wiring has its own test
// below.)
func pair(conc int) func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
	return func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
		la, urlA := listen(t, "/a")
		lb, urlB := listen(t, "/events?bus=b")
		recv := func(t *testing.T, l net.Listener, opts ...bridge.Option) *bridge.Bridge {
			o := []httpbridge.Option{httpbridge.WithBridgeOptions(opts...)}
			if l != nil {
				o = append(o, httpbridge.WithListener(l))
			}
			return newBridge(t, "", urlB, o...)
		}
		return bridgetest.Pair{
			Sender: newBridge(t, urlB, urlA, httpbridge.WithListener(la), httpbridge.WithConcurrency(conc),
				httpbridge.WithBridgeOptions(opts...)),
			Receiver: recv(t, lb, opts...),
			Raw: func(ctx context.Context, data []byte) error {
				code, body, err := post(ctx, urlB, data)
				if err != nil {
					return err
				}
				if code == http.StatusAccepted {
					return fmt.Errorf("a bad payload was accepted: %d %s", code, body)
				}
				return nil
			},
			ReplaceReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge { return recv(t, nil, opts...) },
		}
	}
}

func TestConformance_BR25_BR26_BR27(t *testing.T) {
	bridgetest.Run(t, bridgetest.Harness{
		NewPair: pair(1),
		Echo:    false, // BR-27: separate endpoints
		Ordered: true,  // one request at a time, each answered after the hand-off
	})
}

func TestConformanceConcurrent_BR25(t *testing.T) {
	bridgetest.Run(t, bridgetest.Harness{NewPair: pair(4), Echo: false, Ordered: false})
}

func post(ctx context.Context, url string, data []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// rawRequest sends raw bytes as an HTTP/1.1 request and returns the raw
// response, to see the listener's answer as the wire carries it.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(c) // Connection: close ends the response
	if err != nil {
		t.Fatal(err)
	}
	return string(resp)
}

func TestListenerAnswers_BR26(t *testing.T) {
	l, url := listen(t, "/ingest?token=x%20y")
	addr := l.Addr().String()
	var errs sync.Map
	var got atomic.Int64
	b := newBridge(t, "", url, httpbridge.WithListener(l), httpbridge.WithMaxBodySize(1<<10),
		httpbridge.WithBridgeOptions(bridge.WithErrorHandler(func(err error) { errs.Store(err.Error(), err) })))
	bridgetest.CloseAll(t, b)
	if _, err := b.On("Ping", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := bridgetest.Encode(t, bridgetest.Event(t, "Ping", map[string]any{"n": 1}))
	req := func(method, target, body string, extra ...string) string {
		r := method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\n"
		for _, h := range extra {
			r += h + "\r\n"
		}
		if body != "" || method == "POST" {
			r += "Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n"
		}
		return r + "\r\n" + body
	}
	for _, c := range []struct {
		name, req string
		code      int
		body      string
	}{
		{"get", req("GET", "/ingest?token=x%20y", ""), 405, "method not allowed"},
		{"put", req("PUT", "/ingest?token=x%20y", string(good)), 405, "method not allowed"},
		{"other path", req("POST", "/other", string(good)), 404, "not found"},
		{"query missing", req("POST", "/ingest", string(good)), 404, "not found"},
		{"query differs", req("POST", "/ingest?token=x+y", string(good)), 404, "not found"},
		{"malformed", req("POST", "/ingest?token=x%20y", `{"event_type": "X", `), 400, "invalid json"},
		{"empty", req("POST", "/ingest?token=x%20y", ""), 400, "invalid json"},
		{"not an event", req("POST", "/ingest?token=x%20y", `{"event_type":"X","event_id":"nope"}`), 500, "failed to process event"},
		{"a string", req("POST", "/ingest?token=x%20y", `"a string"`), 500, "failed to process event"},
		{"too large", req("POST", "/ingest?token=x%20y", `{"event_type":"X","s":"`+strings.Repeat("a", 2000)+`"}`), 413, "payload too large"},
		{"chunked", "POST /ingest?token=x%20y HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(good), good), 202, "accepted"},
		{"accepted", req("POST", "/ingest?token=x%20y", string(good)), 202, "accepted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := rawRequest(t, addr, c.req)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || string(body) != c.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, c.code, c.body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("content-type %q, want text/plain", ct)
			}
			if !resp.Close || !strings.Contains(strings.ToLower(raw), "\r\nconnection: close\r\n") {
				t.Errorf("response without connection: close:\n%s", raw)
			}
		})
	}
	bridgetest.WaitFor(t, wait, "the two accepted events", func() bool { return got.Load() == 2 })
	st := b.Stats()
	if st.Invalid != 4 {
		t.Errorf("Stats().Invalid = %d, want 4 (empty, malformed, not an event, a string)", st.Invalid)
	}
	n := 0
	errs.Range(func(k, v any) bool {
		if errors.Is(v.(error), bridge.ErrMessageTooLarge) {
			n++
		}
		return true
	})
	if n != 1 {
		t.Errorf("%d reports of a message too large, want 1", n)
	}
}

// recorder is a peer that records what it is sent and answers with the
// statuses of codes in turn (202 once they run out).
type recorder struct {
	mu    sync.Mutex
	reqs  []*http.Request
	body  [][]byte
	codes []int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.body = append(r.body, body)
	code := http.StatusAccepted
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.reqs) }

// serveRecorder serves rec on a loopback port and returns its URL.
func serveRecorder(t *testing.T, rec *recorder) string {
	t.Helper()
	l, url := listen(t, "/peer")
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return url
}

// traceProp is a Propagator that carries a string from the context.
type traceProp struct{}

type traceKey struct{}

func (traceProp) Inject(ctx context.Context, h map[string]string) {
	if v, ok := ctx.Value(traceKey{}).(string); ok {
		h["traceparent"] = v
		h["tracestate"] = "rb=1"
	}
}

func (traceProp) Extract(ctx context.Context, h map[string]string) context.Context {
	return context.WithValue(ctx, traceKey{}, h["traceparent"]+"|"+h["tracestate"])
}

func TestSendWire_BR25_BR28(t *testing.T) {
	rec := &recorder{}
	url := serveRecorder(t, rec)
	b := newBridge(t, url, "", httpbridge.WithBridgeOptions(bridge.WithPropagator(traceProp{})))
	bridgetest.CloseAll(t, b)
	e := bridgetest.Event(t, "Wire", map[string]any{"text": strings.Repeat("é", 40<<10)})
	ctx := context.WithValue(context.Background(), traceKey{}, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err := b.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 1 {
		t.Fatalf("%d requests, want 1", rec.count())
	}
	req, body := rec.reqs[0], rec.body[0]
	if req.Method != http.MethodPost || req.URL.Path != "/peer" {
		t.Errorf("%s %s, want POST /peer", req.Method, req.URL)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	if req.ContentLength != int64(len(body)) || len(req.TransferEncoding) != 0 {
		t.Errorf("content-length %d, transfer-encoding %v for a body of %d bytes: want a Content-Length, never chunked",
			req.ContentLength, req.TransferEncoding, len(body))
	}
	if !bytes.Equal(body, bridgetest.Encode(t, e)) {
		t.Errorf("body is not the event's compact JSON:\n%.200s", body)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, body)
	if compact.Len() != len(body) {
		t.Error("body is not compact JSON")
	}
	if got := req.Header.Get("Traceparent"); got != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("traceparent header %q", got)
	}
	if got := req.Header.Get("Tracestate"); got != "rb=1" {
		t.Errorf("tracestate header %q", got)
	}
	if bytes.Contains(body, []byte("traceparent")) {
		t.Error("trace context leaked into the event JSON")
	}
}

func TestTraceContextEndToEnd(t *testing.T) {
	l, url := listen(t, "/t")
	recv := newBridge(t, "", url, httpbridge.WithListener(l), httpbridge.WithBridgeOptions(bridge.WithPropagator(traceProp{})))
	send := newBridge(t, url, "", httpbridge.WithBridgeOptions(bridge.WithPropagator(traceProp{})))
	bridgetest.CloseAll(t, send, recv)
	got := make(chan string, 1)
	if _, err := recv.On("Traced", func(ctx context.Context, _ *api.BaseEvent) (any, error) {
		v, _ := ctx.Value(traceKey{}).(string)
		got <- v
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := recv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := send.Emit(context.WithValue(ctx, traceKey{}, "tp-1"), bridgetest.Event(t, "Traced", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "tp-1|rb=1" {
			t.Errorf("handler saw trace context %q, want tp-1|rb=1", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not received")
	}
}

// errorsOf collects a bridge's reports.
type errorsOf struct {
	mu   sync.Mutex
	list []error
}

func (e *errorsOf) add(err error) { e.mu.Lock(); e.list = append(e.list, err); e.mu.Unlock() }
func (e *errorsOf) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.list...)
}

func TestSendStatuses_BR25(t *testing.T) {
	for _, c := range []struct {
		name     string
		codes    []int
		requests int  // requests the peer sees
		lost     bool // the event is dropped, not delivered
	}{
		{"202", nil, 1, false},
		{"200", []int{200}, 1, false},
		{"400 refused", []int{400}, 1, true},
		{"404 refused", []int{404}, 1, true},
		{"500 refused", []int{500}, 1, true},
		{"503 retried", []int{503, 503}, 3, false},
		{"429 retried", []int{429}, 2, false},
		{"502 retried", []int{502}, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{codes: c.codes}
			url := serveRecorder(t, rec)
			errs := &errorsOf{}
			b := newBridge(t, url, "", httpbridge.WithBridgeOptions(bridge.WithErrorHandler(errs.add),
				bridge.WithRetryBackoff(time.Millisecond, time.Millisecond)))
			bridgetest.CloseAll(t, b)
			ctx := context.Background()
			if err := b.Emit(ctx, bridgetest.Event(t, "S", nil)); err != nil {
				t.Fatal(err)
			}
			if err := b.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := rec.count(); n != c.requests {
				t.Errorf("%d requests, want %d", n, c.requests)
			}
			st := b.Stats()
			if c.lost {
				if st.Lost != 1 || st.Sent != 0 {
					t.Errorf("Stats %+v: want the event lost, not sent", st)
				}
				var se *httpbridge.StatusError
				if es := errs.all(); len(es) != 1 || !errors.As(es[0], &se) || se.StatusCode != c.codes[0] || !errors.Is(es[0], bridge.ErrSend) {
					t.Errorf("reports %v: want one send error with a StatusError %d", es, c.codes[0])
				}
			} else if st.Sent != 1 || st.Lost != 0 || int(st.SendErrors) != c.requests-1 {
				t.Errorf("Stats %+v: want sent after %d failed tries", st, c.requests-1)
			}
		})
	}
}

func TestSendRetriesUntilListenerUp_BR25(t *testing.T) {
	// A refused connection is retried: the event arrives once a listener
	// comes up on the address.
	l, url := listen(t, "/late")
	addr := l.Addr().String()
	_ = l.Close()
	send := newBridge(t, url, "", httpbridge.WithBridgeOptions(bridge.WithErrorHandler(func(error) {}),
		bridge.WithRetryBackoff(time.Millisecond, 5*time.Millisecond)))
	bridgetest.CloseAll(t, send)
	ctx := context.Background()
	if err := send.Emit(ctx, bridgetest.Event(t, "Late", nil)); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "a failed try", func() bool { return send.Stats().SendErrors > 0 })
	recv := newBridge(t, "", "http://"+addr+"/late")
	bridgetest.CloseAll(t, recv)
	got := make(chan struct{}, 1)
	if _, err := recv.On("Late", func(context.Context, *api.BaseEvent) (any, error) { got <- struct{}{}; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := recv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered after the listener came up")
	}
}

func TestConfig_BR25_BR26(t *testing.T) {
	for _, c := range []struct{ sendTo, listenOn string }{
		{"", ""},
		{"unix:///tmp/x.sock", ""},
		{"ftp://host/x", ""},
		{"http:///path", ""},
		{"://bad", ""},
		{"", "https://127.0.0.1:8080/x"},
		{"", "unix:///tmp/x.sock"},
		{"", "http://:8080/x"},
	} {
		if _, err := httpbridge.NewTransport(c.sendTo, c.listenOn); !errors.Is(err, bridge.ErrConfig) {
			t.Errorf("NewTransport(%q, %q) = %v, want ErrConfig", c.sendTo, c.listenOn, err)
		}
	}
	for _, o := range []httpbridge.Option{httpbridge.WithConcurrency(0), httpbridge.WithMaxBodySize(0), httpbridge.WithReadTimeout(-1)} {
		if _, err := httpbridge.NewTransport("http://127.0.0.1:1/", "", o); !errors.Is(err, bridge.ErrConfig) {
			t.Errorf("bad option accepted: %v", err)
		}
	}
	tr, err := httpbridge.NewTransport("https://example.com/in", "http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind() != "HTTPEventBridge" || !tr.CanSend() {
		t.Errorf("Kind %q, CanSend %v", tr.Kind(), tr.CanSend())
	}
}

func TestPortZeroAndDefaultPath_BR26(t *testing.T) {
	// listen_on without a path serves "/"; port 0 takes a free port that
	// Addr reports.
	tr, err := httpbridge.NewTransport("", "http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	bridgetest.CloseAll(t, b)
	if tr.Addr() != nil {
		t.Error("Addr before start")
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body, err := post(context.Background(), "http://"+tr.Addr().String()+"/", bridgetest.Encode(t, bridgetest.Event(t, "Root", nil)))
	if err != nil || code != 202 || body != "accepted" {
		t.Errorf("POST / = %d %q %v", code, body, err)
	}
}

func TestListenOnlyCannotSend_BR25(t *testing.T) {
	l, url := listen(t, "/only")
	b := newBridge(t, "", url, httpbridge.WithListener(l))
	bridgetest.CloseAll(t, b)
	if err := b.Emit(context.Background(), bridgetest.Event(t, "X", nil)); !errors.Is(err, bridge.ErrCannotSend) {
		t.Errorf("Emit on a listen-only bridge = %v, want ErrCannotSend", err)
	}
}

func TestBothWays_BR5_BR27(t *testing.T) {
	// The documented wiring between two processes, each listening on its
	// own port and sending to the other: an event crosses once each way
	// and stops (event_path), and each app bus handles it once.
	la, urlA := listen(t, "/a")
	lb, urlB := listen(t, "/b")
	ba := newBridge(t, urlB, urlA, httpbridge.WithListener(la))
	bb := newBridge(t, urlA, urlB, httpbridge.WithListener(lb))
	bridgetest.CloseAll(t, ba, bb)
	appA, _ := api.NewBus("AppA", api.WithMaxHistory(0))
	appB, _ := api.NewBus("AppB", api.WithMaxHistory(0))
	t.Cleanup(func() { _ = appA.Stop(context.Background()); _ = appB.Stop(context.Background()) })
	var onA, onB, inA, inB atomic.Int64
	_, _ = api.OnAll(appA, func(context.Context, *api.BaseEvent) (any, error) { onA.Add(1); return nil, nil })
	_, _ = api.OnAll(appB, func(context.Context, *api.BaseEvent) (any, error) { onB.Add(1); return nil, nil })
	_, _ = ba.On("*", func(context.Context, *api.BaseEvent) (any, error) { inA.Add(1); return nil, nil })
	_, _ = bb.On("*", func(context.Context, *api.BaseEvent) (any, error) { inB.Add(1); return nil, nil })
	ctx := context.Background()
	for _, b := range []*bridge.Bridge{ba, bb} {
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ba.Connect(appA); err != nil {
		t.Fatal(err)
	}
	if err := bb.Connect(appB); err != nil {
		t.Fatal(err)
	}
	if err := appA.Emit(ctx, bridgetest.Event(t, "FromA", nil)); err != nil {
		t.Fatal(err)
	}
	if err := appB.Emit(ctx, bridgetest.Event(t, "FromB", nil)); err != nil {
		t.Fatal(err)
	}
	// Each event: handled on its own app bus, sent, handled on the other
	// app bus, sent back, dropped by the first app bus.
	bridgetest.WaitFor(t, wait, "both events both ways", func() bool {
		return onA.Load() == 2 && onB.Load() == 2 && inA.Load() == 2 && inB.Load() == 2
	})
	for _, b := range []*bridge.Bridge{ba, bb} {
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_ = appA.WaitUntilIdle(ctx)
	_ = appB.WaitUntilIdle(ctx)
	if onA.Load() != 2 || onB.Load() != 2 || inA.Load() != 2 || inB.Load() != 2 {
		t.Errorf("app A %d, app B %d, bridge A %d, bridge B %d handled: want 2 each (one hop per bus)",
			onA.Load(), onB.Load(), inA.Load(), inB.Load())
	}
}

func TestSelfEcho_BR27(t *testing.T) {
	// send_to pointing at the bridge's own listen_on: it hears itself, and
	// the app bus the event came from drops the echo.
	l, url := listen(t, "/self")
	b := newBridge(t, url, url, httpbridge.WithListener(l))
	bridgetest.CloseAll(t, b)
	app, _ := api.NewBus("App", api.WithMaxHistory(0))
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	var handled, echoed atomic.Int64
	_, _ = api.OnAll(app, func(context.Context, *api.BaseEvent) (any, error) { handled.Add(1); return nil, nil })
	_, _ = b.On("*", func(context.Context, *api.BaseEvent) (any, error) { echoed.Add(1); return nil, nil })
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(app); err != nil {
		t.Fatal(err)
	}
	if err := app.Emit(ctx, bridgetest.Event(t, "Self", nil)); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "the echo", func() bool { return echoed.Load() == 1 })
	_ = b.Flush(ctx)
	_ = app.WaitUntilIdle(ctx)
	if handled.Load() != 1 {
		t.Errorf("app bus handled %d events, want 1", handled.Load())
	}
}

func TestCloseWithinContext(t *testing.T) {
	// A client that sends half a request keeps a connection busy; Close
	// gives up on it when its ctx ends and still leaves nothing running.
	l, url := listen(t, "/slow")
	b := newBridge(t, "", url, httpbridge.WithListener(l))
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"event_type\":"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the handler start reading the body
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v", err)
	}
}
