package wire_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

type scalarPayload struct {
	S    string  `json:"s"`
	B    bool    `json:"b"`
	I    int     `json:"i"`
	I8   int8    `json:"i8"`
	I16  int16   `json:"i16"`
	I32  int32   `json:"i32"`
	I64  int64   `json:"i64"`
	U    uint    `json:"u"`
	U8   uint8   `json:"u8"`
	U16  uint16  `json:"u16"`
	U32  uint32  `json:"u32"`
	U64  uint64  `json:"u64"`
	F32  float32 `json:"f32"`
	F64  float64 `json:"f64"`
	OS   string  `json:"os,omitempty"`
	OB   bool    `json:"ob,omitempty"`
	OI   int16   `json:"oi,omitempty"`
	OF   float64 `json:"of,omitempty"`
	Def  int     // no tag: the Go name
	skip int
}

// AllScalars takes the field-by-field fast path of the codec.
type AllScalars struct {
	api.Event[any]
	scalarPayload
}

// AllScalarsFlat is the same payload declared flat (embedding an unexported
// struct is not supported), used by the test.
type AllScalarsFlat struct {
	api.Event[any]
	S    string  `json:"s"`
	B    bool    `json:"b"`
	I    int     `json:"i"`
	I8   int8    `json:"i8"`
	I16  int16   `json:"i16"`
	I32  int32   `json:"i32"`
	I64  int64   `json:"i64"`
	U    uint    `json:"u"`
	U8   uint8   `json:"u8"`
	U16  uint16  `json:"u16"`
	U32  uint32  `json:"u32"`
	U64  uint64  `json:"u64"`
	F32  float32 `json:"f32"`
	F64  float64 `json:"f64"`
	OS   string  `json:"os,omitempty"`
	OB   bool    `json:"ob,omitempty"`
	OI   int16   `json:"oi,omitempty"`
	OF   float64 `json:"of,omitempty"`
	Def  int
	skip int //nolint:unused // an unexported field, which the codec must leave out
}

func init() { mustDeclare(wire.DeclareFor[AllScalarsFlat, any](engine.TypeOptions{})) }

func (a *AllScalarsFlat) plain() scalarPayload {
	return scalarPayload{a.S, a.B, a.I, a.I8, a.I16, a.I32, a.I64, a.U, a.U8, a.U16, a.U32, a.U64, a.F32, a.F64, a.OS, a.OB, a.OI, a.OF, a.Def, 0}
}

// The scalar fast path writes what encoding/json writes, and reads it back.
func TestScalarPayloadMatchesEncodingJSON(t *testing.T) {
	for _, ev := range []*AllScalarsFlat{
		{S: "a<b>&\"\n", B: true, I: -1, I8: math.MinInt8, I16: math.MaxInt16, I32: math.MinInt32, I64: math.MaxInt64,
			U: 7, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64,
			F32: 1.1, F64: 1e21, OS: "x", OB: true, OI: -3, OF: 1e-7, Def: 9},
		{F64: 0.1 + 0.2, F32: float32(math.SmallestNonzeroFloat32)},
	} {
		out, err := wire.Marshal(ev)
		require.NoError(t, err)
		got := decodeJSON(t, out).(map[string]any)
		want, err := json.Marshal(ev.plain())
		require.NoError(t, err)
		for k, v := range decodeJSON(t, want).(map[string]any) {
			assert.Equal(t, v, got[k], "field %s in %s", k, out)
		}
		for _, k := range []string{"os", "ob", "oi", "of"} {
			_, inWant := decodeJSON(t, want).(map[string]any)[k]
			_, inGot := got[k]
			assert.Equal(t, inWant, inGot, "omitempty %s", k)
		}
		back, err := wire.Unmarshal(out)
		require.NoError(t, err)
		assert.Equal(t, ev.plain(), back.(*AllScalarsFlat).plain())
	}
}

func TestScalarPayloadErrors(t *testing.T) {
	for _, c := range []struct{ member, field string }{
		{`"i8":128`, "i8"},
		{`"u8":-1`, "u8"},
		{`"i":1.5`, "i"},
		{`"i":1e2`, "i"},
		{`"f32":1e39`, "f32"},
		{`"s":1`, "s"},
		{`"b":"true"`, "b"},
		{`"i64":"1"`, "i64"},
	} {
		in := `{"event_type":"AllScalarsFlat",` + c.member + `}`
		_, err := wire.Unmarshal([]byte(in))
		var de *wire.DecodeError
		require.ErrorAs(t, err, &de, c.member)
		assert.ErrorIs(t, err, wire.ErrPayload, c.member)
		assert.Equal(t, c.field, de.Field)
		assert.Equal(t, strings.Index(in, c.member)+len(c.field)+3, de.Offset, c.member)
	}
	// null leaves a field as it was; unknown keys are kept.
	ev, err := wire.Unmarshal([]byte(`{"event_type":"AllScalarsFlat","i":null,"s":null,"zz":[1]}`))
	require.NoError(t, err)
	assert.Zero(t, ev.(*AllScalarsFlat).I)
	out, err := wire.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"zz":[1]`)

	// Payload fields before event_type (TypeScript's order) work the same.
	ev, err = wire.Unmarshal([]byte(`{"i":5,"s":"x","event_type":"AllScalarsFlat"}`))
	require.NoError(t, err)
	assert.Equal(t, 5, ev.(*AllScalarsFlat).I)
	assert.Equal(t, "x", ev.(*AllScalarsFlat).S)

	// NaN has no JSON form.
	_, err = wire.Marshal(&AllScalarsFlat{F64: math.NaN()})
	assert.ErrorIs(t, err, wire.ErrEncode)
}

// Event types the codec cannot handle are reported, not mishandled.
func TestUnsupportedTypes(t *testing.T) {
	_, err := wire.Marshal(&AllScalars{})
	assert.ErrorIs(t, err, wire.ErrUnsupportedType)

	type ReservedName struct {
		api.Event[any]
		Bus string `json:"bus"`
	}
	_, err = wire.Declare(reflectTypeOf[ReservedName](), nil, engine.TypeOptions{})
	assert.ErrorIs(t, err, wire.ErrUnsupportedType)
}
