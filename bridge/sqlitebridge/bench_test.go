package sqlitebridge_test

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge/internal/tabletest"
	"github.com/ringbus/ringbus/bridge/sqlitebridge"
)

// The benchmarks send events of one shape from one bridge (or raw
// database/sql) and receive them on a second bridge (or raw poller) on a
// database file of their own, both polling every millisecond. The raw
// client runs the same statements: the upsert of each event's columns
// (the payload through json()), 256 events per transaction, and BR-13's
// poll. It gets its columns computed before the timer starts. Like the
// bridges it has two pollers, the sender's own besides the receiver (a
// bridge reads what it writes); "raw-one-listener" has the receiver's
// only.

const (
	benchBatch = 256
	benchPoll  = time.Millisecond
)

func ringbusPair(b *testing.B) (func(context.Context, []*api.BaseEvent) error, *tabletest.Counter) {
	f := newFile(b)
	f.opts = []sqlitebridge.Option{sqlitebridge.WithPollInterval(benchPoll)}
	return tabletest.Pair(b, f.newBridge(b), f.newBridge(b))
}

// rawClient is database/sql and modernc.org/sqlite without ringbus.
type rawClient struct {
	db   *sql.DB
	got  *tabletest.Counter
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// newRaw returns the raw client with listeners pollers: the first counts
// on got, the others (the sender's own, as a bridge has one) read the rows
// and drop them.
func newRaw(b *testing.B, f *fixture, listeners int) *rawClient {
	ctx := context.Background()
	// A bridge creates the table and closes; the raw client uses it.
	br := f.newBridge(b)
	if err := br.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := br.Close(ctx); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", f.path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	r := &rawClient{db: db, got: tabletest.NewCounter(), stop: cancel}
	for i := range listeners {
		got := r.got
		if i > 0 {
			got = tabletest.NewCounter()
		}
		r.wg.Go(func() { r.poll(lctx, f.table, got) })
	}
	b.Cleanup(func() {
		r.stop()
		r.wg.Wait()
		_ = db.Close()
	})
	return r
}

func (r *rawClient) poll(ctx context.Context, table string, got *tabletest.Counter) {
	t := `"` + table + `"`
	q := `SELECT * FROM ` + t + ` WHERE ("event_created_at" >= ?1 AND ("event_created_at" > ?1 OR "event_id" > ?2))` +
		` OR (?1 = '' AND "event_created_at" IS NULL AND "event_id" > ?2)` +
		` ORDER BY COALESCE("event_created_at", ''), COALESCE("event_id", '') LIMIT 1000`
	var created, id string
	tick := time.NewTicker(benchPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rows, err := r.db.QueryContext(ctx, q, created, id)
		if err != nil {
			continue
		}
		names, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(names))
		dest := make([]any, len(names))
		for i := range vals {
			dest[i] = &vals[i]
		}
		pc, pi, pp := slices.Index(names, "event_created_at"), slices.Index(names, "event_id"), slices.Index(names, "event_payload")
		n := 0
		for rows.Next() {
			if rows.Scan(dest...) != nil {
				break
			}
			created, id = string(vals[pc]), string(vals[pi])
			if len(vals[pp]) > 0 { // the event's JSON, received
				n++
			}
		}
		_ = rows.Close()
		if n > 0 {
			got.Add(n)
		}
	}
}

// send upserts rows in one transaction with a prepared statement.
func (r *rawClient) send(ctx context.Context, stmt *sql.Stmt, rows []tabletest.RawRow) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	s := tx.StmtContext(ctx, stmt)
	for _, row := range rows {
		if _, err := s.ExecContext(ctx, row.Args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func rawSetup(b *testing.B, listeners int) (*rawClient, []tabletest.RawRow, *sql.Stmt) {
	f := newFile(b)
	r := newRaw(b, f, listeners)
	rows := tabletest.RawRows(b, tabletest.Events(b, b.N))
	ctx := context.Background()
	for _, c := range rows[0].Cols {
		if c != "event_id" && c != "event_created_at" && c != "event_type" && c != "event_payload" {
			if _, err := r.db.ExecContext(ctx, `ALTER TABLE "`+f.table+`" ADD COLUMN "`+c+`" TEXT`); err != nil {
				b.Fatal(err)
			}
		}
	}
	stmt, err := r.db.PrepareContext(ctx, rows[0].Upsert(f.table, func(_ int, c string) string {
		if c == "event_payload" {
			return "json(?)"
		}
		return "?"
	}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stmt.Close() })
	return r, rows, stmt
}

// BenchmarkThroughput is events/s from one sender to one receiver.
func BenchmarkThroughput(b *testing.B) {
	b.Run("ringbus", func(b *testing.B) {
		send, c := ringbusPair(b)
		evs := tabletest.Events(b, b.N)
		tabletest.Throughput(b, c, 1, func(ctx context.Context, from, to int) error { return send(ctx, evs[from:to]) })
	})
	for _, listeners := range []int{2, 1} {
		name := "raw"
		if listeners == 1 {
			name = "raw-one-listener"
		}
		b.Run(name, func(b *testing.B) {
			r, rows, stmt := rawSetup(b, listeners)
			tabletest.Throughput(b, r.got, benchBatch, func(ctx context.Context, from, to int) error { return r.send(ctx, stmt, rows[from:to]) })
		})
	}
}

// BenchmarkLatency is one event's time from send to receipt (the poll
// interval, a millisecond, adds half of it on average).
func BenchmarkLatency(b *testing.B) {
	b.Run("ringbus", func(b *testing.B) {
		send, c := ringbusPair(b)
		evs := tabletest.Events(b, b.N)
		tabletest.Latency(b, c, func(ctx context.Context, from, to int) error { return send(ctx, evs[from:to]) })
	})
	b.Run("raw", func(b *testing.B) {
		r, rows, stmt := rawSetup(b, 2)
		tabletest.Latency(b, r.got, func(ctx context.Context, from, to int) error { return r.send(ctx, stmt, rows[from:to]) })
	})
}
