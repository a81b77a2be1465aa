package wire

import (
	"encoding/json"
	"errors"
	"strconv"
)

// The rules behind the sentinels: timestamps WIRE-2, UUIDs WIRE-3, reserved
// and unknown event_ keys WIRE-9, no nested handler object in a row WIRE-12.

// Sentinel errors. Every error the decoder returns is a *DecodeError whose
// Err wraps exactly one of these, so errors.Is(err, wire.ErrBadUUID) works
// on the decoder's result.
var (
	// ErrMalformed: the input is not a single well-formed JSON value, or the
	// event is not a JSON object.
	ErrMalformed = errors.New("ringbus: malformed event JSON")
	// ErrTooDeep: the event nests JSON objects and arrays deeper than the
	// Decoder's MaxDepth (DefaultMaxDepth when unset).
	ErrTooDeep = errors.New("ringbus: event JSON nested too deeply")
	// ErrFieldType: a known field holds a JSON value of the wrong type
	// (e.g. a number in event_status).
	ErrFieldType = errors.New("ringbus: wrong JSON type for event field")
	// ErrBadValue: a known field holds a value of the right JSON type that
	// is out of range or not one of the allowed values (a negative timeout,
	// an unknown status, an invalid event_type).
	ErrBadValue = errors.New("ringbus: invalid value for event field")
	// ErrBadTimestamp: a timestamp field is not a valid timestamp (see
	// ident.ParseTime). The error also matches ident.ErrBadTime.
	ErrBadTimestamp = errors.New("ringbus: invalid timestamp in event JSON")
	// ErrBadUUID: an id field is not a UUID (see ident.ParseUUID). The
	// error also matches ident.ErrBadUUID.
	ErrBadUUID = errors.New("ringbus: invalid UUID in event JSON")
	// ErrReservedField: a payload key is reserved (model_*, bus, emit,
	// now, wait, toString, toJSON, fromJSON, event_extra_payload), or a
	// result row carries a nested handler object. The encoder also
	// returns it (with ErrEncode) for a payload key that
	// TypeScript reserves (eventResult, eventResultsList), and in Compat242
	// mode for "first", which abxbus 2.4.2 reserves.
	ErrReservedField = errors.New("ringbus: reserved field name in event JSON")
	// ErrUnknownEventField: a key starts with "event_" but is not an event
	// field; see Decoder.AllowUnknownEventFields.
	ErrUnknownEventField = errors.New("ringbus: unknown event_ field in event JSON")
	// ErrBadSchema: event_result_type is not a usable JSON Schema. The error
	// also matches schema.ErrInvalidSchema.
	ErrBadSchema = errors.New("ringbus: invalid event_result_type")
	// ErrPayload: a payload field does not fit the Go type of the typed
	// event's struct field.
	ErrPayload = errors.New("ringbus: payload field does not match the event's Go type")
	// ErrUnsupportedType: a Go event type cannot be encoded or decoded (for
	// instance a payload field whose JSON name is reserved).
	ErrUnsupportedType = errors.New("ringbus: unsupported event type for the wire format")
	// ErrEncode: a value in the event has no JSON form (NaN, a channel, ...).
	ErrEncode = errors.New("ringbus: event cannot be encoded as JSON")
)

// DecodeError is the error of a failed decode. Field names the offending
// key: "event_status", a payload key, or a path into a result row such as
// "event_results.8a03…/started_at"; it is empty when the input is not JSON.
// Offset is the byte offset in the input where the offending value (or the
// syntax error) starts. Err wraps one of the package's sentinel errors.
type DecodeError struct {
	Field  string
	Offset int
	Err    error
}

// Error implements error.
func (e *DecodeError) Error() string {
	s := e.Err.Error()
	if e.Field != "" {
		s += " (field " + strconv.Quote(e.Field) + ")"
	}
	return s + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap returns the wrapped error.
func (e *DecodeError) Unwrap() error { return e.Err }

// The error of a failed row on the wire: WIRE-18.

// RemoteError is a handler error read from the wire: the error of a result
// row produced in another runtime. Its TypeName is the error's class name
// there, so engine.ErrorTypeName reports it unchanged.
//
// When Raw is set (always, for errors the decoder made), the encoder writes
// Raw back verbatim, so a plain string error, an error object with extra
// keys, or the empty object TypeScript writes for an Error, survives a round
// trip; otherwise it writes {"type": Type, "message": Message}.
type RemoteError struct {
	Type    string
	Message string
	Raw     json.RawMessage
}

// Error returns "Type: Message", or Message alone when Type is empty or
// "Error".
func (e *RemoteError) Error() string {
	if e.Type == "" || e.Type == "Error" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// TypeName returns the error's type name in the runtime that raised it
// ("Error" when unknown).
func (e *RemoteError) TypeName() string {
	if e.Type == "" {
		return "Error"
	}
	return e.Type
}
