package bridge

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by Emit, On and Start after Close.
	ErrClosed = errors.New("ringbus: bridge closed")
	// ErrInvalidMessage is what a received message that is not a valid
	// event is reported with: malformed JSON, a JSON value that is not an
	// object, an invalid id or timestamp, a reserved or unknown field.
	// The report also wraps the codec's own error (package wire's
	// ErrMalformed, ErrBadUUID, ...), so errors.Is matches either.
	ErrInvalidMessage = errors.New("ringbus: invalid message from bridge")
	// ErrMessageTooLarge is reported for a received message larger than
	// the bridge accepts (WithMaxMessageSize); it is dropped unread.
	ErrMessageTooLarge = errors.New("ringbus: bridge message too large")
	// ErrDisconnected is reported when a transport lost its connection
	// and is reconnecting.
	ErrDisconnected = errors.New("ringbus: bridge disconnected")
	// ErrLost is matched by a *LostError: messages that were, or may have
	// been, lost.
	ErrLost = errors.New("ringbus: bridge messages lost")
	// ErrSend is reported when sending failed; the bridge retries unless
	// the failure is permanent.
	ErrSend = errors.New("ringbus: bridge send failed")
	// ErrPermanent is matched by errors marked with Permanent.
	ErrPermanent = errors.New("ringbus: permanent bridge error")
	// ErrCannotSend is returned by Emit on a bridge whose transport only
	// listens (an HTTP bridge without a send address).
	ErrCannotSend = errors.New("ringbus: bridge cannot send")
	// ErrConfig is wrapped by the errors of the transports' constructors
	// for a bad URL, path, channel or table name.
	ErrConfig = errors.New("ringbus: invalid bridge configuration")
)

// LostError reports messages that did not reach their destination: Count
// of them when the number is known (the messages a closing bridge could
// not send, or a gap a transport detected), or Count 0 when messages may
// have been lost while a connection was down and nobody can say how many.
type LostError struct {
	Count int
	Err   error // the cause, when there is one
}

func (e *LostError) Error() string {
	what := "messages may have been lost"
	if e.Count > 0 {
		what = fmt.Sprintf("%d messages lost", e.Count)
	}
	if e.Err != nil {
		return "ringbus: bridge: " + what + ": " + e.Err.Error()
	}
	return "ringbus: bridge: " + what
}

// Unwrap returns ErrLost and the cause.
func (e *LostError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrLost}
	}
	return []error{ErrLost, e.Err}
}
