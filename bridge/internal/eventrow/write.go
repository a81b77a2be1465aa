package eventrow

import (
	"fmt"
	"strconv"
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
