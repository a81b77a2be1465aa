// Package pgbridge is the PostgreSQL transport of package bridge, the one
// abxbus calls PostgresEventBridge: every event is upserted as a row of a
// shared table and announced with NOTIFY on a channel, and every bridge
// listening on the channel reads the announced rows. Python and
// TypeScript abxbus bridges on the same table and channel read what this
// one writes, and the other way round.
//
// # Table and channel
//
// The table has a TEXT column per top-level event_* field of the events
// written to it, created on demand, and the column event_payload with the
// whole event JSON. Each column holds the JSON text of its field's value,
// so event_id holds the id with its quotes ("0190..."), event_path a JSON
// array, and a null field is SQL NULL. The NOTIFY payload is the event_id
// column's value, quotes included. A reader starts from event_payload and
// lays every non-NULL event_* column over it.
//
// The channel is case-sensitive here: the bridge listens on exactly the
// name given. abxbus's TypeScript bridge listens without quoting, so
// PostgreSQL folds its channel to lower case; use lower-case channels to
// talk to it.
//
// # Guarantees
//
// A batch of events is sent as one pipelined round trip and committed in
// one transaction, so its notifications follow in order; one sender's
// events arrive in the order sent, and every listening session receives
// every event. A listener receives the events committed after it started
// listening. When its connection breaks, it reconnects by itself with
// backoff and then reads the rows created while it was away (those whose
// event_created_at sorts after the last event it received) before going
// on; an event that another process created earlier than that, but
// committed while the listener was away, is not read. An upsert of an
// event_id already in the table is announced again and read again.
package pgbridge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/internal/eventrow"
)

// The defaults of abxbus.
const (
	// DefaultTable is the table when the URL names none.
	DefaultTable = "abxbus_events"
	// DefaultChannel is the NOTIFY channel when none is given.
	DefaultChannel = "abxbus_events"
)

// maxIdent is PostgreSQL's longest identifier, in bytes.
const maxIdent = 63

// The listener's reconnection backoff: the first retry is immediate, then
// the pause doubles from reconnectMin up to reconnectMax.
const (
	reconnectMin = 10 * time.Millisecond
	reconnectMax = 2 * time.Second
)

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithPool makes the bridge write through p instead of a pool of its own,
// and listen on a connection made with p's connection settings. The URL
// then only names the table; Close leaves p open.
func WithPool(p *pgxpool.Pool) Option { return func(t *Transport) { t.userPool = p } }

// Transport writes events to a PostgreSQL table and listens for their
// notifications. Use New for a Bridge over it, or NewTransport with
// bridge.New.
type Transport struct {
	table, channel string
	poolCfg        *pgxpool.Config // nil with WithPool
	userPool       *pgxpool.Pool
	bopts          []bridge.Option
	q              queries

	mu     sync.Mutex
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	done   chan struct{}
	pid    atomic.Uint32 // the listening backend, for tests

	// The writer's state; the bridge calls Send from one goroutine.
	cols    map[string]bool // the table's columns
	schema  bool            // false after the table went missing
	batch   eventrow.Batch
	upserts eventrow.Upserts
}

// queries are the statements that depend on the table and channel.
type queries struct {
	createTable, createdIndex, typeIndex, columns, last, fetch, catchUp, notify string
}

// NewTransport returns the transport for tableURL, a PostgreSQL URL such
// as postgresql://user:pass@host:5432/db/table?sslmode=disable, as
// abxbus's PostgresEventBridge takes it: the second path segment, when
// there is one, is the table (default DefaultTable) and the rest is the
// connection string. channel is the NOTIFY channel ("" for
// DefaultChannel), cut to PostgreSQL's 63 bytes. Table and channel must
// be identifiers: a letter or underscore, then letters, digits and
// underscores. Nothing connects before the bridge starts.
func NewTransport(tableURL, channel string, opts ...Option) (*Transport, error) {
	dsn, table, err := parseURL(tableURL)
	if err != nil {
		return nil, err
	}
	if channel == "" {
		channel = DefaultChannel
	}
	if len(channel) > maxIdent {
		channel = channel[:maxIdent]
	}
	if !eventrow.ValidIdent(channel) {
		return nil, fmt.Errorf("%w: PostgreSQL channel %q is not an identifier", bridge.ErrConfig, channel)
	}
	t := &Transport{table: table, channel: channel}
	for _, o := range opts {
		o(t)
	}
	if t.userPool == nil {
		if t.poolCfg, err = pgxpool.ParseConfig(dsn); err != nil {
			return nil, fmt.Errorf("%w: PostgreSQL URL: %w", bridge.ErrConfig, err)
		}
	}
	t.q = newQueries(table, channel)
	t.upserts = eventrow.Upserts{Table: table, Param: eventrow.DollarParam}
	return t, nil
}

// New returns a bridge over the PostgreSQL table and channel, like
// abxbus's PostgresEventBridge(table_url, channel).
func New(tableURL, channel string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(tableURL, channel, opts...)
	if err != nil {
		return nil, err
	}
	return bridge.New(t, t.bopts...)
}

// parseURL splits a table URL into the connection string and the table.
func parseURL(tableURL string) (dsn, table string, err error) {
	u, err := url.Parse(tableURL)
	if err != nil {
		return "", "", fmt.Errorf("%w: PostgreSQL URL: %w", bridge.ErrConfig, err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", "", fmt.Errorf("%w: PostgreSQL URL %q: the scheme must be postgresql:// or postgres://", bridge.ErrConfig, u.Redacted())
	}
	var segs []string
	for s := range strings.SplitSeq(u.EscapedPath(), "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	switch len(segs) {
	case 0:
		return "", "", fmt.Errorf("%w: PostgreSQL URL %q names no database (postgresql://host:5432/db[/table])", bridge.ErrConfig, u.Redacted())
	case 1:
		table = DefaultTable
	case 2:
		table = segs[1]
		if !eventrow.ValidIdent(table) || len(table) > maxIdent {
			return "", "", fmt.Errorf("%w: PostgreSQL table %q is not an identifier of at most %d bytes", bridge.ErrConfig, table, maxIdent)
		}
	default:
		return "", "", fmt.Errorf("%w: PostgreSQL URL %q has more than a database and a table in its path", bridge.ErrConfig, u.Redacted())
	}
	db, err := url.PathUnescape(segs[0])
	if err != nil {
		return "", "", fmt.Errorf("%w: PostgreSQL URL: %w", bridge.ErrConfig, err)
	}
	u.Path, u.RawPath = "/"+db, "/"+segs[0]
	return u.String(), table, nil
}

func newQueries(table, channel string) queries {
	t := quote(table)
	index := func(suffix string) string {
		name := table + "_" + suffix
		if len(name) > maxIdent {
			name = name[:maxIdent]
		}
		return quote(name)
	}
	return queries{
		createTable:  `CREATE TABLE IF NOT EXISTS ` + t + ` ("event_id" TEXT PRIMARY KEY, "event_created_at" TEXT, "event_type" TEXT, "event_payload" TEXT)`,
		createdIndex: `CREATE INDEX IF NOT EXISTS ` + index("event_created_at_idx") + ` ON ` + t + ` ("event_created_at")`,
		typeIndex:    `CREATE INDEX IF NOT EXISTS ` + index("event_type_idx") + ` ON ` + t + ` ("event_type")`,
		columns:      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`,
		last: `SELECT "event_created_at", "event_id" FROM ` + t + ` WHERE "event_created_at" IS NOT NULL` +
			` ORDER BY "event_created_at" DESC, "event_id" DESC LIMIT 1`,
		fetch: `SELECT * FROM ` + t + ` WHERE "event_id" = ANY($1)`,
		catchUp: `SELECT * FROM ` + t + ` WHERE "event_created_at" >= $1 AND ("event_created_at" > $1 OR "event_id" > $2)` +
			` ORDER BY "event_created_at", "event_id" LIMIT ` + fmt.Sprint(catchUpPage),
		notify: `SELECT pg_notify('` + channel + `', $1)`,
	}
}

// quote returns an identifier in double quotes; identifiers are validated,
// so they hold no quote.
func quote(ident string) string { return `"` + ident + `"` }

// Table returns the table the transport writes to.
func (t *Transport) Table() string { return t.table }

// Channel returns the NOTIFY channel the transport announces events on
// and listens to.
func (t *Transport) Channel() string { return t.channel }

// Kind returns "PostgresEventBridge".
func (t *Transport) Kind() string { return "PostgresEventBridge" }

// Open creates the table and its indexes if they are missing, adds the
// columns abxbus expects if an older table lacks them, and starts
// listening on the channel.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	pool := t.userPool
	if pool == nil {
		var err error
		if pool, err = pgxpool.NewWithConfig(ctx, t.poolCfg.Copy()); err != nil {
			return fmt.Errorf("pg bridge: %w", err)
		}
	}
	fail := func(err error) error {
		if pool != t.userPool {
			pool.Close()
		}
		return fmt.Errorf("pg bridge: %w", err)
	}
	t.cols = map[string]bool{}
	if err := t.ensureSchema(ctx, pool); err != nil {
		return fail(err)
	}
	l := &listener{t: t, in: in, cfg: pool.Config().ConnConfig, caught: map[string]struct{}{}}
	conn, err := l.connect(ctx)
	if err != nil {
		return fail(err)
	}
	// After LISTEN: a row committed from now on is announced, and the
	// cursor (where a catch-up after a reconnection starts) covers the
	// rows before.
	if err := pool.QueryRow(ctx, t.q.last).Scan(&l.created, &l.id); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		closeConn(conn)
		return fail(err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.pool, t.cancel, t.done = pool, cancel, make(chan struct{})
	t.mu.Unlock()
	go l.run(lctx, conn)
	return nil
}

// ensureSchema creates the table and indexes (BR-16) and reads its
// columns. Bridges starting at once may race on the catalog; a duplicate
// reported by one of these statements is tried again.
func (t *Transport) ensureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if err := ddl(ctx, pool, t.q.createTable); err != nil {
		return err
	}
	if err := t.readColumns(ctx, pool); err != nil {
		return err
	}
	for _, c := range []string{"event_id", "event_created_at", "event_type", eventrow.PayloadColumn} {
		if err := t.addColumn(ctx, pool, c); err != nil {
			return err
		}
	}
	if err := ddl(ctx, pool, t.q.createdIndex); err != nil {
		return err
	}
	if err := ddl(ctx, pool, t.q.typeIndex); err != nil {
		return err
	}
	t.schema = true
	return nil
}

func (t *Transport) readColumns(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, t.q.columns, t.table)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	clear(t.cols)
	for _, n := range names {
		t.cols[n] = true
	}
	return nil
}

// addColumn adds a TEXT column for an event_* key the table lacks (BR-16).
func (t *Transport) addColumn(ctx context.Context, pool *pgxpool.Pool, name string) error {
	if t.cols[name] {
		return nil
	}
	if err := ddl(ctx, pool, `ALTER TABLE `+quote(t.table)+` ADD COLUMN IF NOT EXISTS `+quote(name)+` TEXT`); err != nil {
		return err
	}
	t.cols[name] = true
	return nil
}

// ddl runs a schema statement, again when a concurrent one made it fail
// with a duplicate.
func ddl(ctx context.Context, pool *pgxpool.Pool, sql string) error {
	var err error
	for range 5 {
		if _, err = pool.Exec(ctx, sql); err == nil || !isCode(err, "23505", "42P07", "42710", "42701", "40P01") {
			return err
		}
	}
	return err
}

// isCode reports whether err is a PostgreSQL error with one of codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// Send writes the messages' rows and their notifications in one pipelined
// batch, which PostgreSQL runs as one transaction.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	// BR-17: upsert, then pg_notify of the quoted id.
	t.mu.Lock()
	pool := t.pool
	t.mu.Unlock()
	if pool == nil {
		return 0, bridge.ErrClosed
	}
	if !t.schema {
		if err := t.ensureSchema(ctx, pool); err != nil {
			return 0, t.sendErr(err)
		}
	}
	n, err := t.batch.Send(ctx, writer{t, pool}, msgs, maxIdent)
	if err != nil {
		return n, t.sendErr(err)
	}
	return n, nil
}

// writer is the eventrow.Writer of a Send.
type writer struct {
	t    *Transport
	pool *pgxpool.Pool
}

func (w writer) AddColumn(ctx context.Context, name string) error {
	return w.t.addColumn(ctx, w.pool, name)
}

func (w writer) Refused(err error) bool { return isPermanent(err) }

// Write sends rows as one batch: each row's upsert, then its notification.
func (w writer) Write(ctx context.Context, rows []eventrow.Row) (int, error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 2*len(rows))}
	for _, r := range rows {
		args := make([]any, len(r.Cols))
		for i, c := range r.Cols {
			if c.Value != nil {
				args[i] = c.Value
			}
		}
		b.Queue(w.t.upserts.For(r.Cols), args...)
		b.Queue(w.t.q.notify, r.ID)
	}
	br := w.pool.SendBatch(ctx, b)
	failed := -1
	var err error
	for i := range b.Len() {
		if _, err = br.Exec(); err != nil {
			failed = i / 2
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return failed, err
}

// sendErr looks at a failed write: a missing table or column (someone
// dropped it) sends the next write through the schema again.
func (t *Transport) sendErr(err error) error {
	if isCode(err, "42P01", "42703") {
		t.schema = false
	}
	return fmt.Errorf("pg bridge: %w", err)
}

// isPermanent reports whether PostgreSQL refused a statement for what it
// holds: data exceptions, integrity violations, syntax and access rule
// violations, program limits (an index row too large). A missing table or
// column is not: the next write recreates it.
func isPermanent(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 || isCode(err, "42P01", "42703") {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "42", "54":
		return true
	}
	return false
}

// Close stops listening, closes the listening connection and, unless it
// came with WithPool, the pool.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	pool, cancel, done := t.pool, t.cancel, t.done
	t.pool, t.cancel = nil, nil
	t.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		<-done // every call of the listener returns once its context is cancelled
		err = ctx.Err()
	}
	if pool != t.userPool {
		pool.Close()
	}
	return err
}
