package pgbridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge/internal/tabletest"
)

// The benchmarks send events of one shape from one bridge (or raw pgx
// pool) and receive them on a second bridge (or raw pgx connection) on a
// table of their own. The raw client runs the same statements: per event
// the upsert of its columns and pg_notify, 256 events per pipelined batch,
// and a listener that reads the announced rows with one query per burst of
// notifications. It gets its columns computed before the timer starts.
// Like the bridges it has two listeners, the sender's own besides the
// receiver (a bridge hears what it sends); "raw-one-listener" has the
// receiver's only.

const benchBatch = 256

// rawClient is pgx without ringbus: a pool that writes and a connection
// that listens.
type rawClient struct {
	f    *fixture
	pool *pgxpool.Pool
	got  *tabletest.Counter
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// newRaw returns the raw client with listeners listening connections: the
// first counts on got, the others (the sender's own, as a bridge has one)
// read the rows and drop them.
func newRaw(b *testing.B, f *fixture, listeners int) *rawClient {
	ctx := context.Background()
	// The bridge creates the table; the raw client uses it.
	tr := f.newTransport(b)
	if err := tr.Open(ctx, &inbox{}); err != nil {
		b.Fatal(err)
	}
	if err := tr.Close(ctx); err != nil {
		b.Fatal(err)
	}
	dsn := strings.Replace(f.url, "/"+f.table, "", 1)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	r := &rawClient{f: f, pool: pool, got: tabletest.NewCounter(), stop: cancel}
	var conns []*pgx.Conn
	for i := range listeners {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `LISTEN "`+f.channel+`"`); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, conn)
		got := r.got
		if i > 0 {
			got = tabletest.NewCounter()
		}
		r.wg.Go(func() { r.listen(lctx, conn, got) })
	}
	b.Cleanup(func() {
		r.stop()
		r.wg.Wait()
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
		pool.Close()
	})
	return r
}

func (r *rawClient) listen(ctx context.Context, conn *pgx.Conn, got *tabletest.Counter) {
	fetch := `SELECT * FROM "` + r.f.table + `" WHERE "event_id" = ANY($1)`
	drained, cancel := context.WithCancel(ctx)
	cancel()
	var ids []string
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		ids = ids[:0]
		for n != nil {
			ids = append(ids, n.Payload)
			if len(ids) == 512 {
				break
			}
			n, _ = conn.WaitForNotification(drained)
		}
		rows, err := conn.Query(ctx, fetch, pgx.QueryExecModeExec, pgx.QueryResultFormats{pgx.TextFormatCode}, ids)
		if err != nil {
			return
		}
		payload := slices.IndexFunc(rows.FieldDescriptions(), func(f pgconn.FieldDescription) bool { return f.Name == "event_payload" })
		k := 0
		for rows.Next() {
			if len(rows.RawValues()[payload]) > 0 { // the event's JSON, received
				k++
			}
		}
		rows.Close()
		got.Add(k)
	}
}

// rawRows are the rows of evs, and the columns they need added.
func rawRows(b *testing.B, f *fixture, evs []*api.BaseEvent) ([]tabletest.RawRow, string) {
	rows := tabletest.RawRows(b, evs)
	for _, c := range rows[0].Cols {
		if _, err := f.db.Exec(context.Background(), `ALTER TABLE "`+f.table+`" ADD COLUMN IF NOT EXISTS "`+c+`" TEXT`); err != nil {
			b.Fatal(err)
		}
	}
	return rows, rows[0].Upsert(f.table, func(i int, _ string) string { return fmt.Sprintf("$%d", i+1) })
}

// send writes rows as one pipelined batch of upserts and notifications.
func (r *rawClient) send(ctx context.Context, upsert string, rows []tabletest.RawRow) error {
	batch := &pgx.Batch{}
	for _, row := range rows {
		batch.Queue(upsert, row.Args...)
		batch.Queue(`SELECT pg_notify($1, $2)`, r.f.channel, row.ID)
	}
	return r.pool.SendBatch(ctx, batch).Close()
}

// rawName names the raw sub-benchmarks: "raw" has as many listeners as
// the two bridges, "raw-one-listener" the receiver's only.
func rawName(listeners int) string {
	if listeners == 1 {
		return "raw-one-listener"
	}
	return "raw"
}

// BenchmarkThroughput is events/s from one sender to one receiver.
func BenchmarkThroughput(b *testing.B) {
	b.Run("ringbus", func(b *testing.B) {
		f := newFixture(b)
		send, c := tabletest.Pair(b, f.newBridge(b), f.newBridge(b))
		evs := tabletest.Events(b, b.N)
		tabletest.Throughput(b, c, 1, func(ctx context.Context, from, to int) error { return send(ctx, evs[from:to]) })
	})
	for _, listeners := range []int{2, 1} {
		b.Run(rawName(listeners), func(b *testing.B) {
			f := newFixture(b)
			r := newRaw(b, f, listeners)
			rows, upsert := rawRows(b, f, tabletest.Events(b, b.N))
			tabletest.Throughput(b, r.got, benchBatch, func(ctx context.Context, from, to int) error { return r.send(ctx, upsert, rows[from:to]) })
		})
	}
}

// BenchmarkLatency is one event's time from send to receipt.
func BenchmarkLatency(b *testing.B) {
	b.Run("ringbus", func(b *testing.B) {
		f := newFixture(b)
		send, c := tabletest.Pair(b, f.newBridge(b), f.newBridge(b))
		evs := tabletest.Events(b, b.N)
		tabletest.Latency(b, c, func(ctx context.Context, from, to int) error { return send(ctx, evs[from:to]) })
	})
	b.Run("raw", func(b *testing.B) {
		f := newFixture(b)
		r := newRaw(b, f, 2)
		rows, upsert := rawRows(b, f, tabletest.Events(b, b.N))
		tabletest.Latency(b, r.got, func(ctx context.Context, from, to int) error { return r.send(ctx, upsert, rows[from:to]) })
	})
}
