package ident

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Time is a point in time in nanoseconds since the Unix epoch, UTC. The zero
// value means "not set".
//
// A Time is a plain integer: it may be copied, compared with == and <, and
// used as a map key. Its text form is the canonical wire form of TIME-4,
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

// Now returns the current time of the process clock (TIME-5).
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

// ParseTime parses a timestamp in the input form of TIME-6:
// "YYYY-MM-DDTHH:MM:SS", then optionally "." and 1 to 9 fractional digits,
// then "Z" or a "+HH:MM" / "-HH:MM" offset. The result is converted to UTC; the
// fraction is read as written (padded with zeros to nanoseconds, never
// rounded). The UTC year must be after 1990 and before 2500 (TIME-7).
//
// Time cannot hold instants after 2262-04-11T23:47:16.854775807Z, so ParseTime
// rejects later ones although TIME-7 admits them; [NormalizeTime] accepts the
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

// NormalizeTime converts a timestamp accepted by TIME-6 and TIME-7 to the
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
	put2(buf[0:], int(year/100))
	put2(buf[2:], int(year%100))
	buf[4] = '-'
	put2(buf[5:], month)
	buf[7] = '-'
	put2(buf[8:], day)
	buf[10] = 'T'
	put2(buf[11:], int(sod/3600))
	buf[13] = ':'
	put2(buf[14:], int(sod/60%60))
	buf[16] = ':'
	put2(buf[17:], int(sod%60))
	buf[19] = '.'
	ns := int(nsec)
	buf[28] = byte('0' + ns%10)
	ns /= 10
	put2(buf[26:], ns%100)
	ns /= 100
	put2(buf[24:], ns%100)
	ns /= 100
	put2(buf[22:], ns%100)
	put2(buf[20:], ns/100)
	buf[29] = 'Z'
}

// digitPairs holds "00" to "99" back to back.
var digitPairs = func() (p [200]byte) {
	for i := range 100 {
		p[2*i] = byte('0' + i/10)
		p[2*i+1] = byte('0' + i%10)
	}
	return p
}()

// put2 writes n, in [0, 99], as two digits.
func put2(b []byte, n int) {
	b[0], b[1] = digitPairs[2*n], digitPairs[2*n+1]
}

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
