package bridge

import (
	"context"
	"errors"
)

// Message is one event as a transport carries it: the event's compact JSON
// and, on transports that have message headers (NATS, HTTP), headers such
// as the W3C trace context. Header is nil when there are none.
type Message struct {
	Data   []byte
	Header map[string]string
}

// Transport moves messages between processes for a Bridge; the Bridge does
// everything else (encoding, decoding, echo suppression, batching, the
// inbound bus). The transports of this module and its nested modules
// implement it, and so may a user's own.
//
// The Bridge calls Open once before anything else, then Send from a single
// goroutine, and Close once at the end. A transport that only sends (an
// HTTP bridge without a listen address) does not call the Inbox; one that
// only listens returns an error wrapping ErrCannotSend from Send.
type Transport interface {
	// Kind names the transport in default bridge names and logs, as
	// abxbus names its bridge classes: "JSONLEventBridge".
	Kind() string
	// Open connects and, when the transport listens, starts listening:
	// messages published after Open returns reach in. A transport
	// reconnects by itself when its connection breaks, reporting through
	// in.Report what it could not deliver meanwhile. ctx bounds the
	// opening only.
	Open(ctx context.Context, in Inbox) error
	// Send sends msgs in order and returns how many it sent before an
	// error. The Bridge retries the rest after a pause unless the error
	// wraps ErrPermanent. Send must not keep msgs or their Data after it
	// returns, and must return when ctx is done.
	Send(ctx context.Context, msgs []Message) (int, error)
	// Close stops listening and releases every connection. When it
	// returns no goroutine of the transport runs and in is not called
	// again; it returns ctx's error if that took longer than ctx allows.
	Close(ctx context.Context) error
}

// Inbox receives what a transport reads. Its methods are safe for
// concurrent use.
type Inbox interface {
	// Deliver hands over one received message. It decodes it, gives the
	// event a new id and emits it on the bridge's inbound bus; a message
	// that is not a valid event is dropped and reported to the bridge's
	// error handler, never to the transport. It may block while the
	// inbound bus is full, and returns early when ctx is done. m.Data is
	// not kept after Deliver returns.
	Deliver(ctx context.Context, m Message)
	// Report tells the bridge about a problem the transport recovered
	// from, such as a lost connection (wrap ErrDisconnected) or messages
	// that may have been lost (a *LostError). The bridge counts it and
	// passes it to its error handler.
	Report(err error)
}

// Acceptor is implemented by the Inbox a Bridge gives its transport, for
// transports that answer their sender (HTTP answers 202, 400 or 500):
// Accept does what Deliver does and also says what became of the message.
type Acceptor interface {
	Inbox
	// Accept delivers m as Deliver does and returns nil once its event
	// was emitted on the inbound bus, or the error it reported to the
	// bridge's error handler: one matching ErrInvalidMessage or
	// ErrMessageTooLarge for a message that is not a valid event, another
	// when the inbound bus did not take the event.
	Accept(ctx context.Context, m Message) error
}

// Permanent marks err as one that sending again would not cure (a peer
// that refuses the message): the Bridge drops the message and reports it
// instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
func (e *permanentError) Is(target error) bool {
	return target == ErrPermanent
}

// isPermanent reports whether err was marked with Permanent.
func isPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
