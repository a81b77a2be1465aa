package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/schema"
)

// FuzzParseValidate checks that Parse and Validate never panic, that a
// parsed schema written out parses back to the same bytes (normalisation is
// idempotent), and that the re-parsed schema judges values the same way.
func FuzzParseValidate(f *testing.F) {
	for _, src := range vectorSchemas {
		f.Add([]byte(src), []byte(`{"user_id":"u","quota":1}`))
	}
	for _, tc := range keywordCases {
		for _, v := range append(append([]string{}, tc.pass...), tc.fail...) {
			f.Add([]byte(tc.schema), []byte(v))
		}
	}
	f.Add([]byte(`{"$defs":{"N":{"properties":{"n":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}`), []byte(`{"n":{"n":{}}}`))
	f.Add([]byte(`{"$ref":"#"}`), []byte(`1`))
	if files, _ := filepath.Glob(filepath.Join("..", "testdata", "vectors", "*.json")); len(files) > 0 {
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data, data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, schemaJSON, valueJSON []byte) {
		s, err := schema.Parse(schemaJSON)
		if err != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := schema.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if !bytes.Equal(out, out2) {
			t.Fatalf("normalisation not idempotent:\n%s\n%s", out, out2)
		}
		_ = s.Identifier()
		_ = s.Raw()
		dec := json.NewDecoder(bytes.NewReader(valueJSON))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		e1, e2 := s.Validate(v), again.Validate(v)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("re-parsed schema disagrees: %v vs %v", e1, e2)
		}
		if e1 != nil {
			_ = e1.Error()
		}
	})
}
