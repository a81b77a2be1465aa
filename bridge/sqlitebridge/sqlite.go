// Package sqlitebridge is the SQLite transport of package bridge, the one
// abxbus calls SQLiteEventBridge: every event is upserted as a row of a
// table in a database file that the processes share, and every bridge on
// the table polls it for rows newer than the last it read. Python and
// TypeScript abxbus bridges on the same file and table read what this one
// writes, and the other way round. It uses modernc.org/sqlite, without
// cgo.
//
// # Table
//
// The table has a TEXT column per top-level event_* field of the events
// written to it, added on demand, and the column event_payload (declared
// JSON) with the whole event JSON. Each column holds the JSON text of its
// field's value, so event_id holds the id with its quotes ("0190..."),
// event_path a JSON array, and a null field is SQL NULL. A reader starts
// from event_payload and lays every non-NULL event_* column over it. The
// database runs in WAL mode, and every connection waits up to 30 seconds
// for another process's write.
//
// # Guarantees
//
// A batch of events is written in one transaction. A listener starts
// after the newest row in the table and then reads rows in the order of
// their event_created_at (then event_id), which the sending process
// assigned when it created the event; it delivers each row whose pair
// sorts after the last it delivered. So an event created before the newest
// one a listener has read is never delivered: an event of a process whose
// clock lags, one re-sent with its old event_created_at, or one created
// earlier by a concurrent emitter of the same process but committed after
// a poll read a later one. Upserting an event_id already read does not
// deliver it again. Within one emitting goroutine, events arrive in the
// order sent. Latency is up to one poll interval.
//
// WithInsertionOrder reads the rows in the order they were written
// instead, so that none of those events is skipped; it changes only how
// this process reads, not what it writes.
package sqlitebridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/internal/eventrow"
)

// The defaults of abxbus.
const (
	// DefaultTable is the table when none is given.
	DefaultTable = "abxbus_events"
	// DefaultPollInterval is how often a listener reads new rows.
	DefaultPollInterval = 250 * time.Millisecond
)

// pageSize bounds the rows one poll query reads; a poll reads pages until
// one is short.
const pageSize = 1000

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithInsertionOrder makes the listener read rows in the order they were
// written (by SQLite's rowid) instead of by their event_created_at, as
// abxbus reads them. Then no event is skipped for having been created
// before one already read: concurrent emitters, lagging clocks and re-sent
// events all arrive. A row that keeps its rowid (an upsert of an event_id
// already in the table) is still not read again, and a table whose newest
// rows are deleted may reuse their rowids, which the listener skips. The
// table must be an ordinary rowid table, as abxbus creates it.
func WithInsertionOrder() Option { return func(t *Transport) { t.byRowid = true } }

// WithPollInterval sets how often the listener reads new rows (default
// DefaultPollInterval; at least a millisecond). It bounds the latency.
func WithPollInterval(d time.Duration) Option { return func(t *Transport) { t.poll = d } }

// Transport writes events to a SQLite table and polls it. Use New for a
// Bridge over it, or NewTransport with bridge.New.
type Transport struct {
	path, table string
	poll        time.Duration
	byRowid     bool
	bopts       []bridge.Option
	q           queries

	mu     sync.Mutex
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}

	// The writer's state; the bridge calls Send from one goroutine.
	cols    map[string]bool // the table's columns
	schema  bool            // false after the table went missing
	batch   eventrow.Batch
	upserts eventrow.Upserts
	stmts   map[string]*sql.Stmt
	args    []any
}

// queries are the statements that depend on the table.
type queries struct {
	createTable, createdIndex, typeIndex, columns, last, lastNull, poll string
	lastRowid, pollRowid                                                string
}

// NewTransport returns the transport for the table (DefaultTable when
// "") of the SQLite database at path, as abxbus's SQLiteEventBridge takes
// them. The table must be an identifier: a letter or underscore, then
// letters, digits and underscores. The database file is created when the
// bridge starts, not its folder.
func NewTransport(path, table string, opts ...Option) (*Transport, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", bridge.ErrConfig)
	}
	if table == "" {
		table = DefaultTable
	}
	if !eventrow.ValidIdent(table) {
		return nil, fmt.Errorf("%w: SQLite table %q is not an identifier", bridge.ErrConfig, table)
	}
	t := &Transport{path: path, table: table, poll: DefaultPollInterval}
	for _, o := range opts {
		o(t)
	}
	if t.poll <= 0 {
		t.poll = DefaultPollInterval
	}
	t.poll = max(t.poll, time.Millisecond)
	t.q = newQueries(table)
	t.upserts = eventrow.Upserts{Table: table, Param: param}
	return t, nil
}

// New returns a bridge over the SQLite table, like abxbus's
// SQLiteEventBridge(path, table, poll_interval).
func New(path, table string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(path, table, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// param is the upsert's placeholder: the payload goes through json(), as
// abxbus writes it (BR-12).
func param(dst []byte, _ int, name []byte) []byte {
	if string(name) == eventrow.PayloadColumn {
		return append(dst, "json(?)"...)
	}
	return append(dst, '?')
}

func newQueries(table string) queries {
	t := `"` + table + `"`
	return queries{
		createTable:  `CREATE TABLE IF NOT EXISTS ` + t + ` ("event_id" TEXT PRIMARY KEY, "event_created_at" TEXT, "event_type" TEXT, "event_payload" JSON)`,
		createdIndex: `CREATE INDEX IF NOT EXISTS "` + table + `_event_created_at_idx" ON ` + t + ` ("event_created_at")`,
		typeIndex:    `CREATE INDEX IF NOT EXISTS "` + table + `_event_type_idx" ON ` + t + ` ("event_type")`,
		columns:      `SELECT "name" FROM pragma_table_info('` + table + `')`,
		// BR-13's cursor, the greatest (COALESCE(event_created_at, ''),
		// COALESCE(event_id, '')), in two indexed queries.
		last: `SELECT "m", (SELECT MAX("event_id") FROM ` + t + ` WHERE "event_created_at" = "m")` +
			` FROM (SELECT MAX("event_created_at") AS "m" FROM ` + t + `) WHERE "m" IS NOT NULL`,
		lastNull: `SELECT COALESCE(MAX("event_id"), '') FROM ` + t + ` WHERE "event_created_at" IS NULL`,
		// BR-13's poll: the rows whose (COALESCE(event_created_at, ''),
		// COALESCE(event_id, '')) sorts after the cursor (?1, ?2), in that
		// order. The condition is the same, written so that the index on
		// event_created_at serves it instead of a scan of the table.
		poll: `SELECT * FROM ` + t + ` WHERE ("event_created_at" >= ?1 AND ("event_created_at" > ?1 OR "event_id" > ?2))` +
			` OR (?1 = '' AND "event_created_at" IS NULL AND "event_id" > ?2)` +
			` ORDER BY COALESCE("event_created_at", ''), COALESCE("event_id", '') LIMIT ` + fmt.Sprint(pageSize),
		lastRowid: `SELECT COALESCE(MAX("rowid"), 0) FROM ` + t,
		pollRowid: `SELECT "rowid", * FROM ` + t + ` WHERE "rowid" > ?1 ORDER BY "rowid" LIMIT ` + fmt.Sprint(pageSize),
	}
}

// Table returns the table the transport writes to.
func (t *Transport) Table() string { return t.table }

// Kind returns "SQLiteEventBridge".
func (t *Transport) Kind() string { return "SQLiteEventBridge" }

// Open opens the database, creates the table and its indexes if they are
// missing (adding the columns abxbus expects to an older table) and
// starts polling after the newest row.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	// BR-11: the driver runs the _pragma values on every connection it
	// opens; _txlock=immediate takes the write lock when a batch begins,
	// so two writers never both hold a read lock that wants to write.
	sep := "?"
	if strings.Contains(t.path, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", t.path+sep+"_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("sqlite bridge: %w", err)
	}
	db.SetMaxOpenConns(4) // the writer, the poller, and room for both to be replaced
	db.SetMaxIdleConns(4)
	t.cols = map[string]bool{}
	t.stmts = map[string]*sql.Stmt{}
	if err := t.ensureSchema(ctx, db); err != nil {
		_ = db.Close()
		return fmt.Errorf("sqlite bridge: %w", err)
	}
	p := &poller{t: t, in: in, db: db}
	if t.byRowid {
		err = db.QueryRowContext(ctx, t.q.lastRowid).Scan(&p.rowid)
	} else {
		err = db.QueryRowContext(ctx, t.q.last).Scan(&p.created, &p.id)
		if errors.Is(err, sql.ErrNoRows) {
			err = db.QueryRowContext(ctx, t.q.lastNull).Scan(&p.id)
		}
	}
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("sqlite bridge: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.db, t.cancel, t.done = db, cancel, make(chan struct{})
	t.mu.Unlock()
	go p.run(lctx)
	return nil
}

// ensureSchema creates the table and indexes (BR-11) and reads its
// columns.
func (t *Transport) ensureSchema(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, t.q.createTable); err != nil {
		return err
	}
	if err := t.readColumns(ctx, db); err != nil {
		return err
	}
	for _, c := range []string{"event_id", "event_created_at", "event_type", eventrow.PayloadColumn} {
		if err := t.addColumn(ctx, db, c); err != nil {
			return err
		}
	}
	for _, q := range []string{t.q.createdIndex, t.q.typeIndex} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	t.schema = true
	return nil
}

func (t *Transport) readColumns(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, t.q.columns)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	clear(t.cols)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		t.cols[name] = true
	}
	return rows.Err()
}

// addColumn adds a column for an event_* key the table lacks (BR-11):
// TEXT, or JSON for the payload. Another process may have added it first.
func (t *Transport) addColumn(ctx context.Context, db *sql.DB, name string) error {
	if t.cols[name] {
		return nil
	}
	typ := "TEXT"
	if name == eventrow.PayloadColumn {
		typ = "JSON"
	}
	_, err := db.ExecContext(ctx, `ALTER TABLE "`+t.table+`" ADD COLUMN "`+name+`" `+typ)
	if err != nil && strings.Contains(err.Error(), "duplicate column name") {
		err = nil
	}
	if err != nil {
		return err
	}
	t.cols[name] = true
	return nil
}

// Send upserts the messages' rows in one transaction.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	// BR-12: the upsert of every event_* column and the whole payload.
	t.mu.Lock()
	db := t.db
	t.mu.Unlock()
	if db == nil {
		return 0, bridge.ErrClosed
	}
	if !t.schema {
		if err := t.ensureSchema(ctx, db); err != nil {
			return 0, t.sendErr(err)
		}
	}
	n, err := t.batch.Send(ctx, writer{t, db}, msgs, 0)
	if err != nil {
		return n, t.sendErr(err)
	}
	return n, nil
}

// writer is the eventrow.Writer of a Send.
type writer struct {
	t  *Transport
	db *sql.DB
}

func (w writer) AddColumn(ctx context.Context, name string) error {
	return w.t.addColumn(ctx, w.db, name)
}

func (w writer) Refused(err error) bool { return isPermanent(err) }

// Write upserts rows in one transaction.
func (w writer) Write(ctx context.Context, rows []eventrow.Row) (int, error) {
	t := w.t
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return -1, err
	}
	var last, txStmt *sql.Stmt // the statement of the rows before, bound to tx
	for i, r := range rows {
		stmt, err := t.stmt(ctx, w.db, t.upserts.For(r.Cols))
		if err != nil {
			_ = tx.Rollback()
			return i, err
		}
		if stmt != last {
			last, txStmt = stmt, tx.StmtContext(ctx, stmt)
		}
		t.args = t.args[:0]
		for _, c := range r.Cols {
			if c.Value == nil {
				t.args = append(t.args, nil)
			} else {
				t.args = append(t.args, string(c.Value)) // TEXT, as abxbus binds it; []byte would be a BLOB
			}
		}
		_, err = txStmt.ExecContext(ctx, t.args...)
		clear(t.args)
		if err != nil {
			_ = tx.Rollback()
			return i, err
		}
	}
	return -1, tx.Commit()
}

// stmt returns the prepared statement for sql, preparing it once.
func (t *Transport) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	if s, ok := t.stmts[query]; ok {
		return s, nil
	}
	if len(t.stmts) >= 64 {
		t.closeStmts() // events of ever new shapes: keep the cache small
	}
	s, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts[query] = s
	return s, nil
}

func (t *Transport) closeStmts() {
	for q, s := range t.stmts {
		_ = s.Close()
		delete(t.stmts, q)
	}
}

// sendErr looks at a failed write: a missing table or column sends the
// next write through the schema again.
func (t *Transport) sendErr(err error) error {
	if schemaChanged(err) {
		t.schema = false
		t.closeStmts()
	}
	return fmt.Errorf("sqlite bridge: %w", err)
}

// schemaChanged reports whether err says the table or a column is gone.
func schemaChanged(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such table") || strings.Contains(s, "no such column") || strings.Contains(s, "has no column named")
}

// isPermanent reports whether SQLite refused a statement for what it
// holds (a constraint, a value too big, malformed JSON), not for the
// state of the database (busy, locked, full, I/O, a changed schema).
func isPermanent(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) || schemaChanged(err) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_ERROR:
		return true
	}
	return false
}

// Close stops polling and closes the database.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	db, cancel, done := t.db, t.cancel, t.done
	t.db, t.cancel = nil, nil
	t.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		<-done // a poll's query is interrupted once its context is cancelled
		err = ctx.Err()
	}
	t.closeStmts()
	return errors.Join(err, db.Close())
}

// poller reads the table every poll interval and delivers the new rows in
// order (BR-13).
type poller struct {
	t  *Transport
	in bridge.Inbox
	db *sql.DB

	created, id string // the cursor
	rowid       int64  // the cursor WithInsertionOrder
	rows        eventrow.Reader
	spans       []eventrow.Span
	rowids      []int64 // the spans' rowids WithInsertionOrder
	values      []sql.RawBytes
	dest        []any
	raw         [][]byte
}

func (p *poller) run(ctx context.Context) {
	defer close(p.t.done)
	tick := time.NewTicker(p.t.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for {
			n, err := p.page(ctx)
			if err != nil {
				if ctx.Err() == nil {
					p.in.Report(fmt.Errorf("sqlite bridge: polling %s: %w", p.t.table, err))
				}
				break
			}
			if n < pageSize {
				break
			}
		}
	}
}

// page reads the rows after the cursor, up to pageSize, and delivers them
// once the query is done (a reader holds no snapshot while the inbound bus
// makes it wait). It returns how many rows it read.
func (p *poller) page(ctx context.Context) (int, error) {
	var rows *sql.Rows
	var err error
	if p.t.byRowid {
		rows, err = p.db.QueryContext(ctx, p.t.q.pollRowid, p.rowid)
	} else {
		rows, err = p.db.QueryContext(ctx, p.t.q.poll, p.created, p.id)
	}
	if err != nil {
		return 0, err
	}
	p.spans, err = p.collect(rows)
	if err != nil {
		return 0, err
	}
	for i, s := range p.spans {
		// BR-13: the cursor moves to every row read, as abxbus's does.
		if p.t.byRowid {
			p.rowid = p.rowids[i]
		} else {
			p.created, p.id = s.Created, s.ID
		}
		p.in.Deliver(ctx, bridge.Message{Data: p.rows.Event(s)})
	}
	return len(p.spans), nil
}

func (p *poller) collect(rows *sql.Rows) ([]eventrow.Span, error) {
	defer func() { _ = rows.Close() }()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	p.rows.Columns(names)
	p.rows.Reset()
	if len(p.values) != len(names) {
		p.values = make([]sql.RawBytes, len(names))
		p.dest = make([]any, len(names))
		p.raw = make([][]byte, len(names))
		for i := range p.values {
			p.values[i] = make(sql.RawBytes, 0, 64)
		}
	}
	spans := p.spans[:0]
	p.rowids = p.rowids[:0]
	for rows.Next() {
		for i := range p.dest {
			// A value that is not NULL, even an empty text, lands in a
			// non-nil slice; the driver sets NULL to nil.
			p.values[i] = p.values[i][:0]
			if p.values[i] == nil {
				p.values[i] = make(sql.RawBytes, 0, 64)
			}
			p.dest[i] = &p.values[i]
		}
		if err := rows.Scan(p.dest...); err != nil {
			return nil, err
		}
		for i, v := range p.values {
			p.raw[i] = v
		}
		if p.t.byRowid {
			id, err := strconv.ParseInt(string(p.values[0]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("rowid %q: %w", p.values[0], err)
			}
			p.rowids = append(p.rowids, id)
		}
		spans = append(spans, p.rows.Row(p.raw))
	}
	return spans, rows.Err()
}
