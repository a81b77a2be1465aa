package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// typeMask is a set of JSON Schema type names.
type typeMask uint8

const (
	tNull typeMask = 1 << iota
	tBoolean
	tObject
	tArray
	tNumber
	tInteger
	tString
)

var typeNames = []struct {
	name string
	bit  typeMask
}{
	{"string", tString}, {"number", tNumber}, {"integer", tInteger}, {"boolean", tBoolean},
	{"object", tObject}, {"array", tArray}, {"null", tNull},
}

func (m typeMask) String() string {
	var parts []string
	for _, t := range typeNames {
		if m&t.bit != 0 {
			parts = append(parts, t.name)
		}
	}
	return strings.Join(parts, " or ")
}

// node is a compiled schema.
type node struct {
	loc string // schema location as a URI fragment, for errors

	boolean bool // a true/false schema
	allow   bool // its value

	types          typeMask // 0: not constrained
	implicitObject bool     // requires an object although "type" is absent

	hasConst bool
	constVal any
	hasEnum  bool
	enum     []any

	ref                 *node
	allOf, anyOf, oneOf []*node
	not                 *node

	minLength, maxLength int // -1: not set
	pattern              *regexp.Regexp
	format               formatCheck // nil: none, or a format not enforced
	formatName           string

	hasMin, hasMax, hasExMin, hasExMax bool
	min, max, exMin, exMax             float64
	multipleOf                         float64 // 0: not set

	minItems, maxItems int // -1: not set
	uniqueItems        bool
	contains           *node
	minContains        int // 1 unless set; meaningful with contains
	maxContains        int // -1: not set
	prefixItems        []*node
	items              *node // for the elements after prefixItems

	minProps, maxProps int                 // -1: not set
	required           []string            // as written (sorted by normalisation)
	props              map[string]propInfo // properties, with required flags
	requiredProps      int                 // distinct required names that are in props
	requiredOther      []string            // distinct required names not in props
	patternProps       []patternProp
	additional         *node
	propertyNames      *node
}

type propInfo struct {
	schema   *node
	required bool
}

type patternProp struct {
	re     *regexp.Regexp // nil: not enforceable, every name matches
	schema *node
}

type compiler struct {
	root  any
	nodes map[string]*node // by canonical JSON pointer
	all   []*node
}

// compileDocument compiles a normalised document.
func compileDocument(doc any) (*node, error) {
	c := &compiler{root: doc, nodes: map[string]*node{}}
	root, err := c.compile("", doc)
	if err != nil {
		return nil, err
	}
	if err := c.checkCycles(); err != nil {
		return nil, err
	}
	return root, nil
}

func invalid(ptr, format string, args ...any) error {
	return fmt.Errorf("%w: at #%s: %s", ErrInvalidSchema, ptr, fmt.Sprintf(format, args...))
}

// compile compiles the schema v found at JSON pointer ptr. Each location is
// compiled once, so recursive references end in the same node.
func (c *compiler) compile(ptr string, v any) (*node, error) {
	if n, ok := c.nodes[ptr]; ok {
		return n, nil
	}
	n := &node{loc: "#" + ptr, minLength: -1, maxLength: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1,
		minContains: 1, maxContains: -1}
	c.nodes[ptr] = n
	c.all = append(c.all, n)
	switch s := v.(type) {
	case bool:
		n.boolean, n.allow = true, s
		return n, nil
	case map[string]any:
		if err := c.fill(n, ptr, s); err != nil {
			return nil, err
		}
		return n, nil
	default:
		return nil, invalid(ptr, "schema must be an object or boolean, got %s", jsonTypeName(v))
	}
}

func (c *compiler) sub(ptr, key string, v any) (*node, error) {
	return c.compile(ptr+"/"+escapeToken(key), v)
}

func (c *compiler) subList(ptr, key string, v any, allowEmpty bool) ([]*node, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, invalid(ptr+"/"+key, "must be an array of schemas, got %s", jsonTypeName(v))
	}
	if len(list) == 0 && !allowEmpty {
		return nil, invalid(ptr+"/"+key, "must be a non-empty array of schemas")
	}
	out := make([]*node, len(list))
	for i, e := range list {
		n, err := c.compile(ptr+"/"+key+"/"+strconv.Itoa(i), e)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (c *compiler) fill(n *node, ptr string, s map[string]any) error {
	var err error
	// type
	if t, ok := s["type"]; ok {
		if n.types, err = parseTypes(ptr, t); err != nil {
			return err
		}
	}
	// const, enum
	if v, ok := s["const"]; ok {
		n.hasConst, n.constVal = true, v
	}
	if v, ok := s["enum"]; ok {
		list, ok := v.([]any)
		if !ok {
			return invalid(ptr+"/enum", "must be an array, got %s", jsonTypeName(v))
		}
		n.hasEnum, n.enum = true, list
	}
	// $ref
	if v, ok := s["$ref"]; ok {
		ref, ok := v.(string)
		if !ok {
			return invalid(ptr+"/$ref", "must be a string, got %s", jsonTypeName(v))
		}
		if n.ref, err = c.resolve(ptr, ref); err != nil {
			return err
		}
	}
	// applicators on the same value
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		v, ok := s[key]
		if !ok {
			continue
		}
		list, err := c.subList(ptr, key, v, false)
		if err != nil {
			return err
		}
		switch key {
		case "allOf":
			n.allOf = list
		case "anyOf":
			n.anyOf = list
		default:
			n.oneOf = list
		}
	}
	if v, ok := s["not"]; ok {
		if n.not, err = c.sub(ptr, "not", v); err != nil {
			return err
		}
	}
	// strings
	if n.minLength, err = count(ptr, s, "minLength"); err != nil {
		return err
	}
	if n.maxLength, err = count(ptr, s, "maxLength"); err != nil {
		return err
	}
	if v, ok := s["pattern"]; ok {
		p, ok := v.(string)
		if !ok {
			return invalid(ptr+"/pattern", "must be a string, got %s", jsonTypeName(v))
		}
		if n.pattern, err = compilePattern(p); err != nil {
			return invalid(ptr+"/pattern", "bad regular expression %q: %v", p, err)
		}
	}
	if f, ok := s["format"].(string); ok {
		n.format, n.formatName = formatChecks[f], f
	}
	// numbers
	if n.min, n.hasMin, err = bound(ptr, s, "minimum"); err != nil {
		return err
	}
	if n.max, n.hasMax, err = bound(ptr, s, "maximum"); err != nil {
		return err
	}
	if err := exclusiveBound(ptr, s, "exclusiveMinimum", n.hasMin, n.min, &n.exMin, &n.hasExMin); err != nil {
		return err
	}
	if err := exclusiveBound(ptr, s, "exclusiveMaximum", n.hasMax, n.max, &n.exMax, &n.hasExMax); err != nil {
		return err
	}
	if v, ok := s["multipleOf"]; ok {
		f, ok := number(v)
		if !ok || f <= 0 {
			return invalid(ptr+"/multipleOf", "must be a number greater than 0")
		}
		n.multipleOf = f
	}
	// arrays
	if n.minItems, err = count(ptr, s, "minItems"); err != nil {
		return err
	}
	if n.maxItems, err = count(ptr, s, "maxItems"); err != nil {
		return err
	}
	if v, ok := s["uniqueItems"]; ok {
		b, ok := v.(bool)
		if !ok {
			return invalid(ptr+"/uniqueItems", "must be a boolean, got %s", jsonTypeName(v))
		}
		n.uniqueItems = b
	}
	if v, ok := s["contains"]; ok {
		if n.contains, err = c.sub(ptr, "contains", v); err != nil {
			return err
		}
		if _, set := s["minContains"]; set {
			if n.minContains, err = count(ptr, s, "minContains"); err != nil {
				return err
			}
		}
		if n.maxContains, err = count(ptr, s, "maxContains"); err != nil {
			return err
		}
	}
	if v, ok := s["prefixItems"]; ok {
		if n.prefixItems, err = c.subList(ptr, "prefixItems", v, true); err != nil {
			return err
		}
	}
	if v, ok := s["items"]; ok {
		if _, isList := v.([]any); isList && n.prefixItems == nil {
			// draft-07 tuple form: items is prefixItems, additionalItems the rest
			if n.prefixItems, err = c.subList(ptr, "items", v, true); err != nil {
				return err
			}
			if a, ok := s["additionalItems"]; ok {
				if n.items, err = c.sub(ptr, "additionalItems", a); err != nil {
					return err
				}
			}
		} else if n.items, err = c.sub(ptr, "items", v); err != nil {
			return err
		}
	}
	// objects
	if n.minProps, err = count(ptr, s, "minProperties"); err != nil {
		return err
	}
	if n.maxProps, err = count(ptr, s, "maxProperties"); err != nil {
		return err
	}
	if v, ok := s["required"]; ok {
		list, ok := v.([]any)
		if !ok || !allStrings(list) {
			return invalid(ptr+"/required", "must be an array of strings")
		}
		n.required = make([]string, len(list))
		for i, e := range list {
			n.required[i] = e.(string)
		}
	}
	if v, ok := s["properties"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return invalid(ptr+"/properties", "must be an object, got %s", jsonTypeName(v))
		}
		n.props = make(map[string]propInfo, len(m))
		for name, sv := range m {
			sn, err := c.sub(ptr+"/properties", name, sv)
			if err != nil {
				return err
			}
			n.props[name] = propInfo{schema: sn}
		}
	}
	seen := map[string]bool{}
	for _, name := range n.required {
		if seen[name] {
			continue
		}
		seen[name] = true
		if p, ok := n.props[name]; ok {
			p.required = true
			n.props[name] = p
			n.requiredProps++
		} else {
			n.requiredOther = append(n.requiredOther, name)
		}
	}
	if v, ok := s["patternProperties"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return invalid(ptr+"/patternProperties", "must be an object, got %s", jsonTypeName(v))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			re, err := compilePattern(k)
			if err != nil {
				return invalid(ptr+"/patternProperties", "bad regular expression %q: %v", k, err)
			}
			sn, err := c.sub(ptr+"/patternProperties", k, m[k])
			if err != nil {
				return err
			}
			n.patternProps = append(n.patternProps, patternProp{re: re, schema: sn})
		}
	}
	if v, ok := s["additionalProperties"]; ok {
		if n.additional, err = c.sub(ptr, "additionalProperties", v); err != nil {
			return err
		}
	}
	if v, ok := s["propertyNames"]; ok {
		if n.propertyNames, err = c.sub(ptr, "propertyNames", v); err != nil {
			return err
		}
	}
	// definitions are compiled even when unreferenced, to report errors early
	for _, key := range []string{"$defs", "definitions"} {
		v, ok := s[key]
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return invalid(ptr+"/"+key, "must be an object, got %s", jsonTypeName(v))
		}
		for name, d := range m {
			if _, err := c.sub(ptr+"/"+key, name, d); err != nil {
				return err
			}
		}
	}
	if n.types == 0 && !n.hasConst && !n.hasEnum && n.ref == nil && n.allOf == nil && n.anyOf == nil && n.oneOf == nil {
		for _, key := range []string{"properties", "required", "additionalProperties", "patternProperties"} {
			if _, ok := s[key]; ok {
				n.implicitObject = true
			}
		}
	}
	return nil
}

func parseTypes(ptr string, v any) (typeMask, error) {
	one := func(x any) (typeMask, error) {
		name, ok := x.(string)
		if ok {
			for _, t := range typeNames {
				if t.name == name {
					return t.bit, nil
				}
			}
			return 0, invalid(ptr+"/type", "unknown type %q", name)
		}
		return 0, invalid(ptr+"/type", "must be a string or an array of strings, got %s", jsonTypeName(x))
	}
	list, ok := v.([]any)
	if !ok {
		return one(v)
	}
	if len(list) == 0 {
		return 0, invalid(ptr+"/type", "must not be an empty array")
	}
	var m typeMask
	for _, x := range list {
		b, err := one(x)
		if err != nil {
			return 0, err
		}
		m |= b
	}
	return m, nil
}

// number returns the value of a finite JSON number in any Go representation.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// count reads a non-negative integer keyword; -1 if absent.
func count(ptr string, s map[string]any, key string) (int, error) {
	v, ok := s[key]
	if !ok {
		return -1, nil
	}
	f, ok := number(v)
	if !ok || f < 0 || f != math.Trunc(f) {
		return 0, invalid(ptr+"/"+key, "must be a non-negative integer")
	}
	if f > math.MaxInt32 {
		f = math.MaxInt32
	}
	return int(f), nil
}

func bound(ptr string, s map[string]any, key string) (float64, bool, error) {
	v, ok := s[key]
	if !ok {
		return 0, false, nil
	}
	f, ok := number(v)
	if !ok {
		return 0, false, invalid(ptr+"/"+key, "must be a number, got %s", jsonTypeName(v))
	}
	return f, true, nil
}

// exclusiveBound reads exclusiveMinimum/exclusiveMaximum: a number
// (draft 6 and later) or a boolean modifying minimum/maximum (draft 4).
func exclusiveBound(ptr string, s map[string]any, key string, hasInclusive bool, inclusive float64, out *float64, has *bool) error {
	v, ok := s[key]
	if !ok {
		return nil
	}
	if b, ok := v.(bool); ok {
		if b && hasInclusive {
			*out, *has = inclusive, true
		}
		return nil
	}
	f, ok := number(v)
	if !ok {
		return invalid(ptr+"/"+key, "must be a number, got %s", jsonTypeName(v))
	}
	*out, *has = f, true
	return nil
}

// compilePattern compiles an ECMA-262 style pattern with package regexp. It
// returns (nil, nil) for a pattern that uses features RE2 lacks
// (look-around, back-references): such a pattern is not enforced.
func compilePattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(translatePattern(p))
	if err == nil {
		return re, nil
	}
	var se *syntax.Error
	if errors.As(err, &se) && (se.Code == syntax.ErrInvalidPerlOp || se.Code == syntax.ErrInvalidEscape) {
		return nil, nil
	}
	return nil, err
}

// translatePattern rewrites the ECMAScript escapes \uXXXX and \u{X...} to
// the RE2 form \x{...}.
func translatePattern(p string) string {
	if !strings.Contains(p, `\u`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '\\' || i+1 >= len(p) {
			b.WriteByte(c)
			continue
		}
		if p[i+1] != 'u' {
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
			continue
		}
		rest := p[i+2:]
		if len(rest) >= 4 && isHex(rest[:4]) {
			b.WriteString(`\x{` + rest[:4] + `}`)
			i += 5
			continue
		}
		if len(rest) > 2 && rest[0] == '{' {
			if end := strings.IndexByte(rest, '}'); end > 1 && isHex(rest[1:end]) {
				b.WriteString(`\x` + rest[:end+1])
				i += 1 + end + 1
				continue
			}
		}
		b.WriteString(`\u`)
		i++
	}
	return b.String()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isHexDigit(c) {
			return false
		}
	}
	return s != ""
}

func decodePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// resolve compiles the target of a local reference.
func (c *compiler) resolve(ptr, ref string) (*node, error) {
	bad := func(why string) error { return invalid(ptr+"/$ref", "bad $ref %q: %s", ref, why) }
	if !strings.HasPrefix(ref, "#") {
		return nil, bad("only references within the document (starting with #) are supported")
	}
	frag := decodePercent(ref[1:])
	if frag == "" {
		return c.compile("", c.root)
	}
	if frag[0] != '/' {
		return nil, bad("anchors are not supported, use a JSON pointer")
	}
	cur := c.root
	canon := ""
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = unescapeToken(tok)
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, bad(fmt.Sprintf("no %q at #%s", tok, canon))
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) || (len(tok) > 1 && tok[0] == '0') {
				return nil, bad(fmt.Sprintf("no element %q at #%s", tok, canon))
			}
			cur = x[i]
		default:
			return nil, bad(fmt.Sprintf("#%s is not an object or array", canon))
		}
		canon += "/" + escapeToken(tok)
	}
	switch cur.(type) {
	case bool, map[string]any:
	default:
		return nil, bad("it does not point to a schema")
	}
	return c.compile(canon, cur)
}

// checkCycles rejects schemas whose references loop back to a schema without
// descending into the value ({"$ref":"#"}, {"anyOf":[{"$ref":"#"}]}, ...):
// validating with them could only recurse forever.
func (c *compiler) checkCycles() error {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[*node]int, len(c.all))
	var visit func(n *node) error
	visit = func(n *node) error {
		switch state[n] {
		case active:
			return fmt.Errorf("%w: at %s: $ref cycle that never descends into the value", ErrInvalidSchema, n.loc)
		case done:
			return nil
		}
		state[n] = active
		next := make([]*node, 0, 1+len(n.allOf)+len(n.anyOf)+len(n.oneOf)+1)
		if n.ref != nil {
			next = append(next, n.ref)
		}
		next = append(next, n.allOf...)
		next = append(next, n.anyOf...)
		next = append(next, n.oneOf...)
		if n.not != nil {
			next = append(next, n.not)
		}
		for _, m := range next {
			if err := visit(m); err != nil {
				return err
			}
		}
		state[n] = done
		return nil
	}
	for _, n := range c.all {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// isHexDigit reports whether c is an ASCII hexadecimal digit.
func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isASCIILetter reports whether c is an ASCII letter.
func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
