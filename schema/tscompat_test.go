package schema_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbus/ringbus/schema"
)

// SCHEMA-2, RTYPE-7 (issue 9, 4.5): an integer result type's derived
// schema carries the safe-integer bounds the TypeScript package writes
// (testdata/vectors/02_typed_result_event.json, property quota), so that
// ringbus rejects what TypeScript rejects.
func TestDerivedIntegerBoundsMatchTypeScript_SCHEMA2(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "02_typed_result_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		RT struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"event_result_type"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ts := ev.RT.Properties["quota"]
	s, err := schema.For[struct {
		Quota int64 `json:"quota"`
	}]()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal([]byte(s.String()), &got); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got.Properties["quota"], ts) {
		t.Errorf("int64 schema %s, TypeScript writes %s", got.Properties["quota"], ts)
	}
	for _, tc := range []struct {
		v  string
		ok bool
	}{{"9007199254740991", true}, {"-9007199254740991", true}, {"9007199254740992", false}, {"-9007199254740992", false}, {"1e300", false}} {
		is, _ := schema.For[int64]()
		if err := is.Validate(decode(t, tc.v, true)); (err == nil) != tc.ok {
			t.Errorf("int64 schema, %s: got %v, want ok=%v", tc.v, err, tc.ok)
		}
		if err := is.Validate(int64(1) << 60); err == nil {
			t.Errorf("int64 schema accepts 2^60, which JavaScript cannot hold")
		}
	}
}

// SCHEMA-6 (issue 9, 4.5): "format" is enforced for the formats Zod
// enforces, with its rules (RFC 3339 date-time with seconds and an offset,
// real calendar days, no leap second), and ignored for the others.
func TestFormatsEnforcedAsZod_SCHEMA6(t *testing.T) {
	tests := []struct {
		format  string
		ok, bad []string
	}{
		{"date-time", []string{"2026-11-26T18:28:54.858160170Z", "2026-11-26T18:28:54Z", "2026-11-26T18:28:54.5+02:00", "2024-02-29T00:00:00Z",
			time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", -3600)).Format(time.RFC3339Nano)},
			[]string{"2026-11-26T18:28Z", "2026-11-26t18:28:54z", "2026-11-26 18:28:54Z", "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
				"2026-11-26T24:00:00Z", "2026-11-26T23:59:60Z", "2026-11-26T18:28:54", "2026-11-26T18:28:54+0200", "2026-11-26T18:28:54.Z", ""}},
		{"date", []string{"2026-11-26", "2000-02-29"}, []string{"2026-02-30", "1900-02-29", "2026-1-2"}},
		{"time", []string{"18:28:54Z", "18:28:54.1-05:30"}, []string{"18:28:54", "18:28Z", "25:00:00Z"}},
		{"email", []string{"a@example.com", "o'neil+x@mail.example.co.uk"}, []string{"a..b@example.com", ".a@example.com", "a@b", "a@example.c", "a@-x.com"}},
		{"uuid", []string{"01a2191e-21ca-72bf-8af6-8d08605918e8", "00000000-0000-0000-0000-000000000000"}, []string{"01a2191e-21ca-02bf-8af6-8d08605918e8", "x"}},
		{"ipv4", []string{"10.0.0.1"}, []string{"01.2.3.4", "::1"}},
		{"ipv6", []string{"2001:db8::1"}, []string{"fe80::1%eth0", "10.0.0.1"}},
		{"hostname", []string{"-not-checked-"}, nil},
	}
	for _, tc := range tests {
		s := mustParse(t, `{"type":"string","format":"`+tc.format+`"}`)
		for _, v := range tc.ok {
			if err := s.Validate(v); err != nil {
				t.Errorf("%s %q: %v", tc.format, v, err)
			}
		}
		for _, v := range tc.bad {
			if err := s.Validate(v); err == nil {
				t.Errorf("%s %q: accepted", tc.format, v)
			}
		}
	}
	if err := mustParse(t, `{"format":"date-time"}`).Validate(5); err != nil {
		t.Errorf("format applies to strings only: %v", err)
	}
}

// SCHEMA-6 (issue 9, 4.5): contains, minContains and maxContains, which Zod
// enforces, are enforced.
func TestContains_SCHEMA6(t *testing.T) {
	s := mustParse(t, `{"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":3}`)
	for v, ok := range map[string]bool{`["a"]`: false, `["a",1,"b"]`: true, `["a","b","c","d"]`: false, `[]`: false} {
		if err := s.Validate(decode(t, v, true)); (err == nil) != ok {
			t.Errorf("%s: got %v, want ok=%v", v, err, ok)
		}
	}
	if err := mustParse(t, `{"contains":{"const":1}}`).Validate(decode(t, `[2]`, true)); err == nil {
		t.Error("contains without a match accepted")
	}
}
