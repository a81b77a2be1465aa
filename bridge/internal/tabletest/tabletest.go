// Package tabletest holds what the tests and benchmarks of the table
// bridges (sqlitebridge, pgbridge) share: a recorder of a bridge's events
// and errors, and the throughput and latency benchmarks that run ringbus
// and the raw client alike.
package tabletest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/wire"
)

// Recorder collects a bridge's received events (Handler) and reported
// errors (Report).
type Recorder struct {
	mu   sync.Mutex
	got  []*api.BaseEvent
	errs []error
}

// Handler records e.
func (r *Recorder) Handler(_ context.Context, e *api.BaseEvent) (any, error) {
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
	return nil, nil
}

// Report records err.
func (r *Recorder) Report(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() }

// Events returns the events received so far.
func (r *Recorder) Events() []*api.BaseEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Types returns the types of the events received so far.
func (r *Recorder) Types() []string {
	var s []string
	for _, e := range r.Events() {
		s = append(s, e.Type())
	}
	return s
}

// Errors returns the errors reported so far.
func (r *Recorder) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// Matching counts the reported errors that match target.
func (r *Recorder) Matching(target error) int {
	n := 0
	for _, err := range r.Errors() {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

// Start starts b and closes it when t ends.
func Start(t testing.TB, b *bridge.Bridge) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Error(err)
		}
	})
}

// Events returns n events of the benchmarks' shape.
func Events(t testing.TB, n int) []*api.BaseEvent {
	evs := make([]*api.BaseEvent, n)
	for i := range evs {
		e, err := api.NewEvent("Bench", map[string]any{"seq": i, "text": strings.Repeat("x", 64)})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = e
	}
	return evs
}

// Counter counts the events a benchmark's receiver got, and signals each
// batch of them on Seen.
type Counter struct {
	got  atomic.Int64
	Seen chan struct{}
}

// NewCounter returns a Counter at zero.
func NewCounter() *Counter { return &Counter{Seen: make(chan struct{}, 1)} }

// Add counts n events received.
func (c *Counter) Add(n int) {
	c.got.Add(int64(n))
	select {
	case c.Seen <- struct{}{}:
	default:
	}
}

// Pair starts send and recv, recv counting its events on the returned
// Counter, and returns send's Emit for the benchmarks.
func Pair(b *testing.B, send, recv *bridge.Bridge) (func(ctx context.Context, evs []*api.BaseEvent) error, *Counter) {
	c := NewCounter()
	if _, err := recv.On("Bench", func(context.Context, *api.BaseEvent) (any, error) { c.Add(1); return nil, nil }); err != nil {
		b.Fatal(err)
	}
	Start(b, recv)
	Start(b, send)
	return func(ctx context.Context, evs []*api.BaseEvent) error {
		for _, e := range evs {
			if err := send.Emit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}, c
}

// wait waits until c counted n events.
func (c *Counter) wait(b *testing.B, n int) {
	deadline := time.Now().Add(time.Minute)
	for c.got.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d events", c.got.Load(), n)
		}
		select {
		case <-c.Seen:
		case <-time.After(time.Millisecond):
		}
	}
}

// Throughput sends b.N events through send, batch at a time, and reports
// events/s until c counted them all.
func Throughput(b *testing.B, c *Counter, batch int, send func(ctx context.Context, from, to int) error) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch { // not b.Loop: the wait for the receiver is timed
		if err := send(ctx, i, min(i+batch, b.N)); err != nil {
			b.Fatal(err)
		}
	}
	c.wait(b, b.N)
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
}

// Latency sends b.N events through send one at a time, each after the
// last arrived, and reports the 50th and 99th percentiles of the round
// trips as p50-µs and p99-µs.
func Latency(b *testing.B, c *Counter, send func(ctx context.Context, from, to int) error) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := send(ctx, i, i+1); err != nil {
			b.Fatal(err)
		}
		c.wait(b, i+1)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// Listen registers r on b for every event and starts b; b should report
// its errors to r (bridge.WithErrorHandler(r.Report)).
func (r *Recorder) Listen(t testing.TB, b *bridge.Bridge) *bridge.Bridge {
	t.Helper()
	if _, err := b.On("*", r.Handler); err != nil {
		t.Fatal(err)
	}
	Start(t, b)
	return b
}

// RawRow is an event as a client without ringbus writes it to a table
// bridge's table: its event_* keys, sorted as abxbus sorts them, with the
// JSON text of each value (nil for null), then event_payload with the
// whole event JSON. ID is the event_id's JSON text.
type RawRow struct {
	Cols []string
	Args []any
	ID   string
}

// RawRows returns the rows of evs, encoded as the bridges encode them.
func RawRows(t testing.TB, evs []*api.BaseEvent) []RawRow {
	rows := make([]RawRow, len(evs))
	for i, e := range evs {
		data, err := wire.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		r := &rows[i]
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if v := m[k]; strings.HasPrefix(k, "event_") {
				r.Cols = append(r.Cols, k)
				if string(v) == "null" {
					r.Args = append(r.Args, nil)
				} else {
					r.Args = append(r.Args, string(v))
				}
			}
		}
		r.Cols = append(r.Cols, "event_payload")
		r.Args = append(r.Args, string(data))
		r.ID = string(m["event_id"])
	}
	return rows
}

// Upsert returns the statement that upserts r into table, with param
// giving the placeholder of the i-th column.
func (r RawRow) Upsert(table string, param func(i int, col string) string) string {
	var cols, params, sets []string
	for i, c := range r.Cols {
		cols = append(cols, `"`+c+`"`)
		params = append(params, param(i, c))
		if c != "event_id" {
			sets = append(sets, `"`+c+`" = excluded."`+c+`"`)
		}
	}
	return `INSERT INTO "` + table + `" (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(params, ", ") +
		`) ON CONFLICT ("event_id") DO UPDATE SET ` + strings.Join(sets, ", ")
}
