package wal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// ReadOption configures Read and Replay.
type ReadOption interface {
	ReplayOption
	applyRead(*readConfig)
}

// ReplayOption configures Replay. Every ReadOption is one.
type ReplayOption interface{ applyReplay(*replayConfig) }

type readConfig struct {
	dec     wire.Decoder
	maxLine int
}

type replayConfig struct {
	read     readConfig
	filter   func(*api.BaseEvent) bool
	inFlight int
	keepIDs  bool
}

type readOption func(*readConfig)

func (f readOption) applyRead(c *readConfig)     { f(c) }
func (f readOption) applyReplay(c *replayConfig) { f(&c.read) }

type replayOption func(*replayConfig)

func (f replayOption) applyReplay(c *replayConfig) { f(c) }

// DefaultMaxLineBytes is the longest line Read and Replay accept unless
// WithMaxLineBytes says otherwise: 256 MiB.
const DefaultMaxLineBytes = 256 << 20

// WithDecoder sets the decoder of the lines (the zero wire.Decoder by
// default: strict, and typed events for the event types declared with
// api.Declare).
func WithDecoder(d wire.Decoder) ReadOption { return readOption(func(c *readConfig) { c.dec = d }) }

// WithMaxLineBytes sets the longest line accepted, in bytes
// (DefaultMaxLineBytes by default). A longer line is skipped with
// ErrLineTooLong without being held in memory.
func WithMaxLineBytes(n int) ReadOption { return readOption(func(c *readConfig) { c.maxLine = n }) }

// WithFilter makes Replay emit only the events for which keep returns
// true; it sees each event as decoded from its line, with its original
// id. The others are counted in Report.Filtered.
func WithFilter(keep func(e *api.BaseEvent) bool) ReplayOption {
	return replayOption(func(c *replayConfig) { c.filter = keep })
}

// WithInFlight lets Replay emit up to n events before waiting for the
// oldest to complete (1 by default: each event completes before the next
// line is read).
func WithInFlight(n int) ReplayOption { return replayOption(func(c *replayConfig) { c.inFlight = n }) }

// WithOriginalIDs makes Replay emit each event with the event_id it was
// logged with, instead of a new one, so that handlers may recognise
// events they have seen. The bus must not hold those events already.
func WithOriginalIDs() ReplayOption { return replayOption(func(c *replayConfig) { c.keepIDs = true }) }

func (c *readConfig) validate() error {
	if c.maxLine == 0 {
		c.maxLine = DefaultMaxLineBytes
	}
	if c.maxLine < 0 {
		return fmt.Errorf("%w: max line bytes %d", ErrInvalidOption, c.maxLine)
	}
	return nil
}

// Read returns the events of the WAL file at path, in the order their
// lines were written (the order the events completed), as decoded from
// their lines: completed, with their original ids. A typed event (its
// event_type declared with api.Declare) is the *BaseEvent embedded in a
// new value of its Go type, which Payload returns.
//
// Lines that cannot be read are yielded as (nil, *LineError) and reading
// goes on: a corrupt line (ErrCorrupt), a line over the length limit
// (ErrLineTooLong), and, last, a torn last line (ErrTorn), which a crash
// while writing leaves behind. Blank lines are skipped. Any other error
// (opening or reading the file) is yielded once, and ends the sequence.
//
// Read reads the lines the file holds when reading starts; a line being
// appended at that moment may be reported as torn.
func Read(path string, opts ...ReadOption) iter.Seq2[*api.BaseEvent, error] {
	var cfg readConfig
	for _, o := range opts {
		if o != nil {
			o.applyRead(&cfg)
		}
	}
	return func(yield func(*api.BaseEvent, error) bool) {
		if err := cfg.validate(); err != nil {
			yield(nil, err)
			return
		}
		lr, err := openLines(path, cfg.maxLine)
		if err != nil {
			yield(nil, err)
			return
		}
		defer lr.close()
		for {
			line, lerr, err := lr.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if lerr != nil {
				if !yield(nil, lerr) {
					return
				}
				continue
			}
			ev, err := cfg.dec.Unmarshal(line)
			if err != nil {
				if !yield(nil, lr.corrupt(len(line), err)) {
					return
				}
				continue
			}
			if !yield(engine.Core(ev), nil) {
				return
			}
		}
	}
}

// MaxReportedErrors is the number of *LineError values a Report keeps.
const MaxReportedErrors = 100

// Report is what Replay did.
type Report struct {
	// Lines is the number of complete, non-blank lines read.
	Lines int
	// Replayed is the number of events emitted on the bus that completed.
	Replayed int
	// Filtered is the number of events WithFilter skipped.
	Filtered int
	// Corrupt is the number of lines skipped as corrupt or too long.
	Corrupt int
	// Errors are the first MaxReportedErrors of those lines.
	Errors []*LineError
	// Torn is the torn last line, skipped; nil when the file ends with a
	// newline.
	Torn *LineError
}

// Replay emits the events of the WAL file at path on bus, in the order of
// their lines, and waits for them to complete. Each event is a fresh copy
// of its line's event, as abxbus's event_reset makes it: a new event_id
// (or its own, with WithOriginalIDs), status pending, no result rows; its
// type, payload, event_parent_id and event_created_at are kept. Its
// event_path is emptied, so that it runs even on the bus that wrote the
// log (an event already on a bus's path is not run there again).
//
// The log holds children as well as their parents, each child before its
// parent (it completed first): when the parents' handlers emit the
// children again, skip the children with WithFilter (for instance, the
// events with a ParentID).
//
// Replay reads the lines the file holds when it starts, so a bus that
// logs to the same file does not replay its own replay. Corrupt lines and
// a torn last line are skipped and counted in the Report. Replay stops at
// the first error of ctx, of reading the file or of Emit (a bus with a
// full history rejects events: replay into a bus with WithHistoryDrop or
// a large enough WithMaxHistory), and returns it with the Report so far.
func Replay(ctx context.Context, path string, bus *api.Bus, opts ...ReplayOption) (Report, error) {
	cfg := replayConfig{inFlight: 1}
	for _, o := range opts {
		if o != nil {
			o.applyReplay(&cfg)
		}
	}
	var rep Report
	if err := cfg.read.validate(); err != nil {
		return rep, err
	}
	if cfg.inFlight < 1 {
		return rep, fmt.Errorf("%w: in flight %d, want at least 1", ErrInvalidOption, cfg.inFlight)
	}
	if bus == nil {
		return rep, fmt.Errorf("%w: nil bus", ErrInvalidOption)
	}
	lr, err := openLines(path, cfg.read.maxLine)
	if err != nil {
		return rep, err
	}
	defer lr.close()
	pending := make([]*api.BaseEvent, 0, min(cfg.inFlight, 1024))
	waitOldest := func() error {
		if err := pending[0].Wait(ctx); err != nil {
			return err
		}
		pending = pending[1:]
		rep.Replayed++
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		line, lerr, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, err
		}
		if lerr != nil {
			rep.add(lerr)
			continue
		}
		rep.Lines++
		ev, err := cfg.read.dec.Unmarshal(line)
		if err != nil {
			rep.add(lr.corrupt(len(line), err))
			continue
		}
		if cfg.filter != nil && !cfg.filter(engine.Core(ev)) {
			rep.Filtered++
			continue
		}
		fresh, err := replayCopy(ev, cfg.keepIDs)
		if err != nil {
			rep.add(lr.corrupt(len(line), err))
			continue
		}
		if len(pending) == cfg.inFlight {
			if err := waitOldest(); err != nil {
				return rep, err
			}
		}
		if err := bus.Emit(ctx, fresh); err != nil {
			return rep, fmt.Errorf("ringbus: wal replay of line %d: %w", lr.line, err)
		}
		pending = append(pending, engine.Core(fresh))
	}
	for len(pending) > 0 {
		if err := waitOldest(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *Report) add(e *LineError) {
	if errors.Is(e.Err, ErrTorn) {
		r.Torn = e
		return
	}
	r.Corrupt++
	if len(r.Errors) < MaxReportedErrors {
		r.Errors = append(r.Errors, e)
	}
}

// replayCopy is the event Replay emits for ev: wire.Reset's fresh copy,
// with an empty path and, when keepID, ev's id.
func replayCopy(ev api.Eventer, keepID bool) (api.Eventer, error) {
	// BR-4's event_reset (RESET-1..4), but with the path emptied: a kept
	// path would make the Emit a no-op on a bus the event ran on before
	// (EMIT-8), and Replay would wait forever for an event never queued.
	fresh, err := wire.Reset(ev)
	if err != nil {
		return nil, err
	}
	core := engine.Core(fresh)
	st := engine.StateOf(core)
	st.Path = nil
	if keepID {
		st.ID = engine.Core(ev).UUID()
	}
	if err := engine.Restore(core, fresh, &st); err != nil {
		return nil, err
	}
	return fresh, nil
}

// lines reads a WAL file line by line, up to the size it had when opened.
type lines struct {
	f     *os.File
	r     *bufio.Reader
	max   int
	buf   []byte
	line  int   // number of the line last returned
	off   int64 // offset of the line last returned
	next0 int64
}

func openLines(path string, maxLine int) (*lines, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	var r io.Reader = f
	if st.Mode().IsRegular() {
		r = io.LimitReader(f, st.Size())
	}
	return &lines{f: f, r: bufio.NewReaderSize(r, 64<<10), max: maxLine}, nil
}

func (l *lines) close() { _ = l.f.Close() }

// next returns the next non-blank line without its newline, valid until
// the following call; or a *LineError for a line that is too long or
// torn; or io.EOF at the end, or the read error.
func (l *lines) next() ([]byte, *LineError, error) {
	for {
		start := l.next0
		l.buf = l.buf[:0]
		n, tooLong, direct := 0, false, []byte(nil)
		var err error
		for {
			var frag []byte
			frag, err = l.r.ReadSlice('\n')
			n += len(frag)
			body := n // the line's bytes so far, without a newline
			if err == nil {
				body--
			}
			if !tooLong && body > l.max {
				tooLong, l.buf, direct = true, l.buf[:0], nil
			}
			if !tooLong {
				if err == nil && len(l.buf) == 0 {
					direct = frag // the whole line is in the reader's buffer
				} else {
					l.buf = append(l.buf, frag...)
				}
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, io.EOF
		}
		l.next0 += int64(n)
		l.line++
		l.off = start
		if err != nil { // io.EOF before a newline: the last line is torn
			return nil, &LineError{Line: l.line, Offset: start, Len: n, Err: ErrTorn}, nil
		}
		if tooLong {
			return nil, &LineError{Line: l.line, Offset: start, Len: n - 1, Err: ErrLineTooLong}, nil
		}
		line := direct
		if line == nil {
			line = l.buf
		}
		line = line[:len(line)-1]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return line, nil, nil
	}
}

// corrupt is the error of the line last returned, which did not decode.
func (l *lines) corrupt(n int, err error) *LineError {
	return &LineError{Line: l.line, Offset: l.off, Len: n, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
}
