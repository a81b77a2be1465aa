// Package jsonlbridge is the JSONL file transport of package bridge, the
// one abxbus calls JSONLEventBridge: every event is one line of JSON
// appended to a shared file, and every bridge on the file polls it for the
// lines others appended. It needs nothing but a file system that the
// processes share.
package jsonlbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ringbus/ringbus/bridge"
)

// DefaultPollInterval is how often a listener reads the file, as in
// abxbus.
const DefaultPollInterval = 250 * time.Millisecond

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithPollInterval sets how often the listener reads new lines (default
// DefaultPollInterval; at least a millisecond). It bounds the latency.
func WithPollInterval(d time.Duration) Option { return func(t *Transport) { t.poll = d } }

// WithMaxLineSize drops received lines longer than n bytes, reported as too
// large, and never buffers more than that of an unfinished line (default
// bridge.DefaultMaxMessageSize).
func WithMaxLineSize(n int) Option { return func(t *Transport) { t.maxLine = n } }

// Transport appends events to a file and polls it. Use New for a Bridge
// over it, or NewTransport with bridge.New.
type Transport struct {
	path    string
	poll    time.Duration
	maxLine int
	bopts   []bridge.Option

	mu     sync.Mutex
	f      *os.File // the append descriptor, opened by Open
	cancel context.CancelFunc
	done   chan struct{}
}

// NewTransport returns the transport for the file at path. The file and
// its folders are created when the bridge starts.
func NewTransport(path string, opts ...Option) (*Transport, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty JSONL path", bridge.ErrConfig)
	}
	t := &Transport{path: path, poll: DefaultPollInterval, maxLine: bridge.DefaultMaxMessageSize}
	for _, o := range opts {
		o(t)
	}
	if t.poll <= 0 {
		t.poll = DefaultPollInterval
	}
	t.poll = max(t.poll, time.Millisecond)
	if t.maxLine <= 0 {
		return nil, fmt.Errorf("%w: max line size %d", bridge.ErrConfig, t.maxLine)
	}
	return t, nil
}

// New returns a bridge over the JSONL file at path, like abxbus's
// JSONLEventBridge(path, poll_interval).
func New(path string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(path, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// Kind returns "JSONLEventBridge".
func (t *Transport) Kind() string { return "JSONLEventBridge" }

// Open creates the file if needed and starts polling from its current end:
// lines already in it are not read.
func (t *Transport) Open(_ context.Context, in bridge.Inbox) error {
	// BR-9: touch the file, start at its end.
	if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.f, t.cancel, t.done = f, cancel, make(chan struct{})
	t.mu.Unlock()
	go t.listen(ctx, in, st.Size())
	return nil
}

// Send appends the messages, each a line, with one write.
func (t *Transport) Send(_ context.Context, msgs []bridge.Message) (int, error) {
	// BR-8: one write(2) on an O_APPEND descriptor, so lines of concurrent
	// writers never interleave.
	n := 0
	for _, m := range msgs {
		n += len(m.Data) + 1
	}
	buf := make([]byte, 0, n)
	for _, m := range msgs {
		buf = append(buf, m.Data...)
		buf = append(buf, '\n')
	}
	t.mu.Lock()
	f := t.f
	t.mu.Unlock()
	if f == nil {
		return 0, bridge.ErrClosed
	}
	if _, err := f.Write(buf); err != nil {
		return 0, err
	}
	return len(msgs), nil
}

// Close stops polling and closes the file.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	f, cancel, done := t.f, t.cancel, t.done
	t.f = nil
	t.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		<-done // the poller stops at its next read, which is short
		err = ctx.Err()
	}
	return errors.Join(err, f.Close())
}

// listen polls the file from offset: reads what was appended, delivers the
// complete lines, keeps the unfinished one for the next poll.
func (t *Transport) listen(ctx context.Context, in bridge.Inbox, offset int64) {
	// BR-9: a shrunk file (truncated, rotated) is read again from 0, and a
	// missing one reads as empty.
	defer close(t.done)
	tick := time.NewTicker(t.poll)
	defer tick.Stop()
	var partial []byte
	skipping := false // inside a line longer than maxLine
	chunk := make([]byte, 64<<10)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f, err := os.Open(t.path)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				in.Report(fmt.Errorf("jsonl bridge: %w", err))
			}
			continue
		}
		if st, err := f.Stat(); err == nil && st.Size() < offset {
			offset, partial, skipping = 0, partial[:0], false
		}
		for ctx.Err() == nil {
			n, err := f.ReadAt(chunk, offset)
			offset += int64(n)
			data := chunk[:n]
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					if !skipping {
						partial = append(partial, data...)
						if len(partial) > t.maxLine {
							in.Report(fmt.Errorf("%w: a JSONL line over %d bytes", bridge.ErrMessageTooLarge, t.maxLine))
							partial, skipping = partial[:0], true
						}
					}
					break
				}
				line := data[:i]
				data = data[i+1:]
				if skipping {
					skipping = false
					continue
				}
				if len(partial) > 0 {
					partial = append(partial, line...)
					line = partial
				}
				if len(line) > t.maxLine {
					in.Report(fmt.Errorf("%w: a JSONL line of %d bytes", bridge.ErrMessageTooLarge, len(line)))
				} else if len(bytes.TrimSpace(line)) > 0 {
					in.Deliver(ctx, bridge.Message{Data: line})
				}
				partial = partial[:0]
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					in.Report(fmt.Errorf("jsonl bridge: %w", err))
				}
				break
			}
		}
		_ = f.Close()
		if cap(partial) > 1<<20 && len(partial) == 0 {
			partial = nil // a long line is done: do not keep its buffer
		}
	}
}
