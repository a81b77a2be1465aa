// Package socketbridge is the Unix domain socket transport of package
// bridge, the one abxbus calls SocketEventBridge: one socket path is both
// where a bridge sends and where it listens. Every event is a line of
// JSON written to a connection to the path; the listener reads the lines
// of every connection. A bridge that listens on a path hears its own
// events.
//
// Only one process can listen on a path: a listener that starts removes
// the socket file it finds and binds a new one, taking the path from the
// listener before it (as abxbus's do). A process that only sends to a path
// another process listens on uses WithSendOnly.
//
// On the wire it speaks what abxbus's Python and TypeScript bridges speak:
// compact event JSON and a newline per event. abxbus opens a connection
// per event; this transport writes a batch of events on one connection,
// which abxbus's listeners read the same way, and waits until the
// listener has read the batch and closed the connection before sending the
// next, so one sender's events arrive in order. The listener also reads a
// last line without a newline at the end of a connection, lines of any
// length up to a limit (WithMaxLineSize), and closes connections that stay
// silent (WithIdleTimeout).
package socketbridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringbus/ringbus/bridge"
)

// MaxPathBytes is the longest socket path abxbus accepts.
const MaxPathBytes = 90

// Defaults of the options.
const (
	// DefaultTimeout bounds one send: connecting, writing a batch and
	// waiting for the listener to have read it.
	DefaultTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long the listener keeps a silent
	// connection open.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxConns is how many connections the listener reads at once;
	// more wait to be accepted.
	DefaultMaxConns = 64
	// DefaultMaxLineSize is the longest line the listener reads.
	DefaultMaxLineSize = bridge.DefaultMaxMessageSize
)

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithSendOnly makes the bridge send to the path without listening on it,
// for a process that talks to a listener in another process: a second
// listener would take the path from the first.
func WithSendOnly() Option { return func(t *Transport) { t.sendOnly = true } }

// WithTimeout bounds one send (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(t *Transport) { t.timeout = d } }

// WithIdleTimeout sets how long the listener waits for the next bytes of
// a connection before closing it (default DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option { return func(t *Transport) { t.idle = d } }

// WithMaxConns sets how many connections the listener reads at once
// (default DefaultMaxConns).
func WithMaxConns(n int) Option { return func(t *Transport) { t.maxConns = n } }

// WithMaxLineSize drops received lines longer than n bytes, reported as too
// large, and never buffers more than that of one line (default
// DefaultMaxLineSize).
func WithMaxLineSize(n int) Option { return func(t *Transport) { t.maxLine = n } }

// Transport sends events to a Unix socket path and listens on it. Use New
// for a Bridge over it, or NewTransport with bridge.New. A Transport
// serves one Bridge; its methods are safe for concurrent use.
type Transport struct {
	path     string
	sendOnly bool
	timeout  time.Duration
	idle     time.Duration
	maxConns int
	maxLine  int
	bopts    []bridge.Option

	mu      sync.Mutex
	ln      *net.UnixListener
	file    os.FileInfo // the socket file this listener bound
	conns   map[*net.UnixConn]struct{}
	closing bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the accept loop and the connection readers
}

// NewTransport returns the transport for the socket at path, given with
// or without "unix://". The path may be at most MaxPathBytes long and, for
// a bridge that listens, must be absolute. The socket is bound when the
// bridge starts.
func NewTransport(path string, opts ...Option) (*Transport, error) {
	// BR-31: the path rules of abxbus.
	t := &Transport{
		path: strings.TrimPrefix(path, "unix://"), timeout: DefaultTimeout, idle: DefaultIdleTimeout,
		maxConns: DefaultMaxConns, maxLine: DefaultMaxLineSize,
	}
	for _, o := range opts {
		o(t)
	}
	switch {
	case t.path == "":
		return nil, fmt.Errorf("%w: SocketEventBridge path must not be empty", bridge.ErrConfig)
	case len(t.path) > MaxPathBytes:
		return nil, fmt.Errorf("%w: unix socket path is too long (%d bytes), max is %d: %s", bridge.ErrConfig, len(t.path), MaxPathBytes, t.path)
	case !t.sendOnly && !filepath.IsAbs(t.path):
		return nil, fmt.Errorf("%w: unix listen path must be absolute, got %q", bridge.ErrConfig, t.path)
	case t.timeout <= 0 || t.idle <= 0:
		return nil, fmt.Errorf("%w: timeouts %v and %v", bridge.ErrConfig, t.timeout, t.idle)
	case t.maxConns <= 0:
		return nil, fmt.Errorf("%w: max connections %d", bridge.ErrConfig, t.maxConns)
	case t.maxLine <= 0:
		return nil, fmt.Errorf("%w: max line size %d", bridge.ErrConfig, t.maxLine)
	}
	return t, nil
}

// New returns a bridge over the socket at path, like abxbus's
// SocketEventBridge(path).
func New(path string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(path, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// Kind returns "SocketEventBridge".
func (t *Transport) Kind() string { return "SocketEventBridge" }

// Path returns the socket path, without "unix://".
func (t *Transport) Path() string { return t.path }

// Open binds the socket and starts accepting connections, unless the
// transport only sends. A socket file already at the path is removed
// first; any other kind of file is left alone and Open fails.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	// BR-29: remove the stale socket, bind, accept.
	if t.sendOnly {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
		return fmt.Errorf("socket bridge: %w", err)
	}
	if fi, err := os.Lstat(t.path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("socket bridge: %s exists and is not a socket", t.path)
		}
		if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("socket bridge: %w", err)
		}
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "unix", t.path)
	if err != nil {
		return fmt.Errorf("socket bridge: %w", err)
	}
	ln := l.(*net.UnixListener)
	// Another listener may take the path later: Close removes the file
	// only if it is still this one's.
	ln.SetUnlinkOnClose(false)
	file, err := os.Stat(t.path)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("socket bridge: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.ln, t.file, t.cancel, t.closing = ln, file, cancel, false
	t.conns = make(map[*net.UnixConn]struct{})
	t.wg.Add(1)
	t.mu.Unlock()
	go t.accept(lctx, ln, in)
	return nil
}

// accept accepts connections, at most maxConns at a time.
func (t *Transport) accept(ctx context.Context, ln *net.UnixListener, in bridge.Inbox) {
	defer t.wg.Done()
	slots := make(chan struct{}, t.maxConns)
	pause := time.Millisecond
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := ln.AcceptUnix()
		if err != nil {
			<-slots
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, say: report, pause, go on.
			in.Report(fmt.Errorf("socket bridge: accept on %s: %w", t.path, err))
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return
			}
			pause = min(2*pause, time.Second)
			continue
		}
		pause = time.Millisecond
		t.mu.Lock()
		if t.closing {
			t.mu.Unlock()
			_ = c.Close()
			return
		}
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer func() { <-slots }()
			defer t.wg.Done()
			t.read(ctx, c, in)
			t.mu.Lock()
			delete(t.conns, c)
			t.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// read delivers the lines of one connection, and a last line without a
// newline at its end.
func (t *Transport) read(ctx context.Context, c *net.UnixConn, in bridge.Inbox) {
	// BR-29, BR-32: newline-delimited frames of any length up to maxLine
	// (a bufio.Reader, not a Scanner and its 64 KiB token limit).
	r := bufio.NewReaderSize(c, 64<<10)
	var long []byte   // a line longer than r's buffer, so far
	skipping := false // inside a line longer than maxLine
	for {
		_ = c.SetReadDeadline(time.Now().Add(t.idle))
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				if len(long)+len(chunk) > t.maxLine {
					in.Report(fmt.Errorf("%w: a socket line over %d bytes", bridge.ErrMessageTooLarge, t.maxLine))
					long, skipping = long[:0], true
				} else {
					long = append(long, chunk...)
				}
			}
			continue
		}
		line := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			line = long
		}
		switch {
		case skipping:
			skipping = false // the long line ends here
		case err != nil && !errors.Is(err, io.EOF):
			// Timed out or broken in the middle of a line: not a frame.
			// (At the end of the connection the rest is a frame, as in
			// abxbus, even when Close cut it: a sender still writing
			// then fails and sends again.)
			if len(bytes.TrimSpace(line)) > 0 {
				in.Report(fmt.Errorf("socket bridge: connection ended inside a line, %d bytes dropped: %w", len(line), err))
			}
		case len(line) > t.maxLine+1: // its newline aside
			in.Report(fmt.Errorf("%w: a socket line of %d bytes", bridge.ErrMessageTooLarge, len(line)))
		default:
			if l := bytes.TrimSpace(line); len(l) > 0 {
				in.Deliver(ctx, bridge.Message{Data: l})
			}
		}
		if err != nil {
			return
		}
		if cap(long) > 1<<20 {
			long = nil // do not keep a long line's buffer
		}
		long = long[:0]
	}
}

// Close stops accepting, lets the connections being read finish what
// their senders wrote (within ctx), and removes the socket file unless
// another listener has taken the path.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	ln, file, cancel := t.ln, t.file, t.cancel
	t.ln, t.closing = nil, true
	for c := range t.conns {
		// Reading on returns what was written, then end of file: the
		// sender sees its batch read, or a failed write for the rest.
		_ = c.CloseRead()
	}
	t.mu.Unlock()
	if ln == nil {
		return nil
	}
	_ = ln.Close()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		cancel() // a Deliver waiting for the inbound bus returns
		t.mu.Lock()
		for c := range t.conns {
			_ = c.Close()
		}
		t.mu.Unlock()
		<-done
	}
	cancel()
	if now, serr := os.Stat(t.path); serr == nil && os.SameFile(now, file) {
		_ = os.Remove(t.path)
	}
	return err
}

var newline = []byte{'\n'}

// Send writes the messages as lines on one connection, then waits until
// the listener has read them and closed it.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	// BR-30: compact JSON and a newline per event; one connection per
	// batch instead of per event, which abxbus's listeners read alike.
	d := net.Dialer{Timeout: t.timeout}
	conn, err := d.DialContext(ctx, "unix", t.path)
	if err != nil {
		return 0, err
	}
	c := conn.(*net.UnixConn)
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(t.timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	bufs := make(net.Buffers, 0, 2*len(msgs))
	for _, m := range msgs {
		bufs = append(bufs, m.Data, newline)
	}
	n, err := bufs.WriteTo(c) // writev
	if err != nil {
		return written(msgs, n), err
	}
	if err := c.CloseWrite(); err != nil {
		return 0, err
	}
	// The listener closes its end once it has read to the end of ours:
	// waiting for that keeps one sender's batches in order. A reset says
	// it closed without reading everything (it stopped or crashed), so the
	// batch is sent again. A listener that never closes costs the timeout
	// and counts as having read the batch, as does a ctx that ends first.
	var b [1]byte
	if _, err := c.Read(b[:]); errors.Is(err, syscall.ECONNRESET) {
		return 0, err
	}
	return len(msgs), nil
}

// written returns how many of msgs, each followed by a newline, fit in
// the first n bytes.
func written(msgs []bridge.Message, n int64) int {
	for i, m := range msgs {
		n -= int64(len(m.Data)) + 1
		if n < 0 {
			return i
		}
	}
	return len(msgs)
}
