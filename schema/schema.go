package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The "$schema" default: SCHEMA-1.

// Draft202012 is the "$schema" value added to every schema that has none.
const Draft202012 = "https://json-schema.org/draft/2020-12/schema"

var (
	// ErrInvalidSchema is wrapped by the errors of Parse, FromValue and
	// UnmarshalJSON for a document that is not a usable JSON Schema.
	ErrInvalidSchema = errors.New("ringbus: invalid JSON Schema")

	// ErrMismatch is wrapped by the errors of [Schema.Validate] (see
	// [MismatchError]).
	ErrMismatch = errors.New("ringbus: result did not match expected event_result_type")

	// ErrUnsupportedType is wrapped by the errors of For and ForType for a Go
	// type that has no JSON form (chan, func, complex, unsafe.Pointer, or a
	// map whose keys cannot be JSON object keys).
	ErrUnsupportedType = errors.New("ringbus: unsupported Go type for event_result_type")
)

// MismatchError is the error [Schema.Validate] returns for a value that does
// not match the schema. It wraps [ErrMismatch].
type MismatchError struct {
	// Identifier is the schema identifier, the name of the type the schema
	// expects, as [Schema.Identifier] returns it ("string", "number",
	// "boolean", "object", "array", "null" or "any").
	Identifier string
	// Path is the JSON pointer, written as a URI fragment ("#", "#/a/0"),
	// of the part of the value where the first failure was found.
	Path string
	// Reason says what was wrong there, e.g. "expected integer, got string".
	Reason string
}

// Error implements error.
func (e *MismatchError) Error() string {
	return ErrMismatch.Error() + " " + e.Identifier + " at " + e.Path + ": " + e.Reason
}

// Unwrap returns [ErrMismatch].
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Keywords kept through a round trip: SCHEMA-4.

// Schema is a JSON Schema document kept as given (after normalisation, see
// the package documentation), so that keywords this package does not
// understand survive a round trip, together with a validator compiled from
// it.
//
// A Schema is immutable and safe for concurrent use; it may be copied, but
// sharing the pointer is cheaper. The zero Schema and a nil *Schema have no
// document and accept every value.
type Schema struct {
	raw     any    // normalised document: map[string]any or bool
	encoded []byte // MarshalJSON output
	root    *node
	ident   string
}

// Parse reads a JSON Schema document (a JSON object or boolean), normalises
// it and compiles its validator. Numbers in the document are kept as
// json.Number, so they are written back exactly. The error wraps
// [ErrInvalidSchema] and says what is wrong and where.
func Parse(raw []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: unexpected data after the schema", ErrInvalidSchema)
	}
	return build(v)
}

// FromValue builds a Schema from a decoded JSON value: a map[string]any (as
// encoding/json produces) or a bool. Any other value that encoding/json can
// encode to a JSON object (e.g. a json.RawMessage or a struct) is accepted
// too. v is not retained or modified.
func FromValue(v any) (*Schema, error) {
	if b, ok := v.(bool); ok {
		return build(b)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: schema must be an object or boolean, got null", ErrInvalidSchema)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return Parse(raw)
}

// build normalises a freshly decoded document (it is modified in place),
// compiles it and encodes it.
func build(v any) (*Schema, error) {
	switch v.(type) {
	case bool, map[string]any:
	default:
		return nil, fmt.Errorf("%w: schema must be an object or boolean, got %s", ErrInvalidSchema, jsonTypeName(v))
	}
	v = normalize(v)
	root, err := compileDocument(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &Schema{
		raw:     v,
		encoded: bytes.TrimSuffix(buf.Bytes(), []byte("\n")),
		root:    root,
		ident:   identifier(root),
	}, nil
}

// MarshalJSON returns the normalised document, with object keys sorted. A nil
// or zero Schema marshals as null.
func (s *Schema) MarshalJSON() ([]byte, error) {
	if s == nil || s.encoded == nil {
		return []byte("null"), nil
	}
	return bytes.Clone(s.encoded), nil
}

// UnmarshalJSON parses data like [Parse] and replaces *s with the result.
// JSON null leaves *s unchanged. It must not run concurrently with any other
// use of *s.
func (s *Schema) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*s = *p
	return nil
}

// String returns the JSON form of the schema, "null" for a nil Schema.
func (s *Schema) String() string {
	b, _ := s.MarshalJSON()
	return string(b)
}

// Raw returns a deep copy of the normalised document: a map[string]any whose
// values are map[string]any, []any, string, bool, nil and json.Number, or a
// bool. It returns nil for a nil Schema.
func (s *Schema) Raw() any {
	if s == nil {
		return nil
	}
	return deepCopy(s.raw)
}

// Identifier returns the schema identifier used in error messages:
// "string", "number" (for integer and number), "boolean", "object",
// "array" or "null", derived from the non-null type of the root
// (looking through $ref and nullable anyOf/oneOf unions), or "any" when the
// root constrains no single type.
func (s *Schema) Identifier() string {
	// The schema identifier of SCHEMA-7.
	if s == nil || s.root == nil {
		return "any"
	}
	return s.ident
}

// Validate reports whether v matches the schema, without coercing JSON
// types (42 does not match {"type":"string"}). v may be a value as produced
// by encoding/json decoding into any (map[string]any, []any, float64 or
// json.Number, string, bool, nil) or any other Go value, which is judged by
// its encoding/json form. It returns nil or a [*MismatchError] wrapping
// [ErrMismatch]. A nil Schema accepts every value. See the package
// documentation for what allocates.
func (s *Schema) Validate(v any) error {
	// Strict, no coercion: RTYPE-5.
	if s == nil || s.root == nil {
		return nil
	}
	nv, err := toNative(v)
	if err != nil {
		return &MismatchError{Identifier: s.ident, Path: "#", Reason: "value has no JSON form: " + err.Error()}
	}
	var st evalState
	f := s.root.eval(nv, false, 0, &st)
	if f == nil && !st.exhausted {
		return nil
	}
	if !st.exhausted {
		st = evalState{}
		f = s.root.eval(nv, true, 0, &st)
	}
	if st.exhausted {
		return &MismatchError{Identifier: s.ident, Path: "#", Reason: fmt.Sprintf("validation needs more than %d steps; the schema is too costly for this value", maxSteps)}
	}
	if f == nil || f == quietFailure { // cannot happen; keep the error well formed
		return &MismatchError{Identifier: s.ident, Path: "#", Reason: "value did not match"}
	}
	return &MismatchError{Identifier: s.ident, Path: f.path(), Reason: f.reason}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	default:
		return v
	}
}

// jsonTypeName names the JSON type of a decoded value, for error messages.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number, float64, float32, int, int64:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// escapeToken escapes a JSON pointer reference token (RFC 6901).
func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// unescapeToken reverses escapeToken.
func unescapeToken(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// identifier derives the SCHEMA-7 identifier of a compiled root.
func identifier(n *node) string { return identOf(n, 0) }

func identOf(n *node, depth int) string {
	if n == nil || n.boolean || depth > 32 {
		return "any"
	}
	if n.types != 0 {
		return identOfMask(n.types)
	}
	if n.ref != nil {
		if id := identOf(n.ref, depth+1); id != "any" {
			return id
		}
	}
	for _, alts := range [][]*node{n.anyOf, n.oneOf} {
		if alts == nil {
			continue
		}
		id := ""
		for _, a := range alts {
			switch aid := identOf(a, depth+1); {
			case aid == "null":
			case id == "":
				id = aid
			case id != aid:
				id = "any"
			}
		}
		if id == "" {
			return "null"
		}
		if id != "any" {
			return id
		}
	}
	for _, a := range n.allOf {
		if id := identOf(a, depth+1); id != "any" {
			return id
		}
	}
	if n.implicitObject {
		return "object"
	}
	if n.hasConst {
		return kindIdent(classify(n.constVal).kind)
	}
	if n.hasEnum && len(n.enum) > 0 {
		id := kindIdent(classify(n.enum[0]).kind)
		for _, e := range n.enum[1:] {
			if kindIdent(classify(e).kind) != id {
				return "any"
			}
		}
		return id
	}
	return "any"
}

func identOfMask(m typeMask) string {
	switch m &^ tNull {
	case 0:
		return "null"
	case tString:
		return "string"
	case tBoolean:
		return "boolean"
	case tObject:
		return "object"
	case tArray:
		return "array"
	case tNumber, tInteger, tNumber | tInteger:
		return "number"
	}
	return "any"
}

func kindIdent(k kind) string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kArray:
		return "array"
	}
	return "object"
}
