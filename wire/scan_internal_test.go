package wire

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestPlainRun(t *testing.T) {
	naive := func(s string, i int) int {
		for ; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '\\' || c == '"' {
				return i
			}
		}
		return i
	}
	for c := 0; c < 256; c++ {
		for k := 0; k < 20; k++ {
			b := []byte(strings.Repeat("a", 20))
			b[k] = byte(c)
			if got, want := plainRun(string(b), 0), naive(string(b), 0); got != want {
				t.Fatalf("plainRun(%q, 0) = %d, want %d", b, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09 ~!\"#\\\x00\x1f\x7f\x80\xff\x21\x23\x5b\x5d")
	for n := 0; n < 50000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(8) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		from := 0
		if len(b) > 0 {
			from = r.IntN(len(b) + 1)
		}
		if got, want := plainRun(string(b), from), naive(string(b), from); got != want {
			t.Fatalf("plainRun(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
}

// The string scanner agrees with encoding/json on what is valid and on the
// decoded value (lone surrogates become U+FFFD in both).
func TestScannerStringsMatchEncodingJSON(t *testing.T) {
	cases := []string{`""`, `"abc"`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800x"`, `"\udc00"`, `"é✓"`,
		`"\/\b\f\n\r\t"`, `"a\\b"`, `"\a"`, `"` + strings.Repeat("x", 100) + `\n"`, `"` + strings.Repeat("y", 60) + `"`,
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

func TestNumberFastPathsMatchStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []string{"0", "-0", "1", "-1", "9.5", "0.1", "-0.0", "123456789012345678", "1234567890123456789",
		"9007199254740991", "9007199254740992", "9007199254740993", "0.30000000000000004", "1.7976931348623157", "12.", ".5", "1e5", "1.5.5", "-", ""}
	for n := 0; n < 200000; n++ {
		b := make([]byte, 1+r.IntN(19))
		for i := range b {
			b[i] = "0123456789.-"[r.IntN(12)]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if v, ok := plainFloat(c); ok {
			w, err := strconv.ParseFloat(c, 64)
			if err != nil || math.Float64bits(v) != math.Float64bits(w) {
				t.Fatalf("plainFloat(%q) = %v, strconv gives %v, %v", c, v, w, err)
			}
		}
		if v, ok := smallInt(c); ok {
			w, err := strconv.ParseInt(c, 10, 64)
			if err != nil || v != w {
				t.Fatalf("smallInt(%q) = %v, strconv gives %v, %v", c, v, w, err)
			}
		}
	}
}
