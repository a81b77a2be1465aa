package schema

import (
	"slices"
	"strings"
)

// Keywords whose values are subschemas, by shape. Normalisation and $ref
// rewriting walk only these, so const, enum, default, examples and unknown
// keywords are never changed.
var (
	schemaMapKeywords = map[string]bool{
		"properties": true, "patternProperties": true, "$defs": true,
		"definitions": true, "dependentSchemas": true,
	}
	schemaListKeywords = map[string]bool{
		"anyOf": true, "oneOf": true, "allOf": true, "prefixItems": true,
		"items": true, // the draft-07 array form; the schema form is below
	}
	schemaKeywords = map[string]bool{
		"items": true, "additionalProperties": true, "additionalItems": true,
		"not": true, "propertyNames": true, "contains": true, "if": true,
		"then": true, "else": true, "unevaluatedItems": true,
		"unevaluatedProperties": true, "contentSchema": true,
	}
)

// visitSchemas calls fn on every schema object of the document v, children
// before their parent.
func visitSchemas(v any, fn func(map[string]any)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range m {
		if schemaMapKeywords[k] {
			if mm, ok := sub.(map[string]any); ok {
				for _, s := range mm {
					visitSchemas(s, fn)
				}
			}
			continue
		}
		if list, ok := sub.([]any); ok && schemaListKeywords[k] {
			for _, s := range list {
				visitSchemas(s, fn)
			}
			continue
		}
		if schemaKeywords[k] {
			visitSchemas(sub, fn)
		}
	}
	fn(m)
}

// normalize applies the SCHEMA-3 rules (see the package documentation) to a
// freshly decoded document, modifying it in place, and returns the new root.
func normalize(doc any) any {
	visitSchemas(doc, normalizeNode)
	root, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	for {
		next, ok := inlineRootRef(root)
		if !ok {
			break
		}
		root = next
	}
	if _, ok := root["$schema"]; !ok {
		root["$schema"] = Draft202012
	}
	return root
}

// normalizeNode sorts "required" and rewrites nullable type arrays.
func normalizeNode(m map[string]any) {
	if req, ok := m["required"].([]any); ok && allStrings(req) {
		slices.SortFunc(req, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	}
	types, ok := m["type"].([]any)
	if !ok || !allStrings(types) {
		return
	}
	if _, has := m["anyOf"]; has {
		return
	}
	var others []any
	hasNull := false
	for _, t := range types {
		if t == "null" {
			hasNull = true
		} else {
			others = append(others, t)
		}
	}
	if !hasNull || len(others) == 0 {
		return
	}
	var first map[string]any
	if len(others) == 1 {
		first = map[string]any{"type": others[0]}
	} else {
		first = map[string]any{"type": others}
	}
	delete(m, "type")
	m["anyOf"] = []any{first, map[string]any{"type": "null"}}
}

func allStrings(list []any) bool {
	for _, e := range list {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

const defsPrefix = "#/$defs/"

// inlineRootRef performs one step of root-$ref inlining. It reports false
// when the root is not a reference to an inlinable definition.
func inlineRootRef(root map[string]any) (map[string]any, bool) {
	ref, ok := root["$ref"].(string)
	if !ok || !strings.HasPrefix(ref, defsPrefix) {
		return nil, false
	}
	escaped := ref[len(defsPrefix):]
	if escaped == "" || strings.Contains(escaped, "/") {
		return nil, false
	}
	name := unescapeToken(decodePercent(escaped))
	defs, ok := root["$defs"].(map[string]any)
	if !ok {
		return nil, false
	}
	def, ok := defs[name].(map[string]any)
	if !ok {
		return nil, false
	}
	if _, nested := def["$defs"]; nested {
		return nil, false
	}
	delete(defs, name)
	rewrite := func(m map[string]any) {
		r, ok := m["$ref"].(string)
		if !ok {
			return
		}
		if r == ref {
			m["$ref"] = "#"
		} else if strings.HasPrefix(r, ref+"/") {
			m["$ref"] = "#" + r[len(ref):]
		}
	}
	visitSchemas(def, rewrite)
	for _, d := range defs {
		visitSchemas(d, rewrite)
	}
	if len(defs) > 0 {
		def["$defs"] = defs
	}
	if _, has := def["title"]; !has && !strings.HasPrefix(name, "__schema") {
		def["title"] = name
	}
	return def, true
}
