package sqlitemirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/logattr"
	"github.com/ringbus/ringbus/wire"
)

// The tables of MW-15, with exactly the spec's columns.
const (
	createEvents = `CREATE TABLE IF NOT EXISTS events_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	event_status TEXT NOT NULL,
	eventbus_id TEXT NOT NULL,
	eventbus_name TEXT NOT NULL,
	phase TEXT,
	event_json TEXT NOT NULL,
	inserted_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`
	createResults = `CREATE TABLE IF NOT EXISTS event_results_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_result_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	handler_id TEXT NOT NULL,
	handler_name TEXT NOT NULL,
	eventbus_id TEXT NOT NULL,
	eventbus_name TEXT NOT NULL,
	event_type TEXT NOT NULL,
	status TEXT NOT NULL,
	phase TEXT,
	result_repr TEXT,
	error_repr TEXT,
	event_result_json TEXT,
	inserted_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`
	insertEvent = `INSERT INTO events_log
	(event_id, event_type, event_status, eventbus_id, eventbus_name, phase, event_json) VALUES `
	insertResult = `INSERT INTO event_results_log
	(event_result_id, event_id, handler_id, handler_name, eventbus_id, eventbus_name,
	 event_type, status, phase, result_repr, error_repr, event_result_json) VALUES `
)

// The columns each insert sets, per table (events_log, event_results_log).
var tableCols = [2]int{7, 12}

// chunkRows is how many rows one multi-row INSERT statement carries: a
// batch is written in statements of chunkRows rows, then one statement
// per remaining row, which saves most of database/sql's cost per
// statement.
const chunkRows = 16

// insertSQL is the INSERT of rows rows into table t.
func insertSQL(t, rows int) string {
	var b strings.Builder
	b.WriteString([2]string{insertEvent, insertResult}[t])
	// The JSON comes as bytes from a pooled buffer; the cast stores it as
	// TEXT, as the column says, not as a BLOB.
	tuple := "(" + strings.Repeat("?, ", tableCols[t]-1) + "CAST(? AS TEXT))"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// rowEncoder writes an event with its rows as a list, from which the
// writer takes the row a hook reported.
var rowEncoder = wire.Encoder{Mode: wire.Upstream, ResultsAsList: true}

// Mirror is the history mirror: a middleware (give it to buses with
// api.WithMiddlewares) that appends a row to the database for each
// transition of their events and result rows. Open makes one; Close writes
// what is queued and closes the database.
//
// A Mirror is safe for concurrent use and may serve several buses at once.
// It must not be copied.
type Mirror struct {
	cfg  config
	path string
	db   *sql.DB
	// ins holds, per table, the one-row and the chunkRows-row INSERT.
	ins  [2][2]*sql.Stmt
	args []any // the writer's arguments of one statement, reused

	q      chan entry
	kick   chan struct{} // wakes the writer before its flush interval ends
	kickAt int           // queued rows at which a hook kicks the writer
	stop   chan struct{}
	exited chan struct{}

	// mu orders Close after every hook and Flush that is putting an entry
	// in the queue: they hold it shared while they send, Close takes it
	// exclusively to set closed, so nothing is sent after the writer has
	// drained the queue for the last time.
	mu     sync.RWMutex
	closed atomic.Bool

	written, dropped, failed atomic.Uint64
	warnedDrop               atomic.Bool

	errMu sync.Mutex
	errs  []error // failures not yet returned by Flush or Close, at most maxKeptErrors
	more  int     // failures beyond those

	closeOnce sync.Once
	closeErr  error
}

// maxKeptErrors bounds the failures a Mirror keeps for Flush and Close.
const maxKeptErrors = 8

var _ api.Middleware = (*Mirror)(nil)

// entry is one queued row, or a Flush marker.
type entry struct {
	flush chan error // a Flush marker when set: no row
	row   bool       // an event_results_log row; else an events_log row

	eventID, eventType, status, busID, busLabel, phase string
	// json is the event's JSON; for a result row it is the event's JSON
	// with its rows as a list, from which the writer takes the row. It is
	// held in buf, a pooled buffer the writer gives back once the row is
	// written; buf is nil when the event could not be encoded.
	json                             []byte
	buf                              *[]byte
	resultID, handlerID, handlerName string
	resultRepr, errorRepr            sql.NullString
}

// Open opens the database file at path (creating it if needed), creates
// the two tables if they are missing, sets WAL journal mode and
// synchronous=NORMAL, and starts the Mirror's writer goroutine. ctx bounds
// the setup only. Bad options fail with ErrInvalidOption; a database that
// cannot be opened or set up fails with an *Error matching ErrOpen.
func Open(ctx context.Context, path string, opts ...Option) (*Mirror, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, &Error{Op: opOpen, Path: path, Err: errors.New("path must be a file name, without '?'")}
	}
	db, err := openDB(ctx, path, cfg)
	if err != nil {
		return nil, &Error{Op: opOpen, Path: path, Err: err}
	}
	m := &Mirror{
		cfg:    cfg,
		path:   path,
		db:     db,
		q:      make(chan entry, cfg.queue),
		kick:   make(chan struct{}, 1),
		kickAt: min(cfg.batch, cfg.queue),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for t := range m.ins {
		for i, rows := range [2]int{1, chunkRows} {
			if m.ins[t][i], err = db.PrepareContext(ctx, insertSQL(t, rows)); err != nil {
				_ = db.Close()
				return nil, &Error{Op: opOpen, Path: path, Err: err}
			}
		}
	}
	m.args = make([]any, 0, chunkRows*tableCols[1])
	go m.run()
	return m, nil
}

func openDB(ctx context.Context, path string, cfg config) (*sql.DB, error) {
	// The driver runs the _pragma values on every connection it opens,
	// busy_timeout first; _txlock=immediate takes the write lock at BEGIN,
	// so two processes never both hold a read transaction that wants to
	// become a write.
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: one writer, and the per-connection settings hold.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = db.Close()
		return nil, err
	}
	if !strings.EqualFold(mode, "wal") {
		_ = db.Close()
		return nil, fmt.Errorf("journal mode is %q, not wal", mode)
	}
	for _, q := range []string{createEvents, createResults} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, nil
}

// Path returns the database file's path, as given to Open.
func (m *Mirror) Path() string { return m.path }

// Hooks tells the bus that the mirror records event and result-row
// transitions, not registrations.
func (*Mirror) Hooks() api.Hooks { return api.EventHooks | api.ResultHooks }

// OnEventChange queues an events_log row for the transition of e on bus.
func (m *Mirror) OnEventChange(_ context.Context, bus *api.Bus, e *api.BaseEvent, s api.Status) {
	en := entry{
		eventID:   e.ID(),
		eventType: e.Type(),
		status:    e.Status().String(),
		busID:     bus.ID(),
		busLabel:  bus.Label(),
		phase:     s.String(),
	}
	if m.closed.Load() {
		m.lost(&en, ErrClosed)
		return
	}
	m.encode(m.cfg.enc, e, &en)
	m.enqueue(&en)
}

// OnResultChange queues an event_results_log row for the transition of r,
// a row of e, on bus.
func (m *Mirror) OnResultChange(_ context.Context, bus *api.Bus, e *api.BaseEvent, r *api.Result, s api.Status) {
	st := r.Status()
	en := entry{
		row:         true,
		eventID:     e.ID(),
		eventType:   e.Type(),
		status:      st.String(),
		busID:       bus.ID(),
		busLabel:    bus.Label(),
		phase:       s.String(),
		resultID:    r.ID(),
		handlerID:   r.HandlerID(),
		handlerName: r.HandlerName(),
	}
	if m.closed.Load() {
		m.lost(&en, ErrClosed)
		return
	}
	// Both terminal statuses are final, so the value or error read after
	// the status belongs to it.
	switch st {
	case api.StatusCompleted:
		en.resultRepr = sql.NullString{String: resultRepr(r.Value()), Valid: true}
	case api.StatusError:
		en.errorRepr = sql.NullString{String: errorRepr(r.Error()), Valid: true}
	}
	m.encode(rowEncoder, e, &en)
	m.enqueue(&en)
}

// OnHandlersChange does nothing: the mirror records events and rows.
func (m *Mirror) OnHandlersChange(*api.Bus, *api.Handler, bool) {}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuf keeps one huge event from pinning its buffer in the pool.
const maxPooledBuf = 64 << 10

// nullJSON is the JSON of an event that could not be encoded.
var nullJSON = []byte("null")

// encode sets en's JSON to that of e as enc writes it, in a pooled
// buffer, or to null.
func (m *Mirror) encode(enc wire.Encoder, e *api.BaseEvent, en *entry) {
	bp := bufPool.Get().(*[]byte)
	// The payload, not e: the typed struct is what carries the payload
	// fields; the engine event alone encodes only its metadata.
	b, err := enc.Append((*bp)[:0], e.Payload())
	*bp = b
	if err != nil {
		putBuf(bp)
		en.json = nullJSON
		m.report(&Error{Op: opEncode, Path: m.path, EventID: en.eventID, EventType: en.eventType, Err: err})
		return
	}
	en.json, en.buf = b, bp
}

// putBuf gives a buffer of encode back to the pool.
func putBuf(bp *[]byte) {
	if bp != nil && cap(*bp) <= maxPooledBuf {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// enqueue puts en in the queue, waiting for room under QueueBlock.
func (m *Mirror) enqueue(en *entry) {
	m.mu.RLock()
	if m.closed.Load() {
		m.mu.RUnlock()
		m.lost(en, ErrClosed)
		return
	}
	select {
	case m.q <- *en:
	default: // full
		m.wake()
		if m.cfg.full == QueueDrop {
			m.mu.RUnlock()
			m.lost(en, ErrQueueFull)
			return
		}
		m.q <- *en
	}
	m.mu.RUnlock()
	if len(m.q) >= m.kickAt {
		m.wake()
	}
}

// wake kicks the writer, if it is not kicked already.
func (m *Mirror) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// lost counts and reports a row that was not queued.
func (m *Mirror) lost(en *entry, why error) {
	putBuf(en.buf)
	m.dropped.Add(1)
	m.report(&Error{Op: opEnqueue, Path: m.path, Rows: 1, EventID: en.eventID, EventType: en.eventType, Err: why})
}

// report logs err, gives it to the error handler and keeps it for the
// next Flush or Close.
func (m *Mirror) report(err *Error) {
	level, msg := slog.LevelError, "ringbus: sqlite mirror write failed"
	switch err.Op {
	case opClose:
		msg = "ringbus: sqlite mirror close failed"
	case opEncode:
		level, msg = slog.LevelWarn, "ringbus: sqlite mirror cannot encode"
	case opEnqueue:
		level, msg = slog.LevelDebug, "ringbus: sqlite mirror row dropped"
		if m.warnedDrop.CompareAndSwap(false, true) {
			level = slog.LevelWarn
		}
	}
	if l := m.cfg.logger; l.Enabled(context.Background(), level) {
		attrs := []slog.Attr{slog.String("path", err.Path), slog.String("op", err.Op), slog.Int("rows", err.Rows)}
		if err.EventID != "" {
			attrs = append(attrs, slog.String(logattr.EventID, err.EventID), slog.String(logattr.EventType, err.EventType))
		}
		attrs = append(attrs, slog.Any(logattr.Error, err.Err))
		l.LogAttrs(context.Background(), level, msg, attrs...)
	}
	m.errMu.Lock()
	if len(m.errs) < maxKeptErrors {
		m.errs = append(m.errs, err)
	} else {
		m.more++
	}
	m.errMu.Unlock()
	if f := m.cfg.onError; f != nil {
		f(err)
	}
}

// takeErrs returns the failures kept since the last call, joined.
func (m *Mirror) takeErrs() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	errs, more := m.errs, m.more
	m.errs, m.more = nil, 0
	if more > 0 {
		errs = append(errs, fmt.Errorf("ringbus: sqlite mirror: %d more failures", more))
	}
	return errors.Join(errs...)
}

// Flush waits until every row queued before it has been written, and
// returns the failures since the last Flush (nil if none), joined. ctx
// bounds the wait. A Flush abandoned at ctx's end still takes effect,
// and the failures it would have returned are not returned again. On a
// closed Mirror it returns ErrClosed.
func (m *Mirror) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	m.mu.RLock()
	if m.closed.Load() {
		m.mu.RUnlock()
		return ErrClosed
	}
	m.wake() // the writer may be sleeping with a batch: the marker is behind it
	select {
	case m.q <- entry{flush: done}:
		m.mu.RUnlock()
		m.wake()
	case <-ctx.Done():
		m.mu.RUnlock()
		return context.Cause(ctx)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close writes the rows still queued, closes the database and returns
// when the Mirror's goroutine has ended, with the failures since the last
// Flush (nil if none), joined. Rows whose hooks run after Close are not
// written: they are counted in Stats.Dropped and reported as ErrClosed.
// Close buses before their Mirror. Close is idempotent: later calls
// return what the first returned.
func (m *Mirror) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed.Store(true)
		m.mu.Unlock()
		close(m.stop)
		<-m.exited
		var errs []error
		for _, t := range m.ins {
			for _, s := range t {
				errs = append(errs, s.Close())
			}
		}
		if err := errors.Join(append(errs, m.db.Close())...); err != nil {
			m.report(&Error{Op: opClose, Path: m.path, Err: err})
		}
		m.closeErr = m.takeErrs()
	})
	return m.closeErr
}

// Stats counts the Mirror's rows.
type Stats struct {
	// Queued is how many rows wait for the writer now.
	Queued int
	// Written is how many rows the database took.
	Written uint64
	// Dropped is how many rows were not queued: the queue was full under
	// QueueDrop, or the Mirror was closed.
	Dropped uint64
	// Failed is how many queued rows were lost with a failed batch.
	Failed uint64
}

// Stats returns the Mirror's counts so far.
func (m *Mirror) Stats() Stats {
	return Stats{
		Queued:  len(m.q),
		Written: m.written.Load(),
		Dropped: m.dropped.Load(),
		Failed:  m.failed.Load(),
	}
}
