package engine

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// Find and Filter: FIND.

// FindOption configures Find and Filter. Without options they search the
// whole history and do not wait for future events.
type FindOption interface{ applyFind(*findQuery) }

type findOption func(*findQuery)

func (f findOption) applyFind(q *findQuery) { f(q) }

type findQuery struct {
	pattern    string
	past       bool
	pastWindow time.Duration // 0: whole history
	future     bool
	futureFor  time.Duration // 0: until ctx is done
	childOf    *Event
	noChild    bool // ChildOf(nil): nothing matches
	where      []func(*Event) bool
	equals     []fieldEq
}

type fieldEq struct {
	name  string
	value any
}

// Past limits the history search to events created within the last window.
// A negative window searches nothing of the past.
func Past(window time.Duration) FindOption {
	// FIND-2.
	return findOption(func(q *findQuery) {
		q.past = true
		if window < 0 {
			window = 0
			q.past = false
		}
		q.pastWindow = window
	})
}

// The history window: FIND-2.

// NoPast skips the history: only future events match.
func NoPast() FindOption { return findOption(func(q *findQuery) { q.past = false }) }

// Future makes Find wait for a matching event emitted after the call, for at
// most d; d == 0 waits until ctx is done. Past and future are independent:
// a past match returns at once.
func Future(d time.Duration) FindOption {
	// FIND-3; a past match first FIND-8.
	return findOption(func(q *findQuery) {
		q.future = true
		if d < 0 {
			d = 0
		}
		q.futureFor = d
	})
}

// ChildOf keeps only descendants of parent, at any depth, across buses.
func ChildOf(parent *Event) FindOption {
	// FIND-5, CHILD-8.
	return findOption(func(q *findQuery) {
		q.childOf = parent
		q.noChild = parent == nil // a nil ancestor has no descendants
	})
}

// Where keeps only events for which f returns true.
func Where(f func(*Event) bool) FindOption {
	// FIND-4.
	return findOption(func(q *findQuery) {
		if f != nil {
			q.where = append(q.where, f)
		}
	})
}

// Field filters: FIND-4.

// FieldEquals keeps only events whose field name (an event_* field or a
// payload field by its JSON name) equals value; a missing field never
// matches.
func FieldEquals(name string, value any) FindOption {
	return findOption(func(q *findQuery) { q.equals = append(q.equals, fieldEq{name, value}) })
}

func (b *Bus) query(pattern string, opts []FindOption) *findQuery {
	q := &findQuery{pattern: pattern, past: true}
	for _, o := range opts {
		if o != nil {
			o.applyFind(q)
		}
	}
	return q
}

func (q *findQuery) matches(e *Event) bool {
	if q.pattern != Wildcard && q.pattern != "" && e.Type() != q.pattern {
		return false
	}
	if q.noChild || q.childOf != nil && !EventIsChildOf(e, q.childOf) {
		return false
	}
	for _, f := range q.equals {
		v, ok := e.Field(f.name)
		if !ok || !equalValues(v, f.value) {
			return false
		}
	}
	for _, w := range q.where {
		if !w(e) {
			return false
		}
	}
	return true
}

// Find returns the newest event matching pattern ("*" for any type) and the
// options, from the history and/or the future (see Past and Future). It
// returns (nil, nil) when nothing matched in time. Find resolves when a
// matching event is emitted, not when it completes: wait on the result for
// that.
func (b *Bus) Find(ctx context.Context, pattern string, opts ...FindOption) (*Event, error) {
	// FIND; resolved at emit FIND-6.
	out, err := b.filter(ctx, pattern, 1, opts)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

// Filter returns up to limit matching events, newest first; with a future
// wait, at most one future match is appended after the past ones. limit <= 0
// returns nothing. Find is Filter with a limit of 1.
func (b *Bus) Filter(ctx context.Context, pattern string, limit int, opts ...FindOption) ([]*Event, error) {
	// FIND-12, D11.
	return b.filter(ctx, pattern, limit, opts)
}

func (b *Bus) filter(ctx context.Context, pattern string, limit int, opts []FindOption) ([]*Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := b.query(pattern, opts)
	// Register the future waiter before searching the past, so that an
	// event emitted in between is not missed.
	var w *findWaiter
	if q.future && b.state.Load() == busOpen {
		w = &findWaiter{q: q, ch: make(chan *Event, 1)}
		b.find.add(w)
		defer b.find.remove(w)
	}
	var out []*Event
	if q.past {
		var cutoff int64
		if q.pastWindow > 0 {
			cutoff = int64(ident.Now()) - int64(q.pastWindow)
		}
		var cands []*Event
		b.hist.newestFirst(func(e *Event) bool {
			if cutoff != 0 && int64(e.CreatedTime()) < cutoff {
				return true
			}
			cands = append(cands, e)
			return true
		})
		for _, e := range cands {
			if q.matches(e) {
				out = append(out, e)
				if len(out) >= limit {
					return out, nil
				}
			}
		}
	}
	if w == nil {
		return out, nil
	}
	if len(out) > 0 && limit == 1 {
		return out, nil
	}
	var timeout <-chan time.Time
	if q.futureFor > 0 {
		t := time.NewTimer(q.futureFor)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case e := <-w.ch:
		if e != nil {
			out = append(out, e)
		}
	case <-timeout:
	case <-ctx.Done():
		return out, context.Cause(ctx)
	}
	return out, nil
}

// findWaiters holds a bus's pending future finds; Emit resolves them
// synchronously (FIND-9).
type findWaiters struct {
	mu    sync.Mutex
	list  []*findWaiter
	count atomic.Int32
}

type findWaiter struct {
	q    *findQuery
	ch   chan *Event
	done bool
}

func (f *findWaiters) add(w *findWaiter) {
	f.mu.Lock()
	f.list = append(f.list, w)
	f.count.Add(1)
	f.mu.Unlock()
}

func (f *findWaiters) remove(w *findWaiter) {
	f.mu.Lock()
	for i, x := range f.list {
		if x == w {
			f.list = append(f.list[:i], f.list[i+1:]...)
			f.count.Add(-1)
			break
		}
	}
	f.mu.Unlock()
}

// FIND-10.

// Waiters returns the number of Find and Filter calls waiting for a future
// event.
func (b *Bus) Waiters() int { return int(b.find.count.Load()) }

func (f *findWaiters) resolve(e *Event) {
	f.mu.Lock()
	var hit []*findWaiter
	for _, w := range f.list {
		if !w.done {
			hit = append(hit, w)
		}
	}
	f.mu.Unlock()
	for _, w := range hit {
		if w.q.matches(e) {
			f.mu.Lock()
			if !w.done {
				w.done = true
				w.ch <- e
			}
			f.mu.Unlock()
		}
	}
}

func (f *findWaiters) closeAll() {
	f.mu.Lock()
	for _, w := range f.list {
		if !w.done {
			w.done = true
			w.ch <- nil
		}
	}
	f.mu.Unlock()
}

// EventIsChildOf reports whether e descends from ancestor, walking parent
// links across buses. An event is not its own child.
func EventIsChildOf(e, ancestor *Event) bool {
	// CHILD-8.
	if e == nil || ancestor == nil || e == ancestor {
		return false
	}
	target := ancestor.UUID()
	seen := 0
	for cur := e; cur != nil && seen < 100000; seen++ {
		cur.mu.Lock()
		var pid, next = cur.parentIDLocked(), cur.parentLocked()
		cur.mu.Unlock()
		if pid.IsZero() {
			return false
		}
		if pid == target {
			return true
		}
		if next == nil {
			next = lookupEvent(pid.String())
		}
		cur = next
	}
	return false
}

// EventIsParentOf reports whether descendant descends from e.
func EventIsParentOf(e, descendant *Event) bool { return EventIsChildOf(descendant, e) }

func (e *Event) parentIDLocked() (u ident.UUID) {
	if e.ext != nil {
		return e.ext.parentID
	}
	return u
}

func (e *Event) parentLocked() *Event {
	if e.ext != nil {
		return e.ext.parent
	}
	return nil
}

// lookupEvent finds an event by id in every live bus's history.
func lookupEvent(id string) *Event {
	for _, b := range DefaultDomain.Buses() {
		var found *Event
		b.hist.newestFirst(func(e *Event) bool {
			if e.uuid().String() == id {
				found = e
				return false
			}
			return true
		})
		if found != nil {
			return found
		}
	}
	return nil
}

// Field returns the value of a field by its wire name: an event_* built-in
// or a payload field (the JSON name of a typed event's struct field, or a
// key of an untyped event's fields).
func (e *Event) Field(name string) (any, bool) {
	switch name {
	case "event_id":
		return e.ID(), true
	case "event_type":
		return e.Type(), true
	case "event_version":
		return e.Version(), true
	case "event_status":
		return e.Status().String(), true
	case "event_parent_id":
		if p := e.ParentID(); p != "" {
			return p, true
		}
		return nil, true
	case "event_timeout":
		if d, ok := e.Timeout(); ok {
			return d, true
		}
		return nil, true
	}
	if e.ext != nil && e.ext.fields != nil {
		v, ok := e.ext.fields[name]
		if ok {
			return v, true
		}
	}
	out := e.Payload()
	if out == nil || Core(out) == nil || reflect.TypeOf(out) == untypedBase {
		return nil, false
	}
	v := reflect.ValueOf(out).Elem()
	idx, ok := e.meta.fieldIndex(name)
	if !ok {
		return nil, false
	}
	return v.FieldByIndex(idx).Interface(), true
}

func (m *TypeMeta) fieldIndex(name string) ([]int, bool) {
	if m.goType == nil || m.fields == nil {
		return nil, false
	}
	if idx, ok := m.fields.Load(name); ok {
		return idx, idx != nil
	}
	var found []int
	for _, f := range reflect.VisibleFields(m.goType) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		jn := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				jn = n
			}
		}
		if jn == name {
			found = f.Index
			break
		}
	}
	m.fields.Store(name, found)
	return found, found != nil
}

// equalValues is the equality of FieldEquals (FIND-4): values compare by
// what they say on the wire rather than by Go type. Numbers of any Go
// numeric type, and json.Number, compare as numbers: integers exactly, even
// beyond float64 precision, and a float equal to an integer matches it.
// Statuses compare by their wire names, and values of named string and bool
// types by their underlying value. Everything else compares with ==, or
// reflect.DeepEqual for values that are not comparable.
func equalValues(a, b any) bool {
	a, b = derefValue(a), derefValue(b)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	// A duration (event_timeout and the like) is seconds on the wire:
	// compared with anything but another duration, it is its seconds.
	if d, ok := a.(time.Duration); ok {
		if _, both := b.(time.Duration); !both {
			a = d.Seconds()
		}
	} else if d, ok := b.(time.Duration); ok {
		b = d.Seconds()
	}
	if na, ok := numberOf(a); ok {
		nb, ok := numberOf(b)
		return ok && na.equal(nb)
	}
	if _, ok := numberOf(b); ok {
		return false
	}
	if sa, ok := scalarOf(a); ok {
		sb, ok := scalarOf(b)
		return ok && sa == sb
	}
	if _, ok := scalarOf(b); ok {
		return false
	}
	if reflect.ValueOf(a).Comparable() && reflect.ValueOf(b).Comparable() && a == b {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// derefValue follows pointers (a *int field holding 5 is 5 on the wire); a
// nil pointer is nil.
func derefValue(v any) any {
	for v != nil {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer {
			return v
		}
		if rv.IsNil() {
			return nil
		}
		if rv.Elem().Kind() == reflect.Struct {
			return v // an event or a struct: compared as it is
		}
		v = rv.Elem().Interface()
	}
	return v
}

// scalarOf returns a string or bool value (of any named type) as a plain
// string or bool, and a Status as its wire name.
func scalarOf(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	case Status:
		return x.String(), true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String:
		return rv.String(), true
	case reflect.Bool:
		return rv.Bool(), true
	}
	return nil, false
}

// number is a numeric value in one canonical form, so that two numbers are
// equal exactly when their forms are. Values compare by what they say on
// the wire: an integer that fits int64 is an int64, a larger one that fits
// uint64 a uint64; any other value is the decimal a JSON encoder writes for
// it (a float64 its shortest round-trip decimal, a float32 the float32 one,
// a json.Number its own text), so float64(0.1), float32(0.1) and
// json.Number("0.1") are one number.
type number struct {
	kind uint8
	i    int64
	u    uint64
	d    decimal
}

const (
	numInt uint8 = iota
	numUint
	numDecimal
)

func (n number) equal(o number) bool {
	if n.kind != o.kind {
		return false
	}
	switch n.kind {
	case numInt:
		return n.i == o.i
	case numUint:
		return n.u == o.u
	}
	return n.d == o.d
}

// decimal is a number's value as ±0.digits × 10^(exp+len(digits)), with
// digits free of leading and trailing zeros so that equal values have equal
// forms ("" and 0 for zero).
type decimal struct {
	neg    bool
	digits string
	exp    int
}

func intNumber(i int64) number { return number{kind: numInt, i: i} }

func uintNumber(u uint64) number {
	if u <= math.MaxInt64 {
		return intNumber(int64(u))
	}
	return number{kind: numUint, u: u}
}

// floatNumber returns the number of a float with bits of precision
// (64 or 32); NaN and ±Inf are no number (they match nothing).
func floatNumber(f float64, bits int) (number, bool) {
	if f == math.Trunc(f) { // integral (false for NaN and ±Inf)
		// -2^63 and 2^64 are exact floats; integral floats inside the
		// bounds convert exactly.
		if f >= -(1<<63) && f < 1<<63 {
			return intNumber(int64(f)), true
		}
		if f >= 0 && f < 1<<64 {
			return uintNumber(uint64(f)), true
		}
	}
	return parseNumber(strconv.FormatFloat(f, 'e', -1, bits))
}

// numberOf returns v as a number when it is one: a value of a Go integer
// or float kind (except Status), or a json.Number.
func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return intNumber(int64(x)), true
	case int64:
		return intNumber(x), true
	case float64:
		return floatNumber(x, 64)
	case json.Number:
		return parseNumber(string(x))
	case Status:
		return number{}, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intNumber(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintNumber(rv.Uint()), true
	case reflect.Float32:
		return floatNumber(rv.Float(), 32)
	case reflect.Float64:
		return floatNumber(rv.Float(), 64)
	}
	return number{}, false
}

// parseNumber reads the text of a JSON number (RFC 8259's grammar: "0x10",
// "+16", "016" and "1/2" are not numbers and match nothing numeric). Its
// cost is linear in the text whatever the exponent: 1e999999 is compared by
// its digits and exponent, never built.
func parseNumber(s string) (number, bool) {
	d, ok := scanDecimal(s)
	if !ok {
		return number{}, false
	}
	if d.digits == "" {
		return intNumber(0), true // 0, -0, 0.000e5
	}
	// An integer of at most 20 digits may fit int64 or uint64.
	if d.exp >= 0 && len(d.digits)+d.exp <= 20 {
		text := d.digits + strings.Repeat("0", d.exp)
		if !d.neg {
			if u, err := strconv.ParseUint(text, 10, 64); err == nil {
				return uintNumber(u), true
			}
		} else if i, err := strconv.ParseInt("-"+text, 10, 64); err == nil {
			return intNumber(i), true
		}
	}
	return number{kind: numDecimal, d: d}, true
}

// scanDecimal reads s if it is a JSON number and returns its canonical
// decimal form.
func scanDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	digitsFrom := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	start := i
	i = digitsFrom(i)
	intPart := s[start:i]
	if intPart == "" || len(intPart) > 1 && intPart[0] == '0' {
		return d, false
	}
	frac := ""
	if i < len(s) && s[i] == '.' {
		fs := i + 1
		i = digitsFrom(fs)
		if i == fs {
			return d, false
		}
		frac = s[fs:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		i = digitsFrom(es)
		if i == es {
			return d, false
		}
		for _, c := range s[es:i] {
			if exp < 1<<40 { // saturates; such a value is beyond any float
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	all := strings.TrimLeft(intPart+frac, "0")
	d.digits = strings.TrimRight(all, "0")
	d.exp = exp - len(frac) + len(all) - len(d.digits)
	if d.digits == "" {
		d.neg, d.exp = false, 0
	}
	return d, true
}
