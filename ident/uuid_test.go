package ident_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/ident"
)

func mustUUID(t testing.TB, s string) ident.UUID {
	t.Helper()
	u, err := ident.ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewV7Layout(t *testing.T) {
	before := time.Now().UnixMilli()
	u := ident.NewV7()
	after := time.Now().UnixMilli()

	if v := u[6] >> 4; v != 7 {
		t.Errorf("%s: version %d, want 7", u, v)
	}
	if v := u[8] >> 6; v != 0b10 {
		t.Errorf("%s: variant bits %02b, want 10", u, v)
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	// Now is anchored once, so allow a little drift against time.Now.
	if ms < before-2000 || ms > after+2000 {
		t.Errorf("%s: unix_ts_ms %d, want between %d and %d", u, ms, before, after)
	}
	s := u.String()
	if len(s) != 36 || s[14] != '7' || !strings.ContainsAny(s[19:20], "89ab") {
		t.Errorf("NewV7().String() = %q", s)
	}
}

// NewV7At stores the millisecond in unix_ts_ms and the fraction of the
// millisecond, scaled to 4096, in rand_a (RFC 9562 method 3).
func TestNewV7AtTimestampFields(t *testing.T) {
	for _, ns := range []int64{
		1_795_718_934_811_416_073,
		1_795_718_934_811_000_000,
		1_795_718_934_811_999_999,
		1_795_718_934_811_500_000,
		1,
	} {
		u := ident.NewV7At(ident.Time(ns))
		ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
		randA := int64(u[6]&0x0f)<<8 | int64(u[7])
		if ms != ns/1e6 {
			t.Errorf("NewV7At(%d): unix_ts_ms %d, want %d", ns, ms, ns/1e6)
		}
		if want := ns % 1e6 * 4096 / 1e6; randA != want {
			t.Errorf("NewV7At(%d): rand_a %d, want %d", ns, randA, want)
		}
		if u[6]>>4 != 7 || u[8]>>6 != 0b10 {
			t.Errorf("NewV7At(%d) = %s: wrong version or variant", ns, u)
		}
	}
	// Consecutive nanoseconds give increasing ids, across a millisecond
	// boundary too.
	base := int64(1_795_718_934_810_999_000)
	prev := ident.NewV7At(ident.Time(base))
	for ns := base + 1; ns < base+3000; ns++ {
		u := ident.NewV7At(ident.Time(ns))
		if bytes.Compare(prev[:], u[:]) >= 0 {
			t.Fatalf("NewV7At(%d) = %s is not after NewV7At(%d) = %s", ns, u, ns-1, prev)
		}
		prev = u
	}
}

func TestNewV7UniqueAcrossGoroutines(t *testing.T) {
	const goroutines, perGoroutine = 4, 25_000
	results := make([][]ident.UUID, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ids := make([]ident.UUID, perGoroutine)
			for i := range ids {
				ids[i] = ident.NewV7()
			}
			results[g] = ids
		})
	}
	wg.Wait()

	seen := make(map[ident.UUID]bool, goroutines*perGoroutine)
	for g, ids := range results {
		for i, u := range ids {
			if seen[u] {
				t.Fatalf("duplicate id %s", u)
			}
			seen[u] = true
			// Generation order within one goroutine is sort order, as bytes
			// and as strings.
			if i > 0 {
				prev := ids[i-1]
				if bytes.Compare(prev[:], u[:]) >= 0 || prev.String() >= u.String() {
					t.Fatalf("goroutine %d: id %d %s is not after %s", g, i, u, prev)
				}
			}
			if u[6]>>4 != 7 || u[8]>>6 != 0b10 {
				t.Fatalf("%s: wrong version or variant", u)
			}
		}
	}
}

func TestNewV7Monotonic(t *testing.T) {
	ids := make([]ident.UUID, 100_000)
	for i := range ids {
		ids[i] = ident.NewV7()
	}
	if !slices.IsSortedFunc(ids, func(a, b ident.UUID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Fatal("ids from one goroutine are not in generation order")
	}
	if len(slices.Compact(ids)) != len(ids) {
		t.Fatal("duplicate ids")
	}
}

func TestParseUUID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"01a2191e-219a-76c3-8cf0-6eca49032cc2", "01a2191e-219a-76c3-8cf0-6eca49032cc2"},
		{"01A2191E-219A-76C3-8CF0-6ECA49032CC2", "01a2191e-219a-76c3-8cf0-6eca49032cc2"},
		{"01a2191E-219a-76C3-8cf0-6ECa49032cc2", "01a2191e-219a-76c3-8cf0-6eca49032cc2"},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, // v1
		{"886313e1-3b8a-5372-9b90-0c9aee199e5d", "886313e1-3b8a-5372-9b90-0c9aee199e5d"}, // v5
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"}, // nil
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff"}, // max
		{"12345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789abc"}, // no variant check
	} {
		u, err := ident.ParseUUID(tc.in)
		if err != nil {
			t.Errorf("ParseUUID(%q): %v", tc.in, err)
			continue
		}
		if u.String() != tc.want || string(u.AppendText([]byte("x"))) != "x"+tc.want {
			t.Errorf("ParseUUID(%q) = %s, want %s", tc.in, u, tc.want)
		}
		if u.Suffix4() != tc.want[32:] {
			t.Errorf("ParseUUID(%q).Suffix4() = %q, want %q", tc.in, u.Suffix4(), tc.want[32:])
		}
	}
	for _, in := range []string{
		"",
		"garbage",
		"01a2191e219a76c38cf06eca49032cc2",       // no hyphens
		"{01a2191e-219a-76c3-8cf0-6eca49032cc2}", // braces
		"urn:uuid:01a2191e-219a-76c3-8cf0-6eca49032cc2",
		"01a2191e-219a-76c3-8cf0-6eca49032cc",   // short
		"01a2191e-219a-76c3-8cf0-6eca49032cc22", // long
		"01a2191e-219a-76c3-8cf0-6eca49032cc2 ",
		" 01a2191e-219a-76c3-8cf0-6eca49032cc2",
		"01a2191e-219a-76c3-8cf0-6eca49032cg2", // g
		"01a2191e_219a_76c3_8cf0_6eca49032cc2", // underscores
		"01a2191-e219a-76c3-8cf0-6eca49032cc2", // hyphen misplaced
		"01a2191e-219a-76c3-8cf06-eca49032cc2",
		"01a2191e-219a-76c3-8cf0-6eca4903-2cc",
		"+1a2191e-219a-76c3-8cf0-6eca49032cc2",
		"01a2191e-219a-76c3-8cf0-6eca49032c\x00c",
		"01a2191e-219a-76c3-8cf0-6eca49032cé", // non-ASCII, 36 bytes
	} {
		if u, err := ident.ParseUUID(in); err == nil || !errors.Is(err, ident.ErrBadUUID) {
			t.Errorf("ParseUUID(%q) = %s, %v; want an error wrapping ErrBadUUID", in, u, err)
		}
	}
}

// ParseUUID checks every hex position: a non-hex byte anywhere is refused.
func TestParseUUIDChecksEveryPosition(t *testing.T) {
	const good = "01a2191e-219a-76c3-8cf0-6eca49032cc2"
	for i := range len(good) {
		if good[i] == '-' {
			continue
		}
		for _, c := range []byte{'g', 'G', '/', ':', '@', '`', 0x80} {
			b := []byte(good)
			b[i] = c
			in := string(b)
			if _, err := ident.ParseUUID(in); !errors.Is(err, ident.ErrBadUUID) {
				t.Errorf("ParseUUID(%q) = %v, want ErrBadUUID", in, err)
			}
		}
	}
}

func TestUUIDZero(t *testing.T) {
	var z ident.UUID
	if !z.IsZero() || z.String() != "00000000-0000-0000-0000-000000000000" || z.Suffix4() != "0000" {
		t.Errorf("zero UUID: IsZero=%v String=%q", z.IsZero(), z.String())
	}
	if ident.NewV7().IsZero() {
		t.Error("NewV7().IsZero() = true")
	}
}

func TestNewV5(t *testing.T) {
	if got := ident.NamespaceDNS.String(); got != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
		t.Errorf("NamespaceDNS = %s", got)
	}
	// Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org").
	if got := ident.NewV5(ident.NamespaceDNS, "python.org").String(); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Errorf("NewV5(NamespaceDNS, python.org) = %s", got)
	}
	// Python: uuid.uuid5(uuid.NAMESPACE_DNS, "abxbus-handler").
	if got := ident.NewV5(ident.NamespaceDNS, "abxbus-handler").String(); got != "98dc1aae-798a-597c-8b2e-2c0511f4a81a" {
		t.Errorf("NewV5(NamespaceDNS, abxbus-handler) = %s", got)
	}
	// Names longer than the stack buffer.
	long := strings.Repeat("ünïcode|", 100)
	if got, want := ident.NewV5(ident.NamespaceDNS, long), uuid5ByHand(ident.NamespaceDNS, long); got != want {
		t.Errorf("NewV5(long name) = %s, want %s", got, want)
	}
}

// uuid5ByHand computes a version 5 UUID straight from RFC 9562 section 5.5,
// on the canonical strings, as an independent check of NewV5.
func uuid5ByHand(ns ident.UUID, name string) ident.UUID {
	nsBytes, err := hex.DecodeString(strings.ReplaceAll(ns.String(), "-", ""))
	if err != nil {
		panic(err)
	}
	h := sha1.New()
	h.Write(nsBytes)
	h.Write([]byte(name))
	sum := h.Sum(nil)
	sum[6] = 0x50 | sum[6]&0x0f
	sum[8] = 0x80 | sum[8]&0x3f
	var u ident.UUID
	copy(u[:], sum[:16])
	return u
}

func TestHandlerID(t *testing.T) {
	handlerNS := uuid5ByHand(ident.NamespaceDNS, "abxbus-handler")
	for _, tc := range []struct{ bus, name, file, at, pattern, seed string }{
		{
			"01a2191e-21c9-70c4-b620-49ac0b83fb3a", "ok_handler", "", "2026-11-26T18:28:54.857686178Z", "WorkEvent",
			"01a2191e-21c9-70c4-b620-49ac0b83fb3a|ok_handler|unknown|2026-11-26T18:28:54.857686178Z|WorkEvent",
		},
		{
			"018f0000-0000-7000-8000-000000000001", "app.handlers.on_user", "app/handlers.py:7", "2026-01-02T03:04:05.000000006Z", "*",
			"018f0000-0000-7000-8000-000000000001|app.handlers.on_user|app/handlers.py:7|2026-01-02T03:04:05.000000006Z|*",
		},
		{
			"018f0000-0000-7000-8000-000000000001", "", "", "", "",
			"018f0000-0000-7000-8000-000000000001||unknown||",
		},
		{
			"b", strings.Repeat("n", 300), "f", "t", "p",
			"b|" + strings.Repeat("n", 300) + "|f|t|p",
		},
	} {
		want := uuid5ByHand(handlerNS, tc.seed)
		if got := ident.HandlerID(tc.bus, tc.name, tc.file, tc.at, tc.pattern); got != want {
			t.Errorf("HandlerID(%q, %q, %q, %q, %q) = %s, want %s", tc.bus, tc.name, tc.file, tc.at, tc.pattern, got, want)
		}
	}
	// The same id as the TypeScript runtime wrote into vectors/03.
	got := ident.HandlerID("01a2191e-21c9-70c4-b620-49ac0b83fb3a", "ok_handler", "", "2026-11-26T18:28:54.857686178Z", "WorkEvent")
	if want := mustUUID(t, "abe8a770-9dac-5c96-94f0-356af9e28aa7"); got != want {
		t.Errorf("HandlerID(vector 03 ok_handler) = %s, want %s", got, want)
	}
}

func TestUUIDDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64)
	u := ident.NewV7()
	if n := testing.AllocsPerRun(100, func() { buf = u.AppendText(buf[:0]) }); n != 0 {
		t.Errorf("UUID.AppendText: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { u = ident.NewV7() }); n != 0 {
		t.Errorf("NewV7: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { u, _ = ident.ParseUUID("01a2191e-219a-76c3-8cf0-6eca49032cc2") }); n != 0 {
		t.Errorf("ParseUUID: %v allocations, want 0", n)
	}
}

// TIME-8: the per-bus deriver gives HandlerID's ids, for registrations in
// one minute (the cached date and time of day) and across minutes, days and
// years, without allocating.
func TestHandlerIDsMatchHandlerID(t *testing.T) {
	bus := ident.NewV7()
	g := ident.NewHandlerIDs(bus)
	base := ident.Now()
	steps := []time.Duration{0, time.Microsecond, 3 * time.Second, time.Minute, 59 * time.Second, 24 * time.Hour, 400 * 24 * time.Hour, -2 * time.Hour}
	at := base
	for i, d := range steps {
		at += ident.Time(d)
		for _, file := range []string{"", "~/x/main.go:12"} {
			want := ident.HandlerID(bus.String(), "ok_handler", file, at.String(), "WorkEvent")
			if got := g.Derive("ok_handler", file, at, "WorkEvent"); got != want {
				t.Fatalf("step %d: Derive(file %q, %s) = %s, want %s", i, file, at, got, want)
			}
		}
	}
	if got, want := g.Derive("h", "", 0, "E"), ident.HandlerID(bus.String(), "h", "", "", "E"); got != want {
		t.Fatalf("zero time: Derive = %s, want %s", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { g.Derive("h", "", at, "E") }); n != 0 {
		t.Errorf("Derive allocates %v times", n)
	}
}
