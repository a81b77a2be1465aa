package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/internal/logattr"
)

// MW-13: the write-ahead log middleware. A completed event's JSON (wire.md
// §2, Compat242 by default: 2.4.2 writes it without event_results) is one
// line, written with one write(2). Under SyncEvery the line is written
// and fsynced inside the Completed hook, which the engine runs before the
// event's waiters wake, so an event whose Wait returned is on disk.

// file is what the WAL needs of its *os.File; tests wrap it.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// WAL is a write-ahead log of a bus's completed events: a file with one
// line of JSON per event, appended as each event completes. Give it to a
// bus with api.WithMiddlewares; it implements api.Middleware. One WAL may
// serve several buses; events that complete at the same time are written
// one after the other, each line whole.
//
// A WAL is safe for concurrent use and must not be copied. Close it after
// the buses that use it have stopped; an event that completes after Close
// is not written and is reported with ErrClosed.
type WAL struct {
	path    string
	cfg     config
	f       file
	q       chan item // nil under SyncEvery
	exited  chan struct{}
	timer   *time.Timer
	logger  *slog.Logger
	onError func(error)

	// closeMu orders hooks against Close: a hook holds it for reading
	// while it writes or queues its line; Close takes it to mark the WAL
	// closed, after the hooks in progress are done.
	closeMu sync.RWMutex
	closed  bool

	// mu serialises the writes under SyncEvery and guards its group
	// commit: written and synced count lines, syncing is set while one
	// hook runs the fsync that the others wait for (cond).
	mu      sync.Mutex
	cond    sync.Cond
	syncing bool

	written  atomic.Uint64
	synced   atomic.Uint64
	syncs    atomic.Uint64
	dropped  atomic.Uint64
	repaired int64
	failed   atomic.Pointer[Error]
	warned   atomic.Bool // the first event after Close was logged

	closeOnce sync.Once
	closeErr  error
}

// item is one queued line, or (sync != nil) a request to fsync.
type item struct {
	buf  *[]byte
	id   ident.UUID
	typ  string
	sync chan error
}

// Open opens the WAL at path, creating the file and its parent
// directories if needed, and appends to it. If the file's last line is
// torn (its write was cut short by a crash, so it has no newline), Open
// cuts it off, logs it at Warn and counts its bytes in Stats().Repaired,
// so that the next line starts on a line of its own.
//
// One WAL per file: two WALs, or two processes, appending to one file may
// interleave their repairs and lines.
func Open(path string, opts ...Option) (*WAL, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &WAL{path: path, cfg: cfg, logger: cfg.logger, onError: cfg.onError}
	w.cond.L = &w.mu
	if err := w.open(); err != nil {
		return nil, &Error{Op: OpOpen, Path: path, Err: err}
	}
	if cfg.wrap != nil {
		w.f = cfg.wrap(w.f)
	}
	if cfg.sync.kind != syncEvery {
		w.q = make(chan item, cfg.queue)
		w.exited = make(chan struct{})
		w.timer = time.NewTimer(time.Hour)
		w.timer.Stop()
		go w.run()
	}
	return w, nil
}

func (w *WAL) open() error {
	dir := filepath.Dir(w.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, statErr := os.Stat(w.path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, w.cfg.perm)
	if err != nil {
		return err
	}
	if !created {
		if err := w.repair(f); err != nil {
			_ = f.Close()
			return err
		}
	} else if w.cfg.sync.kind != syncNone {
		// The new file's directory entry is durable before the first line.
		syncDir(dir)
	}
	w.f = f
	return nil
}

// syncDir fsyncs a directory, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// repair cuts off a torn last line: everything after the file's last
// newline.
func (w *WAL) repair(f *os.File) error {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		return err
	}
	r, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	size := st.Size()
	keep, err := lastLineEnd(r, size)
	if err != nil || keep == size {
		return err
	}
	if err := f.Truncate(keep); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	w.repaired = size - keep
	w.logger.Warn("ringbus: wal torn last line removed", slog.String("path", w.path),
		slog.Int64("offset", keep), slog.Int64("bytes", size-keep))
	return nil
}

// lastLineEnd returns the offset just after the last newline of the first
// size bytes of r (0 when there is none), reading backwards in chunks.
func lastLineEnd(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		n := min(int64(len(buf)), end)
		chunk := buf[:n]
		if _, err := r.ReadAt(chunk, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// Path returns the file the WAL appends to.
func (w *WAL) Path() string { return w.path }

// Policy returns the WAL's sync policy.
func (w *WAL) Policy() SyncPolicy { return w.cfg.sync }

// Hooks tells the bus that the WAL needs only completed events; the other
// transitions cost nothing per event.
func (*WAL) Hooks() api.Hooks { return api.EventCompletedHook }

// OnEventChange writes e's line when e completes; other transitions are
// ignored. Under SyncEvery it returns once the line is written and
// fsynced; under the other policies once the line is queued.
func (w *WAL) OnEventChange(_ context.Context, _ *api.Bus, e *api.BaseEvent, s api.Status) {
	if s != api.StatusCompleted || e == nil {
		return
	}
	w.record(e)
}

// OnResultChange does nothing: the WAL records events, not rows.
func (w *WAL) OnResultChange(context.Context, *api.Bus, *api.BaseEvent, *api.Result, api.Status) {}

// OnHandlersChange does nothing.
func (w *WAL) OnHandlersChange(*api.Bus, *api.Handler, bool) {}

var _ api.Middleware = (*WAL)(nil)

// Line buffers. A buffer that grew beyond maxPooled (an event with a large
// payload) is left to the garbage collector rather than kept.
const maxPooled = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// record encodes e's line and writes it (SyncEvery) or queues it.
func (w *WAL) record(e *api.BaseEvent) {
	bp := getBuf()
	b, err := w.cfg.enc.Append((*bp)[:0], e.Payload())
	if err != nil {
		putBuf(bp)
		w.dropped.Add(1)
		werr := &Error{Op: OpEncode, Path: w.path, EventID: e.ID(), EventType: e.Type(), Err: err}
		w.logger.Warn("ringbus: wal cannot encode event", w.attrs(werr)...)
		w.report(werr)
		return
	}
	*bp = append(b, '\n')

	w.closeMu.RLock()
	if w.closed {
		w.closeMu.RUnlock()
		putBuf(bp)
		w.lost(e.UUID(), e.Type(), nil)
		return
	}
	if f := w.failed.Load(); f != nil {
		w.closeMu.RUnlock()
		putBuf(bp)
		w.lost(e.UUID(), e.Type(), f)
		return
	}
	if w.q == nil {
		werr := w.writeEvery(*bp, e.UUID(), e.Type())
		w.closeMu.RUnlock()
		putBuf(bp)
		if werr != nil {
			w.report(werr)
		}
		return
	}
	w.q <- item{buf: bp, id: e.UUID(), typ: e.Type()} // waits for room: back-pressure
	w.closeMu.RUnlock()
}

// writeEvery writes line, the line of event id of type typ, and waits
// until an fsync covers it (SyncEvery). It returns the event's error if
// the line is not durable.
func (w *WAL) writeEvery(line []byte, id ident.UUID, typ string) *Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.failed.Load(); f != nil {
		w.dropped.Add(1)
		return w.failedErr(f, id, typ)
	}
	if _, err := w.f.Write(line); err != nil {
		w.dropped.Add(1)
		return w.fail(OpWrite, err, id, typ)
	}
	seq := w.written.Add(1)
	if err := w.syncLocked(seq, id, typ); err != nil {
		return &Error{Op: OpSync, Path: w.path, EventID: idString(id), EventType: typ, Err: err}
	}
	return nil
}

// syncLocked waits, with w.mu held, until the first seq lines written are
// fsynced. The first waiter runs the fsync, without the lock, for every
// line written so far; the waiters whose lines it covers return with it,
// and the lines written meanwhile wait for the next one (group commit).
// It returns the fsync's error when the lines are not durable; id and typ
// name the caller's event, for the log.
func (w *WAL) syncLocked(seq uint64, id ident.UUID, typ string) error {
	for w.synced.Load() < seq {
		if f := w.failed.Load(); f != nil {
			return f.Err
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		target := w.written.Load()
		w.mu.Unlock()
		err := w.f.Sync()
		w.mu.Lock()
		w.syncing = false
		w.cond.Broadcast()
		if err != nil {
			_ = w.fail(OpSync, err, id, typ) // logs it; the caller reports its event
			return err
		}
		w.syncs.Add(1)
		w.synced.Store(target)
	}
	return nil
}

// fail records the WAL's first write or fsync failure, after which it
// writes nothing more, and logs it. It returns the error of the event at
// hand (id and typ; zero for a background fsync).
func (w *WAL) fail(op string, err error, id ident.UUID, typ string) *Error {
	f := &Error{Op: op, Path: w.path, EventID: idString(id), EventType: typ, Err: err}
	if w.failed.CompareAndSwap(nil, f) {
		w.logger.Error("ringbus: wal failed, writing stops", w.attrs(f)...)
		return f
	}
	return w.failedErr(w.failed.Load(), id, typ)
}

// failedErr is the error of event id, lost to the earlier failure f.
func (w *WAL) failedErr(f *Error, id ident.UUID, typ string) *Error {
	return &Error{Op: f.Op, Path: w.path, EventID: idString(id), EventType: typ,
		Err: fmt.Errorf("%w: %w", ErrFailed, f.Err)}
}

func idString(id ident.UUID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

// lost counts and reports an event that is not written because the WAL
// failed earlier (f is the failure) or, when f is nil, was closed.
func (w *WAL) lost(id ident.UUID, typ string, f *Error) {
	w.dropped.Add(1)
	werr := &Error{Op: OpWrite, Path: w.path, EventID: idString(id), EventType: typ, Err: ErrClosed}
	if f != nil {
		werr = w.failedErr(f, id, typ)
	}
	if errors.Is(werr, ErrClosed) && w.warned.CompareAndSwap(false, true) {
		w.logger.Warn("ringbus: wal closed, event not written", w.attrs(werr)...)
	} else {
		w.logger.Debug("ringbus: wal event not written", w.attrs(werr)...)
	}
	w.report(werr)
}

// report hands err to the error handler. A panic of the handler is
// recovered and logged: on the WAL's goroutine it would end the process.
func (w *WAL) report(err *Error) {
	if w.onError == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			w.logger.Error("ringbus: wal error handler panicked", slog.String("path", w.path),
				slog.Any("panic", r), slog.Any(logattr.Error, err))
		}
	}()
	w.onError(err)
}

func (w *WAL) attrs(e *Error) []any {
	a := []any{slog.String("path", e.Path), slog.String("op", e.Op)}
	if e.EventID != "" {
		a = append(a, slog.String(logattr.EventID, e.EventID), slog.String(logattr.EventType, e.EventType))
	}
	return append(a, slog.Any(logattr.Error, e.Err))
}

// run is the WAL's goroutine under SyncBatch and SyncNone: it writes the
// queued lines and fsyncs as the policy says, until Close closes the
// queue.
func (w *WAL) run() {
	defer close(w.exited)
	batch := w.cfg.sync.kind == syncBatch
	var unsynced int
	armed := false
	syncNow := func() error {
		if armed {
			w.timer.Stop()
			armed = false
		}
		unsynced = 0
		return w.syncBackground()
	}
	for {
		select {
		case it, ok := <-w.q:
			if !ok {
				if w.written.Load() > w.synced.Load() {
					_ = syncNow()
				}
				w.timer.Stop()
				return
			}
			if it.sync != nil {
				it.sync <- syncNow()
				continue
			}
			if !w.writeBackground(it) || !batch {
				continue
			}
			unsynced++
			if p := w.cfg.sync; p.maxEvents > 0 && unsynced >= p.maxEvents {
				_ = syncNow()
			} else if p.interval > 0 && !armed {
				w.timer.Reset(p.interval)
				armed = true
			}
		case <-w.timer.C:
			armed = false
			if unsynced > 0 {
				_ = syncNow()
			}
		}
	}
}

// writeBackground writes one queued line on the WAL's goroutine; it
// reports whether it did.
func (w *WAL) writeBackground(it item) bool {
	defer putBuf(it.buf)
	if f := w.failed.Load(); f != nil {
		w.lost(it.id, it.typ, f)
		return false
	}
	if _, err := w.f.Write(*it.buf); err != nil {
		w.dropped.Add(1)
		w.report(w.fail(OpWrite, err, it.id, it.typ))
		return false
	}
	w.written.Add(1)
	return true
}

// syncBackground fsyncs the lines written so far, on the WAL's goroutine.
func (w *WAL) syncBackground() error {
	if f := w.failed.Load(); f != nil {
		return f
	}
	target := w.written.Load()
	if err := w.f.Sync(); err != nil {
		werr := w.fail(OpSync, err, ident.UUID{}, "")
		w.report(werr)
		return werr
	}
	w.syncs.Add(1)
	w.synced.Store(target)
	return nil
}

// Sync writes the lines queued so far and fsyncs the file. Under
// SyncEvery every line is already durable when its event completes, and
// Sync only waits for an fsync in progress. It returns ErrClosed after
// Close, and the WAL's failure after a failed write or fsync.
func (w *WAL) Sync() error {
	w.closeMu.RLock()
	defer w.closeMu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	if w.q == nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		_ = w.syncLocked(w.written.Load(), ident.UUID{}, "")
		return w.Err()
	}
	ack := make(chan error, 1)
	w.q <- item{sync: ack}
	return <-ack
}

// Close writes the lines still queued, fsyncs the file and closes it. It
// waits for the hooks writing at the time; after it returns the WAL has no
// goroutine left and writes nothing more. It returns the WAL's first write
// or fsync failure, or the error of the final fsync or close; calling it
// again returns the same.
func (w *WAL) Close() error {
	w.closeOnce.Do(func() {
		w.closeMu.Lock()
		w.closed = true
		w.closeMu.Unlock()
		if w.q != nil {
			close(w.q)
			<-w.exited
		} else if w.written.Load() > w.synced.Load() && w.failed.Load() == nil {
			w.mu.Lock()
			_ = w.syncLocked(w.written.Load(), ident.UUID{}, "")
			w.mu.Unlock()
		}
		var err error
		if f := w.failed.Load(); f != nil {
			err = f
		}
		if cerr := w.f.Close(); cerr != nil && err == nil {
			err = &Error{Op: OpClose, Path: w.path, Err: cerr}
		}
		w.closeErr = err
	})
	return w.closeErr
}

// Err returns the WAL's first write or fsync failure (an *Error), or nil.
// After it the WAL writes nothing more.
func (w *WAL) Err() error {
	if f := w.failed.Load(); f != nil {
		return f
	}
	return nil
}

// Stats are a WAL's counters since Open.
type Stats struct {
	// Written is the number of lines written to the file.
	Written uint64
	// Synced is the number of lines an fsync has covered.
	Synced uint64
	// Syncs is the number of fsyncs that succeeded; under SyncEvery with
	// concurrent events it is below Written (group commit).
	Syncs uint64
	// Dropped is the number of completed events not written: not
	// encodable, completed after Close, or lost to a write failure.
	Dropped uint64
	// Repaired is the number of bytes of a torn last line that Open cut
	// off.
	Repaired int64
}

// Stats returns the WAL's counters. It takes no lock.
func (w *WAL) Stats() Stats {
	return Stats{Written: w.written.Load(), Synced: w.synced.Load(), Syncs: w.syncs.Load(),
		Dropped: w.dropped.Load(), Repaired: w.repaired}
}
