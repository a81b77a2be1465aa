package wire

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"
)

// The fast path for payload structs whose fields are all plain scalars:
// same results as encoding/json (and sonic with the package's config),
// without reflection or a JIT call per event.

// encodeScalars appends ,"name":value for every field of the struct at p.
func (c *typeCodec) encodeScalars(b []byte, p unsafe.Pointer) ([]byte, error) {
	for i := range c.scalars {
		f := &c.scalars[i]
		fp := unsafe.Add(p, f.off)
		if f.omitEmpty && scalarZero(f.kind, fp) {
			continue
		}
		b = append(b, ',')
		b = appendString(b, f.name)
		b = append(b, ':')
		switch f.kind {
		case reflect.String:
			b = appendString(b, *(*string)(fp))
		case reflect.Bool:
			b = strconv.AppendBool(b, *(*bool)(fp))
		case reflect.Int:
			b = strconv.AppendInt(b, int64(*(*int)(fp)), 10)
		case reflect.Int8:
			b = strconv.AppendInt(b, int64(*(*int8)(fp)), 10)
		case reflect.Int16:
			b = strconv.AppendInt(b, int64(*(*int16)(fp)), 10)
		case reflect.Int32:
			b = strconv.AppendInt(b, int64(*(*int32)(fp)), 10)
		case reflect.Int64:
			b = strconv.AppendInt(b, *(*int64)(fp), 10)
		case reflect.Uint:
			b = strconv.AppendUint(b, uint64(*(*uint)(fp)), 10)
		case reflect.Uint8:
			b = strconv.AppendUint(b, uint64(*(*uint8)(fp)), 10)
		case reflect.Uint16:
			b = strconv.AppendUint(b, uint64(*(*uint16)(fp)), 10)
		case reflect.Uint32:
			b = strconv.AppendUint(b, uint64(*(*uint32)(fp)), 10)
		case reflect.Uint64:
			b = strconv.AppendUint(b, *(*uint64)(fp), 10)
		case reflect.Float32:
			var err error
			if b, err = appendFloat(b, float64(*(*float32)(fp)), 32); err != nil {
				return b, fmt.Errorf("%w: field %q: %w", ErrEncode, f.name, err)
			}
		case reflect.Float64:
			var err error
			if b, err = appendFloat(b, *(*float64)(fp), 64); err != nil {
				return b, fmt.Errorf("%w: field %q: %w", ErrEncode, f.name, err)
			}
		}
	}
	return b, nil
}

func scalarZero(k reflect.Kind, p unsafe.Pointer) bool {
	switch k {
	case reflect.String:
		return *(*string)(p) == ""
	case reflect.Bool:
		return !*(*bool)(p)
	case reflect.Int, reflect.Uint:
		return *(*uint)(p) == 0
	case reflect.Int8, reflect.Uint8:
		return *(*uint8)(p) == 0
	case reflect.Int16, reflect.Uint16:
		return *(*uint16)(p) == 0
	case reflect.Int32, reflect.Uint32:
		return *(*uint32)(p) == 0
	case reflect.Int64, reflect.Uint64:
		return *(*uint64)(p) == 0
	case reflect.Float32:
		return *(*float32)(p) == 0
	case reflect.Float64:
		return *(*float64)(p) == 0
	}
	return false
}

// decodeScalar stores the JSON value raw into field f of the struct at p.
// It returns a description of the mismatch, or "".
func decodeScalar(f *scalarField, p unsafe.Pointer, raw string) string {
	fp := unsafe.Add(p, f.off)
	if raw == "null" {
		return "" // like encoding/json: null leaves a scalar unchanged
	}
	c := raw[0]
	switch f.kind {
	case reflect.String:
		if c != '"' {
			return "expected a string, found " + jsonKind(raw, 0)
		}
		sc := scanner{s: raw}
		s, aliased, _ := sc.str()
		if aliased {
			s = own(s)
		}
		*(*string)(fp) = s
		return ""
	case reflect.Bool:
		switch raw {
		case "true":
			*(*bool)(fp) = true
		case "false":
			*(*bool)(fp) = false
		default:
			return "expected a boolean, found " + jsonKind(raw, 0)
		}
		return ""
	}
	if c != '-' && (c < '0' || c > '9') {
		return "expected a number, found " + jsonKind(raw, 0)
	}
	switch f.kind {
	case reflect.Int, reflect.Int64:
		if v, ok := smallInt(raw); ok {
			*(*int64)(fp) = v // int is 64 bits wide wherever the fast path applies
			return ""
		}
	case reflect.Float64:
		if v, ok := plainFloat(raw); ok {
			*(*float64)(fp) = v
			return ""
		}
	}
	switch f.kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v, err := strconv.ParseInt(raw, 10, bitsOf(f.kind))
		if err != nil {
			return "number " + raw + " does not fit " + f.kind.String()
		}
		switch f.kind {
		case reflect.Int:
			*(*int)(fp) = int(v)
		case reflect.Int8:
			*(*int8)(fp) = int8(v)
		case reflect.Int16:
			*(*int16)(fp) = int16(v)
		case reflect.Int32:
			*(*int32)(fp) = int32(v)
		default:
			*(*int64)(fp) = v
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, err := strconv.ParseUint(raw, 10, bitsOf(f.kind))
		if err != nil {
			return "number " + raw + " does not fit " + f.kind.String()
		}
		switch f.kind {
		case reflect.Uint:
			*(*uint)(fp) = uint(v)
		case reflect.Uint8:
			*(*uint8)(fp) = uint8(v)
		case reflect.Uint16:
			*(*uint16)(fp) = uint16(v)
		case reflect.Uint32:
			*(*uint32)(fp) = uint32(v)
		default:
			*(*uint64)(fp) = v
		}
	case reflect.Float32:
		v, err := strconv.ParseFloat(raw, 32)
		if err != nil || math.IsInf(v, 0) {
			return "number " + raw + " does not fit float32"
		}
		*(*float32)(fp) = float32(v)
	case reflect.Float64:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(v, 0) {
			return "number " + raw + " does not fit float64"
		}
		*(*float64)(fp) = v
	}
	return ""
}

func bitsOf(k reflect.Kind) int {
	switch k {
	case reflect.Int8, reflect.Uint8:
		return 8
	case reflect.Int16, reflect.Uint16:
		return 16
	case reflect.Int32, reflect.Uint32:
		return 32
	case reflect.Int64, reflect.Uint64:
		return 64
	}
	return strconv.IntSize
}

// smallInt parses an optionally negative integer of at most 18 digits
// without leading zeros, the common case, exactly as strconv.ParseInt
// would; it reports false for anything else. It applies only where int is
// 64 bits wide.
func smallInt(raw string) (int64, bool) {
	if strconv.IntSize != 64 {
		return 0, false
	}
	s := raw
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + int64(d)
	}
	if neg {
		v = -v
	}
	return v, true
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// plainFloat parses a JSON number without exponent whose digits, as an
// integer, are below 2^53, the common case: the value is then that integer
// divided by a power of ten, both exact, and the division rounds
// correctly, so the result equals strconv.ParseFloat's. It reports false
// for anything else.
func plainFloat(raw string) (float64, bool) {
	s := raw
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 17 {
		return 0, false
	}
	var mant uint64
	frac, dot := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && dot < 0 && i > 0 {
			dot = i
			continue
		}
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		mant = mant*10 + uint64(d)
		if dot >= 0 {
			frac++
		}
	}
	if dot == len(s)-1 || mant >= 1<<53 {
		return 0, false
	}
	f := float64(mant) / exactPow10[frac]
	if neg {
		f = -f
	}
	return f, true
}
