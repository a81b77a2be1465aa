package pgbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/internal/tabletest"
	"github.com/ringbus/ringbus/bridge/pgbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/internal/services"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// fixture is a table and channel of the test's own on a PostgreSQL server,
// and an admin connection that writes and reads them as a foreign process
// would. The table is dropped when the test ends.
type fixture struct {
	url, table, channel string
	db                  *pgx.Conn
}

// newFixture uses the shared PostgreSQL; base overrides its database URL
// (a server the test runs itself).
func newFixture(t testing.TB, base ...string) *fixture {
	t.Helper()
	dbURL := ""
	if len(base) > 0 {
		dbURL = base[0]
	} else {
		dbURL = "postgres://postgres@" + services.Require(t, services.Postgres) + "/test?sslmode=disable"
	}
	f := &fixture{table: services.Unique(t, "ringbus"), channel: services.Unique(t, "ringbus")}
	i := strings.IndexByte(dbURL, '?')
	f.url = dbURL[:i] + "/" + f.table + dbURL[i:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	f.db = db
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if !db.IsClosed() {
			_, _ = db.Exec(ctx, `DROP TABLE IF EXISTS "`+f.table+`"`)
		}
		_ = db.Close(ctx)
	})
	return f
}

func (f *fixture) newTransport(t testing.TB, opts ...bridge.Option) *pgbridge.Transport {
	t.Helper()
	tr, err := pgbridge.NewTransport(f.url, f.channel, pgbridge.WithBridgeOptions(opts...))
	require.NoError(t, err)
	return tr
}

func (f *fixture) newBridge(t testing.TB, opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := pgbridge.New(f.url, f.channel, pgbridge.WithBridgeOptions(opts...))
	require.NoError(t, err)
	return b
}

// quotedID returns a new id as the event_id column holds it.
func quotedID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return `"` + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + `"`
}

// raw writes a row the way abxbus does, with only the event_id and
// event_payload columns, and announces it. The row's id is the payload's
// event_id when it has one.
func (f *fixture) raw(ctx context.Context, data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: PostgreSQL text holds UTF-8 only", bridgetest.ErrUnsendable)
	}
	id := quotedID()
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) == nil && len(m["event_id"]) > 0 && m["event_id"][0] == '"' {
		id = string(m["event_id"])
	}
	return f.insert(ctx, map[string]any{"event_id": id, "event_payload": string(data)})
}

// insert upserts a row with the given columns (adding those the table
// lacks) and notifies its event_id, as abxbus's dispatch does.
func (f *fixture) insert(ctx context.Context, cols map[string]any) error {
	var names, params, sets []string
	var args []any
	for k, v := range cols {
		if _, err := f.db.Exec(ctx, `ALTER TABLE "`+f.table+`" ADD COLUMN IF NOT EXISTS "`+k+`" TEXT`); err != nil {
			return err
		}
		names = append(names, `"`+k+`"`)
		args = append(args, v)
		params = append(params, fmt.Sprintf("$%d", len(args)))
		if k != "event_id" {
			sets = append(sets, `"`+k+`" = excluded."`+k+`"`)
		}
	}
	sql := `INSERT INTO "` + f.table + `" (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(params, ", ") +
		`) ON CONFLICT ("event_id") DO UPDATE SET ` + strings.Join(sets, ", ")
	if _, err := f.db.Exec(ctx, sql, args...); err != nil {
		return err
	}
	return f.notify(ctx, cols["event_id"].(string))
}

func (f *fixture) notify(ctx context.Context, payload string) error {
	_, err := f.db.Exec(ctx, `SELECT pg_notify($1, $2)`, f.channel, payload)
	return err
}

func TestConformance_BR16_BR17_BR18(t *testing.T) {
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    true,
		Ordered: true, // one sender commits its batches in order, and NOTIFY follows commit order
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			f := newFixture(t)
			return bridgetest.Pair{
				Sender:      f.newBridge(t, opts...),
				Receiver:    f.newBridge(t, opts...),
				Raw:         f.raw,
				NewReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge { return f.newBridge(t, opts...) },
			}
		},
	})
}

func TestNewTransportURLAndChannel_BR16(t *testing.T) {
	tr, err := pgbridge.NewTransport("postgresql://u:p@localhost:5432/db?sslmode=disable", "")
	require.NoError(t, err)
	assert.Equal(t, pgbridge.DefaultTable, tr.Table())
	assert.Equal(t, pgbridge.DefaultChannel, tr.Channel())
	assert.Equal(t, "PostgresEventBridge", tr.Kind())

	tr, err = pgbridge.NewTransport("postgres://u@localhost/db/My_Events", strings.Repeat("c", 70))
	require.NoError(t, err)
	assert.Equal(t, "My_Events", tr.Table())
	assert.Equal(t, strings.Repeat("c", 63), tr.Channel(), "the channel is cut to 63 bytes")

	for _, bad := range []struct{ url, channel string }{
		{"postgresql://localhost:5432", ""},        // no database
		{"postgresql://localhost:5432/", ""},       // no database
		{"postgresql://localhost/db/t/x", ""},      // more than a table
		{"postgresql://localhost/db/bad-name", ""}, // not an identifier
		{"postgresql://localhost/db/1table", ""},   // not an identifier
		{"postgresql://localhost/db/" + strings.Repeat("t", 64), ""},
		{"mysql://localhost/db", ""},                    // not PostgreSQL
		{"postgresql://localhost/db", "bad channel"},    // not an identifier
		{"postgresql://localhost/db", "9lives"},         // not an identifier
		{"postgresql://localhost:99999999/db", ""},      // pgx refuses the port
		{"postgresql://localhost/db?sslmode=bogus", ""}, // pgx refuses the setting
		{"postgresql://%zz@localhost/db", ""},           // not a URL
	} {
		_, err := pgbridge.New(bad.url, bad.channel)
		assert.ErrorIs(t, err, bridge.ErrConfig, "%s %q", bad.url, bad.channel)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, 2*time.Millisecond, "waiting for %s", what)
}

// BR-16, BR-17: the table, its indexes and a row as abxbus lays them out,
// and the NOTIFY payload is the event_id column's text, quotes included.
func TestWireRowAndNotify_BR16_BR17(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := f.newBridge(t)
	tabletest.Start(t, b)
	app, err := api.NewBus("App", api.WithMaxHistory(0))
	require.NoError(t, err)
	defer func() { _ = app.Stop(ctx) }()
	require.NoError(t, b.Connect(app))

	listen, err := pgx.Connect(ctx, strings.Replace(f.url, "/"+f.table, "", 1))
	require.NoError(t, err)
	defer func() { _ = listen.Close(ctx) }()
	_, err = listen.Exec(ctx, `LISTEN "`+f.channel+`"`)
	require.NoError(t, err)

	e, err := api.NewEvent("WireCheck", map[string]any{"label": "pg_ok", "n": 1})
	require.NoError(t, err)
	require.NoError(t, app.Emit(ctx, e))
	require.NoError(t, app.WaitUntilIdle(ctx))
	require.NoError(t, b.Flush(ctx))

	n, err := listen.WaitForNotification(ctx)
	require.NoError(t, err)
	assert.Equal(t, f.channel, n.Channel)
	assert.Equal(t, `"`+e.ID()+`"`, n.Payload, "the NOTIFY payload is the JSON string of the id")

	rows, err := f.db.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, f.table)
	require.NoError(t, err)
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		require.NoError(t, rows.Scan(&name, &typ))
		cols[name] = typ
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, "text", cols["event_payload"])
	assert.NotContains(t, cols, "label", "payload fields never become columns")
	assert.NotContains(t, cols, "n")
	for name, typ := range cols {
		assert.True(t, name == "event_payload" || strings.HasPrefix(name, "event_"), "column %s", name)
		assert.Equal(t, "text", typ, "column %s", name)
	}
	var indexes []string
	rows, err = f.db.Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`, f.table)
	require.NoError(t, err)
	indexes, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	cut := func(s string) string { return s[:min(len(s), 63)] } // PostgreSQL's identifier length
	assert.Subset(t, indexes, []string{cut(f.table + "_event_created_at_idx"), cut(f.table + "_event_type_idx")})

	var id, typ, path, created, payload string
	var timeout, parent *string
	require.NoError(t, f.db.QueryRow(ctx, `SELECT "event_id", "event_type", "event_path", "event_created_at", "event_payload",
		"event_timeout", "event_parent_id" FROM "`+f.table+`"`).Scan(&id, &typ, &path, &created, &payload, &timeout, &parent))
	assert.Equal(t, `"`+e.ID()+`"`, id, "event_id holds the id with its quotes")
	assert.Equal(t, `"WireCheck"`, typ)
	assert.Equal(t, `["`+app.Label()+`"]`, path, "event_path holds a JSON array")
	assert.Regexp(t, `^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"$`, created)
	assert.Nil(t, timeout, "a null field is SQL NULL")
	assert.Nil(t, parent)
	var whole map[string]any
	require.NoError(t, json.Unmarshal([]byte(payload), &whole), "event_payload is the whole event JSON")
	assert.Equal(t, "pg_ok", whole["label"])
	assert.Equal(t, e.ID(), whole["event_id"])
	assert.Equal(t, "WireCheck", whole["event_type"])
	assert.Contains(t, whole, "event_timeout")
}

// BR-18: a row written by hand the way the TypeScript bridge writes it
// (sorted keys, JSON.stringify per column, the whole event in
// event_payload), and one the way Python writes it (", " separators), are
// received with their fields.
func TestForeignRowsAreReceived_BR18(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &tabletest.Recorder{}
	b := rec.Listen(t, f.newBridge(t, bridge.WithErrorHandler(rec.Report)))

	for i, sep := range []string{",", ", "} {
		ev, err := api.NewEvent("FromPeer", nil)
		require.NoError(t, err)
		created := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
		fields := map[string]string{
			"event_type":       `"FromPeer"`,
			"event_id":         `"` + ev.ID() + `"`,
			"event_path":       `["TsBus#ab12"` + sep + `"Other#cd34"]`,
			"event_created_at": `"` + created + `"`,
			"event_status":     `"pending"`,
			"event_version":    `"0.0.1"`,
		}
		payload := `{"event_type":"FromPeer","event_id":"` + ev.ID() + `","event_path":["TsBus#ab12","Other#cd34"],` +
			`"event_created_at":"` + created + `","event_timeout":null,"event_parent_id":null,"event_status":"pending",` +
			`"event_version":"0.0.1","label":"peer_ok","index":` + fmt.Sprint(i) + `}`
		cols := map[string]any{"event_payload": payload, "event_timeout": nil, "event_parent_id": nil}
		for k, v := range fields {
			cols[k] = v
		}
		require.NoError(t, f.insert(ctx, cols))
	}
	waitFor(t, "two events", func() bool { return len(rec.Events()) >= 2 })
	for i, e := range rec.Events() {
		assert.Equal(t, "FromPeer", e.Type())
		label, _ := e.Field("label")
		assert.Equal(t, "peer_ok", label)
		index, _ := e.Field("index")
		assert.EqualValues(t, fmt.Sprint(i), fmt.Sprint(index))
		assert.Equal(t, []string{"TsBus#ab12", "Other#cd34", b.Label()}, e.Path())
	}
	assert.Zero(t, rec.Matching(bridge.ErrInvalidMessage), "%v", rec.Errors())
}

// BR-13, BR-18: columns override event_payload, a column that is not JSON
// reads as a string, a NULL payload reads as the columns alone; a row with
// a payload that is not an object, a notification without a row and one
// that is not even an id are reported and the listener goes on.
func TestOverlayAndBadRows_BR18(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &tabletest.Recorder{}
	b := rec.Listen(t, f.newBridge(t, bridge.WithErrorHandler(rec.Report)))

	ev, err := api.NewEvent("Overlaid", nil)
	require.NoError(t, err)
	require.NoError(t, f.insert(ctx, map[string]any{
		"event_id":      `"` + ev.ID() + `"`,
		"event_type":    `"Overlaid"`,
		"event_status":  "pending", // not JSON: read as the string
		"event_payload": `{"event_type":"Original","label":"kept"}`,
	}))
	ev2, err := api.NewEvent("ColumnsOnly", nil)
	require.NoError(t, err)
	require.NoError(t, f.insert(ctx, map[string]any{
		"event_id":   `"` + ev2.ID() + `"`,
		"event_type": `"ColumnsOnly"`,
	}))
	waitFor(t, "the two good rows", func() bool { return len(rec.Events()) >= 2 })
	got := rec.Events()
	assert.Equal(t, "Overlaid", got[0].Type(), "the column wins over event_payload")
	label, _ := got[0].Field("label")
	assert.Equal(t, "kept", label)
	assert.Equal(t, "ColumnsOnly", got[1].Type())

	ev3, err := api.NewEvent("Broken", nil)
	require.NoError(t, err)
	require.NoError(t, f.insert(ctx, map[string]any{
		"event_id":      `"` + ev3.ID() + `"`,
		"event_type":    `"Broken"`,
		"event_payload": `{"event_type": "Broken", `,
	}))
	require.NoError(t, f.notify(ctx, quotedID())) // no such row
	require.NoError(t, f.notify(ctx, `hello`))    // not an id
	waitFor(t, "three reports", func() bool { return rec.Matching(bridge.ErrInvalidMessage) >= 3 })
	assert.EqualValues(t, 1, b.Stats().Invalid, "the broken row was delivered and dropped by the decoder")

	good, err := api.NewEvent("AfterBad", nil)
	require.NoError(t, err)
	require.NoError(t, b.Emit(ctx, good))
	waitFor(t, "the event after the bad ones", func() bool { return len(rec.Events()) >= 3 })
	assert.Equal(t, "AfterBad", rec.Events()[2].Type())
	t.Logf("reports: %v", rec.Errors())
}

// stream is a receiving bridge that counts the Stream events it gets by
// their seq, and a sending bridge that emits n of them (and one more,
// seq n, when asked) in a goroutine of its own.
type stream struct {
	recv, send *bridge.Bridge
	seen       []atomic.Int32
	received   atomic.Int64
	wg         sync.WaitGroup
}

func newStream(t *testing.T, recv, send *bridge.Bridge, n int) *stream {
	s := &stream{recv: recv, send: send, seen: make([]atomic.Int32, n+1)}
	_, err := recv.On("Stream", func(_ context.Context, e *api.BaseEvent) (any, error) {
		v, _ := e.Field("seq")
		i, _ := v.(json.Number).Int64()
		s.seen[i].Add(1)
		s.received.Add(1)
		return nil, nil
	})
	require.NoError(t, err)
	tabletest.Start(t, recv)
	tabletest.Start(t, send)
	return s
}

// emit emits the events from..to-1 in a goroutine; s.wg waits for it.
func (s *stream) emit(ctx context.Context, t *testing.T, from, to int) {
	s.wg.Go(func() {
		for i := from; i < to; i++ {
			e, _ := api.NewEvent("Stream", map[string]any{"seq": i})
			if err := s.send.Emit(ctx, e); err != nil {
				t.Error(err)
				return
			}
		}
	})
}

// The listener's connection is terminated (pg_terminate_backend, which
// ends only that session of the shared server) twice while 10k events
// stream: the bridge reports the disconnections, reconnects by itself,
// reads the rows it missed, and every event arrives once.
func TestListenerReconnects(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := &tabletest.Recorder{}
	tr := f.newTransport(t)
	recv, err := bridge.New(tr, bridge.WithErrorHandler(rec.Report))
	require.NoError(t, err)
	const n = 10_000
	s := newStream(t, recv, f.newBridge(t), n)
	send, seen, received := s.send, s.seen[:n], &s.received
	s.emit(ctx, t, 0, n)
	for _, at := range []int64{n / 4, n / 2} {
		waitFor(t, fmt.Sprint(at, " events"), func() bool { return received.Load() >= at })
		pid := pgbridge.ListenerPID(tr)
		var ok bool
		require.NoError(t, f.db.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&ok))
		require.True(t, ok)
		waitFor(t, "a new listening session", func() bool { return pgbridge.ListenerPID(tr) != pid })
	}
	s.wg.Wait()
	require.NoError(t, send.Flush(ctx))
	waitFor(t, "every event", func() bool { return received.Load() >= n })
	time.Sleep(100 * time.Millisecond) // a duplicate would show now
	st := recv.Stats()
	t.Logf("sent %d, received %d, disconnections reported %d, lost reported %d (count %d)",
		send.Stats().Sent, received.Load(), st.Disconnects, rec.Matching(bridge.ErrLost), st.Lost)
	assert.EqualValues(t, 2, st.Disconnects)
	assert.EqualValues(t, n, received.Load())
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("event %d arrived %d times", i, seen[i].Load())
		}
	}
}

// The server crashes (SIGKILL, every backend with it) and comes back on
// the same port while 10k events stream: sending fails and is retried,
// the listener reports the disconnection and reconnects by itself, and
// the events sent after the restart arrive. The server runs with
// synchronous_commit=off, so a crash may take the last commits with it;
// the counts say how many.
func TestServerCrashAndRestart(t *testing.T) {
	pg := services.StartPostgres(t)
	f := newFixture(t, pg.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rec, sendRec := &tabletest.Recorder{}, &tabletest.Recorder{}
	const n = 10_000
	s := newStream(t, f.newBridge(t, bridge.WithErrorHandler(rec.Report)), f.newBridge(t, bridge.WithErrorHandler(sendRec.Report)), n)
	recv, send, seen, received := s.recv, s.send, s.seen, &s.received
	s.emit(ctx, t, 0, n)
	waitFor(t, "some events", func() bool { return received.Load() >= n/5 })
	pg.Kill()
	pg.Restart(t)
	s.wg.Wait()
	last, _ := api.NewEvent("Stream", map[string]any{"seq": n})
	require.NoError(t, send.Emit(ctx, last))
	waitFor(t, "the event sent after the restart", func() bool { return seen[n].Load() == 1 })
	missing, twice := 0, 0
	for i := range n {
		switch seen[i].Load() {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	// What the crash took is gone from the table too; every event still
	// in it arrived (the listener caught up with what it missed).
	db, err := pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	rows, err := db.Query(ctx, `SELECT (event_payload::json->>'seq')::int FROM "`+f.table+`"`)
	require.NoError(t, err)
	inTable, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	_ = db.Close(ctx)
	notReceived := 0
	for _, i := range inTable {
		if seen[i].Load() == 0 {
			notReceived++
		}
	}
	st := recv.Stats()
	t.Logf("sent %d, received %d (missing %d, more than once %d), in the table after the crash %d; receiver: disconnections %d, lost reported %d; sender: send errors %d",
		send.Stats().Sent, received.Load(), missing, twice, len(inTable), st.Disconnects, rec.Matching(bridge.ErrLost), send.Stats().SendErrors)
	assert.Zero(t, notReceived, "events in the table that never arrived")
	assert.GreaterOrEqual(t, st.Disconnects, uint64(1))
	assert.GreaterOrEqual(t, send.Stats().SendErrors, uint64(1), "sending failed while the server was down")
}

// Close returns within its context while the server is down, and
// accounts for what it could not send.
func TestCloseWhileServerIsDown(t *testing.T) {
	pg := services.StartPostgres(t)
	f := newFixture(t, pg.URL())
	rec := &tabletest.Recorder{}
	b := f.newBridge(t, bridge.WithErrorHandler(rec.Report))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Start(ctx))
	pg.Kill()
	for i := range 10 {
		e, _ := api.NewEvent("Doomed", map[string]any{"seq": i})
		require.NoError(t, b.Emit(ctx, e))
	}
	waitFor(t, "a failed send", func() bool { return b.Stats().SendErrors > 0 })
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	require.ErrorIs(t, b.Close(cctx), context.DeadlineExceeded)
	st := b.Stats()
	assert.EqualValues(t, 10, st.Sent+st.Lost, "every event sent or reported lost")
}

// A listener that was stalled (its consumer blocked) finds thousands of
// notifications at once when it goes on, more than one fetch reads: every
// event arrives once, in order.
func TestBurstAfterStall_BR18(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gate := make(chan struct{})
	var mu sync.Mutex
	var got []int64
	recv := f.newBridge(t, bridge.WithInboundQueue(1))
	_, err := recv.On("Burst", func(_ context.Context, e *api.BaseEvent) (any, error) {
		<-gate
		v, _ := e.Field("seq")
		i, _ := v.(json.Number).Int64()
		mu.Lock()
		got = append(got, i)
		mu.Unlock()
		return nil, nil
	})
	require.NoError(t, err)
	tabletest.Start(t, recv)
	send := f.newBridge(t)
	tabletest.Start(t, send)
	const n = 5000
	for i := range n {
		e, _ := api.NewEvent("Burst", map[string]any{"seq": i})
		require.NoError(t, send.Emit(ctx, e))
	}
	require.NoError(t, send.Flush(ctx))
	close(gate)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	waitFor(t, "every event", func() bool { return count() >= n })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, n)
	for i, s := range got {
		if s != int64(i) {
			t.Fatalf("event %d arrived at position %d", s, i)
		}
	}
}

// inbox is a bridge.Inbox that keeps what it is given.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	errs []error
}

func (in *inbox) Deliver(_ context.Context, m bridge.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, string(m.Data))
	in.mu.Unlock()
}

func (in *inbox) Report(err error) { in.mu.Lock(); in.errs = append(in.errs, err); in.mu.Unlock() }

// A message that cannot be a row, and a row PostgreSQL refuses (an
// event_type beyond what its index holds), are dropped as permanent
// failures once the messages before them are written; retrying the rest
// writes them.
func TestSendDropsWhatCannotBeARow(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr := f.newTransport(t)
	require.NoError(t, tr.Open(ctx, &inbox{}))
	defer func() { assert.NoError(t, tr.Close(ctx)) }()
	good := func(typ string) bridge.Message {
		return bridge.Message{Data: []byte(`{"event_type":"` + typ + `","event_id":` + quotedID() + `,"event_timeout":null}`)}
	}
	var noise [8000]byte
	_, _ = rand.Read(noise[:])
	huge := good(hex.EncodeToString(noise[:])) // beyond what a btree index row holds, even compressed
	msgs := []bridge.Message{good("A"), good("B"), {Data: []byte(`["not", "an", "object"]`)}, good("C")}
	n, err := tr.Send(ctx, msgs)
	assert.Equal(t, 2, n)
	require.ErrorIs(t, err, bridge.ErrPermanent)
	n, err = tr.Send(ctx, []bridge.Message{good("D"), huge, good("E")})
	assert.Equal(t, 1, n, "the row before the refused one is written")
	require.ErrorIs(t, err, bridge.ErrPermanent)
	n, err = tr.Send(ctx, []bridge.Message{good("E")})
	assert.Equal(t, 1, n)
	require.NoError(t, err)
	rows, err := f.db.Query(ctx, `SELECT "event_type" FROM "`+f.table+`" ORDER BY "event_type"`)
	require.NoError(t, err)
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{`"A"`, `"B"`, `"D"`, `"E"`}, types)
}

// WithPool writes through the caller's pool, listens with its settings,
// and leaves it open on Close.
func TestWithPool(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, strings.Replace(f.url, "/"+f.table, "", 1))
	require.NoError(t, err)
	defer pool.Close()
	rec := &tabletest.Recorder{}
	b, err := pgbridge.New("postgresql://ignored.invalid/db/"+f.table, f.channel, pgbridge.WithPool(pool),
		pgbridge.WithBridgeOptions(bridge.WithErrorHandler(rec.Report)))
	require.NoError(t, err)
	rec.Listen(t, b)
	e, err := api.NewEvent("Pooled", nil)
	require.NoError(t, err)
	require.NoError(t, b.Emit(ctx, e))
	waitFor(t, "the event", func() bool { return len(rec.Events()) >= 1 })
	require.NoError(t, b.Close(ctx))
	require.NoError(t, pool.Ping(ctx), "the pool is still open")
}
