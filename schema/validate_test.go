package schema_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/schema"
)

// keywordCases holds, for each keyword of SCHEMA-6, values that pass and
// values that fail.
var keywordCases = []struct {
	name   string
	schema string
	pass   []string
	fail   []string
}{
	{"type string", `{"type":"string"}`, []string{`"a"`, `""`}, []string{`42`, `null`, `true`, `["a"]`}},
	{"type integer", `{"type":"integer"}`, []string{`42`, `1.0`, `-3`, `1e3`}, []string{`1.5`, `"123"`, `true`, `null`}},
	{"type number", `{"type":"number"}`, []string{`1.5`, `1`, `-0.25`}, []string{`"1.5"`, `false`, `{}`}},
	{"type boolean", `{"type":"boolean"}`, []string{`true`, `false`}, []string{`1`, `"true"`, `null`}},
	{"type null", `{"type":"null"}`, []string{`null`}, []string{`0`, `""`, `false`}},
	{"type array", `{"type":"array"}`, []string{`[]`, `[1,"a"]`}, []string{`{}`, `"[]"`}},
	{"type object", `{"type":"object"}`, []string{`{}`, `{"a":1}`}, []string{`[]`, `"{}"`, `null`}},
	{"type list with null", `{"type":["string","null"]}`, []string{`"a"`, `null`}, []string{`1`}},
	{"type list", `{"type":["integer","string"]}`, []string{`1`, `"x"`}, []string{`1.5`, `null`}},
	{"enum", `{"enum":["a",1,null,{"x":[1]}]}`, []string{`"a"`, `1`, `1.0`, `null`, `{"x":[1]}`}, []string{`"b"`, `2`, `{"x":[2]}`, `[1]`}},
	{"const object", `{"const":{"a":1}}`, []string{`{"a":1}`, `{"a":1.0}`}, []string{`{"a":1,"b":2}`, `{"a":"1"}`}},
	{"const null", `{"const":null}`, []string{`null`}, []string{`false`, `0`}},
	{"anyOf", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, []string{`"x"`, `1`}, []string{`1.5`, `null`}},
	{"oneOf", `{"oneOf":[{"type":"integer"},{"type":"number"}]}`, []string{`1.5`}, []string{`1`, `"x"`}},
	{"oneOf ranges", `{"oneOf":[{"minimum":5},{"maximum":3}]}`, []string{`7`, `2`}, []string{`4`}},
	{"allOf", `{"allOf":[{"minimum":1},{"maximum":3}]}`, []string{`2`}, []string{`4`, `0`}},
	{"not", `{"not":{"type":"string"}}`, []string{`1`, `null`}, []string{`"x"`}},
	{"$ref to root", `{"type":"object","properties":{"child":{"$ref":"#"}},"additionalProperties":false}`,
		[]string{`{}`, `{"child":{"child":{}}}`}, []string{`{"child":{"x":1}}`, `{"child":5}`}},
	{"$ref to $defs", `{"$defs":{"pos":{"type":"integer","minimum":1}},"type":"array","items":{"$ref":"#/$defs/pos"}}`,
		[]string{`[1,2]`, `[]`}, []string{`[1,0]`, `["1"]`}},
	{"$ref pointer escapes", `{"$defs":{"a/b":{"type":"string"},"c~d":{"type":"integer"}},"properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c~0d"}}}`,
		[]string{`{"x":"s","y":1}`, `{}`}, []string{`{"x":1}`, `{"y":"s"}`}},
	{"$ref percent escape", `{"$defs":{"a b":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a%20b"}}}`,
		[]string{`{"x":"s"}`}, []string{`{"x":1}`}},
	{"$ref to a property", `{"properties":{"a":{"type":"string"},"b":{"$ref":"#/properties/a"}}}`,
		[]string{`{"b":"x"}`}, []string{`{"b":1}`}},
	{"$ref into an array", `{"prefixItems":[{"type":"string"}],"items":{"$ref":"#/prefixItems/0"}}`,
		[]string{`["a","b"]`}, []string{`["a",1]`}},
	{"$ref with siblings", `{"$defs":{"s":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/s","minLength":2}}}`,
		[]string{`{"x":"ab"}`}, []string{`{"x":"a"}`, `{"x":12}`}},
	{"properties", `{"properties":{"a":{"type":"string"}}}`, []string{`{"a":"x"}`, `{}`, `{"b":1}`}, []string{`{"a":1}`, `"str"`, `[]`}},
	{"required", `{"required":["a","b"]}`, []string{`{"a":null,"b":0}`}, []string{`{}`, `{"a":1}`, `[]`}},
	{"additionalProperties false", `{"properties":{"a":{}},"additionalProperties":false}`, []string{`{"a":1}`, `{}`}, []string{`{"a":1,"b":2}`}},
	{"additionalProperties false alone", `{"type":"object","additionalProperties":false}`, []string{`{}`}, []string{`{"a":1}`}},
	{"additionalProperties schema", `{"type":"object","additionalProperties":{"type":"integer"}}`, []string{`{"a":1}`, `{}`}, []string{`{"a":"x"}`}},
	{"additionalProperties empty schema", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{}}`, []string{`{"a":"x","b":[1]}`}, []string{`{"a":1}`}},
	{"patternProperties", `{"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}`, []string{`{"x-a":1}`, `{}`}, []string{`{"x-a":"s"}`, `{"y":1}`}},
	{"propertyNames", `{"propertyNames":{"maxLength":3}}`, []string{`{"abc":1}`}, []string{`{"abcd":1}`}},
	{"items", `{"items":{"type":"integer"}}`, []string{`[1,2]`, `[]`, `"not an array"`}, []string{`[1,"a"]`}},
	{"items false", `{"prefixItems":[{"type":"integer"}],"items":false}`, []string{`[1]`, `[]`}, []string{`[1,2]`, `["a"]`}},
	{"prefixItems", `{"prefixItems":[{"type":"integer"},{"type":"string"}]}`, []string{`[1,"a"]`, `[1]`, `[1,"a",true]`}, []string{`["a",1]`, `[1,2]`}},
	{"items after prefixItems", `{"prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, []string{`["a",1,2]`}, []string{`["a","b"]`, `[1]`}},
	{"items array (draft-07)", `{"items":[{"type":"integer"}],"additionalItems":false}`, []string{`[1]`}, []string{`[1,2]`, `["a"]`}},
	{"minItems maxItems", `{"minItems":1,"maxItems":2}`, []string{`[1]`, `[1,2]`}, []string{`[]`, `[1,2,3]`}},
	{"uniqueItems", `{"uniqueItems":true}`, []string{`[1,2]`, `[[1],[1,2]]`, `[{"a":1},{"a":2}]`, `[1,"1"]`}, []string{`[1,1.0]`, `[{"a":1},{"a":1}]`, `["x","y","x"]`}},
	{"minLength maxLength in characters", `{"minLength":2,"maxLength":3}`, []string{`"ab"`, `"héé"`, `"日本"`, `"😀😀😀"`}, []string{`"h"`, `"abcd"`, `"日本語x"`, `""`}},
	{"pattern is unanchored", `{"pattern":"b+"}`, []string{`"abbc"`, `"b"`, `5`}, []string{`"ac"`, `""`}},
	{"pattern anchored", `{"pattern":"^[a-z][a-z0-9-]*$"}`, []string{`"result-1"`}, []string{`"Result 1"`, `"1abc"`}},
	{"pattern ECMAScript \\u escape", `{"pattern":"^\\u00e9\\u{1F600}$"}`, []string{`"é😀"`}, []string{`"e😀"`}},
	{"pattern with look-ahead is not enforced", `{"type":"string","pattern":"^(?!x)"}`, []string{`"x"`, `"y"`}, []string{`1`}},
	{"minimum maximum", `{"minimum":1,"maximum":3}`, []string{`1`, `3`, `2.5`, `"x"`}, []string{`0`, `3.5`, `-1`}},
	{"exclusiveMinimum exclusiveMaximum", `{"exclusiveMinimum":1,"exclusiveMaximum":3}`, []string{`2`, `1.0001`}, []string{`1`, `3`}},
	{"exclusiveMinimum draft-04", `{"minimum":1,"exclusiveMinimum":true}`, []string{`1.5`}, []string{`1`}},
	{"safe integer bounds", `{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}`, []string{`9007199254740991`, `0`}, []string{`9007199254740992`, `-9007199254740993`}},
	{"multipleOf float", `{"multipleOf":0.1}`, []string{`0.3`, `1`, `0`}, []string{`0.35`}},
	{"multipleOf int", `{"multipleOf":5}`, []string{`10`, `-5`}, []string{`7`, `2.5`}},
	{"multipleOf quarter", `{"multipleOf":0.25}`, []string{`0.75`}, []string{`0.3`}},
	{"minProperties maxProperties", `{"minProperties":1,"maxProperties":2}`, []string{`{"a":1}`, `{"a":1,"b":2}`}, []string{`{}`, `{"a":1,"b":2,"c":3}`}},
	{"true schema", `true`, []string{`null`, `1`, `"x"`, `{}`, `[]`}, nil},
	{"false schema", `false`, nil, []string{`null`, `1`, `{}`}},
	{"empty schema", `{}`, []string{`null`, `1`, `"x"`, `{"a":[1]}`}, nil},
	{"false subschema", `{"properties":{"a":false}}`, []string{`{}`}, []string{`{"a":null}`}},
	{"unknown keywords are ignored", `{"type":"string","format":"x-custom","x-foo":{"type":"integer"},"if":{"type":"string"},"then":false}`, []string{`"anything"`}, []string{`1`}},
	{"nullable object", `{"type":["object","null"],"properties":{"a":{"type":"integer"}},"required":["a"]}`, []string{`null`, `{"a":1}`}, []string{`{"a":"x"}`, `{}`, `5`}},
	{"nullable ref", `{"$defs":{"N":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/N"},{"type":"null"}]}}}},"$ref":"#/$defs/N"}`,
		[]string{`{"next":{"next":null}}`, `{}`}, []string{`{"next":1}`, `{"next":{"next":"x"}}`, `null`}},
}

func TestKeywords(t *testing.T) {
	for _, tc := range keywordCases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.schema)
			for _, useNumber := range []bool{false, true} {
				for _, v := range tc.pass {
					if err := s.Validate(decode(t, v, useNumber)); err != nil {
						t.Errorf("%s (json.Number %v): want pass, got %v", v, useNumber, err)
					}
				}
				for _, v := range tc.fail {
					err := s.Validate(decode(t, v, useNumber))
					if err == nil {
						t.Errorf("%s (json.Number %v): want failure, got nil", v, useNumber)
						continue
					}
					if !errors.Is(err, schema.ErrMismatch) {
						t.Errorf("%s: error %v does not wrap ErrMismatch", v, err)
					}
				}
			}
		})
	}
}

func TestMismatchErrorMessage(t *testing.T) {
	tests := []struct {
		schema, value, ident, path, reason string
	}{
		{`{"type":"string"}`, `42`, "string", "#", "expected string, got number 42"},
		{`{"type":"integer"}`, `1.5`, "number", "#", "expected integer, got number 1.5"},
		{`{"type":["string","null"]}`, `1`, "string", "#", "expected string or null, got number 1"},
		{`{"type":"object","properties":{"quota":{"type":"integer"}}}`, `{"quota":"10"}`, "object", "#/quota", `expected integer, got string "10"`},
		{`{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}}`, `{"tags":["a",3]}`, "object", "#/tags/1", "expected string"},
		{`{"type":"object","properties":{"a/b":{"type":"string"}}}`, `{"a/b":1}`, "object", "#/a~1b", "expected string"},
		{`{"type":"object","required":["user_id"]}`, `{}`, "object", "#", `required property "user_id" is missing`},
		{`{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"a":1,"zz":2,"b":3}`, "object", "#", `property "b" is not allowed`},
		{`{"type":"array","items":{"type":"object","properties":{"n":{"anyOf":[{"type":"integer","maximum":3},{"type":"null"}]}}}}`, `[{"n":1},{"n":4}]`, "array", "#/1/n", "greater than maximum 3"},
		{`{"type":"string","minLength":3}`, `"é"`, "string", "#", "fewer than minLength 3"},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `1.5`, "any", "#", "expected string or integer, got number 1.5"},
		{`{"anyOf":[{"minimum":5},{"maximum":0}]}`, `3`, "any", "#", "matches none of the 2 anyOf alternatives"},
		{`{"anyOf":[{"type":"string"},{"minimum":3}]}`, `1`, "any", "#", "number 1 is less than minimum 3"},
		{`{"type":"boolean"}`, `"true"`, "boolean", "#", "expected boolean"},
		{`{"type":"null"}`, `0`, "null", "#", "expected null"},
		{`{"items":{"type":"integer"},"type":"array"}`, `[1,"x"]`, "array", "#/1", "expected integer"},
	}
	for _, tc := range tests {
		s := mustParse(t, tc.schema)
		err := s.Validate(decode(t, tc.value, false))
		var me *schema.MismatchError
		if !errors.As(err, &me) {
			t.Errorf("%s / %s: want *MismatchError, got %v", tc.schema, tc.value, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "did not match expected event_result_type") || !strings.Contains(msg, tc.ident) || !strings.Contains(msg, tc.reason) {
			t.Errorf("%s / %s: message %q lacks the identifier %q or reason %q", tc.schema, tc.value, msg, tc.ident, tc.reason)
		}
		if me.Identifier != tc.ident || me.Path != tc.path {
			t.Errorf("%s / %s: identifier %q path %q, want %q %q", tc.schema, tc.value, me.Identifier, me.Path, tc.ident, tc.path)
		}
		if !strings.HasPrefix(msg, "ringbus: ") {
			t.Errorf("message %q lacks the ringbus: prefix", msg)
		}
	}
}

func TestIdentifier(t *testing.T) {
	tests := map[string]string{
		`{"type":"string"}`:                                   "string",
		`{"type":"integer"}`:                                  "number",
		`{"type":"number"}`:                                   "number",
		`{"type":"boolean"}`:                                  "boolean",
		`{"type":"object"}`:                                   "object",
		`{"type":"array"}`:                                    "array",
		`{"type":"null"}`:                                     "null",
		`{"type":["integer","null"]}`:                         "number",
		`{"type":["integer","number"]}`:                       "number",
		`{"type":["string","integer"]}`:                       "any",
		`{"anyOf":[{"type":"string"},{"type":"null"}]}`:       "string",
		`{"anyOf":[{"type":"string"},{"type":"integer"}]}`:    "any",
		`{"oneOf":[{"type":"array"},{"type":"null"}]}`:        "array",
		`{"$defs":{"a":{"type":"array"}},"$ref":"#/$defs/a"}`: "array",
		`{"allOf":[{},{"type":"boolean"}]}`:                   "boolean",
		`{"properties":{}}`:                                   "object",
		`{"const":"x"}`:                                       "string",
		`{"enum":[1,2.5]}`:                                    "number",
		`{"enum":[1,"a"]}`:                                    "any",
		`{}`:                                                  "any",
		`true`:                                                "any",
	}
	for src, want := range tests {
		if got := mustParse(t, src).Identifier(); got != want {
			t.Errorf("Identifier(%s) = %q, want %q", src, got, want)
		}
	}
	var nilSchema *schema.Schema
	if got := nilSchema.Identifier(); got != "any" {
		t.Errorf("nil Identifier = %q", got)
	}
}

type myString string
type myInt int

type textID struct{ n int }

func (t textID) MarshalText() ([]byte, error) { return []byte("id-" + string(rune('0'+t.n))), nil }

func TestValidateGoValues(t *testing.T) {
	str := mustParse(t, `{"type":"string","minLength":2}`)
	integer := mustParse(t, `{"type":"integer","maximum":10}`)
	number := mustParse(t, `{"type":"number","multipleOf":0.1}`)
	boolean := mustParse(t, `{"type":"boolean"}`)
	obj := mustParse(t, `{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}},"required":["a"]}`)
	nullable := mustParse(t, `{"type":["integer","null"]}`)
	f32 := float32(0.3)
	three := 3
	tests := []struct {
		s    *schema.Schema
		v    any
		pass bool
	}{
		{str, "ab", true},
		{str, myString("ab"), true},
		{str, myString("a"), false},
		{str, textID{1}, true},
		{str, []byte("hello"), true}, // base64 string
		{str, 42, false},
		{integer, 7, true},
		{integer, int8(7), true},
		{integer, uint64(7), true},
		{integer, myInt(7), true},
		{integer, myInt(11), false},
		{integer, 7.0, true},
		{integer, 7.5, false},
		{integer, "7", false},
		{integer, true, false},
		{integer, json.Number("7"), true},
		{integer, json.Number("7.00"), true},
		{integer, &three, true},
		{number, f32, true},
		{number, 0.3, true},
		{number, 0.35, false},
		{boolean, true, true},
		{boolean, 1, false},
		{obj, map[string]any{"a": []int{1, 2}}, true},
		{obj, map[string]any{"a": []any{1, "2"}}, false},
		{obj, map[string][]int{"a": {1}}, true},
		{obj, struct {
			A []int `json:"a"`
		}{[]int{1}}, true},
		{obj, struct {
			A []string `json:"a"`
		}{[]string{"x"}}, false},
		{obj, map[string]any{"b": 1}, false},
		{obj, map[string]any{"a": make(chan int)}, false},
		{nullable, nil, true},
		{nullable, (*int)(nil), true},
		{nullable, 4, true},
		{nullable, "x", false},
	}
	for i, tc := range tests {
		err := tc.s.Validate(tc.v)
		if (err == nil) != tc.pass {
			t.Errorf("case %d: Validate(%#v) against %s = %v, want pass %v", i, tc.v, tc.s, err, tc.pass)
		}
	}
}

func TestNilSchemaAcceptsEverything(t *testing.T) {
	var s *schema.Schema
	for _, v := range []any{nil, 1, "x", map[string]any{}} {
		if err := s.Validate(v); err != nil {
			t.Errorf("nil schema rejected %v: %v", v, err)
		}
	}
	var zero schema.Schema
	if err := zero.Validate(1); err != nil {
		t.Errorf("zero schema rejected 1: %v", err)
	}
}

func TestValidateDoesNotAllocate(t *testing.T) {
	str := mustParse(t, `{"type":"string","pattern":"^a"}`)
	obj := mustParse(t, benchStructSchema)
	value := decode(t, benchStructValue, false)
	var s any = "abc"
	var n any = 42
	var f any = 1.5
	cases := []struct {
		name string
		s    *schema.Schema
		v    any
	}{
		{"string", str, s},
		{"int against string (quiet failure path excluded)", mustParse(t, `{"type":"integer"}`), n},
		{"float", mustParse(t, `{"type":"number","minimum":0}`), f},
		{"object", obj, value},
		{"nullable", mustParse(t, `{"anyOf":[{"type":"string"},{"type":"null"}]}`), s},
	}
	for _, tc := range cases {
		if err := tc.s.Validate(tc.v); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if allocs := testing.AllocsPerRun(100, func() { _ = tc.s.Validate(tc.v) }); allocs != 0 {
			t.Errorf("%s: %v allocations per Validate, want 0", tc.name, allocs)
		}
	}
}

func TestConcurrentValidate(t *testing.T) {
	s := mustParse(t, benchStructSchema)
	good := decode(t, benchStructValue, false)
	bad := decode(t, `{"id":"x","count":1.5,"ok":true,"ratio":0.5,"labels":{}}`, false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := s.Validate(good); err != nil {
					t.Error(err)
					return
				}
				if err := s.Validate(bad); err == nil {
					t.Error("bad value accepted")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDeeplyNestedValue(t *testing.T) {
	s := mustParse(t, `{"$defs":{"L":{"type":"array","items":{"$ref":"#/$defs/L"}}},"$ref":"#/$defs/L"}`)
	v := any([]any{})
	for range 500 {
		v = []any{v}
	}
	if err := s.Validate(v); err != nil {
		t.Fatal(err)
	}
	self := map[string]any{}
	self["me"] = self
	if err := mustParse(t, `{"$defs":{"O":{"type":"object","additionalProperties":{"$ref":"#/$defs/O"}}},"$ref":"#/$defs/O"}`).Validate(self); err == nil {
		t.Fatal("self-containing map accepted")
	}
}

func TestCostIsBounded(t *testing.T) {
	// Each level tries both alternatives before failing: 2^depth evaluations
	// without the step budget.
	s := mustParse(t, `{"anyOf":[{"type":"integer"},{"type":"array","items":{"anyOf":[{"$ref":"#"},{"$ref":"#"}]}}]}`)
	v := any("leaf")
	for range 60 {
		v = []any{v}
	}
	err := s.Validate(v)
	var me *schema.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("got %v", err)
	}
	// The step budget, not a clock, bounds the work: the value is rejected
	// because the budget ran out (no timing assertion, which a loaded
	// machine turns into a flake).
	if !strings.Contains(me.Reason, "steps; the schema is too costly") {
		t.Errorf("rejected for %q, want the step budget", me.Reason)
	}
	// a cheap value still passes
	if err := s.Validate([]any{[]any{1}, 2}); err != nil {
		t.Error(err)
	}
}

func TestUniqueItemsLong(t *testing.T) {
	s := mustParse(t, `{"uniqueItems":true}`)
	prims := make([]any, 0, 1000)
	for i := range 1000 {
		prims = append(prims, float64(i))
	}
	if err := s.Validate(prims); err != nil {
		t.Error(err)
	}
	var me *schema.MismatchError
	if err := s.Validate(append(prims, "x", 999.0)); !errors.As(err, &me) || !strings.Contains(me.Reason, "items 999 and 1001") {
		t.Errorf("got %v", err)
	}
	objs := make([]any, 0, 100)
	for i := range 100 {
		objs = append(objs, map[string]any{"i": float64(i)})
	}
	if err := s.Validate(objs); err != nil {
		t.Error(err)
	}
	if err := s.Validate(append(objs, map[string]any{"i": 5.0})); err == nil {
		t.Error("duplicate object accepted")
	}
}
