package sqlitebridge_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the driver, for the tests' own connections

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/internal/tabletest"
	"github.com/ringbus/ringbus/bridge/sqlitebridge"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

const poll = 2 * time.Millisecond

// fixture is a database file of the test's own and a connection that
// writes and reads its table as a foreign process would.
type fixture struct {
	path, table string
	db          *sql.DB // nil for the conformance suite, which counts goroutines
	opts        []sqlitebridge.Option
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFile(t)
	db, err := f.open()
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	f.db = db
	return f
}

// newFile is a fixture without a connection of its own.
func newFile(t testing.TB) *fixture {
	return &fixture{path: filepath.Join(t.TempDir(), "events.sqlite3"), table: "abxbus_events"}
}

func (f *fixture) open() (*sql.DB, error) {
	return sql.Open("sqlite", f.path+"?_pragma=busy_timeout(30000)")
}

func (f *fixture) newBridge(t testing.TB, opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := sqlitebridge.New(f.path, f.table, append([]sqlitebridge.Option{sqlitebridge.WithPollInterval(poll),
		sqlitebridge.WithBridgeOptions(opts...)}, f.opts...)...)
	require.NoError(t, err)
	return b
}

// insert upserts a row with the given columns (adding those the table
// lacks), each value bound as text, as a foreign writer may; payloadJSON
// sends event_payload through json(), as abxbus does.
func (f *fixture) insert(ctx context.Context, cols map[string]any, payloadJSON bool) error {
	existing := map[string]bool{}
	rows, err := f.db.QueryContext(ctx, `SELECT "name" FROM pragma_table_info('`+f.table+`')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		existing[n] = true
	}
	_ = rows.Close()
	var names, params, sets []string
	var args []any
	for k, v := range cols {
		if !existing[k] {
			if _, err := f.db.ExecContext(ctx, `ALTER TABLE "`+f.table+`" ADD COLUMN "`+k+`" TEXT`); err != nil {
				return err
			}
		}
		names = append(names, `"`+k+`"`)
		args = append(args, v)
		p := "?"
		if k == "event_payload" && payloadJSON {
			p = "json(?)"
		}
		params = append(params, p)
		if k != "event_id" {
			sets = append(sets, `"`+k+`" = excluded."`+k+`"`)
		}
	}
	_, err = f.db.ExecContext(ctx, `INSERT INTO "`+f.table+`" (`+strings.Join(names, ", ")+`) VALUES (`+strings.Join(params, ", ")+
		`) ON CONFLICT ("event_id") DO UPDATE SET `+strings.Join(sets, ", "), args...)
	return err
}

// now returns a new timestamp of this process, as the event_created_at
// column holds it.
func now() string { return `"` + ident.Now().String() + `"` }

func quotedID() string { return `"` + ident.NewV7().String() + `"` }

// raw writes a row by hand: data as event_payload (not through json(), so
// that malformed JSON gets in), a new timestamp, and the payload's
// event_id when it has one.
func (f *fixture) raw(ctx context.Context, data []byte) error {
	id := quotedID()
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) == nil {
		if _, ok := m["event_created_at"]; ok {
			return fmt.Errorf("%w: the event_created_at column orders the rows; the listeners would stop at a row that is not a timestamp",
				bridgetest.ErrUnsendable)
		}
		if v := m["event_id"]; len(v) > 0 && v[0] == '"' {
			id = string(v)
		}
	}
	db, err := f.open()
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	g := *f
	g.db = db
	return g.insert(ctx, map[string]any{"event_id": id, "event_created_at": now(), "event_payload": string(data)}, false)
}

func conformance(t *testing.T, skip map[string]string, topts ...sqlitebridge.Option) {
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    true,
		Ordered: true,             // one goroutine's events: by event_created_at, which one process assigns in increasing order
		Timeout: 60 * time.Second, // modernc.org/sqlite is C translated to Go: slow under the race detector
		Skip:    skip,
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			f := newFile(t)
			f.opts = topts
			return bridgetest.Pair{
				Sender:      f.newBridge(t, opts...),
				Receiver:    f.newBridge(t, opts...),
				Raw:         f.raw,
				NewReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge { return f.newBridge(t, opts...) },
			}
		},
	})
}

func TestConformance_BR11_BR12_BR13(t *testing.T) {
	conformance(t, map[string]string{
		"ConcurrentEmitters": "BR-14: eight goroutines create events, and one created before another may be committed after " +
			"a poll read the later one; the listener never reads it (TestConcurrentEmitters_BR14 shows it, and " +
			"WithInsertionOrder passes this test)",
	})
}

func TestConformanceInsertionOrder(t *testing.T) {
	conformance(t, nil, sqlitebridge.WithInsertionOrder())
}

func TestNewTransport_BR11(t *testing.T) {
	tr, err := sqlitebridge.NewTransport("x.db", "")
	require.NoError(t, err)
	assert.Equal(t, sqlitebridge.DefaultTable, tr.Table())
	assert.Equal(t, "SQLiteEventBridge", tr.Kind())
	for _, bad := range []struct{ path, table string }{{"", ""}, {"x.db", "bad-name"}, {"x.db", "1t"}, {"x.db", `t"`}} {
		_, err := sqlitebridge.New(bad.path, bad.table)
		assert.ErrorIs(t, err, bridge.ErrConfig, "%q %q", bad.path, bad.table)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, "waiting for %s", what)
}

// listening returns a started bridge on f whose events and errors rec
// collects.
func (f *fixture) listening(t *testing.T, rec *tabletest.Recorder) *bridge.Bridge {
	t.Helper()
	return rec.Listen(t, f.newBridge(t, bridge.WithErrorHandler(rec.Report)))
}

// BR-11, BR-12: the table, its indexes and a row as abxbus lays them out.
func TestWireRow_BR11_BR12(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := f.newBridge(t)
	tabletest.Start(t, b)
	app, err := api.NewBus("App", api.WithMaxHistory(0))
	require.NoError(t, err)
	defer func() { _ = app.Stop(ctx) }()
	require.NoError(t, b.Connect(app))
	e, err := api.NewEvent("WireCheck", map[string]any{"label": "sqlite_ok", "n": 1})
	require.NoError(t, err)
	require.NoError(t, app.Emit(ctx, e))
	require.NoError(t, app.WaitUntilIdle(ctx))
	require.NoError(t, b.Flush(ctx))

	var mode string
	require.NoError(t, f.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
	rows, err := f.db.QueryContext(ctx, `SELECT "name", "type" FROM pragma_table_info('abxbus_events')`)
	require.NoError(t, err)
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		require.NoError(t, rows.Scan(&name, &typ))
		cols[name] = typ
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, "JSON", cols["event_payload"])
	assert.NotContains(t, cols, "label", "payload fields never become columns")
	for name, typ := range cols {
		assert.True(t, name == "event_payload" || strings.HasPrefix(name, "event_"), "column %s", name)
		if name != "event_payload" {
			assert.Equal(t, "TEXT", typ, "column %s", name)
		}
	}
	var indexes []string
	rows, err = f.db.QueryContext(ctx, `SELECT "name" FROM pragma_index_list('abxbus_events') WHERE "origin" = 'c'`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		indexes = append(indexes, n)
	}
	assert.ElementsMatch(t, []string{"abxbus_events_event_created_at_idx", "abxbus_events_event_type_idx"}, indexes)

	var id, typ, path, payload, payloadType, timeoutType string
	var valid int
	require.NoError(t, f.db.QueryRowContext(ctx, `SELECT "event_id", "event_type", "event_path", "event_payload", typeof("event_payload"),
		json_valid("event_payload"), typeof("event_timeout") FROM "abxbus_events"`).Scan(&id, &typ, &path, &payload, &payloadType, &valid, &timeoutType))
	assert.Equal(t, `"`+e.ID()+`"`, id, "event_id holds the id with its quotes")
	assert.Equal(t, `"WireCheck"`, typ)
	assert.Equal(t, `["`+app.Label()+`"]`, path, "event_path holds a JSON array")
	assert.Equal(t, "null", timeoutType, "a null field is SQL NULL")
	assert.Equal(t, "text", payloadType)
	assert.Equal(t, 1, valid)
	var whole map[string]any
	require.NoError(t, json.Unmarshal([]byte(payload), &whole), "event_payload is the whole event JSON")
	assert.Equal(t, "sqlite_ok", whole["label"])
	assert.Equal(t, e.ID(), whole["event_id"])
	assert.Contains(t, whole, "event_timeout")
}

// BR-13: rows written by hand the way the TypeScript bridge writes them
// (JSON.stringify per column, the payload through json()) and the way
// Python does (", " separators) are received with their fields.
func TestForeignRowsAreReceived_BR13(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := &tabletest.Recorder{}
	b := f.listening(t, rec)
	for i, sep := range []string{",", ", "} {
		ev, err := api.NewEvent("FromPeer", nil)
		require.NoError(t, err)
		created := ident.Now().String()
		payload := `{"event_type":"FromPeer","event_id":"` + ev.ID() + `","event_path":["TsBus#ab12","Other#cd34"],` +
			`"event_created_at":"` + created + `","event_timeout":null,"label":"peer_ok","index":` + fmt.Sprint(i) + `}`
		require.NoError(t, f.insert(ctx, map[string]any{
			"event_type":       `"FromPeer"`,
			"event_id":         `"` + ev.ID() + `"`,
			"event_path":       `["TsBus#ab12"` + sep + `"Other#cd34"]`,
			"event_created_at": `"` + created + `"`,
			"event_timeout":    nil,
			"event_payload":    payload,
		}, true))
	}
	waitFor(t, "two events", func() bool { return len(rec.Events()) >= 2 })
	for i, e := range rec.Events() {
		assert.Equal(t, "FromPeer", e.Type())
		label, _ := e.Field("label")
		assert.Equal(t, "peer_ok", label)
		index, _ := e.Field("index")
		assert.Equal(t, fmt.Sprint(i), fmt.Sprint(index))
		assert.Equal(t, []string{"TsBus#ab12", "Other#cd34", b.Label()}, e.Path())
	}
	assert.Empty(t, rec.Errors())
}

// BR-13: columns override event_payload, a column that is not JSON reads
// as a string, a NULL payload reads as the columns alone, a payload stored
// as a number (the JSON column's affinity) or that is malformed is
// reported, and the listener goes on.
func TestOverlayAndBadRows_BR13(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := &tabletest.Recorder{}
	b := f.listening(t, rec)
	newID := func() string { e, _ := api.NewEvent("X", nil); return `"` + e.ID() + `"` }
	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_type": `"Overlaid"`,
		"event_status": "pending", "event_payload": `{"event_type":"Original","label":"kept"}`}, true))
	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_type": `"ColumnsOnly"`}, true))
	waitFor(t, "the two good rows", func() bool { return len(rec.Events()) >= 2 })
	got := rec.Events()
	assert.Equal(t, "Overlaid", got[0].Type(), "the column wins over event_payload")
	label, _ := got[0].Field("label")
	assert.Equal(t, "kept", label)
	assert.Equal(t, "ColumnsOnly", got[1].Type())

	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_payload": "42"}, false))
	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_payload": `{"event_type": "X", `}, false))
	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_payload": []byte{0xff, '{'}}, false))
	require.NoError(t, f.insert(ctx, map[string]any{"event_id": newID(), "event_created_at": now(), "event_type": `"AfterBad"`}, true))
	waitFor(t, "the event after the bad rows", func() bool { return len(rec.Events()) >= 3 })
	assert.Equal(t, "AfterBad", rec.Events()[2].Type())
	assert.EqualValues(t, 3, b.Stats().Invalid, "reports: %v", rec.Errors())
}

// BR-13, BR-14: a listener starts after the newest row; then an event
// created before the newest it read is never delivered, and neither is a
// new upsert of an event it read.
func TestCursorCaveats_BR13_BR14(t *testing.T) {
	cursorCaveats(t, false)
}

// WithInsertionOrder, the event created earlier but written later
// arrives; the upsert of an event already read still does not.
func TestInsertionOrderReadsLateRows(t *testing.T) {
	cursorCaveats(t, true)
}

func cursorCaveats(t *testing.T, insertionOrder bool) {
	f := newFixture(t)
	if insertionOrder {
		f.opts = []sqlitebridge.Option{sqlitebridge.WithInsertionOrder()}
	}
	ctx := context.Background()
	older, _ := api.NewEvent("Older", nil) // created now, written later
	writer := f.newBridge(t)
	tabletest.Start(t, writer)
	before, _ := api.NewEvent("Before", nil)
	require.NoError(t, writer.Emit(ctx, before))
	require.NoError(t, writer.Flush(ctx))

	rec := &tabletest.Recorder{}
	f.listening(t, rec)
	first, _ := api.NewEvent("First", nil)
	require.NoError(t, writer.Emit(ctx, first))
	require.NoError(t, writer.Flush(ctx))
	waitFor(t, "the first event", func() bool { return len(rec.Events()) >= 1 })

	require.NoError(t, writer.Emit(ctx, older)) // created before First
	require.NoError(t, writer.Emit(ctx, first)) // the same id again
	last, _ := api.NewEvent("Last", nil)
	require.NoError(t, writer.Emit(ctx, last))
	require.NoError(t, writer.Flush(ctx))
	want := []string{"First", "Last"}
	if insertionOrder {
		want = []string{"First", "Older", "Last"}
	}
	waitFor(t, "the last event", func() bool { return len(rec.Events()) >= len(want) })
	time.Sleep(10 * poll) // a late delivery would show now
	assert.Equal(t, want, rec.Types())
	var n int
	require.NoError(t, f.db.QueryRowContext(ctx, `SELECT count(*) FROM "abxbus_events"`).Scan(&n))
	assert.Equal(t, 4, n, "Before, First, Older and Last are in the table")
}

// inbox is a bridge.Inbox that keeps nothing.
type inbox struct{}

func (inbox) Deliver(context.Context, bridge.Message) {}
func (inbox) Report(error)                            {}

// A message that cannot be a row, and one SQLite refuses (json() rejects
// its payload), are dropped as permanent failures once the messages
// before them are written.
func TestSendDropsWhatCannotBeARow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr, err := sqlitebridge.NewTransport(f.path, f.table)
	require.NoError(t, err)
	require.NoError(t, tr.Open(ctx, inbox{}))
	defer func() { assert.NoError(t, tr.Close(ctx)) }()
	msg := func(typ string) bridge.Message {
		return bridge.Message{Data: []byte(`{"event_type":"` + typ + `","event_id":` + quotedID() + `,"event_timeout":null}`)}
	}
	n, err := tr.Send(ctx, []bridge.Message{msg("A"), msg("B"), {Data: []byte(`"not an object"`)}, msg("C")})
	assert.Equal(t, 2, n)
	require.ErrorIs(t, err, bridge.ErrPermanent)
	n, err = tr.Send(ctx, []bridge.Message{msg("D"), {Data: []byte(`{"event_id":"x","event_type":tru}`)}, msg("E")})
	assert.Equal(t, 1, n, "the row before the refused one is written")
	require.ErrorIs(t, err, bridge.ErrPermanent)
	n, err = tr.Send(ctx, []bridge.Message{msg("E")})
	assert.Equal(t, 1, n)
	require.NoError(t, err)
	var types []string
	rows, err := f.db.QueryContext(ctx, `SELECT "event_type" FROM "abxbus_events" ORDER BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		types = append(types, s)
	}
	assert.Equal(t, []string{`"A"`, `"B"`, `"D"`, `"E"`}, types)
}

// BR-14 within one process: events that eight goroutines create and emit
// at once are committed in another order than their event_created_at, so
// a listener reading by event_created_at may skip some; reading in
// insertion order, none is skipped. (Whether the first listener skips any
// depends on timing; the counts are logged.)
func TestConcurrentEmitters_BR14(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	byCreated, byRowid := &tabletest.Recorder{}, &tabletest.Recorder{}
	f.listening(t, byCreated)
	f.opts = []sqlitebridge.Option{sqlitebridge.WithInsertionOrder()}
	f.listening(t, byRowid)
	f.opts = nil
	send := f.newBridge(t)
	tabletest.Start(t, send)
	const workers, per = 8, 250
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range per {
				e, _ := api.NewEvent("Concurrent", nil)
				if err := send.Emit(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, send.Flush(ctx))
	waitFor(t, "every event in insertion order", func() bool { return len(byRowid.Events()) >= workers*per })
	time.Sleep(10 * poll)
	t.Logf("sent %d; read by event_created_at %d, in insertion order %d", workers*per, len(byCreated.Events()), len(byRowid.Events()))
	assert.Len(t, byRowid.Events(), workers*per)
	assert.LessOrEqual(t, len(byCreated.Events()), workers*per)
}
