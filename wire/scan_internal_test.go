package wire

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCleanASCII(t *testing.T) {
	naive := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '\\' {
				return false
			}
		}
		return true
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09 ~!\"#\\\x00\x1f\x7f\x80\xff")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(8) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		if got, want := cleanASCII(string(b)), naive(string(b)); got != want {
			t.Fatalf("cleanASCII(%q) = %v, want %v", b, got, want)
		}
	}
}

// The string scanner agrees with encoding/json on what is valid and on the
// decoded value (lone surrogates become U+FFFD in both).
func TestScannerStringsMatchEncodingJSON(t *testing.T) {
	cases := []string{`""`, `"abc"`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800x"`, `"\udc00"`, `"é✓"`,
		`"\/\b\f\n\r\t"`, `"` + strings.Repeat("x", 100) + `\n"`, `"` + strings.Repeat("y", 60) + `"`,
		"\"a\x01\"", `"\x"`, `"\u12"`, `"abc`, "\"\xff\"", `"` + strings.Repeat("z", 70) + "\x02\""}
	for _, c := range cases {
		var want string
		werr := json.Unmarshal([]byte(c), &want)
		sc := scanner{s: c}
		got, _, gerr := sc.str()
		if (werr == nil) != (gerr == nil) {
			if c == "\"\\xff\"" || c == "\"\xff\"" {
				continue // encoding/json replaces invalid UTF-8; the decoder rejects it
			}
			t.Errorf("%q: encoding/json err %v, scanner err %v", c, werr, gerr)
			continue
		}
		if werr == nil && got != want {
			t.Errorf("%q: got %q, want %q", c, got, want)
		}
	}
}

func TestDurationsExact(t *testing.T) {
	for _, s := range []string{"0", "60", "0.05", "1.5", "0.000000001", "9223372036.854775807", "12345.678901234"} {
		d, ok := parseSeconds(s)
		if !ok {
			t.Fatalf("parseSeconds(%s) failed", s)
		}
		if got := string(appendDuration(nil, d)); got != s {
			t.Errorf("%s -> %v -> %s", s, d, got)
		}
	}
	for _, s := range []string{"1e3", "2.5E-1", "0.0000000004", "0.0000000005"} {
		if _, ok := parseSeconds(s); !ok {
			t.Errorf("parseSeconds(%s) failed", s)
		}
	}
	for _, s := range []string{"-1", "9223372037", "1e300"} {
		if _, ok := parseSeconds(s); ok {
			t.Errorf("parseSeconds(%s) accepted", s)
		}
	}
}
