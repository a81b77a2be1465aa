package sqlitemirror

import (
	"bytes"
	"context"
	"database/sql"
	"time"
)

// run is the writer goroutine: it collects queued rows into batches and
// writes each in one transaction. Idle, it waits for the first row; then
// it sleeps, without taking rows one by one (which would wake it for
// each), until the flush interval has passed or a hook or Flush kicks it
// (a batch's worth queued, a full queue, a Flush marker), and takes
// everything queued, writing a transaction per WithBatchSize rows.
func (m *Mirror) run() {
	defer close(m.exited)
	batch := make([]entry, 0, m.cfg.batch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case en := <-m.q:
			batch = m.take(batch, en)
		case <-m.stop:
			m.drain(batch, true)
			return
		}
		if len(batch) > 0 && m.cfg.interval > 0 {
			timer.Reset(m.cfg.interval)
			select {
			case <-timer.C:
			case <-m.kick:
				timer.Stop()
			case <-m.stop:
				// Close has set closed under the lock: whatever was sent
				// is in the queue, and nothing more will be.
				timer.Stop()
				m.drain(batch, true)
				return
			}
		}
		batch = m.drain(batch, false)
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
	defer func() {
		for i := range batch {
			putBuf(batch[i].buf)
		}
		clear(batch) // the strings and buffers go with the batch
	}()
	if h := m.cfg.beforeWrite; h != nil && h(len(batch)) {
		m.written.Add(uint64(len(batch)))
		return
	}
	if err := m.insert(batch); err != nil {
		m.failed.Add(uint64(len(batch)))
		m.report(&Error{Op: opWrite, Path: m.path, Rows: len(batch), Err: err})
	} else {
		m.written.Add(uint64(len(batch)))
	}
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
	for t := range m.ins {
		if err := m.insertTable(ctx, tx, batch, t); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// insertTable inserts the rows of batch that belong to table t, in their
// order: chunkRows rows per statement, then the rest one by one.
func (m *Mirror) insertTable(ctx context.Context, tx *sql.Tx, batch []entry, t int) error {
	var one, chunk *sql.Stmt
	defer func() {
		for _, s := range []*sql.Stmt{one, chunk} {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	args, rows := m.args[:0], 0
	defer func() { clear(m.args[:cap(m.args)]) }()
	for i := range batch {
		en := &batch[i]
		if en.row != (t == 1) {
			continue
		}
		args = appendArgs(args, en)
		if rows++; rows == chunkRows {
			if chunk == nil {
				chunk = tx.StmtContext(ctx, m.ins[t][1])
			}
			if _, err := chunk.ExecContext(ctx, args...); err != nil {
				return err
			}
			args, rows = args[:0], 0
		}
	}
	if rows > 0 {
		one = tx.StmtContext(ctx, m.ins[t][0])
		n := tableCols[t]
		for r := range rows {
			if _, err := one.ExecContext(ctx, args[r*n:(r+1)*n]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendArgs appends the column values of en's row.
func appendArgs(args []any, en *entry) []any {
	if !en.row {
		return append(args, en.eventID, en.eventType, en.status, en.busID, en.busLabel, en.phase, en.json)
	}
	var row any // NULL unless the row is found
	if j := rowJSON(en); j != nil {
		row = j
	}
	return append(args, en.resultID, en.eventID, en.handlerID, en.handlerName, en.busID, en.busLabel,
		en.eventType, en.status, en.phase, en.resultRepr, en.errorRepr, row)
}

// rowJSON takes the row en reports out of its event's JSON, which lists
// the event's rows under event_results; nil if it is not there. The JSON
// is the wire encoder's compact output, so a scan that only skips values
// finds the top-level key without decoding anything.
func rowJSON(en *entry) []byte {
	if en.buf == nil {
		return nil
	}
	list, ok := topLevel(en.json, "event_results")
	if !ok || len(list) < 2 || list[0] != '[' {
		return nil
	}
	for i := 1; i < len(list) && list[i] != ']'; {
		end := skipValue(list, i)
		if end < 0 {
			break
		}
		if r := list[i:end]; hasID(r, en.resultID) {
			return r
		}
		if end < len(list) && list[end] == ',' {
			end++
		}
		i = end
	}
	return nil
}

// hasID reports whether the row object r begins with {"id":"<id>".
func hasID(r []byte, id string) bool {
	const pre = `{"id":"`
	return len(r) > len(pre)+len(id) && string(r[:len(pre)]) == pre &&
		string(r[len(pre):len(pre)+len(id)]) == id && r[len(pre)+len(id)] == '"'
}

// topLevel returns the value of key in the compact JSON object s.
func topLevel(s []byte, key string) ([]byte, bool) {
	if len(s) < 2 || s[0] != '{' {
		return nil, false
	}
	for i := 1; i < len(s) && s[i] == '"'; {
		k := skipValue(s, i)
		if k < 0 || k >= len(s) || s[k] != ':' {
			return nil, false
		}
		v := k + 1
		end := skipValue(s, v)
		if end < 0 {
			return nil, false
		}
		if string(s[i+1:k-1]) == key {
			return s[v:end], true
		}
		if end < len(s) && s[end] == ',' {
			end++
		}
		i = end
	}
	return nil, false
}

// skipValue returns the index just past the JSON value that starts at
// s[i] in compact JSON, or -1 if s ends first.
func skipValue(s []byte, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		for j := i + 1; ; {
			q := bytes.IndexByte(s[j:], '"')
			if q < 0 {
				return -1
			}
			j += q
			// The quote ends the string unless an odd number of
			// backslashes escapes it.
			bs := 0
			for k := j - 1; k > i && s[k] == '\\'; k-- {
				bs++
			}
			if bs%2 == 0 {
				return j + 1
			}
			j++
		}
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				end := skipValue(s, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	for j := i; j < len(s); j++ {
		switch s[j] {
		case ',', '}', ']':
			return j
		}
	}
	return len(s)
}
