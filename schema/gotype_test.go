package schema_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/schema"
)

type Address struct {
	Street string `json:"street"`
	Zip    string `json:"zip,omitempty"`
}

type User struct {
	Name    string   `json:"name"`
	Age     int      `json:"age"`
	Home    Address  `json:"home"`
	Work    *Address `json:"work"`
	Nick    string   `json:"nick,omitempty"`
	Score   float64  `json:"score,omitzero"`
	Skipped string   `json:"-"`
	Dash    string   `json:"-,"` //nolint:staticcheck // SA5008: "-," names the field "-", the case under test
	Count   int64    `json:"count,string"`
	private int      //nolint:unused // an unexported field, which the schema must leave out
}

type Node struct {
	Name     string
	Children []Node
	Next     *Node
}

type Timestamps struct {
	CreatedAt time.Time `json:"created_at"`
}

type Inner struct {
	ID    string `json:"id"`
	Shade string `json:"shade"`
}

type Other struct {
	Shade string `json:"shade"`
	Flag  bool   `json:"flag"`
}

type Embedding struct {
	Inner
	*Other
	Timestamps
	Own   string `json:"own"`
	Shade int    `json:"shade"` // shallower than Inner.Shade and Other.Shade
}

type Tagged struct {
	Inner `json:"inner"` // a tag name makes it a plain field
}

type Conflict struct {
	A1
	A2
}

type A1 struct{ X, Y string }
type A2 struct {
	X string
	Y string `json:"Y"`
}

type Misc struct {
	Any   any             `json:"any"`
	Raw   json.RawMessage `json:"raw"`
	Bytes []byte          `json:"bytes"`
	Arr   [2]int          `json:"arr"`
	Keys  map[int]string  `json:"keys"`
	U     uint16          `json:"u"`
	When  *time.Time      `json:"when,omitempty"`
}

type List []List

// js marks a test value given as JSON text.
type js string

func TestForShapes(t *testing.T) {
	tests := []struct {
		name string
		got  func() (*schema.Schema, error)
		want string
	}{
		{"int", schema.For[int], `{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}`},
		{"int64", schema.For[int64], `{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}`},
		{"int8", schema.For[int8], `{"type":"integer","minimum":-128,"maximum":127}`},
		{"uint64", schema.For[uint64], `{"type":"integer","minimum":0,"maximum":9007199254740991}`},
		{"uint", schema.For[uint32], `{"type":"integer","minimum":0,"maximum":4294967295}`},
		{"float64", schema.For[float64], `{"type":"number"}`},
		{"float32", schema.For[float32], `{"type":"number"}`},
		{"string", schema.For[string], `{"type":"string"}`},
		{"bool", schema.For[bool], `{"type":"boolean"}`},
		{"[]string", schema.For[[]string], `{"type":"array","items":{"type":"string"}}`},
		{"[3]bool", schema.For[[3]bool], `{"type":"array","items":{"type":"boolean"},"minItems":3,"maxItems":3}`},
		{"map[string]int", schema.For[map[string]int], `{"type":"object","additionalProperties":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}}`},
		{"map[string][]int", schema.For[map[string][]int], `{"type":"object","additionalProperties":{"type":"array","items":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}}}`},
		{"*string", schema.For[*string], `{"anyOf":[{"type":"string"},{"type":"null"}]}`},
		{"**string", schema.For[**string], `{"anyOf":[{"type":"string"},{"type":"null"}]}`},
		{"any", schema.For[any], `{}`},
		{"error interface", schema.For[error], `{}`},
		{"time.Time", schema.For[time.Time], `{"type":"string","format":"date-time"}`},
		{"json.RawMessage", schema.For[json.RawMessage], `{}`},
		{"[]byte", schema.For[[]byte], `{"type":"string"}`},
		{"nested struct", schema.For[User], `{
			"title":"User","type":"object",
			"properties":{
				"name":{"type":"string"},"age":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991},
				"home":{"$ref":"#/$defs/Address"},
				"work":{"anyOf":[{"$ref":"#/$defs/Address"},{"type":"null"}]},
				"nick":{"type":"string"},"score":{"type":"number"},
				"-":{"type":"string"},"count":{"type":"string"}},
			"required":["-","age","count","home","name"],
			"$defs":{"Address":{"title":"Address","type":"object",
				"properties":{"street":{"type":"string"},"zip":{"type":"string"}},"required":["street"]}}}`},
		{"recursive struct", schema.For[Node], `{
			"title":"Node","type":"object",
			"properties":{
				"Name":{"type":"string"},
				"Children":{"type":"array","items":{"$ref":"#"}},
				"Next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},
			"required":["Children","Name"]}`},
		{"list of recursive structs", schema.For[[]Node], `{
			"type":"array","items":{"$ref":"#/$defs/Node"},
			"$defs":{"Node":{"title":"Node","type":"object",
				"properties":{
					"Name":{"type":"string"},
					"Children":{"type":"array","items":{"$ref":"#/$defs/Node"}},
					"Next":{"anyOf":[{"$ref":"#/$defs/Node"},{"type":"null"}]}},
				"required":["Children","Name"]}}}`},
		{"embedded structs", schema.For[Embedding], `{
			"title":"Embedding","type":"object",
			"properties":{
				"id":{"type":"string"},"flag":{"type":"boolean"},
				"created_at":{"type":"string","format":"date-time"},
				"own":{"type":"string"},"shade":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}},
			"required":["created_at","id","own","shade"]}`},
		{"embedded struct with a tag name", schema.For[Tagged], `{
			"title":"Tagged","type":"object",
			"properties":{"inner":{"$ref":"#/$defs/Inner"}},"required":["inner"],
			"$defs":{"Inner":{"title":"Inner","type":"object",
				"properties":{"id":{"type":"string"},"shade":{"type":"string"}},"required":["id","shade"]}}}`},
		{"embedded name conflicts", schema.For[Conflict], `{
			"title":"Conflict","type":"object",
			"properties":{"Y":{"type":"string"}},"required":["Y"]}`},
		{"misc", schema.For[Misc], `{
			"title":"Misc","type":"object",
			"properties":{
				"any":{},"raw":{},"bytes":{"type":"string"},
				"arr":{"type":"array","items":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991},"minItems":2,"maxItems":2},
				"keys":{"type":"object","additionalProperties":{"type":"string"}},
				"u":{"type":"integer","minimum":0,"maximum":65535},
				"when":{"anyOf":[{"type":"string","format":"date-time"},{"type":"null"}]}},
			"required":["any","arr","bytes","keys","raw","u"]}`},
		{"anonymous struct", schema.For[struct {
			A int `json:"a"`
		}], `{"type":"object","properties":{"a":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}},"required":["a"]}`},
		{"recursive named slice", schema.For[List], `{"title":"List","type":"array","items":{"$ref":"#"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.got()
			if err != nil {
				t.Fatal(err)
			}
			want := decode(t, tc.want, false).(map[string]any)
			want["$schema"] = schema.Draft202012
			wantJSON, _ := json.Marshal(want)
			got := mustMarshal(t, s)
			if !jsonEqual(t, got, wantJSON) {
				t.Fatalf("\n got %s\nwant %s", got, wantJSON)
			}
			if again := mustMarshal(t, mustParse(t, string(got))); string(again) != string(got) {
				t.Fatalf("generated schema is not stable under Parse:\n%s\n%s", got, again)
			}
		})
	}
}

func TestForUnsupported(t *testing.T) {
	tests := []struct {
		name string
		got  func() (*schema.Schema, error)
		want string
	}{
		{"chan", schema.For[chan int], "chan int"},
		{"func", schema.For[func()], "func()"},
		{"complex", schema.For[complex128], "complex128"},
		{"field", schema.For[struct{ C chan int }], "in field C"},
		{"map key", schema.For[map[[2]int]string], "map[[2]int]string"},
		{"nested", schema.For[[]map[string]func()], "func()"},
	}
	for _, tc := range tests {
		_, err := tc.got()
		if !errors.Is(err, schema.ErrUnsupportedType) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrUnsupportedType mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := schema.ForType(nil); !errors.Is(err, schema.ErrUnsupportedType) {
		t.Errorf("ForType(nil) = %v", err)
	}
	// a skipped field of an unsupported type is fine
	if _, err := schema.For[struct {
		C chan int `json:"-"`
		c chan int
	}](); err != nil {
		t.Error(err)
	}
}

func TestForIsCached(t *testing.T) {
	a, _ := schema.For[User]()
	b, _ := schema.ForType(reflect.TypeFor[User]())
	if a != b {
		t.Error("For and ForType returned different schemas for the same type")
	}
	var wg sync.WaitGroup
	results := make([]*schema.Schema, 16)
	for i := range results {
		wg.Go(func() { results[i], _ = schema.For[map[string]Node]() })
	}
	wg.Wait()
	for _, r := range results[1:] {
		if r != results[0] {
			t.Fatal("concurrent For calls returned different schemas")
		}
	}
}

// TestForAcceptReject validates results against schemas derived from Go
// types, both in decoded JSON form and as Go values.
func TestForAcceptReject(t *testing.T) {
	tests := []struct {
		name string
		typ  func() (*schema.Schema, error)
		pass []any
		fail []any
	}{
		{"int", schema.For[int], []any{42, 0, -7, 1.0, js(`42`), js(`1.0`), js(`-3`)}, []any{1.5, "123", true, js(`1.5`), js(`"123"`), js(`null`), js(`[1]`)}},
		{"float", schema.For[float64], []any{1.5, 1, float32(2.5), js(`1.5`), js(`3`)}, []any{"1.5", false, js(`"1.5"`), js(`null`)}},
		{"string", schema.For[string], []any{"x", "", js(`"x"`)}, []any{42, true, js(`42`), js(`null`), js(`["x"]`)}},
		{"bool", schema.For[bool], []any{true, false, js(`true`)}, []any{1, "true", js(`1`), js(`"false"`)}},
		{"null", schema.For[*int], []any{nil, 3, js(`null`), js(`3`)}, []any{"3", js(`"3"`), js(`1.5`)}},
		{"list", schema.For[[]string], []any{[]string{"a"}, []any{"a", "b"}, js(`[]`), js(`["a"]`)}, []any{[]int{1}, "a", js(`["a",1]`), js(`{}`), js(`"a"`)}},
		{"map", schema.For[map[string]int], []any{map[string]int{"a": 1}, js(`{}`), js(`{"a":1}`)}, []any{map[string]string{"a": "1"}, js(`{"a":"1"}`), js(`[]`), js(`{"a":1.5}`)}},
		{"nested struct", schema.For[User],
			[]any{User{Name: "a", Home: Address{Street: "s"}}, js(`{"name":"a","age":3,"home":{"street":"s"},"work":null,"-":"","count":"3"}`)},
			[]any{js(`{"name":"a","age":3,"home":{},"-":"","count":"3"}`), js(`{"name":"a","age":"3","home":{"street":"s"},"-":"","count":"3"}`),
				js(`{"name":"a","age":3,"home":{"street":"s"},"-":"","count":3}`), js(`{"name":"a","age":3,"home":{"street":"s"},"work":{"zip":"1"},"-":"","count":"3"}`)}},
		{"recursive struct", schema.For[Node],
			[]any{
				Node{Name: "root", Children: []Node{{Name: "a", Children: []Node{}}}, Next: &Node{Name: "n", Children: []Node{}}},
				js(`{"Name":"r","Children":[{"Name":"c","Children":[]}],"Next":null}`),
			},
			[]any{
				js(`{"Name":"r","Children":[{"Name":"c"}]}`),
				js(`{"Name":"r","Children":[],"Next":{"Name":1,"Children":[]}}`),
				Node{Name: "nil children"}, // Children encodes as null
				js(`{"Name":"r","Children":[{"Name":"c","Children":[{"Name":"d","Children":[],"Next":{"Name":"e","Children":"x"}}]}]}`),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.typ()
			if err != nil {
				t.Fatal(err)
			}
			value := func(v any) any {
				if j, ok := v.(js); ok {
					return decode(t, string(j), false)
				}
				return v
			}
			for _, v := range tc.pass {
				if err := s.Validate(value(v)); err != nil {
					t.Errorf("%#v: want pass, got %v", v, err)
				}
			}
			for _, v := range tc.fail {
				err := s.Validate(value(v))
				if !errors.Is(err, schema.ErrMismatch) {
					t.Errorf("%#v: want a mismatch, got %v", v, err)
				}
			}
		})
	}
}

func TestForRecursiveErrorPath(t *testing.T) {
	s, _ := schema.For[Node]()
	err := s.Validate(decode(t, `{"Name":"r","Children":[{"Name":"c","Children":[]},{"Name":"d","Children":[],"Next":{"Children":[]}}]}`, false))
	var me *schema.MismatchError
	if !errors.As(err, &me) || me.Path != "#/Children/1/Next" || !strings.Contains(me.Reason, `"Name"`) {
		t.Fatalf("got %v", err)
	}
}

func TestForNameCollisions(t *testing.T) {
	first := func() reflect.Type {
		type Item struct{ A int }
		return reflect.TypeFor[Item]()
	}()
	second := func() reflect.Type {
		type Item struct{ B string }
		return reflect.TypeFor[Item]()
	}()
	pair := reflect.StructOf([]reflect.StructField{
		{Name: "First", Type: first, Tag: `json:"first"`},
		{Name: "Second", Type: second, Tag: `json:"second"`},
	})
	s, err := schema.ForType(pair)
	if err != nil {
		t.Fatal(err)
	}
	raw := s.Raw().(map[string]any)
	defs := raw["$defs"].(map[string]any)
	if len(defs) != 2 || defs["Item"] == nil || defs["Item2"] == nil {
		t.Fatalf("defs = %v", defs)
	}
	if err := s.Validate(map[string]any{"first": map[string]any{"A": 1}, "second": map[string]any{"B": "x"}}); err != nil {
		t.Error(err)
	}
	if err := s.Validate(map[string]any{"first": map[string]any{"B": "x"}, "second": map[string]any{"A": 1}}); err == nil {
		t.Error("swapped definitions accepted")
	}
}
