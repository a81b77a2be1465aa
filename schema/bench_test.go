package schema_test

import (
	"testing"

	"github.com/ringbus/ringbus/schema"
)

// benchStructSchema is the schema of a five-field struct with a map value.
const benchStructSchema = `{
	"$schema":"https://json-schema.org/draft/2020-12/schema",
	"title":"Result","type":"object",
	"properties":{
		"id":{"type":"string","minLength":1},
		"count":{"type":"integer","minimum":0},
		"ok":{"type":"boolean"},
		"ratio":{"type":"number"},
		"labels":{"type":"object","additionalProperties":{"type":"string"}}
	},
	"required":["count","id","labels","ok","ratio"],
	"additionalProperties":false
}`

const benchStructValue = `{"id":"abc","count":3,"ok":true,"ratio":0.5,"labels":{"env":"prod","team":"core","zone":"a"}}`

type benchResult struct {
	ID     string            `json:"id"`
	Count  int               `json:"count"`
	OK     bool              `json:"ok"`
	Ratio  float64           `json:"ratio"`
	Labels map[string]string `json:"labels"`
}

func BenchmarkValidate(b *testing.B) {
	obj := mustParse(b, benchStructSchema)
	decoded := decode(b, benchStructValue, false)
	typed := benchResult{ID: "abc", Count: 3, OK: true, Ratio: 0.5, Labels: map[string]string{"env": "prod", "team": "core", "zone": "a"}}
	str, _ := schema.For[string]()
	var s any = "hello"
	invalid := decode(b, `{"id":"abc","count":"3","ok":true,"ratio":0.5,"labels":{}}`, false)

	b.Run("struct/decoded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := obj.Validate(decoded); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct/go-value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := obj.Validate(typed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct/mismatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := obj.Validate(invalid); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := str.Validate(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	raw := []byte(benchStructSchema)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
