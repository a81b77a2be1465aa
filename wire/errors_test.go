package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/schema"
	"github.com/ringbus/ringbus/wire"
)

const okEvent = `{"event_type":"BadInputEvent","event_id":"01a2191e-219a-76c3-8cf0-6eca49032cc2","event_created_at":"2026-11-26T18:28:54.811416073Z","a":1}`

// with returns okEvent with extra members spliced in before "a".
func with(members string) string {
	return strings.Replace(okEvent, `"a":1`, members+`,"a":1`, 1)
}

// The bad-input table of the issue: each input gives a *DecodeError naming
// the field, wrapping the right sentinel, never a panic.
func TestDecodeErrors(t *testing.T) {
	row := func(extra string) string {
		return with(`"event_results":{"8a0347da-bf30-5b24-9255-f7047adde7f0":{"id":"01a2192b-1d09-75ce-a4c9-1aa7a48232c1","status":"completed"` + extra + `}}`)
	}
	cases := []struct {
		name  string
		in    string
		want  error
		also  error
		field string
	}{
		{"empty input", ``, wire.ErrMalformed, nil, ""},
		{"truncated", okEvent[:40], wire.ErrMalformed, nil, ""},
		{"not an object", `[1,2]`, wire.ErrMalformed, nil, ""},
		{"trailing data", okEvent + `{}`, wire.ErrMalformed, nil, ""},
		{"bad literal", with(`"b":tru`), wire.ErrMalformed, nil, "b"},
		{"bad escape", with(`"b":"\x"`), wire.ErrMalformed, nil, "b"},
		{"control char", with("\"b\":\"a\x01\""), wire.ErrMalformed, nil, "b"},
		{"invalid utf8", with("\"b\":\"\xff\""), wire.ErrMalformed, nil, "b"},
		{"missing colon", `{"event_type" "X"}`, wire.ErrMalformed, nil, "event_type"},
		{"leading zero", with(`"b":01`), wire.ErrMalformed, nil, ""},
		{"deep nesting", with(`"b":` + strings.Repeat("[", wire.DefaultMaxDepth) + strings.Repeat("]", wire.DefaultMaxDepth)), wire.ErrTooDeep, nil, "b"},
		{"number in event_status", with(`"event_status":3`), wire.ErrFieldType, nil, "event_status"},
		{"string timeout", with(`"event_timeout":"60"`), wire.ErrFieldType, nil, "event_timeout"},
		{"object path", with(`"event_path":{}`), wire.ErrFieldType, nil, "event_path"},
		{"number in path", with(`"event_path":[1]`), wire.ErrFieldType, nil, "event_path"},
		{"string blocks flag", with(`"event_blocks_parent_completion":"yes"`), wire.ErrFieldType, nil, "event_blocks_parent_completion"},
		{"array result type", with(`"event_result_type":[]`), wire.ErrFieldType, nil, "event_result_type"},
		{"string results", with(`"event_results":"x"`), wire.ErrFieldType, nil, "event_results"},
		{"negative timeout", with(`"event_timeout":-1`), wire.ErrBadValue, nil, "event_timeout"},
		{"huge timeout", with(`"event_timeout":1e300`), wire.ErrBadValue, nil, "event_timeout"},
		{"unknown status", with(`"event_status":"done"`), wire.ErrBadValue, nil, "event_status"},
		{"unknown concurrency", with(`"event_concurrency":"fast"`), wire.ErrBadValue, nil, "event_concurrency"},
		{"empty completion", with(`"event_handler_completion":""`), wire.ErrBadValue, nil, "event_handler_completion"},
		{"number in handler concurrency", with(`"event_handler_concurrency":3`), wire.ErrFieldType, nil, "event_handler_concurrency"},
		{"bad event_type", `{"event_type":"_private"}`, wire.ErrBadValue, nil, "event_type"},
		{"fractional count", with(`"event_pending_bus_count":1.5`), wire.ErrBadValue, nil, "event_pending_bus_count"},
		{"bad uuid", strings.Replace(okEvent, "01a2191e-219a", "zz", 1), wire.ErrBadUUID, ident.ErrBadUUID, "event_id"},
		{"bad parent id", with(`"event_parent_id":"parent-1"`), wire.ErrBadUUID, ident.ErrBadUUID, "event_parent_id"},
		{"bad timestamp", strings.Replace(okEvent, "2026-11-26T18", "2026-13-26T18", 1), wire.ErrBadTimestamp, ident.ErrBadTime, "event_created_at"},
		{"timestamp year", with(`"event_started_at":"1970-01-01T00:00:00Z"`), wire.ErrBadTimestamp, ident.ErrBadTime, "event_started_at"},
		{"reserved bus", with(`"bus":1`), wire.ErrReservedField, nil, "bus"},
		{"reserved toJSON", with(`"toJSON":1`), wire.ErrReservedField, nil, "toJSON"},
		{"model_ prefix", with(`"model_config":{}`), wire.ErrReservedField, nil, "model_config"},
		{"event_extra_payload", with(`"event_extra_payload":{}`), wire.ErrReservedField, nil, "event_extra_payload"},
		{"unknown event_ field", with(`"event_priority":5`), wire.ErrUnknownEventField, nil, "event_priority"},
		{"event_children on event", with(`"event_children":[]`), wire.ErrUnknownEventField, nil, "event_children"},
		{"bad schema", with(`"event_result_type":{"type":"text"}`), wire.ErrBadSchema, schema.ErrInvalidSchema, "event_result_type"},
		{"nested handler", row(`,"handler":{}`), wire.ErrReservedField, nil, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/handler"},
		{"bad row status", row(`,"status":"ok"`), wire.ErrBadValue, nil, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/status"},
		{"bad row timestamp", row(`,"started_at":"yesterday"`), wire.ErrBadTimestamp, nil, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/started_at"},
		{"bad row key", with(`"event_results":{"h1":{"status":"pending"}}`), wire.ErrBadUUID, nil, "event_results.h1"},
		{"row not object", with(`"event_results":[1]`), wire.ErrFieldType, nil, "event_results.0"},
		{"bad child id", row(`,"event_children":["c1"]`), wire.ErrBadUUID, nil, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/event_children"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := wire.Unmarshal([]byte(c.in))
			require.Error(t, err)
			assert.Nil(t, ev)
			var de *wire.DecodeError
			require.ErrorAs(t, err, &de, "%v", err)
			assert.ErrorIs(t, err, c.want)
			if c.also != nil {
				assert.ErrorIs(t, err, c.also)
			}
			if c.field != "" {
				assert.Equal(t, c.field, de.Field, "%v", err)
			}
			assert.GreaterOrEqual(t, de.Offset, 0)
			assert.LessOrEqual(t, de.Offset, len(c.in))
			for _, other := range []error{wire.ErrMalformed, wire.ErrFieldType, wire.ErrBadValue, wire.ErrBadTimestamp,
				wire.ErrBadUUID, wire.ErrReservedField, wire.ErrUnknownEventField, wire.ErrBadSchema, wire.ErrPayload} {
				if other != c.want {
					assert.False(t, errors.Is(err, other), "also matches %v: %v", other, err)
				}
			}
		})
	}
}

// The offset points at the offending value.
func TestDecodeErrorOffset(t *testing.T) {
	in := with(`"event_status":"done"`)
	_, err := wire.Unmarshal([]byte(in))
	var de *wire.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, strings.Index(in, `"done"`), de.Offset)
	assert.Contains(t, err.Error(), `"event_status"`)
}

// Typed decoding: a payload value that does not fit the Go field.
func TestDecodeTypedPayloadMismatch(t *testing.T) {
	in := `{"event_type":"WorkEvent","job":42}`
	_, err := wire.Unmarshal([]byte(in))
	var de *wire.DecodeError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, wire.ErrPayload)
	assert.Equal(t, "job", de.Field)
	assert.Equal(t, strings.Index(in, "42"), de.Offset)
}

// The same through sonic, for a payload struct with composite fields.
func TestDecodeTypedCompositeMismatch(t *testing.T) {
	in := `{"event_type":"OrderPlaced","order_id":"a","items":"not-a-list"}`
	_, err := wire.Unmarshal([]byte(in))
	var de *wire.DecodeError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, wire.ErrPayload)
	assert.Equal(t, "items", de.Field)
	assert.Equal(t, strings.Index(in, `"not-a-list"`), de.Offset)
}

// Unknown event_ keys are kept when the decoder allows them.
func TestAllowUnknownEventFields(t *testing.T) {
	in := with(`"event_priority":{"level":5}`)
	ev, err := wire.Decoder{AllowUnknownEventFields: true}.Unmarshal([]byte(in))
	require.NoError(t, err)
	out, err := wire.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"event_priority":{"level":5}`)
}
