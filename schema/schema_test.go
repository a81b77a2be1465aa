package schema_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/schema"
)

const draft = `"$schema":"https://json-schema.org/draft/2020-12/schema"`

func TestNormalisation(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"$schema is added", `{"type":"string"}`, `{"type":"string",` + draft + `}`},
		{"$schema is kept", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`,
			`{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`},
		{"boolean schemas stay booleans", `true`, `true`},
		{"nullable type", `{"type":["string","null"]}`,
			`{"anyOf":[{"type":"string"},{"type":"null"}],` + draft + `}`},
		{"nullable type keeps other keywords", `{"type":["null","string"],"minLength":1,"title":"T"}`,
			`{"anyOf":[{"type":"string"},{"type":"null"}],"minLength":1,"title":"T",` + draft + `}`},
		{"multi-type nullable", `{"type":["string","integer","null"]}`,
			`{"anyOf":[{"type":["string","integer"]},{"type":"null"}],` + draft + `}`},
		{"type list without null is kept", `{"type":["string","integer"]}`, `{"type":["string","integer"],` + draft + `}`},
		{"type null alone is kept", `{"type":["null"]}`, `{"type":["null"],` + draft + `}`},
		{"existing anyOf keeps the type list", `{"type":["string","null"],"anyOf":[{"minLength":1},{"type":"null"}]}`,
			`{"type":["string","null"],"anyOf":[{"minLength":1},{"type":"null"}],` + draft + `}`},
		{"required is sorted everywhere", `{"required":["b","a"],"properties":{"x":{"required":["z","y"]}},"items":{"required":["d","c"]}}`,
			`{"required":["a","b"],"properties":{"x":{"required":["y","z"]}},"items":{"required":["c","d"]},` + draft + `}`},
		{"nested nullable types", `{"type":"object","properties":{"a":{"type":["integer","null"]}},"$defs":{"D":{"items":{"type":["array","null"]}}}}`,
			`{"type":"object","properties":{"a":{"anyOf":[{"type":"integer"},{"type":"null"}]}},"$defs":{"D":{"items":{"anyOf":[{"type":"array"},{"type":"null"}]}}},` + draft + `}`},
		{"values of non-schema keywords are kept", `{"const":{"type":["a","null"],"required":["b","a"]},"default":{"required":["b","a"]},"x-meta":{"type":["string","null"]}}`,
			`{"const":{"type":["a","null"],"required":["b","a"]},"default":{"required":["b","a"]},"x-meta":{"type":["string","null"]},` + draft + `}`},
		{"property named like a keyword", `{"properties":{"required":{"type":["string","null"]},"type":{"required":["b","a"]}}}`,
			`{"properties":{"required":{"anyOf":[{"type":"string"},{"type":"null"}]},"type":{"required":["a","b"]}},` + draft + `}`},
		{"root $ref is inlined",
			`{"$defs":{"Tree":{"type":"object","properties":{"name":{"type":"string"},"child":{"anyOf":[{"$ref":"#/$defs/Tree"},{"type":"null"}]}},"required":["name"]}},"$ref":"#/$defs/Tree"}`,
			`{"type":"object","properties":{"name":{"type":"string"},"child":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["name"],"title":"Tree",` + draft + `}`},
		{"inlining keeps other $defs and rewrites deep refs",
			`{"$schema":"x","description":"dropped","$defs":{"A":{"properties":{"b":{"$ref":"#/$defs/B"},"self":{"$ref":"#/$defs/A/properties/b"}}},"B":{"properties":{"a":{"$ref":"#/$defs/A"}}}},"$ref":"#/$defs/A"}`,
			`{"properties":{"b":{"$ref":"#/$defs/B"},"self":{"$ref":"#/properties/b"}},"$defs":{"B":{"properties":{"a":{"$ref":"#"}}}},"title":"A",` + draft + `}`},
		{"inlining keeps an existing title", `{"$defs":{"M":{"type":"string","title":"Mine"}},"$ref":"#/$defs/M"}`,
			`{"type":"string","title":"Mine",` + draft + `}`},
		{"__schema names give no title", `{"$defs":{"__schema0":{"type":"string"}},"$ref":"#/$defs/__schema0"}`,
			`{"type":"string",` + draft + `}`},
		{"escaped definition name", `{"$defs":{"a/b":{"type":"string"}},"$ref":"#/$defs/a~1b"}`,
			`{"type":"string","title":"a/b",` + draft + `}`},
		{"chained root refs are inlined until stable", `{"$defs":{"A":{"$ref":"#/$defs/B"},"B":{"type":"integer"}},"$ref":"#/$defs/A"}`,
			`{"type":"integer","title":"B",` + draft + `}`},
		{"ref below a definition is not inlined", `{"$defs":{"A":{"properties":{"x":{"type":"string"}}}},"$ref":"#/$defs/A/properties/x"}`,
			`{"$defs":{"A":{"properties":{"x":{"type":"string"}}}},"$ref":"#/$defs/A/properties/x",` + draft + `}`},
		{"definition with its own $defs is not inlined", `{"$defs":{"A":{"$defs":{"B":{}},"type":"string"}},"$ref":"#/$defs/A"}`,
			`{"$defs":{"A":{"$defs":{"B":{}},"type":"string"}},"$ref":"#/$defs/A",` + draft + `}`},
		{"list of models keeps $defs", `{"$defs":{"M":{"type":"object","required":["b","a"]}},"items":{"$ref":"#/$defs/M"},"type":"array"}`,
			`{"$defs":{"M":{"type":"object","required":["a","b"]}},"items":{"$ref":"#/$defs/M"},"type":"array",` + draft + `}`},
		{"big numbers are kept exactly", `{"maximum":123456789012345678901234567890,"minimum":-1.50}`,
			`{"maximum":123456789012345678901234567890,"minimum":-1.50,` + draft + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.in)
			got := mustMarshal(t, s)
			if !jsonEqual(t, got, []byte(tc.want)) {
				t.Fatalf("normalised\n got %s\nwant %s", got, tc.want)
			}
			// idempotent: parsing the output changes nothing
			again := mustMarshal(t, mustParse(t, string(got)))
			if string(again) != string(got) {
				t.Fatalf("not idempotent:\n%s\n%s", got, again)
			}
			// FromValue gives the same
			fv, err := schema.FromValue(decode(t, tc.in, false))
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, mustMarshal(t, fv), got) {
				t.Fatalf("FromValue gives %s, Parse %s", mustMarshal(t, fv), got)
			}
		})
	}
	// big numbers are written digit for digit
	got := string(mustMarshal(t, mustParse(t, `{"maximum":123456789012345678901234567890}`)))
	if !strings.Contains(got, "123456789012345678901234567890") {
		t.Errorf("big number rewritten: %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, "EOF"},
		{`{`, "unexpected EOF"},
		{`{} {}`, "unexpected data"},
		{`null`, "must be an object or boolean, got null"},
		{`42`, "got number"},
		{`"string"`, "got string"},
		{`[]`, "got array"},
		{`{"type":"text"}`, `unknown type "text"`},
		{`{"type":5}`, "#/type: must be a string or an array of strings"},
		{`{"type":[]}`, "must not be an empty array"},
		{`{"type":["string",1]}`, "#/type"},
		{`{"minLength":-1}`, "#/minLength: must be a non-negative integer"},
		{`{"maxItems":1.5}`, "#/maxItems: must be a non-negative integer"},
		{`{"minProperties":"3"}`, "#/minProperties"},
		{`{"minimum":"1"}`, "#/minimum: must be a number"},
		{`{"exclusiveMaximum":null}`, "#/exclusiveMaximum"},
		{`{"multipleOf":0}`, "#/multipleOf: must be a number greater than 0"},
		{`{"uniqueItems":"yes"}`, "#/uniqueItems: must be a boolean"},
		{`{"pattern":"("}`, `#/pattern: bad regular expression "("`},
		{`{"pattern":"[a-"}`, "bad regular expression"},
		{`{"pattern":5}`, "#/pattern: must be a string"},
		{`{"patternProperties":{"(":{}}}`, "bad regular expression"},
		{`{"$ref":"#/$defs/missing"}`, `bad $ref "#/$defs/missing"`},
		{`{"$ref":"http://example.com/schema.json"}`, "only references within the document"},
		{`{"$ref":"#anchor"}`, "anchors are not supported"},
		{`{"$ref":5}`, "#/$ref: must be a string"},
		{`{"type":"string","properties":{"a":{"$ref":"#/type"}}}`, "does not point to a schema"},
		{`{"prefixItems":[{}],"items":{"$ref":"#/prefixItems/1"}}`, `no element "1"`},
		{`{"properties":[]}`, "#/properties: must be an object"},
		{`{"properties":{"a":5}}`, "#/properties/a: schema must be an object or boolean"},
		{`{"properties":{"a/b":{"type":"x"}}}`, "#/properties/a~1b/type"},
		{`{"required":"a"}`, "#/required: must be an array of strings"},
		{`{"required":[1]}`, "#/required"},
		{`{"anyOf":[]}`, "#/anyOf: must be a non-empty array"},
		{`{"oneOf":{}}`, "#/oneOf: must be an array of schemas"},
		{`{"allOf":[1]}`, "#/allOf/0"},
		{`{"not":[]}`, "#/not"},
		{`{"items":5}`, "#/items"},
		{`{"additionalProperties":"no"}`, "#/additionalProperties"},
		{`{"enum":5}`, "#/enum: must be an array"},
		{`{"$defs":{"x":5}}`, "#/$defs/x"},
		{`{"$defs":[]}`, "#/$defs: must be an object"},
		{`{"$ref":"#"}`, "$ref cycle"},
		{`{"anyOf":[{"type":"null"},{"$ref":"#"}]}`, "$ref cycle"},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}}}`, "$ref cycle"},
		{`{"$defs":{"A":{"$ref":"#/$defs/A"}},"$ref":"#/$defs/A"}`, "$ref cycle"},
		{`{"not":{"$ref":"#"}}`, "$ref cycle"},
	}
	for _, tc := range tests {
		_, err := schema.Parse([]byte(tc.in))
		if err == nil {
			t.Errorf("Parse(%s): no error", tc.in)
			continue
		}
		if !errors.Is(err, schema.ErrInvalidSchema) {
			t.Errorf("Parse(%s): %v does not wrap ErrInvalidSchema", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ringbus: ") {
			t.Errorf("Parse(%s): %q does not contain %q", tc.in, err, tc.want)
		}
	}
	if _, err := schema.FromValue(nil); !errors.Is(err, schema.ErrInvalidSchema) {
		t.Errorf("FromValue(nil) = %v", err)
	}
	if _, err := schema.FromValue(make(chan int)); !errors.Is(err, schema.ErrInvalidSchema) {
		t.Errorf("FromValue(chan) = %v", err)
	}
	if _, err := schema.FromValue([]any{1}); !errors.Is(err, schema.ErrInvalidSchema) {
		t.Errorf("FromValue([]any) = %v", err)
	}
}

func TestRecursionThroughDescentIsAllowed(t *testing.T) {
	for _, src := range []string{
		`{"type":"array","items":{"$ref":"#"}}`,
		`{"properties":{"a":{"$ref":"#"}}}`,
		`{"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#"}}]}`,
		`{"$defs":{"a":{"additionalProperties":{"$ref":"#/$defs/a"}}},"$ref":"#/$defs/a"}`,
	} {
		mustParse(t, src)
	}
}

func TestFromValue(t *testing.T) {
	s, err := schema.FromValue(map[string]any{
		"type":       "object",
		"properties": map[string]any{"n": map[string]any{"type": "integer", "maximum": 3}},
		"required":   []string{"n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(map[string]any{"n": 2}); err != nil {
		t.Error(err)
	}
	if err := s.Validate(map[string]any{"n": 4}); err == nil {
		t.Error("4 accepted for maximum 3")
	}
	b, err := schema.FromValue(false)
	if err != nil || b.Validate(nil) == nil || b.String() != "false" {
		t.Errorf("FromValue(false) = %v, %v", b, err)
	}
	raw, err := schema.FromValue(json.RawMessage(`{"type":"string"}`))
	if err != nil || raw.Validate("x") != nil {
		t.Errorf("FromValue(RawMessage) = %v, %v", raw, err)
	}
}

func TestRawIsACopy(t *testing.T) {
	s := mustParse(t, `{"type":"object","properties":{"a":{"type":"string"}},"maximum":1.5}`)
	raw := s.Raw().(map[string]any)
	if raw["maximum"] != json.Number("1.5") {
		t.Errorf("maximum = %#v, want json.Number", raw["maximum"])
	}
	raw["properties"].(map[string]any)["a"].(map[string]any)["type"] = "integer"
	if err := s.Validate(map[string]any{"a": "x"}); err != nil {
		t.Errorf("modifying Raw changed the schema: %v", err)
	}
	if !strings.Contains(s.String(), `"type":"string"`) {
		t.Errorf("modifying Raw changed the JSON: %s", s)
	}
	var nilSchema *schema.Schema
	if nilSchema.Raw() != nil || nilSchema.String() != "null" {
		t.Error("nil schema Raw/String")
	}
	if b := mustParse(t, `true`).Raw(); b != true {
		t.Errorf("Raw(true) = %v", b)
	}
}

func TestJSONField(t *testing.T) {
	type event struct {
		Type *schema.Schema `json:"event_result_type"`
	}
	var e event
	if err := json.Unmarshal([]byte(`{"event_result_type":null}`), &e); err != nil || e.Type != nil {
		t.Fatalf("null: %v %v", e.Type, err)
	}
	out, _ := json.Marshal(e)
	if string(out) != `{"event_result_type":null}` {
		t.Errorf("nil schema marshals as %s", out)
	}
	if err := json.Unmarshal([]byte(`{"event_result_type":{"type":["integer","null"],"required":["b","a"]}}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Type.Validate(1) != nil || e.Type.Validate("x") == nil {
		t.Error("decoded schema does not validate")
	}
	out, _ = json.Marshal(e)
	want := `{"event_result_type":{"anyOf":[{"type":"integer"},{"type":"null"}],"required":["a","b"],` + draft + `}}`
	if !jsonEqual(t, out, []byte(want)) {
		t.Errorf("got %s want %s", out, want)
	}
	if err := json.Unmarshal([]byte(`{"event_result_type":{"type":"nope"}}`), &e); !errors.Is(err, schema.ErrInvalidSchema) {
		t.Errorf("bad schema: %v", err)
	}
	var direct schema.Schema
	if err := direct.UnmarshalJSON([]byte(" null ")); err != nil || direct.String() != "null" {
		t.Errorf("UnmarshalJSON(null): %v %s", err, direct.String())
	}
}

// The event_result_type of the TypeScript vectors (testdata/vectors/02*.json),
// inline as well, so a change to either copy shows.
var vectorSchemas = map[string]string{
	"02_typed_result_event.json":            `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"user_id":{"type":"string"},"quota":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991},"tags":{"type":"array","items":{"type":"string"}}},"required":["quota","user_id"],"additionalProperties":false}`,
	"02b_result_type_from_json_schema.json": `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"ok":{"type":"boolean"},"count":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}},"required":["ok"],"additionalProperties":{}}`,
	"02c_typed_result_completed.json":       `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"user_id":{"type":"string"},"quota":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991},"tags":{"type":"array","items":{"type":"string"}}},"required":["quota","user_id"],"additionalProperties":false}`,
}

func vectorsDir(t *testing.T) string {
	dir := filepath.Join("..", "testdata", "vectors")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("vectors missing: %v", err)
	}
	return dir
}

func TestVectorSchemasRoundTrip(t *testing.T) {
	for name, src := range vectorSchemas {
		s := mustParse(t, src)
		if got := mustMarshal(t, s); !jsonEqual(t, got, []byte(src)) {
			t.Errorf("%s: round trip changed the schema:\n got %s\nwant %s", name, got, src)
		}
		if s.Identifier() != "object" {
			t.Errorf("%s: identifier %q", name, s.Identifier())
		}
	}
}

func TestVectorFiles(t *testing.T) {
	dir := vectorsDir(t)
	for name, inline := range vectorSchemas {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var ev struct {
				ResultType   json.RawMessage                             `json:"event_result_type"`
				EventResults map[string]struct{ Result json.RawMessage } `json:"event_results"`
			}
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, ev.ResultType, []byte(inline)) {
				t.Errorf("vector file differs from the inline copy: %s", ev.ResultType)
			}
			s := mustParse(t, string(ev.ResultType))
			if got := mustMarshal(t, s); !jsonEqual(t, got, ev.ResultType) {
				t.Errorf("round trip changed the schema:\n got %s\nwant %s", got, ev.ResultType)
			}
			for id, r := range ev.EventResults {
				if err := s.Validate(decode(t, string(r.Result), true)); err != nil {
					t.Errorf("result %s: %v", id, err)
				}
			}
		})
	}
}

func TestTypedResultCompleted(t *testing.T) {
	s := mustParse(t, vectorSchemas["02c_typed_result_completed.json"])
	pass := []string{
		`{"user_id":"user:b@example.com","quota":10}`,
		`{"user_id":"u","quota":0,"tags":["a","b"]}`,
	}
	fail := map[string]string{
		`{"user_id":"u","quota":"10"}`:             "#/quota",
		`{"user_id":"u","quota":1.5}`:              "#/quota",
		`{"quota":10}`:                             "#",
		`{"user_id":"u","quota":10,"email":"x"}`:   "#",
		`{"user_id":"u","quota":10,"tags":[1]}`:    "#/tags/0",
		`{"user_id":5,"quota":10}`:                 "#/user_id",
		`{"user_id":"u","quota":9007199254740992}`: "#/quota",
		`"user"`: "#",
	}
	for _, v := range pass {
		if err := s.Validate(decode(t, v, false)); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for v, path := range fail {
		var me *schema.MismatchError
		if err := s.Validate(decode(t, v, false)); !errors.As(err, &me) || me.Path != path {
			t.Errorf("%s: got %v, want a mismatch at %s", v, err, path)
		}
	}
	// the same result as a Go struct
	type createUserResult struct {
		UserID string   `json:"user_id"`
		Quota  int      `json:"quota"`
		Tags   []string `json:"tags,omitempty"`
	}
	if err := s.Validate(createUserResult{UserID: "u", Quota: 10}); err != nil {
		t.Error(err)
	}
	if err := s.Validate(&createUserResult{UserID: "u", Quota: 10, Tags: []string{"x"}}); err != nil {
		t.Error(err)
	}
}
