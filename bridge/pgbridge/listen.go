package pgbridge

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/internal/eventrow"
)

// How many notifications one fetch reads rows for, and how many rows one
// catch-up query returns and all catch-ups after a reconnection at most.
const (
	fetchMax     = 512
	catchUpPage  = 1000
	catchUpLimit = 100_000
)

// listener is the goroutine that listens on the channel, on a connection of
// its own, and reads the announced rows on the same connection.
type listener struct {
	t   *Transport
	in  bridge.Inbox
	cfg *pgx.ConnConfig

	// The cursor: the greatest (event_created_at, event_id) received, where
	// a catch-up starts.
	created, id string
	// caught holds the ids a catch-up delivered, whose notifications may
	// still come: each is skipped once.
	caught map[string]struct{}

	ids   []string
	rows  eventrow.Reader
	found map[string]eventrow.Span
	names []string
}

// connect opens the listening connection and listens on the channel.
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+quote(l.t.channel)); err != nil {
		closeConn(conn)
		return nil, err
	}
	l.t.pid.Store(conn.PgConn().PID())
	return conn, nil
}

// closeConn closes a connection, waiting a little for the server to hear.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// run waits for notifications and delivers their rows in order (BR-18),
// until ctx is cancelled; a broken connection is replaced.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.t.done)
	done, cancel := context.WithCancel(ctx)
	cancel() // a context already done: WaitForNotification returns the buffered ones only
	for {
		if conn == nil {
			if conn = l.reconnect(ctx); conn == nil {
				return
			}
		}
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			// Take the notifications that came while the last rows were
			// read, and read their rows with one query.
			l.ids = l.ids[:0]
			for n != nil {
				if n.Channel == l.t.channel {
					l.ids = append(l.ids, n.Payload)
				}
				if len(l.ids) == fetchMax {
					break // the rest stays buffered for the next round
				}
				n, _ = conn.WaitForNotification(done)
			}
			err = l.fetch(ctx, conn)
		}
		if err != nil {
			if ctx.Err() != nil {
				closeConn(conn)
				return
			}
			// A failed query may have left the connection usable, but
			// starting again on a new one is simpler and the catch-up
			// reads what this round had.
			l.in.Report(fmt.Errorf("%w: pg bridge: listening on %s: %w", bridge.ErrDisconnected, l.t.channel, err))
			closeConn(conn)
			conn = nil
		}
	}
}

// reconnect makes a new listening connection, retrying with backoff until
// ctx is done (then it returns nil), and catches up with the rows created
// meanwhile.
func (l *listener) reconnect(ctx context.Context) *pgx.Conn {
	pause := time.Duration(0)
	for {
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		pause = min(max(2*pause, reconnectMin), reconnectMax)
		conn, err := l.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.in.Report(fmt.Errorf("pg bridge: reconnecting to listen on %s (next try in %v): %w", l.t.channel, pause, err))
			continue
		}
		if err := l.catchUp(ctx, conn); err != nil {
			if ctx.Err() != nil {
				closeConn(conn)
				return nil
			}
			if conn.IsClosed() {
				continue // the catch-up starts again on the next connection
			}
			l.in.Report(&bridge.LostError{Err: fmt.Errorf("pg bridge: reading the rows created while disconnected from %s: %w", l.t.channel, err)})
		}
		return conn
	}
}

// catchUp delivers the rows after the cursor, which were created while
// the listener was not listening, and remembers their ids so that the
// notifications that announce some of them once more are skipped.
func (l *listener) catchUp(ctx context.Context, conn *pgx.Conn) error {
	clear(l.caught)
	for total := 0; ; {
		rows, err := conn.Query(ctx, l.t.q.catchUp, pgx.QueryExecModeExec, pgx.QueryResultFormats{pgx.TextFormatCode}, l.created, l.id)
		if err != nil {
			return err
		}
		got, err := l.collect(rows, nil)
		if err != nil {
			return err
		}
		for _, s := range got {
			l.deliver(ctx, s)
			l.caught[s.ID] = struct{}{}
		}
		total += len(got)
		if len(got) < catchUpPage {
			return nil
		}
		if total >= catchUpLimit {
			l.in.Report(&bridge.LostError{Err: fmt.Errorf("pg bridge: %d rows were created while disconnected from %s; read them, not the rest", total, l.t.channel)})
			return nil
		}
	}
}

// fetch reads the rows of l.ids and delivers them in the order of the
// notifications; a notification whose row is missing is reported.
func (l *listener) fetch(ctx context.Context, conn *pgx.Conn) error {
	ids := l.ids[:0]
	for _, id := range l.ids {
		if _, ok := l.caught[id]; ok {
			delete(l.caught, id) // delivered by the catch-up
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, l.t.q.fetch, pgx.QueryExecModeExec, pgx.QueryResultFormats{pgx.TextFormatCode}, ids)
	if err != nil {
		return err
	}
	if l.found == nil {
		l.found = make(map[string]eventrow.Span, fetchMax)
	}
	clear(l.found)
	if _, err := l.collect(rows, l.found); err != nil {
		return err
	}
	for _, id := range ids {
		s, ok := l.found[id]
		if !ok {
			l.in.Report(fmt.Errorf("%w: pg bridge: a notification on %s names event_id %.80q, which has no row in %s",
				bridge.ErrInvalidMessage, l.t.channel, id, l.t.table))
			continue
		}
		l.deliver(ctx, s)
	}
	return nil
}

// collect rebuilds the event of every row into l.rows: into found by id
// when found is not nil, else into the returned slice in order.
func (l *listener) collect(rows pgx.Rows, found map[string]eventrow.Span) ([]eventrow.Span, error) {
	defer rows.Close()
	l.names = l.names[:0]
	for _, f := range rows.FieldDescriptions() {
		l.names = append(l.names, f.Name)
	}
	l.rows.Columns(l.names)
	l.rows.Reset()
	var list []eventrow.Span
	for rows.Next() {
		s := l.rows.Row(rows.RawValues())
		if found != nil {
			found[s.ID] = s
		} else {
			list = append(list, s)
		}
	}
	return list, rows.Err()
}

// deliver hands over a rebuilt event and moves the cursor past its row.
func (l *listener) deliver(ctx context.Context, s eventrow.Span) {
	if s.After(l.created, l.id) {
		l.created, l.id = s.Created, s.ID
	}
	l.in.Deliver(ctx, bridge.Message{Data: l.rows.Event(s)})
}
