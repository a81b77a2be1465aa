package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/wire"
)

// The fast paths of the decoder (declared payload fields in order, a
// row's event_id equal to the event's, remembered handler and bus ids,
// the last event_result_type text) give what the general paths give.

func benchVariant(t *testing.T, old, new string) string {
	t.Helper()
	require.Contains(t, benchJSON, old)
	return strings.Replace(benchJSON, old, new, 1)
}

func decodeErr(t *testing.T, data string) *wire.DecodeError {
	t.Helper()
	_, err := wire.Unmarshal([]byte(data))
	var de *wire.DecodeError
	require.True(t, errors.As(err, &de), "error %v", err)
	return de
}

func TestDirectPayloadErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ old, new, field string }{
		{`"quantity":3`, `"quantity":"3"`, "quantity"},
		{`"total":9.5`, `"total":true`, "total"},
		{`"paid":true`, `"paid":1`, "paid"},
		{`"customer":"Ada Lovelace"`, `"customer":7`, "customer"},
		{`"order_id":"o-1"`, `"order_id":"o-\x01"`, "order_id"},
	} {
		de := decodeErr(t, benchVariant(t, tc.old, tc.new))
		assert.Equal(t, tc.field, de.Field, "%s", tc.new)
		// The same member moved first (the general path) fails alike.
		moved := strings.Replace(benchVariant(t, tc.old, `"x_pad":0`), `{"event_type"`, `{`+tc.new+`,"event_type"`, 1)
		de2 := decodeErr(t, moved)
		assert.Equal(t, de.Field, de2.Field)
		assert.Equal(t, errors.Unwrap(de.Err) != nil, errors.Unwrap(de2.Err) != nil)
	}
}

func TestRowIDFastPaths(t *testing.T) {
	rowOf := func(ev engine.Eventer) engine.RowState {
		st := engine.StateOf(engine.Core(ev))
		require.Len(t, st.Rows, 1)
		return st.Rows[0]
	}
	// Another (valid) event_id in the row is accepted, an invalid one is not.
	_, err := wire.Unmarshal([]byte(benchVariant(t, `"status":"completed","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32"`,
		`"status":"completed","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c33"`)))
	require.NoError(t, err)
	de := decodeErr(t, benchVariant(t, `"status":"completed","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32"`,
		`"status":"completed","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c3g"`))
	assert.Equal(t, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/event_id", de.Field)
	assert.ErrorIs(t, de, wire.ErrBadUUID)
	// Handler and bus ids that change between decodes are read anew.
	for i := 0; i < 3; i++ {
		for _, bus := range []string{"018f8e40-1234-7000-8000-00000000aaaa", "018f8e40-1234-7000-8000-00000000bbbb", "018F8E40-1234-7000-8000-00000000BBBB"} {
			hid := ident.NewV7()
			data := benchVariant(t, `"eventbus_id":"018f8e40-1234-7000-8000-00000000aaaa"`, `"eventbus_id":"`+bus+`"`)
			data = strings.Replace(data, `"handler_id":"8a0347da-bf30-5b24-9255-f7047adde7f0"`, `"handler_id":"`+hid.String()+`"`, 1)
			ev, err := wire.Unmarshal([]byte(data))
			require.NoError(t, err)
			r := rowOf(ev)
			assert.Equal(t, strings.ToLower(bus), r.Handler.BusID.String())
			assert.Equal(t, hid, r.Handler.ID)
		}
	}
	de = decodeErr(t, benchVariant(t, `"eventbus_id":"018f8e40-1234-7000-8000-00000000aaaa"`, `"eventbus_id":"018f8e40-1234-7000-8000-00000000aaax"`))
	assert.Equal(t, "event_results.8a0347da-bf30-5b24-9255-f7047adde7f0/eventbus_id", de.Field)
}

func TestResultTypeTextFastPath(t *testing.T) {
	other := benchVariant(t, `"type":"string"}`, `"type":"integer"}`)
	for i := 0; i < 3; i++ {
		for _, data := range []string{benchJSON, other, benchJSON} {
			ev, err := wire.Unmarshal([]byte(data))
			require.NoError(t, err)
			_, differs := engine.StateOf(engine.Core(ev)).Extra["event_result_type"]
			assert.Equal(t, data == other, differs)
		}
	}
	// A truncated copy of the known text is not taken for it.
	cut := strings.Replace(benchJSON, `"type":"string"}`, `"type":"string"`, 1)
	_, err := wire.Unmarshal([]byte(cut))
	require.Error(t, err)
}

// A typed event without payload fields, and one whose fields are not all
// scalars, decode through the general paths.
type noFields struct {
	api.Event[string]
}

func init() { mustDeclare(wire.DeclareFor[noFields, string](engine.TypeOptions{Name: "NoFieldsFast"})) }

func TestNoPayloadFieldsTyped(t *testing.T) {
	ev, err := wire.Unmarshal([]byte(`{"event_type":"NoFieldsFast","extra_x":1,"event_status":"pending"}`))
	require.NoError(t, err)
	_, ok := ev.(*noFields)
	assert.True(t, ok)
}

// RT-1: a payload key given twice ends with its last value, as with
// encoding/json, on the declared-field fast path (key after event_type) and
// the general path (key before it), through Unmarshal and UnmarshalInto,
// whatever the values' forms (plain, escaped, empty).
func TestRepeatedPayloadKeyKeepsTheLast(t *testing.T) {
	for _, tc := range []struct{ first, last, want string }{
		{`"Ada"`, `""`, ""},
		{`"Ada"`, `"B\u0065n"`, "Ben"},
		{`"A\u0064a"`, `"Ben"`, "Ben"},
		{`""`, `"Ben"`, "Ben"},
	} {
		fast := `{"event_type":"BenchOrder","customer":` + tc.first + `,"customer":` + tc.last + `}`
		general := `{"customer":` + tc.first + `,"customer":` + tc.last + `,"event_type":"BenchOrder"}`
		for _, in := range []string{fast, general} {
			ev, err := wire.Unmarshal([]byte(in))
			require.NoError(t, err, in)
			o, ok := ev.(*BenchOrder)
			require.True(t, ok, "%T", ev)
			assert.Equal(t, tc.want, o.Customer, "Unmarshal %s", in)
			var into BenchOrder
			require.NoError(t, wire.UnmarshalInto([]byte(in), &into), in)
			assert.Equal(t, tc.want, into.Customer, "UnmarshalInto %s", in)
		}
	}
}

// RT-1: white space anywhere JSON allows it, after the colon of a predicted
// key included, decodes like the compact form.
func TestIndentedDecodesLikeCompact(t *testing.T) {
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, []byte(benchJSON), "", "  "))
	compact, err := wire.Unmarshal([]byte(benchJSON))
	require.NoError(t, err)
	spaced, err := wire.Unmarshal(indented.Bytes())
	require.NoError(t, err)
	assert.Equal(t, engine.StateOf(engine.Core(compact)), engine.StateOf(engine.Core(spaced)))
	assert.Equal(t, compact.(*BenchOrder).Customer, spaced.(*BenchOrder).Customer)
}
