package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds how deep a value may nest; it only matters for values that
// contain themselves (a map[string]any holding itself), which have no JSON
// form.
const maxDepth = 10000

// maxSteps bounds the number of (schema, value) evaluations of one
// Validate call. Combinators over recursive references can need time
// exponential in the depth of the value ({"items":{"anyOf":[{"$ref":"#"},
// {"$ref":"#"}]}} against deeply nested arrays); past this budget the value
// is rejected instead.
const maxSteps = 1 << 24

// evalState is shared by all the evaluations of one Validate pass.
type evalState struct {
	steps     int
	exhausted bool
}

// failure describes where and why a value failed. In quiet mode (detail
// false) evaluation returns the shared quietFailure and builds nothing.
type failure struct {
	segs   []string // value path, innermost first, tokens escaped
	reason string
}

var quietFailure = &failure{reason: "value did not match"}

func (f *failure) at(seg string) *failure {
	if f != quietFailure {
		f.segs = append(f.segs, seg)
	}
	return f
}

func (f *failure) path() string {
	var b strings.Builder
	b.WriteByte('#')
	for i := len(f.segs) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(f.segs[i])
	}
	return b.String()
}

func failf(format string, args ...any) *failure {
	return &failure{reason: fmt.Sprintf(format, args...)}
}

// accepts reports whether the type set admits the value.
func (m typeMask) accepts(v *jval) bool {
	switch v.kind {
	case kNull:
		return m&tNull != 0
	case kBool:
		return m&tBoolean != 0
	case kString:
		return m&tString != 0
	case kArray:
		return m&tArray != 0
	case kObject:
		return m&tObject != 0
	default:
		return v.finite && (m&tNumber != 0 || m&tInteger != 0 && v.integral())
	}
}

// eval validates v (already passed through toNative) against n. It returns
// nil on success. With detail false it returns quietFailure on failure and
// does not allocate.
func (n *node) eval(v any, detail bool, depth int, st *evalState) *failure {
	if n.boolean {
		if n.allow {
			return nil
		}
		if !detail {
			return quietFailure
		}
		return failf("no value is allowed here (false schema at %s)", n.loc)
	}
	if st.steps++; st.steps > maxSteps {
		st.exhausted = true
		return quietFailure
	}
	if depth > maxDepth {
		if !detail {
			return quietFailure
		}
		return failf("value is nested more than %d levels deep", maxDepth)
	}
	jv := classify(v)
	if n.types != 0 && !n.types.accepts(&jv) {
		if !detail {
			return quietFailure
		}
		return failf("expected %s, got %s", n.types, describe(&jv))
	}
	if n.implicitObject && jv.kind != kObject {
		if !detail {
			return quietFailure
		}
		return failf("expected object, got %s", describe(&jv))
	}
	if n.ref != nil {
		if f := n.ref.eval(v, detail, depth, st); f != nil {
			return f
		}
	}
	if n.hasConst && !equal(v, n.constVal) {
		if !detail {
			return quietFailure
		}
		return failf("expected the const value %s, got %s", short(n.constVal), describe(&jv))
	}
	if n.hasEnum && !inEnum(v, n.enum) {
		if !detail {
			return quietFailure
		}
		return failf("got %s, which is not one of the enum values %s", describe(&jv), short(n.enum))
	}
	for _, s := range n.allOf {
		if f := s.eval(v, detail, depth, st); f != nil {
			return f
		}
	}
	if n.anyOf != nil {
		matched := false
		for _, s := range n.anyOf {
			if s.eval(v, false, depth, st) == nil {
				matched = true
				break
			}
		}
		if !matched {
			if !detail {
				return quietFailure
			}
			if s := soleCandidate(n.anyOf, &jv); s != nil {
				return s.eval(v, true, depth, st)
			}
			if m := unionTypes(n.anyOf); m != 0 && !m.accepts(&jv) {
				return failf("expected %s, got %s", m, describe(&jv))
			}
			return failf("got %s, which matches none of the %d anyOf alternatives", describe(&jv), len(n.anyOf))
		}
	}
	if n.oneOf != nil {
		matches := 0
		for _, s := range n.oneOf {
			if s.eval(v, false, depth, st) == nil {
				matches++
			}
		}
		if matches != 1 {
			if !detail {
				return quietFailure
			}
			if matches == 0 {
				if s := soleCandidate(n.oneOf, &jv); s != nil {
					return s.eval(v, true, depth, st)
				}
			}
			return failf("got %s, which matches %d of the oneOf alternatives instead of exactly one", describe(&jv), matches)
		}
	}
	if n.not != nil && n.not.eval(v, false, depth, st) == nil {
		if !detail {
			return quietFailure
		}
		return failf("got %s, which matches the schema in \"not\" at %s", describe(&jv), n.not.loc)
	}
	switch jv.kind {
	case kString:
		return n.evalString(&jv, detail)
	case kNumber:
		return n.evalNumber(&jv, detail)
	case kArray:
		return n.evalArray(&jv, detail, depth, st)
	case kObject:
		return n.evalObject(&jv, detail, depth, st)
	}
	return nil
}

// soleCandidate returns the only alternative whose type admits the value, so
// that a failed nullable union (anyOf [X, null]) reports the failure inside X.
func soleCandidate(alts []*node, jv *jval) *node {
	var found *node
	for _, s := range alts {
		if !s.mayAccept(jv, 0) {
			continue
		}
		if found != nil {
			return nil
		}
		found = s
	}
	return found
}

// unionTypes returns the union of the types the alternatives allow, or 0 if
// one of them does not restrict the type.
func unionTypes(alts []*node) typeMask {
	var m typeMask
	for _, s := range alts {
		t := s.types
		for d := 0; t == 0 && s.ref != nil && d < 32; d++ {
			s = s.ref
			t = s.types
		}
		if t == 0 {
			return 0
		}
		m |= t
	}
	return m
}

// mayAccept is a shallow check of type constraints only.
func (n *node) mayAccept(jv *jval, depth int) bool {
	if n.boolean {
		return n.allow
	}
	if n.types != 0 && !n.types.accepts(jv) || n.implicitObject && jv.kind != kObject {
		return false
	}
	if n.ref != nil && depth < 32 {
		return n.ref.mayAccept(jv, depth+1)
	}
	return true
}

func (n *node) evalString(jv *jval, detail bool) *failure {
	if n.minLength >= 0 || n.maxLength >= 0 {
		l := utf8.RuneCountInString(jv.str)
		if n.minLength >= 0 && l < n.minLength {
			if !detail {
				return quietFailure
			}
			return failf("string has %d characters, fewer than minLength %d", l, n.minLength)
		}
		if n.maxLength >= 0 && l > n.maxLength {
			if !detail {
				return quietFailure
			}
			return failf("string has %d characters, more than maxLength %d", l, n.maxLength)
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(jv.str) {
		if !detail {
			return quietFailure
		}
		return failf("%s does not match pattern %q", describe(jv), n.pattern.String())
	}
	if n.format != nil && !n.format(jv.str) {
		if !detail {
			return quietFailure
		}
		return failf("%s is not a valid %s", describe(jv), n.formatName)
	}
	return nil
}

func (n *node) evalNumber(jv *jval, detail bool) *failure {
	x := jv.num
	if n.hasMin && !(x >= n.min) {
		if !detail {
			return quietFailure
		}
		return failf("%s is less than minimum %v", describe(jv), n.min)
	}
	if n.hasMax && !(x <= n.max) {
		if !detail {
			return quietFailure
		}
		return failf("%s is greater than maximum %v", describe(jv), n.max)
	}
	if n.hasExMin && !(x > n.exMin) {
		if !detail {
			return quietFailure
		}
		return failf("%s is not greater than exclusiveMinimum %v", describe(jv), n.exMin)
	}
	if n.hasExMax && !(x < n.exMax) {
		if !detail {
			return quietFailure
		}
		return failf("%s is not less than exclusiveMaximum %v", describe(jv), n.exMax)
	}
	if n.multipleOf > 0 {
		q := x / n.multipleOf
		if math.IsInf(q, 0) || math.IsNaN(q) || math.Abs(q-math.Round(q)) >= 1e-9 {
			if !detail {
				return quietFailure
			}
			return failf("%s is not a multiple of %v", describe(jv), n.multipleOf)
		}
	}
	return nil
}

func (n *node) evalArray(jv *jval, detail bool, depth int, st *evalState) *failure {
	arr := jv.arr
	if n.minItems >= 0 && len(arr) < n.minItems {
		if !detail {
			return quietFailure
		}
		return failf("array has %d items, fewer than minItems %d", len(arr), n.minItems)
	}
	if n.maxItems >= 0 && len(arr) > n.maxItems {
		if !detail {
			return quietFailure
		}
		return failf("array has %d items, more than maxItems %d", len(arr), n.maxItems)
	}
	for i, e := range arr {
		var s *node
		switch {
		case i < len(n.prefixItems):
			s = n.prefixItems[i]
		case n.items != nil:
			s = n.items
		default:
			continue
		}
		if f := evalChild(s, e, detail, depth, st); f != nil {
			return f.at(strconv.Itoa(i))
		}
	}
	if c := n.contains; c != nil {
		matches := 0
		for _, e := range arr {
			if evalChild(c, e, false, depth, st) == nil {
				matches++
			}
		}
		if matches < n.minContains || n.maxContains >= 0 && matches > n.maxContains {
			if !detail {
				return quietFailure
			}
			return failf("array has %d items matching contains, outside minContains %d and maxContains %d", matches, n.minContains, n.maxContains)
		}
	}
	if n.uniqueItems {
		if j, i := duplicate(arr, st); i >= 0 {
			if !detail {
				return quietFailure
			}
			return failf("items %d and %d are equal but uniqueItems is set", j, i)
		}
	}
	return nil
}

func (n *node) evalObject(jv *jval, detail bool, depth int, st *evalState) *failure {
	obj := jv.obj
	if n.minProps >= 0 && len(obj) < n.minProps {
		if !detail {
			return quietFailure
		}
		return failf("object has %d properties, fewer than minProperties %d", len(obj), n.minProps)
	}
	if n.maxProps >= 0 && len(obj) > n.maxProps {
		if !detail {
			return quietFailure
		}
		return failf("object has %d properties, more than maxProperties %d", len(obj), n.maxProps)
	}
	if detail {
		return n.evalObjectDetail(obj, depth, st)
	}
	for _, name := range n.requiredOther {
		if _, ok := obj[name]; !ok {
			return quietFailure
		}
	}
	if n.props == nil && n.patternProps == nil && n.additional == nil && n.propertyNames == nil {
		return nil
	}
	found := 0
	for k, e := range obj {
		p, declared := n.props[k]
		if p.required {
			found++
		}
		if n.evalMember(k, e, p.schema, declared, false, depth, st) != nil {
			return quietFailure
		}
	}
	if found != n.requiredProps {
		return quietFailure
	}
	return nil
}

// evalObjectDetail is evalObject in detail mode: members are visited in
// sorted order so that the failure reported is deterministic.
func (n *node) evalObjectDetail(obj map[string]any, depth int, st *evalState) *failure {
	for _, name := range n.required {
		if _, ok := obj[name]; !ok {
			return failf("required property %q is missing", name)
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, declared := n.props[k]
		if f := n.evalMember(k, obj[k], p.schema, declared, true, depth, st); f != nil {
			return f
		}
	}
	return nil
}

// evalMember applies propertyNames, properties, patternProperties and
// additionalProperties to one member of an object.
func (n *node) evalMember(k string, e any, prop *node, declared, detail bool, depth int, st *evalState) *failure {
	if n.propertyNames != nil {
		if f := n.propertyNames.eval(k, detail, depth+1, st); f != nil {
			if detail {
				f.reason = fmt.Sprintf("property name %q: %s", k, f.reason)
			}
			return f
		}
	}
	if declared {
		if f := evalChild(prop, e, detail, depth, st); f != nil {
			return f.at(escapeToken(k))
		}
	}
	matched := declared
	for _, pp := range n.patternProps {
		if pp.re != nil && !pp.re.MatchString(k) {
			continue
		}
		matched = true
		if f := evalChild(pp.schema, e, detail, depth, st); f != nil {
			return f.at(escapeToken(k))
		}
	}
	if !matched && n.additional != nil {
		if n.additional.boolean && !n.additional.allow {
			if !detail {
				return quietFailure
			}
			return failf("property %q is not allowed (additionalProperties is false)", k)
		}
		if f := evalChild(n.additional, e, detail, depth, st); f != nil {
			return f.at(escapeToken(k))
		}
	}
	return nil
}

// evalChild validates an element of an array or object, converting a
// non-native Go value first.
func evalChild(s *node, e any, detail bool, depth int, st *evalState) *failure {
	ne, err := toNative(e)
	if err != nil {
		if !detail {
			return quietFailure
		}
		return failf("value has no JSON form: %v", err)
	}
	return s.eval(ne, detail, depth+1, st)
}

func inEnum(v any, enum []any) bool {
	for _, e := range enum {
		if equal(v, e) {
			return true
		}
	}
	return false
}

// short renders a schema value compactly for an error message.
func short(v any) string {
	s := fmt.Sprint(v)
	if b, err := json.Marshal(v); err == nil {
		s = string(b)
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return s
}

// primKey identifies a primitive JSON value, for duplicate detection.
type primKey struct {
	kind kind
	b    bool
	num  float64
	str  string
}

// duplicate returns the indexes j < i of the first pair of equal elements,
// or -1, -1. Short arrays are compared pairwise; longer ones of primitives
// through a map; longer ones with objects or arrays pairwise, each
// comparison counted against the step budget.
func duplicate(arr []any, st *evalState) (int, int) {
	if len(arr) > 32 {
		seen := make(map[primKey]int, len(arr))
		composite := false
		for i, e := range arr {
			jv := classify(e)
			if jv.kind == kArray || jv.kind == kObject {
				composite = true
				break
			}
			k := primKey{kind: jv.kind, b: jv.b, num: jv.num, str: jv.str}
			if j, ok := seen[k]; ok {
				return j, i
			}
			seen[k] = i
		}
		if !composite {
			return -1, -1
		}
	}
	for i := 1; i < len(arr); i++ {
		for j := 0; j < i; j++ {
			if st.steps++; st.steps > maxSteps {
				st.exhausted = true
				return -1, -1
			}
			if equal(arr[i], arr[j]) {
				return j, i
			}
		}
	}
	return -1, -1
}
