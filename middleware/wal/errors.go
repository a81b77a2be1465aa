package wal

import (
	"errors"
	"strconv"
)

// Sentinel errors. The errors the package returns and reports wrap them,
// so that errors.Is matches them.
var (
	// ErrClosed: the WAL was closed. An event that completes on a bus
	// after its WAL was closed is not written; it is reported with an
	// *Error wrapping ErrClosed. Sync returns it after Close.
	ErrClosed = errors.New("ringbus: wal closed")
	// ErrFailed: an earlier write or fsync failed, so the WAL writes
	// nothing more. The event is reported with an *Error wrapping both
	// ErrFailed and the first failure's error.
	ErrFailed = errors.New("ringbus: wal failed earlier")
	// ErrTorn: the last line of the file has no newline: its write was cut
	// short (a crash or a kill while writing). The line is skipped.
	ErrTorn = errors.New("ringbus: wal torn last line")
	// ErrCorrupt: a complete line is not an event's JSON. The line is
	// skipped; the error also wraps the decoder's error (a
	// *wire.DecodeError).
	ErrCorrupt = errors.New("ringbus: wal corrupt line")
	// ErrLineTooLong: a line is longer than the reader's limit (see
	// WithMaxLineBytes). The line is skipped.
	ErrLineTooLong = errors.New("ringbus: wal line too long")
	// ErrInvalidOption: an option given to Open, Read or Replay is out of
	// range.
	ErrInvalidOption = errors.New("ringbus: wal invalid option")
)

// The operations an *Error names.
const (
	OpOpen   = "open"   // opening, creating or repairing the file
	OpEncode = "encode" // encoding the event's JSON
	OpWrite  = "write"  // writing the event's line
	OpSync   = "sync"   // fsync of the file
	OpClose  = "close"  // closing the file
)

// Error is a failure of the WAL: an event that could not be encoded or
// written, a failed fsync, or an event that completed after Close. The
// WAL hands it to the function given with WithErrorHandler, logs it, and
// Close returns the first write or fsync failure.
type Error struct {
	// Op is the operation that failed: OpOpen, OpEncode, OpWrite, OpSync
	// or OpClose.
	Op string
	// Path is the WAL's file.
	Path string
	// EventID and EventType name the event whose line was not made
	// durable; they are empty for an fsync that covered many events in the
	// background.
	EventID   string
	EventType string
	// Err is the cause: an error of package os or syscall, a wire error,
	// ErrClosed, or ErrFailed wrapped together with the first failure.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := "ringbus: wal " + e.Op + " " + e.Path
	if e.EventID != "" {
		s += " (event " + e.EventType + " " + e.EventID + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// LineError is a line of a WAL file that the reader skipped: a torn last
// line (Err is ErrTorn), a line that is not an event's JSON (Err wraps
// ErrCorrupt and the decoder's *wire.DecodeError), or a line over the
// length limit (ErrLineTooLong).
type LineError struct {
	// Line is the 1-based line number.
	Line int
	// Offset is the byte offset in the file where the line starts.
	Offset int64
	// Len is the line's length in bytes, without its newline.
	Len int
	// Err is the reason.
	Err error
}

// Error implements error.
func (e *LineError) Error() string {
	return "ringbus: wal line " + strconv.Itoa(e.Line) + " (offset " + strconv.FormatInt(e.Offset, 10) +
		", " + strconv.Itoa(e.Len) + " bytes): " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }
