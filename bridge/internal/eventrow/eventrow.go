// Package eventrow is the table row layout that abxbus's SQLite and
// PostgreSQL bridges share (wire.md BR-11..BR-18), once for the sqlitebridge
// and pgbridge modules: an event is one row with a TEXT column per
// top-level event_* field, holding the JSON text of the field's value (SQL
// NULL for a JSON null), and the column event_payload holding the whole
// event JSON. A reader starts from event_payload and lays every non-NULL
// event_* column over it.
//
// The package works on the JSON text, never on decoded values: column
// values alias the event's bytes, and a row that abxbus or ringbus wrote
// (its columns equal to the members of its event_payload) is rebuilt
// without a copy.
package eventrow

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// PayloadColumn is the column that holds the whole event JSON.
const PayloadColumn = "event_payload"

// Column is one event_* column of a row: its name and the JSON text of the
// value, nil for SQL NULL.
type Column struct {
	Name  []byte
	Value []byte
}

// ErrNotObject is returned by Split for a JSON text that is not an object.
var ErrNotObject = errors.New("ringbus: event JSON is not an object")

// ValidIdent reports whether s is a name abxbus accepts for a table, a
// channel or a column: ^[A-Za-z_][A-Za-z0-9_]*$.
func ValidIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// IsEventField reports whether a top-level member named name becomes a
// column: every event_* key but event_payload itself.
func IsEventField(name []byte) bool {
	return bytes.HasPrefix(name, []byte("event_")) && string(name) != PayloadColumn
}

// Split appends to cols the event_* members of the JSON object data, in
// their order (BR-12): each column's value is the member's JSON text,
// aliasing data, or nil for a JSON null. It checks the object's structure
// only as far as finding its members needs; the values are not validated.
func Split(cols []Column, data []byte) ([]Column, error) {
	err := members(data, func(key, value []byte) {
		if !IsEventField(key) {
			return
		}
		if string(value) == "null" {
			value = nil
		}
		cols = append(cols, Column{Name: key, Value: value})
	})
	return cols, err
}

// Rebuild appends to dst the event JSON of a row (BR-13, BR-18): payload
// is its event_payload column (nil for SQL NULL, which reads as an empty
// object) and cols its other event_* columns. Every non-NULL column
// replaces the member of its name or, when the payload has none, is added
// at the end; a column that is not valid JSON counts as a JSON string of
// its text, as abxbus reads it. A payload that is not a well-formed JSON
// object is returned as it is, for the decoder to reject.
func Rebuild(dst, payload []byte, cols []Column) []byte {
	if payload == nil {
		payload = []byte("{}")
	}
	if same(payload, cols) {
		return append(dst, payload...)
	}
	if !json.Valid(payload) {
		return append(dst, payload...)
	}
	used := make([]bool, len(cols))
	start := len(dst)
	dst = append(dst, '{')
	err := members(payload, func(key, value []byte) {
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, key)
		dst = append(dst, ':')
		if i := find(cols, key); i >= 0 && cols[i].Value != nil {
			used[i] = true
			dst = appendValue(dst, cols[i].Value)
		} else {
			dst = append(dst, value...)
		}
	})
	if err != nil {
		return append(dst[:start], payload...)
	}
	for i, c := range cols {
		if used[i] || c.Value == nil || find(cols, c.Name) != i {
			continue // NULL, laid over a member, or a repeated name
		}
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c.Name)
		dst = append(dst, ':')
		dst = appendValue(dst, c.Value)
	}
	return append(dst, '}')
}

// same reports whether laying cols over payload changes nothing: every
// non-NULL column equals the payload's member of its name byte for byte,
// as in every row abxbus or ringbus writes.
func same(payload []byte, cols []Column) bool {
	want := 0
	for _, c := range cols {
		if c.Value != nil {
			want++
		}
	}
	if want == 0 {
		return true
	}
	matched := 0
	ok := true
	err := members(payload, func(key, value []byte) {
		if !ok || !IsEventField(key) {
			return
		}
		i := find(cols, key)
		if i < 0 || cols[i].Value == nil {
			return
		}
		if !bytes.Equal(cols[i].Value, value) {
			ok = false
			return
		}
		matched++
	})
	return err == nil && ok && matched == want
}

// find returns the index of the first column named name, or -1.
func find(cols []Column, name []byte) int {
	for i := range cols {
		if bytes.Equal(cols[i].Name, name) {
			return i
		}
	}
	return -1
}

// appendValue appends a column's text as a JSON value: itself when it is
// valid JSON, else a JSON string of it.
func appendValue(dst, v []byte) []byte {
	if t := bytes.TrimSpace(v); json.Valid(t) {
		return append(dst, t...)
	}
	return appendString(dst, v)
}

// appendString appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// members calls f with the key (unescaped) and the value text of each
// top-level member of the JSON object data, in order. It fails on data
// that is not an object, or whose members it cannot delimit.
func members(data []byte, f func(key, value []byte)) error {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		if skipWS(data, i+1) != len(data) {
			return ErrNotObject
		}
		return nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return ErrNotObject
		}
		end, ok := skipString(data, i)
		if !ok {
			return ErrNotObject
		}
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return ErrNotObject
			}
			key = []byte(s)
		}
		i = skipWS(data, end)
		if i >= len(data) || data[i] != ':' {
			return ErrNotObject
		}
		i = skipWS(data, i+1)
		end, ok = skipValue(data, i)
		if !ok {
			return ErrNotObject
		}
		f(key, data[i:end])
		i = skipWS(data, end)
		if i >= len(data) {
			return ErrNotObject
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			if skipWS(data, i+1) != len(data) {
				return ErrNotObject
			}
			return nil
		default:
			return ErrNotObject
		}
	}
}

func skipWS(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string that starts at data[i].
func skipString(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the offset after the value that starts at data[i]. It
// counts brackets without recursion, so any depth is fine.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, ok := skipString(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for ; j < len(data); j++ {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j, j > i
		}
	}
	return j, j > i
}
