package sqlitemirror

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// resultRepr is the result_repr of a handler's value: the Go counterpart
// of Python's repr (MW-15: %q for strings).
func resultRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case api.Eventer:
		if e := engine.Core(x); e != nil {
			return "Event(" + e.Label() + ")"
		}
		return "Event(?)"
	case error:
		return errorRepr(x)
	}
	return fmt.Sprintf("%#v", v)
}

// errorRepr is the error_repr of a failed row: the error's cross-language
// type name and its message quoted as Python quotes a string,
// Error('handler boom') (MW-15).
func errorRepr(err error) string {
	if err == nil {
		return "nil"
	}
	return api.ErrorTypeName(err) + "(" + pyQuote(err.Error()) + ")"
}

// pyQuote quotes s as Python's repr quotes a str: in single quotes, or in
// double quotes when s holds a single quote and no double quote, with
// backslashes, the quote and non-printable characters escaped.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar || unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
