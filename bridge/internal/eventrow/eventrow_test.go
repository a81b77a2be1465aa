package eventrow_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/bridge/internal/eventrow"
)

func cols(kv ...string) []eventrow.Column {
	var c []eventrow.Column
	for i := 0; i < len(kv); i += 2 {
		var v []byte
		if kv[i+1] != "<NULL>" {
			v = []byte(kv[i+1])
		}
		c = append(c, eventrow.Column{Name: []byte(kv[i]), Value: v})
	}
	return c
}

func names(c []eventrow.Column) map[string]string {
	m := map[string]string{}
	for _, x := range c {
		v := "<NULL>"
		if x.Value != nil {
			v = string(x.Value)
		}
		m[string(x.Name)] = v
	}
	return m
}

// BR-12: the event_* members become columns holding their JSON text (the
// id with its quotes, the path as an array), JSON null reads as NULL, and
// payload keys never become columns.
func TestSplit_BR12(t *testing.T) {
	data := []byte(` { "event_type" : "Foo", "a":{"event_x":1}, "event_id":"0190-\"q\"","event_path":["A#1", "B#2"],` +
		`"event_timeout":null,"event_version":"1","b":[1,{"c":"}"}],"event\u005fesc":true, "event_payload":{} }`)
	got, err := eventrow.Split(nil, data)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"event_type":    `"Foo"`,
		"event_id":      `"0190-\"q\""`,
		"event_path":    `["A#1", "B#2"]`,
		"event_timeout": "<NULL>",
		"event_version": `"1"`,
		"event_esc":     "true",
	}, names(got))
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":1`, `{"a" 1}`, `{"a":1,}`, `{"a":}`, `{"a":1} x`, `{"a":"x}`, `{a:1}`} {
		_, err := eventrow.Split(nil, []byte(bad))
		assert.ErrorIs(t, err, eventrow.ErrNotObject, "%q", bad)
	}
	got, err = eventrow.Split(nil, []byte(`{}`))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestValidIdent(t *testing.T) {
	for _, s := range []string{"a", "_", "abxbus_events", "A_1", "event_id"} {
		assert.True(t, eventrow.ValidIdent(s), s)
	}
	for _, s := range []string{"", "1a", "a-b", "a b", `a"`, "é", "a.b"} {
		assert.False(t, eventrow.ValidIdent(s), s)
	}
}

// BR-13, BR-18: the payload with every non-NULL column laid over it.
func TestRebuild_BR13(t *testing.T) {
	tests := []struct {
		name, payload string
		cols          []eventrow.Column
		want          string
	}{
		{"a ringbus row is the payload as it is", `{"event_type":"X","event_id":"1","a":1}`,
			cols("event_id", `"1"`, "event_type", `"X"`), `{"event_type":"X","event_id":"1","a":1}`},
		{"NULL columns change nothing", `{"event_type":"X","a":1}`, cols("event_parent_id", "<NULL>"), `{"event_type":"X","a":1}`},
		{"a column replaces its member", `{"event_type":"X","event_path":["A#1", "B#2"],"a":1}`,
			cols("event_path", `["A#1","C#3"]`), `{"event_type":"X","event_path":["A#1","C#3"],"a":1}`},
		{"a column the payload lacks is added", `{"event_type":"X"}`, cols("event_id", `"1"`, "event_timeout", "1.5"),
			`{"event_type":"X","event_id":"1","event_timeout":1.5}`},
		{"a column that is not JSON is a string", `{"event_type":"X"}`, cols("event_status", "pending"),
			`{"event_type":"X","event_status":"pending"}`},
		{"JSON with spaces is kept as JSON", `{"event_type":"X"}`, cols("event_path", ` ["A#1", "B#2"] `),
			`{"event_type":"X","event_path":["A#1", "B#2"]}`},
		{"a NULL payload is an empty object", "<NULL>", cols("event_type", `"X"`, "event_id", `"1"`),
			`{"event_type":"X","event_id":"1"}`},
		{"a NULL payload with NULL columns", "<NULL>", cols("event_type", "<NULL>"), `{}`},
		{"a payload that is not JSON is kept for the decoder", `not json`, cols("event_type", `"X"`), `not json`},
		{"a payload that is an array is kept", `["a"]`, cols("event_type", `"X"`), `["a"]`},
		{"a truncated object is kept", `{"event_type":"X", `, cols("event_type", `"Y"`), `{"event_type":"X", `},
		{"a malformed value is kept", `{"event_type":"X","a":tru}`, cols("event_type", `"Y"`), `{"event_type":"X","a":tru}`},
		{"escaped keys are matched unescaped", `{"event\u005ftype":"X"}`, cols("event_type", `"Y"`), `{"event_type":"Y"}`},
		{"a repeated column counts once", `{}`, cols("event_type", `"Y"`, "event_type", `"Z"`), `{"event_type":"Y"}`},
		{"control characters and bad UTF-8 in a string column", `{}`, cols("event_type", "a\n\"\xff"),
			`{"event_type":"a\u000a\"` + "\ufffd" + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var payload []byte
			if tt.payload != "<NULL>" {
				payload = []byte(tt.payload)
			}
			got := eventrow.Rebuild([]byte("prefix"), payload, tt.cols)
			assert.Equal(t, "prefix"+tt.want, string(got))
		})
	}
}

func TestRebuildDeep(t *testing.T) {
	// Nesting costs no stack (the bracket counting has no recursion).
	deep := `{"event_type":"X","deep":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	got := eventrow.Rebuild(nil, []byte(deep), cols("event_type", `"Y"`))
	assert.True(t, string(got) == strings.Replace(deep, `"X"`, `"Y"`, 1), "the deep payload was not rebuilt")
	c, err := eventrow.Split(nil, []byte(deep))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"event_type": `"X"`}, names(c))
}

// A row written from an event's own columns reads back as the event, and a
// rebuilt valid object is valid JSON.
func FuzzRebuild(f *testing.F) {
	for _, s := range []string{`{"event_type":"X","event_id":"1","a":[1,{"b":"}"}]}`, `{}`, `{"event_path":["A"],"x":null}`,
		`{"event_timeout":null,"event_a":"\u00e9\\\""}`} {
		f.Add([]byte(s), []byte(`"over"`))
	}
	f.Fuzz(func(t *testing.T, payload, over []byte) {
		c, err := eventrow.Split(nil, payload)
		if err != nil {
			return
		}
		if json.Valid(payload) {
			assert.Equal(t, string(payload), string(eventrow.Rebuild(nil, payload, c)))
		}
		c = append(c, eventrow.Column{Name: []byte("event_over"), Value: over})
		got := eventrow.Rebuild(nil, payload, c)
		if json.Valid(payload) && !json.Valid(got) {
			t.Fatalf("rebuilt %q from %q: not JSON", got, payload)
		}
	})
}

// BR-12: a batch's rows, the payload column last with the whole event, and
// the upsert of their columns.
func TestBatchAndUpsert_BR12(t *testing.T) {
	var b eventrow.Batch
	ev := []byte(`{"event_type":"X","event_id":"01","event_timeout":null,"a":1}`)
	require.NoError(t, b.Add(ev, 63))
	require.Error(t, b.Add([]byte(`{"event_type":"X","event_id":null}`), 63), "an id that is not a string")
	require.Error(t, b.Add([]byte(`{"event_type":"X"}`), 63), "no id")
	require.Error(t, b.Add([]byte(`{"event_id":"1","event_a-b":1}`), 63), "a key that is not an identifier")
	require.Error(t, b.Add([]byte(`{"event_id":"1","event_`+strings.Repeat("x", 60)+`":1}`), 63), "a key too long")
	require.NoError(t, b.Add([]byte(`{"event_id":"1","event_`+strings.Repeat("x", 60)+`":1}`), 0))
	require.ErrorIs(t, b.Add([]byte(`[1]`), 0), eventrow.ErrNotObject)
	require.Len(t, b.Rows, 2)
	r := b.Rows[0]
	assert.Equal(t, `"01"`, string(r.ID))
	assert.Equal(t, map[string]string{"event_type": `"X"`, "event_id": `"01"`, "event_timeout": "<NULL>", "event_payload": string(ev)}, names(r.Cols))
	assert.Equal(t, "event_payload", string(r.Cols[len(r.Cols)-1].Name))

	u := eventrow.Upserts{Table: "t", Param: eventrow.DollarParam}
	want := `INSERT INTO "t" ("event_type", "event_id", "event_timeout", "event_payload") VALUES ($1, $2, $3, $4)` +
		` ON CONFLICT ("event_id") DO UPDATE SET "event_type" = excluded."event_type", "event_timeout" = excluded."event_timeout",` +
		` "event_payload" = excluded."event_payload"`
	assert.Equal(t, want, u.For(r.Cols))
	assert.Equal(t, want, u.For(r.Cols), "kept")
	assert.Equal(t, `INSERT INTO "t" ("event_id") VALUES ($1) ON CONFLICT ("event_id") DO NOTHING`, u.For(cols("event_id", `"1"`)))
	b.Reset()
	assert.Empty(t, b.Rows)
}

// BR-13: rows read back as events, with their cursors.
func TestReader_BR13(t *testing.T) {
	var r eventrow.Reader
	r.Columns([]string{"row_id", "event_id", "event_payload", "event_created_at", "event_type", "inserted_at"})
	s1 := r.Row([][]byte{[]byte("1"), []byte(`"a"`), []byte(`{"event_type":"X","event_id":"a"}`), []byte(`"2026"`), []byte(`"Y"`), []byte("now")})
	s2 := r.Row([][]byte{[]byte("2"), []byte(`"b"`), nil, nil, []byte(`"Z"`), nil})
	assert.Equal(t, `{"event_type":"Y","event_id":"a","event_created_at":"2026"}`, string(r.Event(s1)), "other columns are not event fields")
	assert.Equal(t, `{"event_id":"b","event_type":"Z"}`, string(r.Event(s2)))
	assert.Equal(t, eventrow.Span{Start: s1.Start, End: s1.End, Created: `"2026"`, ID: `"a"`}, s1)
	assert.Equal(t, "", s2.Created)
	assert.True(t, s1.After("", ""))
	assert.True(t, s1.After(`"2026"`, ""))
	assert.False(t, s1.After(`"2026"`, `"a"`))
	assert.False(t, s2.After(`"2026"`, `"a"`))
	r.Reset()
	assert.Empty(t, r.Buf)
}
