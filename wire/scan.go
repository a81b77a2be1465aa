package wire

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// DefaultMaxDepth is the deepest nesting of JSON objects and arrays that a
// Decoder accepts when its MaxDepth is not set, counting the event object
// itself as one level. It is far beyond what real events use (the
// TypeScript package's own toJSON stops somewhat above 4000 levels) and
// equals encoding/json's limit.
const DefaultMaxDepth = 10000

// MaxDepthLimit is the largest MaxDepth a Decoder honours; a larger value
// counts as MaxDepthLimit, so that no input can exhaust the stack.
const MaxDepthLimit = 100000

// sonicDepth is the nesting below which sonic decodes a value; it stops at
// 4096 levels, so deeper values are decoded by buildValue.
const sonicDepth = 4000

// scanner walks one JSON text. s aliases the caller's buffer: every string
// that outlives the decode call must be copied (see own).
type scanner struct {
	s   string
	pos int
	// limit is the nesting limit (0: DefaultMaxDepth); deepest is the
	// deepest level skip has entered.
	limit, deepest int
}

// tooDeep reports whether a container at depth (0 for the outermost) is
// beyond the nesting limit, and records the depth reached.
func (sc *scanner) tooDeep(depth int) bool {
	if depth > sc.deepest {
		sc.deepest = depth
	}
	lim := sc.limit
	if lim <= 0 {
		lim = DefaultMaxDepth
	}
	return depth >= lim
}

// syntaxErr is a malformed-input error at an offset; the decoder wraps it
// into a *DecodeError.
type syntaxErr struct {
	off  int
	msg  string
	deep bool // nested beyond the limit: ErrTooDeep, not ErrMalformed
}

func (e *syntaxErr) Error() string { return e.msg }

func (sc *scanner) fail(msg string) error { return &syntaxErr{off: sc.pos, msg: msg} }

// failDeep is the error of a value nested beyond the limit.
func (sc *scanner) failDeep() error {
	lim := sc.limit
	if lim <= 0 {
		lim = DefaultMaxDepth
	}
	return &syntaxErr{off: sc.pos, msg: "JSON nested deeper than " + strconv.Itoa(lim) + " levels", deep: true}
}

func (sc *scanner) ws() {
	if sc.pos < len(sc.s) && sc.s[sc.pos] > ' ' {
		return
	}
	for sc.pos < len(sc.s) {
		switch sc.s[sc.pos] {
		case ' ', '\t', '\n', '\r':
			sc.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (sc *scanner) peek() byte {
	sc.ws()
	if sc.pos >= len(sc.s) {
		return 0
	}
	return sc.s[sc.pos]
}

func (sc *scanner) expect(c byte) error {
	if p := sc.pos; p < len(sc.s) && sc.s[p] == c {
		sc.pos = p + 1
		return nil
	}
	return sc.expectSlow(c)
}

func (sc *scanner) expectSlow(c byte) error {
	if sc.peek() != c {
		if sc.pos >= len(sc.s) {
			return sc.fail("unexpected end of JSON input")
		}
		return sc.fail("expected '" + string(c) + "', found " + quoteByte(sc.s[sc.pos]))
	}
	sc.pos++
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	const hex = "0123456789abcdef"
	return "byte 0x" + string(hex[c>>4]) + string(hex[c&15])
}

// str reads a JSON string at pos. The result aliases the input when the
// string has no escapes (raw == true); otherwise it is a new string.
func (sc *scanner) str() (v string, raw bool, err error) {
	s, p := sc.s, sc.pos
	if p >= len(s) || s[p] != '"' {
		if sc.peek() != '"' {
			return "", false, sc.fail("expected a string")
		}
		p = sc.pos
	}
	start := p + 1
	i := plainRun(s, start)
	if i < len(s) && s[i] == '"' {
		sc.pos = i + 1
		return s[start:i], true, nil
	}
	// Slow path: escapes, control characters or non-ASCII.
	var b []byte
	hasEsc := false
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			sc.pos = i + 1
			if !hasEsc {
				return s[start:i], true, nil
			}
			return string(b), false, nil
		case c < 0x20:
			sc.pos = i
			return "", false, sc.fail("control character in string")
		case c == '\\':
			if !hasEsc {
				hasEsc = true
				b = make([]byte, 0, i-start+16)
				b = append(b, s[start:i]...)
			}
			if i+1 >= len(s) {
				sc.pos = i
				return "", false, sc.fail("unexpected end of JSON input")
			}
			switch e := s[i+1]; {
			case simpleEscapes[e] != 0:
				b = append(b, simpleEscapes[e])
				i += 2
			case e == 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					sc.pos = i
					return "", false, sc.fail("invalid \\u escape in string")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2, ok2 = hex4(s, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				sc.pos = i
				return "", false, sc.fail("invalid escape in string")
			}
		case c < 0x80:
			if hasEsc {
				b = append(b, c)
			}
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				sc.pos = i
				return "", false, sc.fail("invalid UTF-8 in string")
			}
			if hasEsc {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	sc.pos = len(s)
	return "", false, sc.fail("unexpected end of JSON input")
}

// plainRun returns the index of the first byte at or after i that ends
// or complicates a JSON string: a quote, a backslash, a control character
// or a non-ASCII byte; len(s) if there is none. It looks at eight bytes at
// a time.
func plainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := specialBytes(load64(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i
		}
	}
	return i
}

// load64 returns the eight bytes of s at i as a little-endian word; the
// caller guarantees i+8 <= len(s).
func load64(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// specialBytes has the high bit set in the lowest byte of x that is a
// quote, a backslash, below 0x20 or at least 0x80 (higher bytes may be
// marked spuriously); it is zero when there is no such byte.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ ('"' * ones)
	b := x ^ ('\\' * ones)
	return ((x-0x20*ones)&^x | (q-ones)&^q | (b-ones)&^b | x) & highs
}

// simpleEscapes maps the byte after a backslash to the byte it stands for,
// for every JSON escape but \u; zero for the rest.
var simpleEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a JSON number and returns its text (aliasing the input).
func (sc *scanner) number() (string, error) {
	sc.ws()
	s, i := sc.s, sc.pos
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		sc.pos = i
		return "", sc.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			sc.pos = i
			return "", sc.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			sc.pos = i
			return "", sc.fail("invalid number")
		}
	}
	sc.pos = i
	return s[start:i], nil
}

// literal consumes lit ("true", "false", "null") if it is next.
func (sc *scanner) literal(lit string) bool {
	sc.ws()
	if strings.HasPrefix(sc.s[sc.pos:], lit) {
		sc.pos += len(lit)
		return true
	}
	return false
}

// null consumes a JSON null if it is next.
func (sc *scanner) null() bool {
	sc.ws()
	if sc.pos+4 <= len(sc.s) && sc.s[sc.pos:sc.pos+4] == "null" {
		sc.pos += 4
		return true
	}
	return false
}

// skip validates and skips one JSON value, returning its text (aliasing
// the input).
func (sc *scanner) skip(depth int) (string, error) {
	c := sc.peek()
	start := sc.pos
	switch {
	case c == '"':
		if _, _, err := sc.str(); err != nil {
			return "", err
		}
	case c == '{':
		if sc.tooDeep(depth) {
			return "", sc.failDeep()
		}
		sc.pos++
		if sc.peek() == '}' {
			sc.pos++
			break
		}
		for {
			if _, _, err := sc.str(); err != nil {
				return "", err
			}
			if err := sc.expect(':'); err != nil {
				return "", err
			}
			if _, err := sc.skip(depth + 1); err != nil {
				return "", err
			}
			if more, err := sc.next('}'); err != nil {
				return "", err
			} else if !more {
				break
			}
		}
	case c == '[':
		if sc.tooDeep(depth) {
			return "", sc.failDeep()
		}
		sc.pos++
		if sc.peek() == ']' {
			sc.pos++
			break
		}
		for {
			if _, err := sc.skip(depth + 1); err != nil {
				return "", err
			}
			if more, err := sc.next(']'); err != nil {
				return "", err
			} else if !more {
				break
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		if _, err := sc.number(); err != nil {
			return "", err
		}
	case c == 't':
		if !sc.literal("true") {
			return "", sc.fail("invalid literal")
		}
	case c == 'f':
		if !sc.literal("false") {
			return "", sc.fail("invalid literal")
		}
	case c == 'n':
		if !sc.literal("null") {
			return "", sc.fail("invalid literal")
		}
	case c == 0:
		return "", sc.fail("unexpected end of JSON input")
	default:
		return "", sc.fail("invalid character " + quoteByte(c) + " looking for a value")
	}
	return sc.s[start:sc.pos], nil
}

// next consumes ',' (reporting true: another member follows) or the closing
// byte (reporting false).
func (sc *scanner) next(closing byte) (bool, error) {
	if p := sc.pos; p < len(sc.s) {
		switch sc.s[p] {
		case ',':
			sc.pos = p + 1
			return true, nil
		case closing:
			sc.pos = p + 1
			return false, nil
		}
	}
	return sc.nextSlow(closing)
}

func (sc *scanner) nextSlow(closing byte) (bool, error) {
	switch sc.peek() {
	case ',':
		sc.pos++
		return true, nil
	case closing:
		sc.pos++
		return false, nil
	case 0:
		return false, sc.fail("unexpected end of JSON input")
	}
	return false, sc.fail("expected ',' or '" + string(closing) + "', found " + quoteByte(sc.s[sc.pos]))
}

// own returns a copy of s that does not alias the input buffer.
func own(s string) string { return strings.Clone(s) }

// keySet is a set of known object keys in their usual order. read
// predicts that the key at the scanner is the one after the previous match
// and checks it with one comparison, which avoids decoding the key and
// looking it up for input written in that order.
type keySet struct {
	names  []string
	quoted []keyText // `"name":`
	after  []keyText // `,"name":`
	index  map[string]int
	prefix string // common prefix of all names
}

// keyText is a key's text as it appears in the input, with its bytes also
// held as masked little-endian words: the predicted-key checks run for
// almost every member of every event, and a branch-free compare of a few
// words inline is much cheaper than a call to the runtime's memequal.
type keyText struct {
	s    string
	w, m [keyWords]uint64 // s's bytes and a mask of the bytes that exist
}

// keyWords*8 bounds the length of the texts matched a word at a time;
// longer ones (only event_blocks_parent_completion) are compared as strings.
const keyWords = 4

func newKeyText(s string) keyText {
	t := keyText{s: s}
	if len(s) <= 8*keyWords {
		for i := 0; i < len(s); i++ {
			t.w[i>>3] |= uint64(s[i]) << (8 * (i & 7))
			t.m[i>>3] |= 0xff << (8 * (i & 7))
		}
	}
	return t
}

// follows reports whether s[p:] starts with t.s.
func (t *keyText) follows(s string, p int) bool {
	if len(s)-p >= 8*keyWords && len(t.s) <= 8*keyWords {
		return t.startOf(s[p:]) // the usual case: whole words
	}
	return len(s)-p >= len(t.s) && s[p:p+len(t.s)] == t.s
}

// startOf reports whether b, which must have at least 8*keyWords bytes,
// starts with t.s; t.s must be at most that long.
func (t *keyText) startOf(b string) bool {
	_ = b[8*keyWords-1]
	return (load64(b, 0)^t.w[0])&t.m[0]|(load64(b, 8)^t.w[1])&t.m[1]|
		(load64(b, 16)^t.w[2])&t.m[2]|(load64(b, 24)^t.w[3])&t.m[3] == 0
}

func newKeySet(names ...string) *keySet {
	k := &keySet{names: names, index: make(map[string]int, len(names)), prefix: names[0]}
	for i, n := range names {
		for !strings.HasPrefix(n, k.prefix) {
			k.prefix = k.prefix[:len(k.prefix)-1]
		}
		k.quoted = append(k.quoted, newKeyText(`"`+n+`":`))
		k.after = append(k.after, newKeyText(`,"`+n+`":`))
		k.index[n] = i
	}
	return k
}

// read reads a key and its colon, leaving the scanner at the value. It
// returns the key's index (-1 for an unknown key) and the key.
func (k *keySet) read(sc *scanner, next int) (int, string, error) {
	s, p := sc.s, sc.pos
	if p < len(s) && s[p] <= ' ' {
		sc.ws()
		p = sc.pos
	}
	if next < len(k.quoted) {
		if q := &k.quoted[next]; q.follows(s, p) {
			p += len(q.s)
			sc.pos = p
			if p < len(s) && s[p] <= ' ' {
				sc.ws()
			}
			return next, k.names[next], nil
		}
	}
	return k.readSlow(sc)
}

// follows reports whether the scanner is at `,"name":` for the key of
// index next, with no space before the quote and none after the colon, and
// how many bytes that is; it consumes nothing.
//
// It runs after almost every member, so its usual case (a key of at most
// 32 bytes, well before the end of the input) compares whole words inline.
func (k *keySet) follows(sc *scanner, next int) (int, bool) {
	s, p := sc.s, sc.pos
	if uint(next) < uint(len(k.after)) && len(s)-p > 8*keyWords {
		q := &k.after[next]
		if n := len(q.s); n <= 8*keyWords {
			// startOf written out: the compiler does not inline it.
			b := s[p : p+8*keyWords+1]
			if (load64(b, 0)^q.w[0])&q.m[0]|(load64(b, 8)^q.w[1])&q.m[1]|
				(load64(b, 16)^q.w[2])&q.m[2]|(load64(b, 24)^q.w[3])&q.m[3] != 0 || b[n] <= ' ' {
				return 0, false
			}
			return n, true
		}
	}
	return k.followsSlow(sc, next)
}

func (k *keySet) followsSlow(sc *scanner, next int) (int, bool) {
	if next >= len(k.after) {
		return 0, false
	}
	q, s, p := &k.after[next], sc.s, sc.pos
	if len(s)-p <= len(q.s) || s[p+len(q.s)] <= ' ' || s[p:p+len(q.s)] != q.s {
		return 0, false
	}
	return len(q.s), true
}

func (k *keySet) readSlow(sc *scanner) (int, string, error) {
	key, _, err := sc.str()
	if err != nil {
		return -1, "", err
	}
	if err := sc.expect(':'); err != nil {
		return -1, key, err
	}
	sc.ws()
	if !strings.HasPrefix(key, k.prefix) {
		return -1, key, nil
	}
	if i, ok := k.index[key]; ok {
		return i, k.names[i], nil
	}
	return -1, key, nil
}

// aliases reports whether sub points into s.
func aliases(s, sub string) bool {
	if len(sub) == 0 || len(s) == 0 {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(sub))), uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= b && p < b+uintptr(len(s))
}
