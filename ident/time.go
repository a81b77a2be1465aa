package ident

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Time is a point in time in nanoseconds since the Unix epoch, UTC. The zero
// value means "not set".
//
// A Time is a plain integer: it may be copied, compared with == and <, and
// used as a map key. Its text form is the canonical wire form,
// "YYYY-MM-DDTHH:MM:SS.fffffffffZ". It covers the instants from
// 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z.
type Time int64

// ErrBadTime is wrapped by every error that [ParseTime] and [NormalizeTime]
// return; match it with [errors.Is].
var ErrBadTime = errors.New("ringbus: invalid timestamp")

// timeTextLen is the length of the canonical text form (TIME-4).
const timeTextLen = len("YYYY-MM-DDTHH:MM:SS.fffffffffZ")

// The process clock of TIME-5: the wall clock read once at start-up, advanced
// by the monotonic clock. It is never stepped by NTP or by changes to the
// system time after start-up.
var (
	anchor     = time.Now()
	anchorWall = anchor.UnixNano()
)

// clock holds the last value that Now returned. Every Now call updates it, so
// it sits on a cache line of its own.
var clock struct {
	_    [64]byte
	last atomic.Int64
	_    [56]byte
}

// Now returns the current time of the process clock.
//
// The clock is the wall clock read once at start-up plus the monotonic time
// elapsed since, so it does not jump when the system time is changed. Values
// are strictly increasing across the whole process: if the clock has not
// advanced since the previous call (by any goroutine), Now returns the
// previous value plus one nanosecond. No two calls return the same Time.
//
// Now is safe for concurrent use, does not allocate and takes no lock (one
// atomic compare-and-swap).
func Now() Time { return At(Since()) }

// Since returns the process clock's monotonic reading: the time elapsed since
// its anchor, one monotonic clock read. Differences of readings are exact
// durations (also on testing/synctest's fake clock, where the reading itself
// may be negative), so it serves for deadlines.
func Since() time.Duration { return time.Since(anchor) }

// At returns the Time for a reading of Since, with Now's guarantee: values
// are strictly increasing across the process, so a reading older than the
// last Time returned becomes that Time plus one nanosecond.
func At(since time.Duration) Time {
	t := anchorWall + int64(since)
	for {
		prev := clock.last.Load()
		next := max(t, prev+1)
		if clock.last.CompareAndSwap(prev, next) {
			return Time(next)
		}
	}
}

// IsZero reports whether t is the zero Time ("not set").
func (t Time) IsZero() bool { return t == 0 }

// String returns t in the canonical form "YYYY-MM-DDTHH:MM:SS.fffffffffZ"
// (UTC, exactly nine fractional digits, 30 bytes), or "" for the zero Time.
func (t Time) String() string {
	if t == 0 {
		return ""
	}
	var buf [timeTextLen]byte
	sec, nsec := floorDiv(int64(t), 1e9)
	formatTime(&buf, sec, nsec)
	return string(buf[:])
}

// AppendText appends the text form of t, as returned by [Time.String], to b
// and returns the extended slice. It allocates only when b has to grow. The
// zero Time appends nothing.
func (t Time) AppendText(b []byte) []byte {
	if t == 0 {
		return b
	}
	var buf [timeTextLen]byte
	sec, nsec := floorDiv(int64(t), 1e9)
	formatTime(&buf, sec, nsec)
	return append(b, buf[:]...)
}

// Std returns t as a [time.Time] in UTC. The zero Time becomes the zero
// time.Time.
func (t Time) Std() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(t)).UTC()
}

// FromStd converts a [time.Time] to a Time. The zero time.Time becomes the
// zero Time. The result is undefined outside the range of Time (see
// [time.Time.UnixNano]); the Unix epoch itself also maps to the zero Time.
func FromStd(t time.Time) Time {
	if t.IsZero() {
		return 0
	}
	return Time(t.UnixNano())
}

// ParseTime parses a timestamp in the input form of the wire format:
// "YYYY-MM-DDTHH:MM:SS", then optionally "." and 1 to 9 fractional digits,
// then "Z" or a "+HH:MM" / "-HH:MM" offset. The result is converted to UTC; the
// fraction is read as written (padded with zeros to nanoseconds, never
// rounded). The UTC year must be after 1990 and before 2500.
//
// Time cannot hold instants after 2262-04-11T23:47:16.854775807Z, so ParseTime
// rejects later ones although the wire format admits them; [NormalizeTime] accepts the
// whole range. Every error wraps [ErrBadTime]. A successful result is never the
// zero Time.
func ParseTime(s string) (Time, error) {
	sec, nsec, err := parseTime(s)
	if err != nil {
		return 0, err
	}
	const maxSec, maxNsec = math.MaxInt64 / int64(1e9), math.MaxInt64 % int64(1e9)
	if sec > maxSec || sec == maxSec && nsec > maxNsec {
		return 0, badTime(s, "after 2262-04-11T23:47:16.854775807Z, the last instant a Time can hold")
	}
	return Time(sec*1e9 + nsec), nil
}

// NormalizeTime converts a timestamp in the input form of [ParseTime] to the
// canonical form "YYYY-MM-DDTHH:MM:SS.fffffffffZ". It accepts the same input
// as [ParseTime] and also the instants from 2262 to 2499, which a Time cannot
// hold; for other input NormalizeTime(s) equals the String of ParseTime(s).
// Every error wraps [ErrBadTime].
func NormalizeTime(s string) (string, error) {
	sec, nsec, err := parseTime(s)
	if err != nil {
		return "", err
	}
	var buf [timeTextLen]byte
	formatTime(&buf, sec, nsec)
	return string(buf[:]), nil
}

// The accepted UTC range of TIME-7, in seconds since the epoch:
// [1991-01-01T00:00:00Z, 2500-01-01T00:00:00Z).
var (
	minParseSec = daysFromCivil(1991, 1, 1) * 86400
	endParseSec = daysFromCivil(2500, 1, 1) * 86400
)

// parseTime parses the TIME-6 grammar, checks the TIME-7 year range and
// returns the instant as seconds since the epoch plus nanoseconds.
func parseTime(s string) (sec, nsec int64, err error) {
	if len(s) == timeTextLen && s[29] == 'Z' {
		if sec, nsec, ok := parseCanonical(s); ok {
			return sec, nsec, nil
		}
	}
	const layout = "want YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)"
	if len(s) < len("YYYY-MM-DDTHH:MM:SSZ") ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, badTime(s, layout)
	}
	year, month, day := atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	hour, minute, second := atoi(s[11:13]), atoi(s[14:16]), atoi(s[17:19])
	if year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 {
		return 0, 0, badTime(s, layout)
	}

	i := 19
	if s[i] == '.' {
		i++
		n := 0
		for i+n < len(s) && isDigit(s[i+n]) {
			n++
		}
		switch {
		case n == 0:
			return 0, 0, badTime(s, layout)
		case n > 9:
			return 0, 0, badTime(s, "more than 9 fractional digits")
		}
		nsec = int64(atoi(s[i:i+n])) * pow10[9-n]
		i += n
	}

	var offset int64
	switch {
	case i+1 == len(s) && s[i] == 'Z':
	case i+6 == len(s) && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, om := atoi(s[i+1:i+3]), atoi(s[i+4:i+6])
		if oh < 0 || om < 0 {
			return 0, 0, badTime(s, layout)
		}
		if oh > 23 || om > 59 {
			return 0, 0, badTime(s, "UTC offset out of range")
		}
		offset = int64(oh*3600 + om*60)
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, badTime(s, layout)
	}

	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, badTime(s, "date or time of day out of range")
	}
	sec = daysFromCivil(int64(year), month, day)*86400 +
		int64(hour*3600+minute*60+second) - offset
	if sec < minParseSec || sec >= endParseSec {
		return 0, 0, badTime(s, "UTC year must be >1990 and <2500")
	}
	return sec, nsec, nil
}

// parseCanonical is the fast path of parseTime for the canonical form
// "YYYY-MM-DDTHH:MM:SS.fffffffffZ" (len(s) == timeTextLen). It reports false
// for anything parseTime would reject or that is not in that form; the
// general path then gives the answer or the error.
func parseCanonical(s string) (sec, nsec int64, ok bool) {
	if len(s) != timeTextLen {
		return 0, 0, false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' {
		return 0, 0, false
	}
	y0, y1, y2, y3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	mo0, mo1, d0, d1 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	h0, h1, mi0, mi1 := s[11]-'0', s[12]-'0', s[14]-'0', s[15]-'0'
	s0, s1, f8 := s[17]-'0', s[18]-'0', s[28]-'0'
	if max(y0, y1, y2, y3, mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1, f8) > 9 {
		return 0, 0, false
	}
	x, ok := eightDigits(s[20:28])
	if !ok {
		return 0, 0, false
	}
	year := int(y0)*1000 + int(y1)*100 + int(y2)*10 + int(y3)
	month, day := int(mo0)*10+int(mo1), int(d0)*10+int(d1)
	hour, minute, second := int(h0)*10+int(h1), int(mi0)*10+int(mi1), int(s0)*10+int(s1)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	sec = daysFromCivil(int64(year), month, day)*86400 + int64(hour*3600+minute*60+second)
	if sec < minParseSec || sec >= endParseSec {
		return 0, 0, false
	}
	return sec, int64(x)*10 + int64(f8), true
}

// load8 returns the first 8 bytes of s as a little-endian word.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// eightDigits parses s, eight ASCII digits, eight at a time.
func eightDigits(s string) (uint64, bool) {
	if len(s) != 8 {
		return 0, false
	}
	x := load8(s)
	const ones, hiNibbles = 0x0101010101010101, 0xf0f0f0f0f0f0f0f0
	if x&hiNibbles != 0x30*ones || (x+0x06*ones)&hiNibbles != 0x30*ones {
		return 0, false
	}
	x -= 0x30 * ones
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	x = (x*10000 + x>>32) & 0xffffffff
	return x, true
}

// TimeCache parses and formats runs of timestamps that share their minute,
// as the timestamps of one event do, faster than [ParseTime] and
// [Time.AppendText]: it remembers the date and time of day up to the minute
// of the last canonical timestamp it saw. Its results are exactly those of
// ParseTime and AppendText. The zero TimeCache is ready to use; a TimeCache
// must not be used by several goroutines at once.
type TimeCache struct {
	// Parsing: the first 16 bytes ("YYYY-MM-DDTHH:MM") of a canonical
	// timestamp, and the instant of that minute in seconds (0: none).
	pHead0, pHead1 uint64
	pBase          int64
	// Formatting: the minute (seconds/60) whose text "YYYY-MM-DDTHH:MM:"
	// fHead holds, when fOK.
	fMin  int64
	fOK   bool
	fHead [17]byte
}

// Parse is [ParseTime].
func (c *TimeCache) Parse(s string) (Time, error) {
	if len(s) == timeTextLen && c.pBase != 0 {
		h0 := load8(s)
		h1 := load8(s[8:])
		if h0 == c.pHead0 && h1 == c.pHead1 && s[16] == ':' && s[19] == '.' && s[29] == 'Z' {
			s0, s1, f8 := s[17]-'0', s[18]-'0', s[28]-'0'
			if x, ok := eightDigits(s[20:28]); ok && s0 <= 5 && s1 <= 9 && f8 <= 9 {
				sec := c.pBase + int64(s0)*10 + int64(s1)
				return Time(sec*1e9 + int64(x)*10 + int64(f8)), nil
			}
		}
	}
	t, err := ParseTime(s)
	if err == nil && len(s) == timeTextLen && s[29] == 'Z' && s[19] == '.' && s[16] == ':' {
		// Canonical: remember its minute, unless seconds past it would not
		// fit a Time.
		const maxSec = math.MaxInt64 / int64(1e9)
		sec, _ := floorDiv(int64(t), 1e9)
		base := sec - int64(s[17]-'0')*10 - int64(s[18]-'0')
		if base+60 < maxSec {
			c.pHead0 = load8(s)
			c.pHead1 = load8(s[8:])
			c.pBase = base
		}
	}
	return t, err
}

// AppendText is t.AppendText(b).
func (c *TimeCache) AppendText(b []byte, t Time) []byte {
	if t == 0 {
		return b
	}
	sec, nsec := floorDiv(int64(t), 1e9)
	minute, s := floorDiv(sec, 60)
	n := len(b)
	b = slices.Grow(b, timeTextLen)[:n+timeTextLen]
	buf := (*[timeTextLen]byte)(b[n:])
	if !c.fOK || minute != c.fMin {
		formatTime(buf, sec, nsec)
		c.fMin, c.fOK = minute, true
		copy(c.fHead[:], buf[:17])
		return b
	}
	copy(buf[:17], c.fHead[:])
	formatSecFrac(buf, uint(s)%60, uint(nsec))
	return b
}

func badTime(s, reason string) error {
	return fmt.Errorf("%w: %s: %q", ErrBadTime, reason, clip(s))
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoi parses a short run of ASCII digits (at most 9). It returns -1 if s is
// empty or holds anything else.
func atoi(s string) int {
	if len(s) == 0 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// formatTime writes the canonical form of the instant sec+nsec (nsec in
// [0, 1e9)) into buf. The year must be in [0, 9999].
func formatTime(buf *[timeTextLen]byte, sec, nsec int64) {
	days, sod := floorDiv(sec, 86400)
	year, month, day := civilFromDays(days)
	const pairs = digitPairsStr
	yh, yl := uint(year/100)%100*2, uint(year%100)%100*2
	buf[0], buf[1], buf[2], buf[3] = pairs[yh], pairs[yh+1], pairs[yl], pairs[yl+1]
	buf[4] = '-'
	mo, d := uint(month)%100*2, uint(day)%100*2
	buf[5], buf[6], buf[7], buf[8], buf[9] = pairs[mo], pairs[mo+1], '-', pairs[d], pairs[d+1]
	buf[10] = 'T'
	s := uint(sod)
	h, mi := s/3600%100*2, s/60%60*2
	buf[11], buf[12], buf[13] = pairs[h], pairs[h+1], ':'
	buf[14], buf[15], buf[16] = pairs[mi], pairs[mi+1], ':'
	formatSecFrac(buf, s%60, uint(nsec))
}

// formatSecFrac writes the seconds (sec < 60), the nine fraction digits of
// nsec (< 1e9) and the 'Z' of the canonical form: bytes 17 to 29.
func formatSecFrac(buf *[timeTextLen]byte, sec, ns uint) {
	const pairs = digitPairsStr
	se := sec * 2
	buf[17], buf[18], buf[19] = pairs[se], pairs[se+1], '.'
	f0, f1, f2, f3 := ns/1e7%100*2, ns/1e5%100*2, ns/1e3%100*2, ns/10%100*2
	buf[20], buf[21], buf[22], buf[23] = pairs[f0], pairs[f0+1], pairs[f1], pairs[f1+1]
	buf[24], buf[25], buf[26], buf[27] = pairs[f2], pairs[f2+1], pairs[f3], pairs[f3+1]
	buf[28] = byte('0' + ns%10)
	buf[29] = 'Z'
}

// digitPairsStr holds "00" to "99" back to back.
const digitPairsStr = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// floorDiv returns q and r with a == q*b + r and 0 <= r < b, for b > 0.
func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// daysFromCivil returns the number of days from 1970-01-01 to the given date
// of the proleptic Gregorian calendar. It counts in 400-year eras of 146097
// days that begin on March 1, so that the leap day is the last day of a year.
func daysFromCivil(year int64, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era, yoe := floorDiv(year, 400)        // year of era: [0, 399]
	mp := int64((month + 9) % 12)          // months since March: [0, 11]
	doy := (153*mp+2)/5 + int64(day) - 1   // day of the March-based year: [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // day of era: [0, 146096]
	return era*146097 + doe - 719468       // 719468 days from 0000-03-01 to 1970-01-01
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(days int64) (year int64, month, day int) {
	era, doe := floorDiv(days+719468, 146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11]
	day = int(doy - (153*mp+2)/5 + 1)
	month = int((mp+2)%12) + 1
	year = era*400 + yoe
	if month <= 2 {
		year++
	}
	return year, month, day
}

// daysIn returns the number of days in the month of the given year.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
