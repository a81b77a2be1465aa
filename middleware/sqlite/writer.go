package sqlitemirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
)

// run is the writer goroutine: it collects queued rows into batches and
// writes each in one transaction, once it is full, once the flush interval
// since its first row has passed, at a Flush marker, and at Close.
func (m *Mirror) run() {
	defer close(m.exited)
	batch := make([]entry, 0, m.cfg.batch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time // the timer's channel while a batch waits for it
	for {
		select {
		case en := <-m.q:
			batch = m.take(batch, en)
			switch {
			case len(batch) == 0: // written: a full batch or a Flush marker
				timer.Stop()
				due = nil
			case m.cfg.interval == 0:
				batch = m.drain(batch, false)
			case due == nil:
				timer.Reset(m.cfg.interval)
				due = timer.C
			}
		case <-due:
			due = nil
			m.write(batch)
			batch = batch[:0]
		case <-m.stop:
			// Close has set closed under the lock: whatever was sent is in
			// the queue, and nothing more will be.
			m.drain(batch, true)
			return
		}
	}
}

// take adds en to batch, and writes the batch when it is full or en is a
// Flush marker (answering the marker); it returns the batch, empty once
// written.
func (m *Mirror) take(batch []entry, en entry) []entry {
	if en.flush != nil {
		m.write(batch)
		en.flush <- m.takeErrs()
		return batch[:0]
	}
	batch = append(batch, en)
	if len(batch) >= m.cfg.batch {
		m.write(batch)
		return batch[:0]
	}
	return batch
}

// drain takes every row already queued into batches and writes them all.
// It answers Flush markers on the way. With final, no row is left behind
// for later: the caller is Close.
func (m *Mirror) drain(batch []entry, final bool) []entry {
	for {
		select {
		case en := <-m.q:
			batch = m.take(batch, en)
		default:
			m.write(batch)
			if final {
				return nil
			}
			return batch[:0]
		}
	}
}

// write inserts batch in one transaction; a failure loses the batch.
func (m *Mirror) write(batch []entry) {
	if len(batch) == 0 {
		return
	}
	if h := m.cfg.beforeWrite; h != nil {
		h(len(batch))
	}
	if err := m.insert(batch); err != nil {
		m.failed.Add(uint64(len(batch)))
		m.report(&Error{Op: opWrite, Path: m.path, Rows: len(batch), Err: err})
	} else {
		m.written.Add(uint64(len(batch)))
	}
	clear(batch) // the strings go with the batch
}

func (m *Mirror) insert(batch []entry) (err error) {
	ctx := context.Background() // a batch started is finished: Close waits for it
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	events, results := tx.StmtContext(ctx, m.ins[0]), tx.StmtContext(ctx, m.ins[1])
	for i := range batch {
		en := &batch[i]
		if en.row {
			_, err = results.ExecContext(ctx, en.resultID, en.eventID, en.handlerID, en.handlerName,
				en.busID, en.busLabel, en.eventType, en.status, en.phase, en.resultRepr, en.errorRepr,
				rowJSON(en))
		} else {
			_, err = events.ExecContext(ctx, en.eventID, en.eventType, en.status, en.busID, en.busLabel,
				en.phase, en.json)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rowJSON takes the row en reports out of its event's JSON, which lists
// the event's rows under event_results; NULL if it is not there.
func rowJSON(en *entry) sql.NullString {
	if !en.jsonOK {
		return sql.NullString{}
	}
	var ev struct {
		Results []json.RawMessage `json:"event_results"`
	}
	if json.Unmarshal([]byte(en.json), &ev) != nil {
		return sql.NullString{}
	}
	prefix := `{"id":"` + en.resultID + `"`
	for _, r := range ev.Results {
		if s := string(r); strings.HasPrefix(s, prefix) {
			return sql.NullString{String: s, Valid: true}
		}
	}
	return sql.NullString{}
}
