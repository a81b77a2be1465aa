package ident_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// canonical is the TIME-4 layout in the syntax of package time.
const canonical = "2006-01-02T15:04:05.000000000Z"

func TestTimeStringKnownInstants(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{1, "1970-01-01T00:00:00.000000001Z"},
		{-1, "1969-12-31T23:59:59.999999999Z"},
		{999_999_999, "1970-01-01T00:00:00.999999999Z"},
		{1_000_000_000, "1970-01-01T00:00:01.000000000Z"},
		{86_400e9 - 1, "1970-01-01T23:59:59.999999999Z"},
		{86_400e9, "1970-01-02T00:00:00.000000000Z"},
		{951_782_400e9, "2000-02-29T00:00:00.000000000Z"}, // leap day of a year divisible by 400
		{951_868_799e9 + 999_999_999, "2000-02-29T23:59:59.999999999Z"},
		{951_868_800e9, "2000-03-01T00:00:00.000000000Z"},
		{-2_203_891_200e9, "1900-03-01T00:00:00.000000000Z"}, // 1900 is not a leap year
		{-2_203_891_201e9, "1900-02-28T23:59:59.000000000Z"},
		{1_709_164_800e9, "2024-02-29T00:00:00.000000000Z"},
		{1_735_689_599e9 + 123_456_789, "2024-12-31T23:59:59.123456789Z"},
		{4_107_542_400e9, "2100-03-01T00:00:00.000000000Z"}, // 2100 is not a leap year
		{4_107_542_399e9, "2100-02-28T23:59:59.000000000Z"},
		{1_795_717_734_811_416_073, "2026-11-26T18:28:54.811416073Z"},
		{math.MaxInt64, "2262-04-11T23:47:16.854775807Z"},
		{math.MinInt64, "1677-09-21T00:12:43.145224192Z"},
	} {
		got := ident.Time(tc.ns).String()
		if got != tc.want {
			t.Errorf("Time(%d).String() = %q, want %q", tc.ns, got, tc.want)
		}
		if ref := time.Unix(0, tc.ns).UTC().Format(canonical); ref != tc.want {
			t.Errorf("test table is wrong: time.Unix(0, %d) = %s, want %s", tc.ns, ref, tc.want)
		}
		if app := ident.Time(tc.ns).AppendText([]byte("x")); string(app) != "x"+tc.want {
			t.Errorf("Time(%d).AppendText = %q", tc.ns, app)
		}
	}
}

func TestTimeStringMatchesPackageTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		ns := int64(r.Uint64())
		if ns == 0 {
			continue
		}
		got, want := ident.Time(ns).String(), time.Unix(0, ns).UTC().Format(canonical)
		if got != want {
			t.Fatalf("Time(%d).String() = %q, want %q", ns, got, want)
		}
	}
	// Every day boundary between 1970 and 2100.
	for day := int64(0); day < 47_482; day++ {
		ns := day * 86_400e9
		if ns == 0 {
			continue
		}
		for _, x := range []int64{ns - 1, ns} {
			got, want := ident.Time(x).String(), time.Unix(0, x).UTC().Format(canonical)
			if got != want {
				t.Fatalf("Time(%d).String() = %q, want %q", x, got, want)
			}
		}
	}
}

func TestTimeZero(t *testing.T) {
	var z ident.Time
	if !z.IsZero() || z.String() != "" || string(z.AppendText([]byte("x"))) != "x" || !z.Std().IsZero() {
		t.Errorf("zero Time: IsZero=%v String=%q Std=%v", z.IsZero(), z.String(), z.Std())
	}
	if ident.FromStd(time.Time{}) != 0 {
		t.Errorf("FromStd(time.Time{}) = %d, want 0", ident.FromStd(time.Time{}))
	}
	if ident.Time(1).IsZero() {
		t.Error("Time(1).IsZero() = true")
	}
}

func TestTimeStd(t *testing.T) {
	st := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("x", 5*3600+1800))
	ts := ident.FromStd(st)
	if got, want := ts.String(), "2024-02-29T07:44:15.123456789Z"; got != want {
		t.Errorf("FromStd(%v).String() = %q, want %q", st, got, want)
	}
	back := ts.Std()
	if !back.Equal(st) || back.Location() != time.UTC {
		t.Errorf("Std() = %v, want %v in UTC", back, st)
	}
}

func TestParseTimeAccepts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2026-11-26T18:28:54.811416073Z", "2026-11-26T18:28:54.811416073Z"},
		{"2026-11-26T18:28:54Z", "2026-11-26T18:28:54.000000000Z"},
		{"2026-11-26T18:28:54.1Z", "2026-11-26T18:28:54.100000000Z"},
		{"2026-11-26T18:28:54.123Z", "2026-11-26T18:28:54.123000000Z"},
		{"2026-11-26T18:28:54.000000001Z", "2026-11-26T18:28:54.000000001Z"},
		{"2026-11-26T18:28:54.999999999Z", "2026-11-26T18:28:54.999999999Z"}, // padded, not rounded
		{"2026-11-26T18:28:54.5+05:30", "2026-11-26T12:58:54.500000000Z"},
		{"2026-11-26T18:28:54.123456789-08:00", "2026-11-27T02:28:54.123456789Z"},
		{"2026-01-01T01:00:00+05:30", "2025-12-31T19:30:00.000000000Z"},
		{"2025-12-31T23:00:00-02:00", "2026-01-01T01:00:00.000000000Z"},
		{"2026-03-01T00:30:00+01:00", "2026-02-28T23:30:00.000000000Z"},
		{"2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000000Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000000Z"},
		{"2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000000000Z"},
		{"2026-11-26T18:28:54+00:00", "2026-11-26T18:28:54.000000000Z"},
		{"2026-11-26T18:28:54-00:00", "2026-11-26T18:28:54.000000000Z"},
		{"2026-11-26T18:28:54+23:59", "2026-11-25T18:29:54.000000000Z"},
		{"1991-01-01T00:00:00Z", "1991-01-01T00:00:00.000000000Z"},
		{"1991-01-01T05:00:00+05:00", "1991-01-01T00:00:00.000000000Z"},
		{"1990-12-31T23:30:00-00:30", "1991-01-01T00:00:00.000000000Z"}, // year is checked in UTC
		{"2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775807Z"},
		{"2026-12-31T23:59:59.999999999Z", "2026-12-31T23:59:59.999999999Z"},
	} {
		got, err := ident.ParseTime(tc.in)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseTime(%q) = %s, want %s", tc.in, got, tc.want)
		}
		ref, err := time.Parse(time.RFC3339Nano, tc.in)
		if err != nil || ident.FromStd(ref) != got {
			t.Errorf("ParseTime(%q) = %d, time.Parse gives %d (%v)", tc.in, got, ident.FromStd(ref), err)
		}
		if n, err := ident.NormalizeTime(tc.in); n != tc.want || err != nil {
			t.Errorf("NormalizeTime(%q) = %q, %v; want %q", tc.in, n, err, tc.want)
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"garbage",
		"2026-11-26",
		"2026-11-26T18:28",
		"2026-11-26T18:28:54",             // no zone
		"2026-11-26T18:28:54.123",         // no zone
		"2026-11-26T18:28:54.1234567890Z", // 10 fractional digits
		"2026-11-26T18:28:54.Z",           // dot without digits
		"2026-11-26T18:28:54,5Z",          // comma
		"2026-11-26T18:28:54.5.5Z",        // two fractions
		"2026-11-26 18:28:54Z",            // space
		"2026-11-26t18:28:54Z",            // lowercase t
		"2026-11-26T18:28:54z",            // lowercase z
		"2026-11-26T18:28:54ZZ",           // trailing garbage
		"2026-11-26T18:28:54Z\n",          // trailing newline
		" 2026-11-26T18:28:54Z",           // leading space
		"2026-11-26T18:28:54+05:30Z",      // offset and Z
		"2026-11-26T18:28:54+0530",        // offset without colon
		"2026-11-26T18:28:54+05",          // offset without minutes
		"2026-11-26T18:28:54+5:30",        // one-digit offset hour
		"2026-11-26T18:28:54+24:00",       // offset too large
		"2026-11-26T18:28:54+05:60",       // offset minutes out of range
		"2026-11-26T18:28:54 +05:30",      // space before offset
		"26-11-26T18:28:54Z",              // two-digit year
		"+2026-11-26T18:28:54Z",           // signed year
		"02026-11-26T18:28:54Z",           // five-digit year
		"2026-1-26T18:28:54Z",             // one-digit month
		"2026/11/26T18:28:54Z",            // wrong separators
		"2026-11-26T18-28-54Z",            // wrong separators
		"2026-13-01T00:00:00Z",            // month 13
		"2026-00-01T00:00:00Z",            // month 0
		"2026-11-00T00:00:00Z",            // day 0
		"2026-11-31T00:00:00Z",            // November has 30 days
		"2026-02-29T00:00:00Z",            // not a leap year
		"2100-02-29T00:00:00Z",            // not a leap year
		"2026-11-26T24:00:00Z",            // hour 24
		"2026-11-26T23:60:00Z",            // minute 60
		"2016-12-31T23:59:60Z",            // leap second
		"2026-11-2aT18:28:54Z",            // letter
		"2026-11-26T18:28:5-Z",            // sign inside a number
		"２０２６-11-26T18:28:54Z",            // non-ASCII digits
		"1990-06-01T00:00:00Z",            // year 1990
		"1990-12-31T23:59:59.999999999Z",  // year 1990
		"1991-01-01T00:30:00+01:00",       // 1990 in UTC
		"1970-01-01T00:00:00Z",            // the zero Time
		"1969-12-31T23:59:59Z",
		"2500-01-01T00:00:00Z",      // year 2500
		"2499-12-31T23:00:00-01:00", // 2500 in UTC
		"9999-12-31T23:59:59.999999999Z",
		"0000-01-01T00:00:00Z",
		// The canonical 30-byte form takes a fast path of its own.
		"2026-02-29T00:00:00.000000000Z", // not a leap year
		"2026-11-31T00:00:00.000000000Z", // November has 30 days
		"2026-13-01T00:00:00.000000000Z", // month 13
		"2026-11-00T00:00:00.000000000Z", // day 0
		"2026-11-26T24:00:00.000000000Z", // hour 24
		"2026-11-26T23:60:00.000000000Z", // minute 60
		"2016-12-31T23:59:60.000000000Z", // leap second
		"2026-11-26T18:43:5x.000000000Z", // letter in the seconds
		"2026-11-26T18:43:05.6084352/2Z", // '/' in the fraction
		"2026-11-26T18:43:05.608435:92Z", // ':' in the fraction
		"2026-11-26T18:43:05.60843592:Z", // ':' as the last digit
	} {
		if got, err := ident.ParseTime(in); err == nil || !errors.Is(err, ident.ErrBadTime) {
			t.Errorf("ParseTime(%q) = %s, %v; want an error wrapping ErrBadTime", in, got, err)
		}
		if got, err := ident.NormalizeTime(in); err == nil || !errors.Is(err, ident.ErrBadTime) {
			t.Errorf("NormalizeTime(%q) = %q, %v; want an error wrapping ErrBadTime", in, got, err)
		}
	}
}

// Time cannot hold instants after 2262-04-11T23:47:16.854775807Z, which
// TIME-7 admits: ParseTime rejects them, NormalizeTime accepts them.
func TestParseTimeBeyondInt64(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2262-04-11T23:47:16.854775808Z", "2262-04-11T23:47:16.854775808Z"},
		{"2262-04-11T23:47:17Z", "2262-04-11T23:47:17.000000000Z"},
		{"2499-01-01T00:00:00Z", "2499-01-01T00:00:00.000000000Z"},
		{"2499-12-31T23:59:59.999999999Z", "2499-12-31T23:59:59.999999999Z"},
		{"2500-01-01T00:59:59.5+01:00", "2499-12-31T23:59:59.500000000Z"},
		{"2400-02-29T12:00:00Z", "2400-02-29T12:00:00.000000000Z"},
	} {
		if got, err := ident.ParseTime(tc.in); err == nil || !errors.Is(err, ident.ErrBadTime) {
			t.Errorf("ParseTime(%q) = %s, %v; want an error wrapping ErrBadTime", tc.in, got, err)
		}
		if got, err := ident.NormalizeTime(tc.in); got != tc.want || err != nil {
			t.Errorf("NormalizeTime(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTimeRoundTrip(t *testing.T) {
	lo := time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		ts := ident.Time(lo + r.Int64N(math.MaxInt64-lo) + 1)
		s := ts.String()
		got, err := ident.ParseTime(s)
		if err != nil || got != ts {
			t.Fatalf("ParseTime(%q) = %d, %v; want %d", s, got, err, ts)
		}
	}
}

func TestNowStrictlyIncreasing(t *testing.T) {
	const goroutines, calls = 4, 10_000
	results := make([][]ident.Time, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ts := make([]ident.Time, calls)
			for i := range ts {
				ts[i] = ident.Now()
			}
			results[g] = ts
		})
	}
	wg.Wait()

	seen := make(map[ident.Time]bool, goroutines*calls)
	for g, ts := range results {
		for i, x := range ts {
			if i > 0 && x <= ts[i-1] {
				t.Fatalf("goroutine %d: call %d returned %d after %d", g, i, x, ts[i-1])
			}
			if seen[x] {
				t.Fatalf("Now returned %d twice", x)
			}
			seen[x] = true
		}
	}
}

func TestNowTracksWallClock(t *testing.T) {
	before := time.Now()
	now := ident.Now().Std()
	after := time.Now()
	// The process clock is anchored once, so allow for a small drift against
	// the wall clock (NTP slewing) since the test binary started.
	const slack = 2 * time.Second
	if now.Before(before.Add(-slack)) || now.After(after.Add(slack)) {
		t.Errorf("Now() = %v, wall clock between %v and %v", now, before, after)
	}
	if s := ident.Now().String(); len(s) != 30 {
		t.Errorf("Now().String() = %q, want 30 bytes", s)
	}
}

func TestTimeAppendTextDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64)
	ts := ident.Now()
	if n := testing.AllocsPerRun(100, func() { buf = ts.AppendText(buf[:0]) }); n != 0 {
		t.Errorf("Time.AppendText: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { ts = ident.Now() }); n != 0 {
		t.Errorf("Now: %v allocations, want 0", n)
	}
}

// TIME-6, TIME-7: a TimeCache gives exactly what ParseTime and AppendText
// give, for runs of timestamps in one minute, across minutes and for bad
// input.
func TestTimeCacheMatches(t *testing.T) {
	var c ident.TimeCache
	inputs := []string{
		"2026-11-26T18:43:05.608435292Z", "2026-11-26T18:43:59.999999999Z", "2026-11-26T18:43:00.000000000Z",
		"2026-11-26T18:43:60.000000000Z", "2026-11-26T18:43:5x.000000000Z", "2026-11-26T18:43:05.60843529xZ",
		"2026-11-26T18:43:05.608435292+00:00", "2026-11-26T18:44:05.608435292Z", "2026-11-26T18:43:05Z",
		"2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775808Z", "2262-04-11T23:47:17.000000000Z",
		"2499-12-31T23:59:59.999999999Z", "1991-01-01T00:00:00.000000000Z", "1990-12-31T23:59:59.999999999Z",
	}
	for _, s := range append(inputs, inputs...) {
		want, werr := ident.ParseTime(s)
		got, gerr := c.Parse(s)
		if got != want || (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Errorf("Parse(%q) = %v, %v; ParseTime gives %v, %v", s, got, gerr, want, werr)
		}
	}
	base := ident.Time(1795718934811416073)
	for _, d := range []int64{0, 1, 5e9, 59e9, 60e9, -1e9, 3600e9, 86400e9, 1} {
		tm := base + ident.Time(d)
		if got, want := string(c.AppendText([]byte("x"), tm)), string(tm.AppendText([]byte("x"))); got != want {
			t.Errorf("AppendText(%d) = %q, want %q", tm, got, want)
		}
	}
	if got := c.AppendText(nil, 0); len(got) != 0 {
		t.Errorf("AppendText(0) = %q", got)
	}
}
