package ident_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/ident"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-11-26T18:28:54.811416073Z",
		"2026-11-26T18:28:54Z",
		"2026-11-26T18:28:54.123+05:30",
		"2026-01-01T01:00:00-23:59",
		"1991-01-01T00:00:00Z",
		"2262-04-11T23:47:16.854775807Z",
		"2499-12-31T23:59:59.999999999Z",
		"2026-11-26T18:28:54.1234567890Z",
		"1990-12-31T23:59:59Z",
		"2026-02-29T00:00:00Z",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ident.ParseTime(s)
		norm, nerr := ident.NormalizeTime(s)
		if err != nil && !errors.Is(err, ident.ErrBadTime) {
			t.Fatalf("ParseTime(%q): error %v does not wrap ErrBadTime", s, err)
		}
		if nerr != nil {
			if !errors.Is(nerr, ident.ErrBadTime) {
				t.Fatalf("NormalizeTime(%q): error %v does not wrap ErrBadTime", s, nerr)
			}
			if err == nil {
				t.Fatalf("ParseTime(%q) accepted what NormalizeTime rejected: %v", s, nerr)
			}
			return
		}
		if len(norm) != 30 {
			t.Fatalf("NormalizeTime(%q) = %q, want 30 bytes", s, norm)
		}
		if again, err := ident.NormalizeTime(norm); again != norm || err != nil {
			t.Fatalf("NormalizeTime(%q) = %q, %v; want it unchanged", norm, again, err)
		}
		if len(s) == 30 && s[19] == '.' && s[29] == 'Z' && norm != s {
			t.Fatalf("NormalizeTime(%q) = %q changed a canonical timestamp", s, norm)
		}
		if err != nil {
			// Only instants a Time cannot hold.
			if norm <= ident.Time(1<<63-1).String() {
				t.Fatalf("ParseTime(%q): %v, but NormalizeTime gives %q", s, err, norm)
			}
			return
		}
		if ts.IsZero() || ts.String() != norm {
			t.Fatalf("ParseTime(%q) = %q, NormalizeTime = %q", s, ts, norm)
		}
		if back, err := ident.ParseTime(ts.String()); back != ts || err != nil {
			t.Fatalf("ParseTime(%q) = %d, %v; want %d", ts, back, err, ts)
		}
	})
}

func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{
		"01a2191e-219a-76c3-8cf0-6eca49032cc2",
		"01A2191E-219A-76C3-8CF0-6ECA49032CC2",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"00000000-0000-0000-0000-000000000000",
		"{01a2191e-219a-76c3-8cf0-6eca49032cc2}",
		"01a2191e219a76c38cf06eca49032cc2",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ident.ParseUUID(s)
		if err != nil {
			if !errors.Is(err, ident.ErrBadUUID) {
				t.Fatalf("ParseUUID(%q): error %v does not wrap ErrBadUUID", s, err)
			}
			return
		}
		if got := u.String(); got != strings.ToLower(s) {
			t.Fatalf("ParseUUID(%q).String() = %q", s, got)
		}
		if back, err := ident.ParseUUID(u.String()); back != u || err != nil {
			t.Fatalf("ParseUUID(%q) = %s, %v; want %s", u, back, err, u)
		}
	})
}
