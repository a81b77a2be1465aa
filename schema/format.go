package schema

import "net/netip"

// formatCheck reports whether a string has a "format". Only the formats
// that the TypeScript abxbus enforces (it validates results with Zod's
// JSON Schema conversion) are checked, with the rules Zod applies, so that
// both runtimes accept and reject the same values; every other format is
// kept but not enforced.
type formatCheck func(string) bool

var formatChecks = map[string]formatCheck{
	"date-time": isDateTime,
	"date":      isDate,
	"time":      isTimeOfDay,
	"email":     isEmail,
	"uuid":      isUUID,
	"ipv4":      func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() },
	"ipv6":      func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() && a.Zone() == "" },
}

// digits parses the n ASCII digits at s[i:], reporting false if there are
// fewer.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// dateAt checks a calendar date YYYY-MM-DD at s[0:10].
func dateAt(s string) bool {
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// isDate: RFC 3339 full-date, a real calendar day.
func isDate(s string) bool { return len(s) == 10 && dateAt(s) }

// isDateTime: RFC 3339 date-time as Zod accepts it: "T" and "Z" in upper
// case, seconds required, any number (at least one) of fractional digits,
// and "Z" or a ±HH:MM offset; no leap second.
func isDateTime(s string) bool {
	return len(s) > 11 && s[10] == 'T' && dateAt(s[:10]) && isTimeOfDay(s[11:])
}

// isTimeOfDay: RFC 3339 full-time, HH:MM:SS[.f+](Z|±HH:MM).
func isTimeOfDay(s string) bool {
	h, ok1 := digits(s, 0, 2)
	m, ok2 := digits(s, 3, 2)
	sec, ok3 := digits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || s[5] != ':' || h > 23 || m > 59 || sec > 59 {
		return false
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	rest := s[i:]
	if rest == "Z" {
		return true
	}
	if len(rest) != 6 || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
		return false
	}
	oh, ok1 := digits(rest, 1, 2)
	om, ok2 := digits(rest, 4, 2)
	return ok1 && ok2 && oh <= 23 && om <= 59
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isEmail: the address form Zod accepts: a local part of letters, digits
// and _ ' + - . that neither starts nor ends with a dot (nor ends with '),
// without two dots in a row; a domain of labels that start with a letter or
// digit and hold letters, digits and -, ending in a top-level label of two
// or more letters.
func isEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at <= 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isAlnum(c) && c != '_' && c != '\'' && c != '+' && c != '-' && c != '.' {
			return false
		}
		if c == '.' && (i == 0 || local[i-1] == '.') {
			return false
		}
	}
	if last := local[len(local)-1]; last == '.' || last == '\'' {
		return false
	}
	labels := 0
	start := 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			continue
		}
		label := domain[start:i]
		start = i + 1
		if i == len(domain) { // the top-level label
			if labels == 0 || len(label) < 2 {
				return false
			}
			for j := 0; j < len(label); j++ {
				if !isASCIILetter(label[j]) {
					return false
				}
			}
			return true
		}
		if label == "" || !isAlnum(label[0]) {
			return false
		}
		for j := 1; j < len(label); j++ {
			if c := label[j]; !isAlnum(c) && c != '-' {
				return false
			}
		}
		labels++
	}
	return false
}

// isUUID: 8-4-4-4-12 hex digits with a version of 1 to 8 and the RFC 9562
// variant, or the nil or max UUID, as Zod accepts them.
func isUUID(s string) bool {
	if s == "00000000-0000-0000-0000-000000000000" || s == "ffffffff-ffff-ffff-ffff-ffffffffffff" {
		return true
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		if !isHexDigit(c) {
			return false
		}
	}
	v, r := s[14], s[19]
	return v >= '1' && v <= '8' && (r == '8' || r == '9' || r == 'a' || r == 'b' || r == 'A' || r == 'B')
}
