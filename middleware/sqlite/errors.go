package sqlitemirror

import (
	"errors"
	"strconv"
)

// The sentinels an *Error matches with errors.Is.
var (
	// ErrClosed reports a call on a closed Mirror, or a row whose hook ran
	// after Close and was not written.
	ErrClosed = errors.New("ringbus: sqlite mirror closed")
	// ErrQueueFull reports a row dropped because the queue was full under
	// QueueDrop.
	ErrQueueFull = errors.New("ringbus: sqlite mirror queue full")
	// ErrWrite reports rows that the database did not take: the batch's
	// transaction was rolled back.
	ErrWrite = errors.New("ringbus: sqlite mirror write failed")
	// ErrEncode reports an event or row whose JSON could not be written;
	// its row is still mirrored, with null for the JSON.
	ErrEncode = errors.New("ringbus: sqlite mirror cannot encode")
	// ErrOpen reports a database that Open could not open or set up.
	ErrOpen = errors.New("ringbus: sqlite mirror cannot open database")
	// ErrInvalidOption reports an option value that Open rejects.
	ErrInvalidOption = errors.New("ringbus: sqlite mirror invalid option")
)

// Error is a failure of the Mirror. Besides matching its sentinel
// (ErrWrite for Op "write", ...) with errors.Is, it unwraps to the
// underlying error, such as the SQLite driver's.
type Error struct {
	// Op is what failed: "open", "encode", "enqueue", "write" or
	// "close".
	Op string
	// Path is the database file.
	Path string
	// Rows is how many rows the failure lost: a failed batch's size, 1
	// for a dropped row, 0 when nothing was lost.
	Rows int
	// EventID and EventType name the event of a failed encode or a
	// dropped row; they are empty for a failed batch.
	EventID, EventType string
	// Err is the cause: one of the sentinels (ErrQueueFull, ErrClosed) or
	// the error of the encoder or the database.
	Err error
}

// Error returns "ringbus: sqlite mirror <op> <path>: <cause>", with the
// event or the number of rows lost.
func (e *Error) Error() string {
	s := "ringbus: sqlite mirror " + e.Op + " " + e.Path
	if e.EventID != "" {
		s += " (event " + e.EventType + " " + e.EventID + ")"
	}
	if e.Op == opWrite {
		s += " (" + strconv.Itoa(e.Rows) + " rows lost)"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the sentinel of Op and the cause, for errors.Is and
// errors.As.
func (e *Error) Unwrap() []error {
	var op error
	switch e.Op {
	case opWrite:
		op = ErrWrite
	case opEncode:
		op = ErrEncode
	case opOpen:
		op = ErrOpen
	}
	out := make([]error, 0, 2)
	if op != nil && op != e.Err {
		out = append(out, op)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

const (
	opOpen    = "open"
	opEncode  = "encode"
	opEnqueue = "enqueue"
	opWrite   = "write"
	opClose   = "close"
)
