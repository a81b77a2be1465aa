package socketbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/socketbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// wait bounds every wait for events.
const wait = 10 * time.Second

// sockPath returns a fresh socket path short enough for the 90-byte
// limit (t.TempDir can be longer).
func sockPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rbsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "b.sock")
}

func newBridge(t testing.TB, path string, opts ...socketbridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := socketbridge.New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawSend writes data on a connection of its own and closes it, as
// abxbus's senders do.
func rawSend(path string, data []byte) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	_, err = c.Write(data)
	return errors.Join(err, c.Close())
}

func TestConformance_BR29_BR30_BR31(t *testing.T) {
	// One listener per path: the sender only sends (WithSendOnly) and the
	// receiver listens (and sends: its own events come back to it, which
	// the suite's Echo test does not count, as it watches the sender). A
	// bridge hearing itself has its own test below.
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    false,
		Ordered: true, // a batch is read before the next is sent
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			path := "unix://" + sockPath(t)
			return bridgetest.Pair{
				Sender:   newBridge(t, path, socketbridge.WithSendOnly(), socketbridge.WithBridgeOptions(opts...)),
				Receiver: newBridge(t, path, socketbridge.WithBridgeOptions(opts...)),
				Raw: func(_ context.Context, data []byte) error {
					return rawSend(strings.TrimPrefix(path, "unix://"), append(append([]byte(nil), data...), '\n'))
				},
				ReplaceReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge {
					return newBridge(t, path, socketbridge.WithBridgeOptions(opts...))
				},
			}
		},
	})
}

func TestPathRules_BR31(t *testing.T) {
	abs90 := "/" + strings.Repeat("s", 89)
	for _, c := range []struct {
		path string
		opts []socketbridge.Option
		ok   bool
		msg  string
	}{
		{"", nil, false, "empty"},
		{"unix://", nil, false, "empty"},
		{abs90, nil, true, ""},
		{"unix://" + abs90, nil, true, ""},
		{abs90 + "x", nil, false, "too long"},
		{"unix://" + abs90 + "x", nil, false, "too long"},
		{"/tmp/" + strings.Repeat("é", 43), nil, false, "too long"}, // 91 bytes, 48 characters
		{"relative/b.sock", nil, false, "absolute"},
		{"relative/b.sock", []socketbridge.Option{socketbridge.WithSendOnly()}, true, ""},
		{"/tmp/x.sock", []socketbridge.Option{socketbridge.WithMaxConns(0)}, false, "connections"},
		{"/tmp/x.sock", []socketbridge.Option{socketbridge.WithIdleTimeout(0)}, false, "timeouts"},
		{"/tmp/x.sock", []socketbridge.Option{socketbridge.WithMaxLineSize(0)}, false, "line"},
	} {
		tr, err := socketbridge.NewTransport(c.path, c.opts...)
		if c.ok {
			if err != nil {
				t.Errorf("NewTransport(%q) = %v", c.path, err)
			} else if tr.Path() != strings.TrimPrefix(c.path, "unix://") || tr.Kind() != "SocketEventBridge" {
				t.Errorf("Path %q Kind %q", tr.Path(), tr.Kind())
			}
			continue
		}
		if !errors.Is(err, bridge.ErrConfig) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewTransport(%q) = %v, want ErrConfig saying %q", c.path, err, c.msg)
		}
	}
}

// collect starts a listening bridge on path whose handler records every
// event, and returns the record.
type collected struct {
	mu     sync.Mutex
	events []*api.BaseEvent
	errs   []error
}

func (c *collected) n() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.events) }

func (c *collected) errCount(target error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, err := range c.errs {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

func listenOn(t *testing.T, path string, opts ...socketbridge.Option) (*bridge.Bridge, *collected) {
	t.Helper()
	col := &collected{}
	opts = append(opts, socketbridge.WithBridgeOptions(bridge.WithErrorHandler(func(err error) {
		col.mu.Lock()
		col.errs = append(col.errs, err)
		col.mu.Unlock()
	})))
	b := newBridge(t, path, opts...)
	bridgetest.CloseAll(t, b)
	if _, err := b.On("*", func(_ context.Context, e *api.BaseEvent) (any, error) {
		col.mu.Lock()
		col.events = append(col.events, e)
		col.mu.Unlock()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b, col
}

func TestFrames_BR29_BR32(t *testing.T) {
	path := sockPath(t)
	_, col := listenOn(t, path, socketbridge.WithMaxLineSize(2<<20))
	a := bridgetest.Encode(t, bridgetest.Event(t, "A", nil))
	big := bridgetest.Encode(t, bridgetest.Event(t, "Big", map[string]any{"blob": strings.Repeat("x", 1<<20)})) // past 64 KiB
	huge := bridgetest.Encode(t, bridgetest.Event(t, "Huge", map[string]any{"blob": strings.Repeat("y", 3<<20)}))
	var conn bytes.Buffer
	conn.Write(a)
	conn.WriteString("\n\n   \n")           // blank lines are skipped
	conn.WriteString("{\"event_type\": \n") // malformed: dropped, reading goes on
	conn.Write(big)
	conn.WriteString("\r\n") // CRLF
	conn.Write(huge)         // over the limit: dropped, reported
	conn.WriteString("\n")
	conn.Write(bridgetest.Encode(t, bridgetest.Event(t, "Last", nil))) // the final frame, no newline
	if err := rawSend(path, conn.Bytes()); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "3 events", func() bool { return col.n() >= 3 })
	bridgetest.WaitFor(t, wait, "the reports", func() bool {
		return col.errCount(bridge.ErrInvalidMessage) >= 1 && col.errCount(bridge.ErrMessageTooLarge) >= 1
	})
	col.mu.Lock()
	defer col.mu.Unlock()
	var types []string
	for _, e := range col.events {
		types = append(types, e.Type())
	}
	if strings.Join(types, ",") != "A,Big,Last" {
		t.Errorf("received %v, want A, Big, Last", types)
	}
	if v, _ := col.events[1].Field("blob"); v != strings.Repeat("x", 1<<20) {
		t.Error("the 1 MiB line arrived changed")
	}
}

func TestSenderWire_BR30(t *testing.T) {
	// A plain listener sees compact JSON lines, all of a batch on one
	// connection, which the sender half-closes and waits on.
	path := sockPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	var mu sync.Mutex
	var lines [][]byte
	conns := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			data, _ := io.ReadAll(c) // until the sender's half-close
			mu.Lock()
			for _, line := range bytes.SplitAfter(data, []byte("\n")) {
				if len(line) > 0 {
					lines = append(lines, line)
				}
			}
			mu.Unlock()
			// Closing tells the sender its batch was read: only after the
			// lines are counted, or the check below races them.
			_ = c.Close()
		}
	}()
	tr, err := socketbridge.NewTransport(path, socketbridge.WithSendOnly())
	if err != nil {
		t.Fatal(err)
	}
	events := []*api.BaseEvent{bridgetest.Event(t, "One", map[string]any{"k": "v"}), bridgetest.Event(t, "Two", nil), bridgetest.Event(t, "Three", nil)}
	var msgs []bridge.Message
	for _, e := range events {
		msgs = append(msgs, bridge.Message{Data: bridgetest.Encode(t, e)})
	}
	ctx := context.Background()
	if err := tr.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Send(ctx, msgs); n != 3 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 || len(lines) != 3 {
		t.Fatalf("%d connections, %d lines: want the batch on one connection", conns, len(lines))
	}
	for i, line := range lines {
		if want := append(bridgetest.Encode(t, events[i]), '\n'); !bytes.Equal(line, want) {
			t.Errorf("line %d = %.100q, want %.100q", i, line, want)
		}
	}
}

func TestSelfEcho_BR31(t *testing.T) {
	// A bridge that sends to and listens on one path hears its own
	// events; the app bus they came from drops them.
	path := sockPath(t)
	b := newBridge(t, path)
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
	for range 3 {
		if err := app.Emit(ctx, bridgetest.Event(t, "Self", nil)); err != nil {
			t.Fatal(err)
		}
	}
	bridgetest.WaitFor(t, wait, "the echoes", func() bool { return echoed.Load() == 3 })
	_ = app.WaitUntilIdle(ctx)
	_ = b.Flush(ctx)
	_ = app.WaitUntilIdle(ctx)
	if handled.Load() != 3 {
		t.Errorf("app bus handled %d events, want 3", handled.Load())
	}
}

func TestSecondListenerTakesPath_BR31(t *testing.T) {
	path := sockPath(t)
	first, col1 := listenOn(t, path)
	second, col2 := listenOn(t, path)
	send := newBridge(t, path, socketbridge.WithSendOnly())
	bridgetest.CloseAll(t, send)
	ctx := context.Background()
	if err := send.Emit(ctx, bridgetest.Event(t, "ToSecond", nil)); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "the second listener", func() bool { return col2.n() == 1 })
	// Closing the first must not remove the second's socket file.
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := send.Emit(ctx, bridgetest.Event(t, "StillSecond", nil)); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "the second listener again", func() bool { return col2.n() == 2 })
	if col1.n() != 0 {
		t.Errorf("the first listener received %d events after the second took the path", col1.n())
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after its listener closed: %v", err)
	}
}

func TestStaleSocketRemoved_BR29(t *testing.T) {
	path := sockPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close() // a socket file nobody listens on
	_, col := listenOn(t, path)
	if err := rawSend(path, append(bridgetest.Encode(t, bridgetest.Event(t, "AfterStale", nil)), '\n')); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "the event", func() bool { return col.n() == 1 })

	// A regular file at the path is not a stale socket: left alone.
	other := filepath.Join(filepath.Dir(path), "file")
	if err := os.WriteFile(other, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBridge(t, other)
	if err := b.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Start over a regular file = %v, want an error", err)
	}
	_ = b.Close(context.Background())
	if data, _ := os.ReadFile(other); string(data) != "keep" {
		t.Error("the regular file was changed")
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	// A connection that stops in the middle of a line is closed after the
	// idle timeout; the half line is reported, not delivered.
	path := sockPath(t)
	_, col := listenOn(t, path, socketbridge.WithIdleTimeout(50*time.Millisecond))
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write([]byte(`{"event_type":"Half`)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read on an idle connection = %v, want EOF once the listener closed it", err)
	}
	bridgetest.WaitFor(t, wait, "the report", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return len(col.errs) == 1 && strings.Contains(col.errs[0].Error(), "inside a line")
	})
	if col.n() != 0 {
		t.Error("a half line was delivered")
	}
}

func TestCloseWithOpenConnection(t *testing.T) {
	// Close does not wait for a silent connection to time out: it reads
	// what was written, delivers it, and returns.
	path := sockPath(t)
	b, col := listenOn(t, path)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write(append(bridgetest.Encode(t, bridgetest.Event(t, "BeforeClose", nil)), '\n')); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "the event", func() bool { return col.n() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close with an open connection = %v", err)
	}
	r := bufio.NewReader(c)
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("connection after Close: %v, want EOF", err)
	}
}

func TestSendRetriesUntilListenerUp_BR30(t *testing.T) {
	path := sockPath(t)
	send := newBridge(t, path, socketbridge.WithSendOnly(), socketbridge.WithBridgeOptions(
		bridge.WithErrorHandler(func(error) {}), bridge.WithRetryBackoff(time.Millisecond, 5*time.Millisecond)))
	bridgetest.CloseAll(t, send)
	ctx := context.Background()
	if err := send.Emit(ctx, bridgetest.Event(t, "Early", nil)); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, wait, "a failed try", func() bool { return send.Stats().SendErrors > 0 })
	_, col := listenOn(t, path)
	bridgetest.WaitFor(t, wait, "the event once the listener is up", func() bool { return col.n() == 1 })
}
