package eventrow

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ringbus/ringbus/bridge"
)

// Row is one event ready to be written: its columns, event_payload last
// (the whole event JSON), and its event_id's JSON text, quotes included.
// It aliases the event JSON it was split from.
type Row struct {
	Cols []Column
	ID   []byte
}

// Batch is the rows of a batch of events. Its slices are reused: the rows
// are valid until the next Reset.
type Batch struct {
	Rows  []Row
	split []Column
}

// Reset empties the batch.
func (b *Batch) Reset() {
	b.Rows = b.Rows[:0]
	b.split = b.split[:0]
}

// Add splits the event JSON data into a row (BR-12). It fails when data is
// not a JSON object, when an event_* key is not an identifier of at most
// maxName bytes (0: any length), or when event_id is not a string.
func (b *Batch) Add(data []byte, maxName int) error {
	start := len(b.split)
	var err error
	if b.split, err = Split(b.split, data); err != nil {
		b.split = b.split[:start]
		return err
	}
	r := Row{}
	for _, c := range b.split[start:] {
		if !ValidIdent(string(c.Name)) || (maxName > 0 && len(c.Name) > maxName) {
			b.split = b.split[:start]
			return fmt.Errorf("ringbus: event field %q cannot be a column", c.Name)
		}
		if string(c.Name) == "event_id" {
			r.ID = c.Value
		}
	}
	if len(r.ID) < 2 || r.ID[0] != '"' {
		b.split = b.split[:start]
		return fmt.Errorf("ringbus: event_id is not a string")
	}
	b.split = append(b.split, Column{Name: []byte(PayloadColumn), Value: data})
	r.Cols = b.split[start:len(b.split):len(b.split)]
	b.Rows = append(b.Rows, r)
	return nil
}

// Upserts makes the statements that upsert a row (BR-12), one per list of
// columns, and keeps them. It is not safe for concurrent use.
type Upserts struct {
	// Table is the table's name, an identifier.
	Table string
	// Param appends the placeholder of the i-th column (from 0) named name.
	Param func(dst []byte, i int, name []byte) []byte

	cache map[string]string
	key   []byte
}

// maxUpserts bounds the kept statements: events of ever new shapes do not
// grow memory.
const maxUpserts = 1024

// For returns the statement that inserts a row with cols or, when its
// event_id exists, sets every other column of cols.
func (u *Upserts) For(cols []Column) string {
	u.key = u.key[:0]
	for _, c := range cols {
		u.key = append(append(u.key, c.Name...), ',')
	}
	if s, ok := u.cache[string(u.key)]; ok {
		return s
	}
	b := make([]byte, 0, 64*len(cols))
	b = append(b, `INSERT INTO "`+u.Table+`" (`...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(append(append(b, '"'), c.Name...), '"')
	}
	b = append(b, ") VALUES ("...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = u.Param(b, i, c.Name)
	}
	b = append(b, `) ON CONFLICT ("event_id") DO `...)
	sets := 0
	for _, c := range cols {
		if string(c.Name) == "event_id" {
			continue
		}
		if sets == 0 {
			b = append(b, "UPDATE SET "...)
		} else {
			b = append(b, ", "...)
		}
		sets++
		b = append(append(append(b, '"'), c.Name...), `" = excluded."`...)
		b = append(append(b, c.Name...), '"')
	}
	if sets == 0 {
		b = append(b, "NOTHING"...)
	}
	s := string(b)
	if u.cache == nil || len(u.cache) >= maxUpserts {
		u.cache = make(map[string]string)
	}
	u.cache[string(u.key)] = s
	return s
}

// DollarParam is the Param of PostgreSQL: $1, $2, ...
func DollarParam(dst []byte, i int, _ []byte) []byte {
	return strconv.AppendInt(append(dst, '$'), int64(i+1), 10)
}

// Writer is what Send needs of a table bridge's database.
type Writer interface {
	// AddColumn adds a TEXT column for an event_* key if the table lacks
	// it.
	AddColumn(ctx context.Context, name string) error
	// Write upserts rows in one transaction. On failure it returns the
	// index of the row that failed, or -1 when the transaction did.
	Write(ctx context.Context, rows []Row) (failed int, err error)
	// Refused reports whether a row failed for what it holds, so that
	// writing it again cannot succeed.
	Refused(err error) bool
}

// Send is a table bridge's Transport.Send (BR-12): it splits msgs into
// rows, adds the columns they need and writes them in one transaction.
// A message that cannot be a row, or a row the database refuses, ends the
// batch: the rows before it are written, and it is returned as a
// permanent error (bridge.Permanent) for the bridge to drop.
func (b *Batch) Send(ctx context.Context, w Writer, msgs []bridge.Message, maxName int) (int, error) {
	b.Reset()
	var bad error
	for i, m := range msgs {
		if err := b.Add(m.Data, maxName); err != nil {
			bad = fmt.Errorf("message %d: %w", i, err)
			break
		}
	}
	for _, r := range b.Rows {
		for _, c := range r.Cols {
			if err := w.AddColumn(ctx, string(c.Name)); err != nil {
				return 0, err
			}
		}
	}
	if len(b.Rows) > 0 {
		failed, err := w.Write(ctx, b.Rows)
		if err != nil {
			if failed < 0 || !w.Refused(err) {
				return 0, err
			}
			// The transaction rolled back: write the rows before the
			// refused one, and drop that one.
			if failed > 0 {
				if _, err := w.Write(ctx, b.Rows[:failed]); err != nil {
					return 0, err
				}
			}
			return failed, bridge.Permanent(fmt.Errorf("event %s refused: %w", b.Rows[failed].ID, err))
		}
	}
	if bad != nil {
		return len(b.Rows), bridge.Permanent(bad)
	}
	return len(b.Rows), nil
}
