package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
)

// kind is the JSON type of a value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

// jval is a classified value. For numbers, num holds the value and finite
// reports whether it is a usable JSON number.
type jval struct {
	kind   kind
	b      bool
	finite bool
	num    float64
	str    string
	arr    []any
	obj    map[string]any
}

func (v *jval) integral() bool {
	return v.finite && v.num == math.Trunc(v.num)
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// toNative returns v itself when it is a JSON-native value or a primitive
// (bool, integer, float or string kind, without its own marshaller), and
// otherwise its encoding/json form decoded into any (with json.Number).
func toNative(v any) (any, error) {
	switch v.(type) {
	case nil, bool, string, float64, json.Number, map[string]any, []any,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr, float32:
		return v, nil
	case json.Marshaler, encoding.TextMarshaler:
		return viaJSON(v)
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return v, nil
	}
	return viaJSON(v)
}

func viaJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// classify returns the JSON type and content of a value already passed
// through toNative. It does not allocate, except for float32 values.
func classify(v any) jval {
	switch x := v.(type) {
	case nil:
		return jval{kind: kNull}
	case bool:
		return jval{kind: kBool, b: x}
	case string:
		return jval{kind: kString, str: x}
	case float64:
		return numberVal(x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return jval{kind: kNumber, num: f}
		}
		return numberVal(f)
	case map[string]any:
		return jval{kind: kObject, obj: x}
	case []any:
		return jval{kind: kArray, arr: x}
	case int:
		return numberVal(float64(x))
	case int64:
		return numberVal(float64(x))
	case int32:
		return numberVal(float64(x))
	case uint64:
		return numberVal(float64(x))
	case float32:
		return float32Val(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return jval{kind: kBool, b: rv.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numberVal(float64(rv.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return numberVal(float64(rv.Uint()))
	case reflect.Float32:
		return float32Val(float32(rv.Float()))
	case reflect.Float64:
		return numberVal(rv.Float())
	case reflect.String:
		return jval{kind: kString, str: rv.String()}
	}
	// Not native: convert (only reached for values toNative was not applied to).
	nv, err := viaJSON(v)
	if err != nil {
		return jval{kind: kNull} // unreachable for values in a decoded document
	}
	return classify(nv)
}

func numberVal(f float64) jval {
	return jval{kind: kNumber, num: f, finite: !math.IsInf(f, 0) && !math.IsNaN(f)}
}

// float32Val widens a float32 the way encoding/json writes it (shortest
// decimal form), so 0.1 stays 0.1 rather than 0.10000000149.
func float32Val(x float32) jval {
	f := float64(x)
	if !math.IsInf(f, 0) && !math.IsNaN(f) && f != math.Trunc(f) {
		if g, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64); err == nil {
			f = g
		}
	}
	return numberVal(f)
}

// equal reports whether a and b are the same JSON value (numbers compare
// by value, so 1 equals 1.0).
func equal(a, b any) bool {
	if ja, jb := classify(a), classify(b); ja.kind == jb.kind {
		return equalVals(&ja, &jb)
	}
	return false
}

func equalVals(a, b *jval) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kNull:
		return true
	case kBool:
		return a.b == b.b
	case kNumber:
		return a.num == b.num
	case kString:
		return a.str == b.str
	case kArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !equal(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	default:
		if len(a.obj) != len(b.obj) {
			return false
		}
		for k, av := range a.obj {
			bv, ok := b.obj[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	}
}

// describe names a value for an error message.
func describe(v *jval) string {
	switch v.kind {
	case kNull:
		return "null"
	case kBool:
		return "boolean " + strconv.FormatBool(v.b)
	case kNumber:
		return "number " + strconv.FormatFloat(v.num, 'g', -1, 64)
	case kString:
		s := v.str
		if r := []rune(s); len(r) > 40 {
			s = string(r[:40]) + "…"
		}
		return "string " + strconv.Quote(s)
	case kArray:
		return "array"
	default:
		return "object"
	}
}
