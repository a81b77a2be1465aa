package middleware

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// referenceSummary is appendSummary written with encoding/json: the
// members whose key starts with "event_" and does not contain "results",
// in order.
func referenceSummary(t *testing.T, src string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", src)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(key, "event_") && !strings.Contains(key, "results") {
			if !first {
				out.WriteByte(',')
			}
			first = false
			k, _ := json.Marshal(key)
			out.Write(k)
			out.WriteByte(':')
			out.Write(raw)
		}
	}
	out.WriteByte('}')
	return out.String()
}

// MW-14: the summary keeps the event_* members except the results, in
// order, whatever the values hold (strings with braces, quotes and
// escapes, nested objects and arrays).
func TestAppendSummaryMatchesReference_MW14(t *testing.T) {
	for _, src := range []string{
		`{}`,
		`{"event_type":"A"}`,
		`{"a":1,"event_type":"A","b":{"event_x":1}}`,
		`{"event_results":{"x":{"event_id":"1"}},"event_id":"e"}`,
		`{"event_path":["A#1","B \"}]#2"],"event_parent_id":null,"event_x":true,"event_n":-1.5e3}`,
		`{"payload":"{\"event_fake\":1}","event_s":"a\\","event_t":"\u00e9\\\"}"}`,
		`{"event_nested":{"a":[{"b":"]}"},[]],"c":{}},"event_last":false}`,
		`{"my_results":1,"event_multi_results_x":2,"event_ok":3}`,
	} {
		got := string(appendSummary(nil, []byte(src)))
		if want := referenceSummary(t, src); got != want {
			t.Errorf("appendSummary(%s)\n got %s\nwant %s", src, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `x`, `{"event_a":"unterminated`, `{"event_a":{"b":1}`} {
		got := appendSummary(nil, []byte(bad))
		if !json.Valid(got) {
			t.Errorf("appendSummary(%q) = %q, not JSON", bad, got)
		}
	}
}
