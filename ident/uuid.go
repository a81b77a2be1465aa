package ident

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// UUID is a 16-byte UUID (RFC 9562) in network byte order. The zero value is
// the nil UUID.
//
// A UUID is a plain array: it may be copied, compared with ==, and used as a
// map key. Its byte order is the order of its canonical string, so sorting
// UUIDs by bytes sorts them as strings.
type UUID [16]byte

// ErrBadUUID is wrapped by every error that [ParseUUID] returns; match it with
// [errors.Is].
var ErrBadUUID = errors.New("ringbus: invalid UUID")

// NamespaceDNS is the RFC 9562 name space for fully qualified domain names,
// 6ba7b810-9dad-11d1-80b4-00c04fd430c8.
var NamespaceDNS = UUID{
	0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
}

// handlerNamespace is the name space of handler ids (TIME-8),
// uuid5(NAMESPACE_DNS, "abxbus-handler") = 98dc1aae-798a-597c-8b2e-2c0511f4a81a.
var handlerNamespace = NewV5(NamespaceDNS, "abxbus-handler")

// uuidTextLen is the length of the canonical form 8-4-4-4-12.
const uuidTextLen = 36

// NewV7 returns a new UUIDv7 (RFC 9562) for the current time: NewV7At(Now()).
//
// Ids are unique within the process: each call takes its own value from [Now],
// and the id encodes that value exactly, so two calls never produce the same
// id even before the random bits are counted. Ids sort in the order of the Now
// values they were made from; in particular, the ids one goroutine generates
// sort in generation order.
//
// NewV7 is safe for concurrent use and does not allocate.
func NewV7() UUID {
	return NewV7At(Now())
}

// NewV7At returns a UUIDv7 for the instant t, which should not be before
// 1970.
//
// The layout follows RFC 9562 method 3 (increased clock precision): the
// 48-bit unix_ts_ms field holds t in milliseconds, the 12-bit rand_a field
// holds the fraction of the millisecond scaled to 4096, and the top 8 bits of
// rand_b after the variant extend that fraction to a 20-bit value, which
// resolves every nanosecond of the millisecond. Hence NewV7At(t1) <
// NewV7At(t2) whenever t1 < t2, and ids made from distinct Times are distinct.
// The remaining 54 bits are random (math/rand/v2), so ids from different
// processes do not collide in practice; they are not secrets and must not be
// used as tokens.
//
// Use it to give an event its id and its creation time from one [Now] call.
// NewV7At is safe for concurrent use and does not allocate.
func NewV7At(t Time) UUID {
	ms, sub := floorDiv(int64(t), 1e6)
	// frac is strictly increasing in sub because 2^20 > 1e6, and its top 12
	// bits are floor(sub * 4096 / 1e6).
	frac := uint64(sub) << 20 / 1e6
	hi := uint64(ms)<<16 | 0x7000 | frac>>8
	lo := 1<<63 | (frac&0xff)<<54 | rand.Uint64()>>10
	var u UUID
	binary.BigEndian.PutUint64(u[:8], hi)
	binary.BigEndian.PutUint64(u[8:], lo)
	return u
}

// NewV5 returns the name-based UUID of name in the name space ns, using SHA-1
// (version 5, RFC 9562 section 5.5).
func NewV5(ns UUID, name string) UUID {
	var stack [128]byte
	b := append(stack[:0], ns[:]...)
	b = append(b, name...)
	return v5(b)
}

// HandlerID returns the deterministic id of a handler, the same in
// every abxbus runtime: uuid5(NS, seed) with
// NS = uuid5(NAMESPACE_DNS, "abxbus-handler") and
// seed = "{eventbusID}|{handlerName}|{handlerFilePath}|{registeredAt}|{eventPattern}",
// where an empty handlerFilePath is written as "unknown". registeredAt is the
// canonical text of the registration time (see [Time.String]).
func HandlerID(eventbusID, handlerName, handlerFilePath, registeredAt, eventPattern string) UUID {
	if handlerFilePath == "" {
		handlerFilePath = "unknown"
	}
	var stack [256]byte
	b := append(stack[:0], handlerNamespace[:]...)
	b = append(b, eventbusID...)
	b = append(b, '|')
	b = append(b, handlerName...)
	b = append(b, '|')
	b = append(b, handlerFilePath...)
	b = append(b, '|')
	b = append(b, registeredAt...)
	b = append(b, '|')
	b = append(b, eventPattern...)
	return v5(b)
}

// v5 returns the version 5 UUID of nsAndName, the 16 name-space bytes
// followed by the name.
func v5(nsAndName []byte) UUID {
	sum := sha1.Sum(nsAndName)
	var u UUID
	copy(u[:], sum[:])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u
}

// IsZero reports whether u is the nil UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// String returns u in canonical form: 36 lowercase characters,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (u UUID) String() string {
	var buf [uuidTextLen]byte
	u.encode(&buf)
	return string(buf[:])
}

// AppendText appends the canonical form of u, as returned by [UUID.String], to
// b and returns the extended slice. It allocates only when b has to grow.
func (u UUID) AppendText(b []byte) []byte {
	n := len(b)
	b = slices.Grow(b, uuidTextLen)[:n+uuidTextLen]
	u.encode((*[uuidTextLen]byte)(b[n:]))
	return b
}

// Suffix4 returns the last 4 characters of the canonical form of u, as used in
// bus and handler labels ("name#abcd").
func (u UUID) Suffix4() string {
	const hex = "0123456789abcdef"
	return string([]byte{hex[u[14]>>4], hex[u[14]&0xf], hex[u[15]>>4], hex[u[15]&0xf]})
}

// encode writes the canonical form of u; the two hex digits of byte i sit
// at offsets 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34.
func (u UUID) encode(buf *[uuidTextLen]byte) {
	const hex = "0123456789abcdef"
	// Unrolled with constant indices: no bounds checks, no loop.
	buf[0], buf[1] = hex[u[0]>>4], hex[u[0]&0xf]
	buf[2], buf[3] = hex[u[1]>>4], hex[u[1]&0xf]
	buf[4], buf[5] = hex[u[2]>>4], hex[u[2]&0xf]
	buf[6], buf[7] = hex[u[3]>>4], hex[u[3]&0xf]
	buf[9], buf[10] = hex[u[4]>>4], hex[u[4]&0xf]
	buf[11], buf[12] = hex[u[5]>>4], hex[u[5]&0xf]
	buf[14], buf[15] = hex[u[6]>>4], hex[u[6]&0xf]
	buf[16], buf[17] = hex[u[7]>>4], hex[u[7]&0xf]
	buf[19], buf[20] = hex[u[8]>>4], hex[u[8]&0xf]
	buf[21], buf[22] = hex[u[9]>>4], hex[u[9]&0xf]
	buf[24], buf[25] = hex[u[10]>>4], hex[u[10]&0xf]
	buf[26], buf[27] = hex[u[11]>>4], hex[u[11]&0xf]
	buf[28], buf[29] = hex[u[12]>>4], hex[u[12]&0xf]
	buf[30], buf[31] = hex[u[13]>>4], hex[u[13]&0xf]
	buf[32], buf[33] = hex[u[14]>>4], hex[u[14]&0xf]
	buf[34], buf[35] = hex[u[15]>>4], hex[u[15]&0xf]
	buf[8], buf[13], buf[18], buf[23] = '-', '-', '-', '-'
}

// ParseUUID parses a UUID of any version in canonical hyphenated form
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, 36 characters), in upper, lower or
// mixed case. Other spellings (braces, "urn:uuid:", no hyphens) are
// rejected. Every error wraps [ErrBadUUID].
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != uuidTextLen {
		return u, badUUID(s)
	}
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, badUUID(s)
	}
	// Unrolled with constant indices: no bounds checks, no loop.
	h0, l0 := unhex[s[0]], unhex[s[1]]
	h1, l1 := unhex[s[2]], unhex[s[3]]
	h2, l2 := unhex[s[4]], unhex[s[5]]
	h3, l3 := unhex[s[6]], unhex[s[7]]
	h4, l4 := unhex[s[9]], unhex[s[10]]
	h5, l5 := unhex[s[11]], unhex[s[12]]
	h6, l6 := unhex[s[14]], unhex[s[15]]
	h7, l7 := unhex[s[16]], unhex[s[17]]
	h8, l8 := unhex[s[19]], unhex[s[20]]
	h9, l9 := unhex[s[21]], unhex[s[22]]
	h10, l10 := unhex[s[24]], unhex[s[25]]
	h11, l11 := unhex[s[26]], unhex[s[27]]
	h12, l12 := unhex[s[28]], unhex[s[29]]
	h13, l13 := unhex[s[30]], unhex[s[31]]
	h14, l14 := unhex[s[32]], unhex[s[33]]
	h15, l15 := unhex[s[34]], unhex[s[35]]
	if (h0|l0|h1|l1|h2|l2|h3|l3|h4|l4|h5|l5|h6|l6|h7|l7|h8|l8|h9|l9|h10|l10|h11|l11|h12|l12|h13|l13|h14|l14|h15|l15)&0xf0 != 0 {
		return u, badUUID(s)
	}
	u[0] = h0<<4 | l0
	u[1] = h1<<4 | l1
	u[2] = h2<<4 | l2
	u[3] = h3<<4 | l3
	u[4] = h4<<4 | l4
	u[5] = h5<<4 | l5
	u[6] = h6<<4 | l6
	u[7] = h7<<4 | l7
	u[8] = h8<<4 | l8
	u[9] = h9<<4 | l9
	u[10] = h10<<4 | l10
	u[11] = h11<<4 | l11
	u[12] = h12<<4 | l12
	u[13] = h13<<4 | l13
	u[14] = h14<<4 | l14
	u[15] = h15<<4 | l15
	return u, nil
}

func badUUID(s string) error {
	return fmt.Errorf("%w: %q", ErrBadUUID, clip(s))
}

// unhex maps a hex digit to its value and every other byte to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		switch c := byte(i); {
		case '0' <= c && c <= '9':
			t[i] = c - '0'
		case 'a' <= c && c <= 'f':
			t[i] = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			t[i] = c - 'A' + 10
		default:
			t[i] = 0xff
		}
	}
	return t
}()
