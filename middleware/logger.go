package middleware

// Logger, the text flavour: MW-14.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/logattr"
	"github.com/ringbus/ringbus/wire"
)

// TextLogger is the middleware Logger returns.
type TextLogger struct {
	api.NopMiddleware
	out io.Writer // nil: none

	mu     sync.Mutex // serialises the writes; guards file
	file   *os.File
	closed bool
}

// LoggerOption configures Logger.
type LoggerOption interface {
	applyLogger(*loggerConfig)
}

type loggerConfig struct {
	out     io.Writer
	outSet  bool
	path    string
	pathSet bool
}

type loggerOptionFunc func(*loggerConfig)

func (f loggerOptionFunc) applyLogger(c *loggerConfig) { f(c) }

// WithOutput makes Logger write its lines to w instead of os.Stdout; nil
// writes them nowhere but the file (see WithFile). Writes to w are
// serialised: w need not be safe for concurrent use.
func WithOutput(w io.Writer) LoggerOption {
	return loggerOptionFunc(func(c *loggerConfig) { c.out, c.outSet = w, true })
}

// WithFile makes Logger also append its lines to the file at path,
// creating it and its parent folders if missing. The file is opened once,
// by Logger, and closed by TextLogger.Close.
func WithFile(path string) LoggerOption {
	return loggerOptionFunc(func(c *loggerConfig) { c.path, c.pathSet = path, true })
}

// Logger returns a middleware that writes a line for every event the bus
// completes:
//
//	[Orders#ab12] {"event_type":"OrderPlaced","event_version":"1.0.0",...}
//
// the bus's label, then the event's event_* fields as a compact JSON
// object, in the order the wire codec writes them, without the result
// rows (the fields whose name contains "results"): ids, path, parent,
// timestamps, status and settings, never the payload, which may be
// sensitive. The abxbus Python package prints the same fields as a Python
// dict.
//
// Lines go to os.Stdout (see WithOutput) and, with WithFile, to a file as
// well; Logger fails only when that file cannot be created or opened. A
// write that fails is logged on the bus's logger at Warn. For structured
// records of every transition, see Slog.
//
// The line is written before Wait, Now or Done on the event return. Each
// line costs an encoding of the event (as wire.Marshal does) on the
// goroutine completing it.
func Logger(opts ...LoggerOption) (*TextLogger, error) {
	c := loggerConfig{out: os.Stdout}
	for _, o := range opts {
		if o != nil {
			o.applyLogger(&c)
		}
	}
	l := &TextLogger{out: c.out}
	if c.pathSet {
		if c.path == "" {
			return nil, fmt.Errorf("%w: empty log file path", api.ErrBadOption)
		}
		if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
			return nil, fmt.Errorf("ringbus: log file: %w", err)
		}
		f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("ringbus: log file: %w", err)
		}
		l.file = f
	}
	return l, nil
}

// Close closes the log file, if any. Lines of events completed later are
// still written to the output, not to the file. Close is idempotent.
func (l *TextLogger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

const msgLogWriteFailed = "ringbus: logger middleware could not write"

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Hooks tells the bus that the Logger needs only completed events; the
// other transitions cost nothing per event.
func (*TextLogger) Hooks() api.Hooks { return api.EventCompletedHook }

// OnEventChange writes the line of a completed event.
func (l *TextLogger) OnEventChange(ctx context.Context, bus *api.Bus, e *api.BaseEvent, s api.Status) {
	if s != api.StatusCompleted {
		return
	}
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	// The event's JSON first, then the line built after it in the same
	// buffer: [label] {event_* fields}\n.
	js, err := wire.Encoder{}.Append((*bp)[:0], e)
	if err != nil {
		// The payload cannot be encoded (a value with no JSON form): the
		// line still says which event completed.
		js = fmt.Appendf((*bp)[:0], `{"event_type":%q,"event_id":%q}`, e.Type(), e.ID())
	}
	n := len(js)
	line := append(js, '[')
	line = append(line, bus.Label()...)
	line = append(line, "] "...)
	line = appendSummary(line, js[:n])
	line = append(line, '\n')
	*bp = line
	if werr := l.write(line[n:]); werr != nil {
		if lg := bus.Logger(); lg.Enabled(ctx, slog.LevelWarn) {
			lg.LogAttrs(ctx, slog.LevelWarn, msgLogWriteFailed, slog.String(logattr.Bus, bus.Label()),
				slog.String(logattr.EventID, e.ID()), slog.Any(logattr.Error, werr))
		}
	}
}

func (l *TextLogger) write(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.file != nil && !l.closed {
		_, err = l.file.Write(line)
	}
	if l.out != nil {
		if _, werr := l.out.Write(line); err == nil {
			err = werr
		}
	}
	return err
}

// appendSummary appends to dst the members of the JSON object src whose
// key starts with "event_" and does not contain "results", as a compact
// object, in src's order. src is compact JSON as package wire writes it;
// if it is not an object, "{}" is appended.
func appendSummary(dst, src []byte) []byte {
	dst = append(dst, '{')
	if len(src) < 2 || src[0] != '{' {
		return append(dst, '}')
	}
	first := true
	i := 1
	for i < len(src) && src[i] == '"' {
		kEnd := skipString(src, i)
		if kEnd < 0 || kEnd >= len(src) || src[kEnd] != ':' {
			break
		}
		vEnd := skipValue(src, kEnd+1)
		if vEnd < 0 {
			break
		}
		if key := src[i+1 : kEnd-1]; keep(key) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, src[i:vEnd]...)
		}
		i = vEnd
		if i < len(src) && src[i] == ',' {
			i++
		}
	}
	return append(dst, '}')
}

// keep reports whether a key belongs in the summary.
func keep(key []byte) bool {
	const prefix, results = "event_", "results"
	if len(key) < len(prefix) || string(key[:len(prefix)]) != prefix {
		return false
	}
	for j := 0; j+len(results) <= len(key); j++ {
		if string(key[j:j+len(results)]) == results {
			return false
		}
	}
	return true
}

// skipString returns the index just past the JSON string starting at
// src[i] (a '"'), or -1.
func skipString(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the compact JSON value starting at
// src[i], or -1.
func skipValue(src []byte, i int) int {
	if i >= len(src) {
		return -1
	}
	switch src[i] {
	case '"':
		return skipString(src, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				if j = skipString(src, j); j < 0 {
					return -1
				}
				j-- // the loop's j++ lands just past the string
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(src) && src[j] != ',' && src[j] != '}' && src[j] != ']' {
			j++
		}
		return j
	}
}
