package eventrow

// Reader rebuilds the events of rows read from a table (BR-13, BR-18):
// give it the result's column names once with Columns, then each row's
// values to Row. The events accumulate in Buf until Reset. It is not safe
// for concurrent use.
type Reader struct {
	// Buf holds the rebuilt events; a Span locates one.
	Buf []byte

	cols                 []Column
	fields               []int // positions of the event_* columns
	payload, id, created int   // positions, or -1
}

// Span is one rebuilt event in a Reader's Buf, and its row's cursor: the
// text of its event_created_at and event_id columns ("" for NULL).
type Span struct {
	Start, End  int
	Created, ID string
}

// Reset empties Buf.
func (r *Reader) Reset() { r.Buf = r.Buf[:0] }

// Columns sets the column names of the rows that follow.
func (r *Reader) Columns(names []string) {
	r.cols, r.fields = r.cols[:0], r.fields[:0]
	r.payload, r.id, r.created = -1, -1, -1
	for i, n := range names {
		switch {
		case n == PayloadColumn:
			r.payload = i
		case IsEventField([]byte(n)):
			r.fields = append(r.fields, i)
			r.cols = append(r.cols, Column{Name: []byte(n)})
			switch n {
			case "event_id":
				r.id = i
			case "event_created_at":
				r.created = i
			}
		}
	}
}

// Row rebuilds the event of a row, whose values (nil for NULL) are in the
// order of the names given to Columns, and appends it to Buf.
func (r *Reader) Row(values [][]byte) Span {
	for j, i := range r.fields {
		r.cols[j].Value = values[i]
	}
	var payload []byte
	if r.payload >= 0 {
		payload = values[r.payload]
	}
	s := Span{Start: len(r.Buf)}
	r.Buf = Rebuild(r.Buf, payload, r.cols)
	s.End = len(r.Buf)
	if r.id >= 0 {
		s.ID = string(values[r.id])
	}
	if r.created >= 0 {
		s.Created = string(values[r.created])
	}
	return s
}

// Event returns the bytes of s in Buf.
func (r *Reader) Event(s Span) []byte { return r.Buf[s.Start:s.End] }

// After reports whether s's row sorts after the cursor (created, id), as
// the listeners order rows: by event_created_at, then event_id.
func (s Span) After(created, id string) bool {
	return s.Created > created || (s.Created == created && s.ID > id)
}
