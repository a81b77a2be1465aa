package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type forResult struct {
	s   *Schema
	err error
}

var forCache sync.Map // reflect.Type -> *forResult

// For returns the JSON Schema of the encoding/json form of T, normalised
// like a parsed schema. The result is computed once per type and shared;
// it is safe for concurrent use. See [ForType] for the mapping.
func For[T any]() (*Schema, error) {
	// Schemas derived from Go types: RTYPE-7.
	return ForType(reflect.TypeFor[T]())
}

// ForType returns the JSON Schema of the encoding/json form of t, cached per
// type. The mapping follows encoding/json:
//
//   - bool: {"type":"boolean"}; integers: {"type":"integer"} with
//     "minimum" and "maximum" the type's range, but never beyond
//     ±[MaxSafeInteger] (int and int64: ±9007199254740991, uint8: 0 and
//     255), the integers every abxbus runtime reads exactly, so that a
//     result the TypeScript package would reject is rejected here too;
//     floats: {"type":"number"}; string and []byte: {"type":"string"};
//   - []T: {"type":"array","items":T}; [N]T: the same with minItems and
//     maxItems N; map[K]T (K a string, integer or encoding.TextMarshaler):
//     {"type":"object","additionalProperties":T};
//   - *T: {"anyOf":[T,{"type":"null"}]} (a nil pointer encodes as null);
//   - a named struct: a "$defs" entry with "title" (its name), "type",
//     "properties" and "required", referenced with "$ref"; a root struct is
//     then inlined by normalisation, so For[Node] is the object schema of
//     Node with "#" for its self references. Fields follow the json tags
//     ("-" skips, a name renames, ",string" makes a number or bool a string);
//     a field is required unless it is a pointer, tagged omitempty or
//     omitzero, or promoted from an embedded struct pointer. Embedded
//     structs are flattened with encoding/json's rules for name conflicts.
//     Anonymous structs are inlined;
//   - time.Time: {"type":"string","format":"date-time"}; json.RawMessage,
//     interfaces and other types with their own MarshalJSON: {} (any value);
//     other encoding.TextMarshaler types: {"type":"string"}.
//
// Other named slices, maps, arrays and pointers that refer to themselves also
// go through "$defs". Nil slices and maps encode as null, which does not
// match "array" or "object": tag such fields omitempty (or fill them) when a
// handler may leave them nil. Types with no JSON form (chan, func, complex,
// unsafe.Pointer) give an error wrapping [ErrUnsupportedType].
func ForType(t reflect.Type) (*Schema, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil type", ErrUnsupportedType)
	}
	if r, ok := forCache.Load(t); ok {
		fr := r.(*forResult)
		return fr.s, fr.err
	}
	s, err := generate(t)
	r, _ := forCache.LoadOrStore(t, &forResult{s: s, err: err})
	fr := r.(*forResult)
	return fr.s, fr.err
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

type generator struct {
	defs      map[string]any
	names     map[reflect.Type]string
	taken     map[string]reflect.Type
	active    map[reflect.Type]bool
	recursive map[reflect.Type]bool
	done      map[reflect.Type]bool
	root      reflect.Type
	path      []string // field path, for errors
}

func generate(t reflect.Type) (*Schema, error) {
	g := &generator{
		defs:      map[string]any{},
		names:     map[reflect.Type]string{},
		taken:     map[string]reflect.Type{},
		active:    map[reflect.Type]bool{},
		recursive: map[reflect.Type]bool{},
		done:      map[reflect.Type]bool{},
		root:      t,
	}
	root, err := g.schema(t)
	if err != nil {
		return nil, err
	}
	if len(g.defs) > 0 {
		root["$defs"] = g.defs
	}
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrUnsupportedType, t, err)
	}
	s, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w (the schema generated for %v)", err, t)
	}
	return s, nil
}

func (g *generator) unsupported(t reflect.Type) error {
	where := ""
	if len(g.path) > 0 {
		where = fmt.Sprintf(" in field %s of %v", strings.Join(g.path, "."), g.root)
	}
	return fmt.Errorf("%w: %v%s", ErrUnsupportedType, t, where)
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": defsPrefix + escapeToken(name)}
}

// name returns the $defs name of t: its sanitised Go name, made unique.
func (g *generator) name(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	base := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return r
		}
		return '_'
	}, t.Name())
	base = strings.TrimRight(base, "_")
	if base == "" {
		base = "Type"
	}
	n := base
	for i := 2; ; i++ {
		if _, used := g.taken[n]; !used {
			break
		}
		n = base + strconv.Itoa(i)
	}
	g.taken[n] = t
	g.names[t] = n
	return n
}

// schema returns the schema of t (a fresh map the caller may modify).
func (g *generator) schema(t reflect.Type) (map[string]any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case rawMessageType:
		return map[string]any{}, nil
	}
	k := t.Kind()
	if k != reflect.Pointer && k != reflect.Interface {
		if t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) {
			return map[string]any{}, nil
		}
		if t.Implements(textMarshalerType) {
			return map[string]any{"type": "string"}, nil
		}
		if reflect.PointerTo(t).Implements(textMarshalerType) {
			// used by encoding/json only for addressable values: either form
			return map[string]any{}, nil
		}
	}
	switch k {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		lo, hi := intRange(t)
		return map[string]any{"type": "integer", "minimum": lo, "maximum": hi}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name := g.name(t)
		if g.done[t] || g.active[t] {
			return ref(name), nil
		}
		g.active[t] = true
		s, err := g.structSchema(t)
		delete(g.active, t)
		if err != nil {
			return nil, err
		}
		s["title"] = name
		g.defs[name] = s
		g.done[t] = true
		return ref(name), nil
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		if t.Name() == "" {
			return g.composite(t)
		}
		// a named composite may refer to itself (type List []List)
		if g.done[t] || g.active[t] {
			g.recursive[t] = true
			return ref(g.name(t)), nil
		}
		g.active[t] = true
		s, err := g.composite(t)
		delete(g.active, t)
		if err != nil {
			return nil, err
		}
		if g.recursive[t] {
			name := g.name(t)
			g.defs[name] = s
			g.done[t] = true
			return ref(name), nil
		}
		return s, nil
	}
	return nil, g.unsupported(t)
}

// MaxSafeInteger is the largest integer that JavaScript, and so the
// TypeScript abxbus, represents exactly: 2^53-1. Derived schemas bound
// integer types to ±MaxSafeInteger, as the TypeScript package writes them.
const MaxSafeInteger = 1<<53 - 1

// intRange returns the bounds of integer kind t that a JSON number can hold
// exactly in every abxbus runtime: the type's own range within
// ±MaxSafeInteger.
func intRange(t reflect.Type) (lo, hi int64) {
	bits := t.Bits()
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr {
		if bits >= 54 {
			return 0, MaxSafeInteger
		}
		return 0, 1<<bits - 1
	}
	if bits >= 54 {
		return -MaxSafeInteger, MaxSafeInteger
	}
	return -(1 << (bits - 1)), 1<<(bits-1) - 1
}

func (g *generator) composite(t reflect.Type) (map[string]any, error) {
	switch t.Kind() {
	case reflect.Pointer:
		inner, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return nullable(inner), nil
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Uint8 && !marshals(e) {
			return map[string]any{"type": "string"}, nil
		}
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Array:
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items, "minItems": t.Len(), "maxItems": t.Len()}, nil
	default: // map
		switch key := t.Key(); key.Kind() {
		case reflect.String,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !key.Implements(textMarshalerType) {
				return nil, g.unsupported(t)
			}
		}
		values, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": values}, nil
	}
}

func marshals(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(jsonMarshalerType) || p.Implements(jsonMarshalerType) ||
		t.Implements(textMarshalerType) || p.Implements(textMarshalerType)
}

// nullable wraps s as "s or null"; s that already admits null is returned as is.
func nullable(s map[string]any) map[string]any {
	if len(s) == 0 {
		return s // {} admits null
	}
	if alts, ok := s["anyOf"].([]any); ok && len(s) == 1 {
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok && len(m) == 1 && m["type"] == "null" {
				return s
			}
		}
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

type fieldInfo struct {
	name     string
	typ      reflect.Type
	depth    int
	tagged   bool
	omit     bool // omitempty or omitzero
	quoted   bool // ",string"
	optional bool // promoted through an embedded pointer
}

// fields lists the JSON fields of struct type t, resolving embedded structs
// and name conflicts the way encoding/json does.
func fields(t reflect.Type) []fieldInfo {
	var all []fieldInfo
	onPath := map[reflect.Type]bool{}
	var walk func(t reflect.Type, depth int, optional bool)
	walk = func(t reflect.Type, depth int, optional bool) {
		if onPath[t] {
			return
		}
		onPath[t] = true
		defer delete(onPath, t)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous {
				ft, ptr := f.Type, false
				if ft.Kind() == reflect.Pointer {
					ft, ptr = ft.Elem(), true
				}
				if !f.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					walk(ft, depth+1, optional || ptr)
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = f.Name
			}
			info := fieldInfo{name: name, typ: f.Type, depth: depth, tagged: tagged, optional: optional}
			for opt := range strings.SplitSeq(opts, ",") {
				switch opt {
				case "omitempty", "omitzero":
					info.omit = true
				case "string":
					info.quoted = true
				}
			}
			all = append(all, info)
		}
	}
	walk(t, 0, false)

	// For each name keep the shallowest field; at equal depth a single
	// tagged field wins; otherwise the name is dropped.
	byName := map[string][]fieldInfo{}
	var order []string
	for _, f := range all {
		if _, seen := byName[f.name]; !seen {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var out []fieldInfo
	for _, name := range order {
		cands := byName[name]
		minDepth := slices.MinFunc(cands, func(a, b fieldInfo) int { return a.depth - b.depth }).depth
		var top, tagged []fieldInfo
		for _, f := range cands {
			if f.depth == minDepth {
				top = append(top, f)
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
		}
		switch {
		case len(top) == 1:
			out = append(out, top[0])
		case len(tagged) == 1:
			out = append(out, tagged[0])
		}
	}
	return out
}

func (g *generator) structSchema(t reflect.Type) (map[string]any, error) {
	props := map[string]any{}
	var required []any
	for _, f := range fields(t) {
		g.path = append(g.path, f.name)
		fs, err := g.schema(f.typ)
		g.path = g.path[:len(g.path)-1]
		if err != nil {
			return nil, err
		}
		if f.quoted {
			base := f.typ
			if base.Kind() == reflect.Pointer {
				base = base.Elem()
			}
			switch base.Kind() {
			case reflect.Bool, reflect.String,
				reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
				reflect.Float32, reflect.Float64:
				fs = map[string]any{"type": "string"}
				if f.typ.Kind() == reflect.Pointer {
					fs = nullable(fs)
				}
			}
		}
		props[f.name] = fs
		if !f.omit && !f.optional && f.typ.Kind() != reflect.Pointer {
			required = append(required, f.name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s, nil
}
