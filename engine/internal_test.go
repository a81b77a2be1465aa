package engine

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/ringbus/ringbus/ident"
	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// The hot path's memory budget (about 300 bytes per event with its row)
// depends on these sizes; growing them is a deliberate decision.
func TestCompactLayout(t *testing.T) {
	if s := unsafe.Sizeof(Event{}); s > 144 {
		t.Errorf("Event is %d bytes, budget 144", s)
	}
	if s := unsafe.Sizeof(Result{}); s > 96 {
		t.Errorf("Result is %d bytes, budget 96 (one field holds the value or the error)", s)
	}
}

// CONC-8, LOCK-5: the lock is handed to waiters in arrival order and a new
// caller cannot slip in ahead of queued waiters.
func TestFIFOLockIsFair(t *testing.T) {
	var l fifoLock
	if !l.lock(nil) {
		t.Fatal("lock failed")
	}
	const n = 20
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.lock(nil)
			order <- i
			l.unlock()
		}()
		// Wait until waiter i is queued before starting the next one.
		for {
			l.mu.Lock()
			q := len(l.waiters)
			l.mu.Unlock()
			if q == i+1 {
				break
			}
			time.Sleep(time.Microsecond)
		}
	}
	if l.tryLock() {
		t.Fatal("tryLock slipped in ahead of queued waiters")
	}
	l.unlock()
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("waiter %d got the lock in position %d", got, want)
		}
		want++
	}
}

// A waiter that gives up is removed and does not leave the lock held.
func TestFIFOLockAbort(t *testing.T) {
	var l fifoLock
	l.lock(nil)
	abort := make(chan struct{})
	done := make(chan bool)
	go func() { done <- l.lock(abort) }()
	for !l.hasWaiters() {
		time.Sleep(time.Microsecond)
	}
	close(abort)
	if <-done {
		t.Fatal("aborted lock reported success")
	}
	l.unlock()
	if !l.tryLock() {
		t.Fatal("lock stuck after an aborted waiter")
	}
	l.unlock()
}

func completedEvent(t *testing.T) *Event {
	e, err := NewEvent("HistEvent", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.status.Store(uint32(StatusCompleted))
	return e
}

// HIST-5, HIST-7: completed entries go first, oldest first; then the oldest
// entries whatever their status, with a one-time warning.
func TestHistoryTrimOrder(t *testing.T) {
	var h history
	h.setLimit(3, true)
	inflight, _ := NewEvent("HistEvent", nil)
	var done []*Event
	if _, err := h.add(inflight, "B#0000"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		e := completedEvent(t)
		done = append(done, e)
		if _, err := h.add(e, "B#0000"); err != nil {
			t.Fatal(err)
		}
	}
	if h.trim() {
		t.Fatal("first pass alone must suffice")
	}
	got := h.snapshot()
	if len(got) != 3 || got[0] != inflight || got[1] != done[2] || got[2] != done[3] {
		t.Fatalf("after trim: %v", got)
	}
	h.setLimit(1, true)
	if h.trim() {
		t.Fatal("completed entries alone must make room")
	}
	if got := h.snapshot(); len(got) != 1 || got[0] != inflight {
		t.Fatalf("after second trim: %v", got)
	}
	newer, _ := NewEvent("HistEvent", nil)
	if _, err := h.add(newer, "B#0000"); err != nil {
		t.Fatal(err)
	}
	if !h.trim() {
		t.Fatal("dropping in-flight entries must report the first time")
	}
	if got := h.snapshot(); len(got) != 1 || got[0] != newer {
		t.Fatalf("oldest in-flight entry must go first: %v", got)
	}
}

// HIST-4: with dropping off a full history rejects, even when everything in
// it completed.
func TestHistoryRejectsWhenFull(t *testing.T) {
	var h history
	h.setLimit(2, false)
	for i := 0; i < 2; i++ {
		if _, err := h.add(completedEvent(t), "B#0000"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.add(completedEvent(t), "B#0000")
	var full *HistoryFullError
	if err == nil || !errorsAs(err, &full) || full.Len != 2 || full.Limit != 2 {
		t.Fatalf("got %v", err)
	}
}

// Compaction keeps order and drops tombstones (HIST-9).
func TestHistoryCompaction(t *testing.T) {
	var h history
	h.setLimit(10, true)
	var all []*Event
	for i := 0; i < 1000; i++ {
		e := completedEvent(t)
		all = append(all, e)
		if _, err := h.add(e, "B#0000"); err != nil {
			t.Fatal(err)
		}
		h.trim()
	}
	got := h.snapshot()
	if len(got) != 10 {
		t.Fatalf("len %d", len(got))
	}
	for i, e := range got {
		if e != all[990+i] {
			t.Fatalf("entry %d out of order", i)
		}
	}
	if len(h.buf) > 32 {
		t.Fatalf("the buffer grew with traffic: %d slots for 10 entries", len(h.buf))
	}
}

// HIST-3, HIST-9: removals behind an in-flight event leave tombstones in
// the middle of the history; compaction reclaims them, keeps the order, and
// the buffer stays bounded by the live entries, not by the traffic.
func TestHistoryCompactsTombstonesBehindInflight(t *testing.T) {
	var h history
	h.setLimit(0, false)
	var inflight []*Event
	for i := 0; i < 5000; i++ {
		e := completedEvent(t)
		if i%1000 == 0 {
			e.status.Store(uint32(StatusStarted))
			inflight = append(inflight, e)
		}
		if _, err := h.add(e, "B#0000"); err != nil {
			t.Fatal(err)
		}
		if e.Status() == StatusCompleted {
			h.removeCompleted(e) // what completion does (HIST-3)
		}
		if i%7 == 0 {
			h.trim()
		}
	}
	got := h.snapshot()
	if len(got) != len(inflight) {
		t.Fatalf("len %d, want %d", len(got), len(inflight))
	}
	for i, e := range got {
		if e != inflight[i] {
			t.Fatalf("entry %d out of order", i)
		}
	}
	if len(h.buf) > 256 || h.size > 2*64+len(inflight) {
		t.Fatalf("tombstones not compacted: %d slots, span %d, for %d entries", len(h.buf), h.size, len(got))
	}
	var newest []*Event
	h.newestFirst(func(e *Event) bool { newest = append(newest, e); return true })
	for i, e := range newest {
		if e != inflight[len(inflight)-1-i] {
			t.Fatalf("newestFirst entry %d out of order", i)
		}
	}
}

func errorsAs(err error, target **HistoryFullError) bool {
	e, ok := err.(*HistoryFullError)
	if ok {
		*target = e
	}
	return ok
}

// HIST-6: once the bus is idle, whoever looks sees len(history) <= limit,
// even if the dispatcher has not reached its own idle trim yet (it trims
// only every 16 events while busy). The completed events are recorded
// here without a dispatcher, so no trim runs unless History, HistoryLen or
// WaitUntilIdle does it.
func TestIdleObserversSeeTrimmedHistory(t *testing.T) {
	for name, look := range map[string]func(b *Bus) int{
		"HistoryLen": func(b *Bus) int { return b.HistoryLen() },
		"History":    func(b *Bus) int { return len(b.History()) },
		"WaitUntilIdle": func(b *Bus) int {
			if err := b.WaitUntilIdle(context.Background()); err != nil {
				t.Fatal(err)
			}
			return b.hist.len()
		},
	} {
		b, err := NewBus("IdleTrim", WithMaxHistory(5), WithHistoryDrop(true))
		if err != nil {
			t.Fatal(err)
		}
		for range 8 {
			if _, err := b.hist.add(completedEvent(t), b.Label()); err != nil {
				t.Fatal(err)
			}
		}
		if got := look(b); got != 5 {
			t.Errorf("%s: %d events in the history of an idle bus, want the limit 5", name, got)
		}
		_ = b.Close()
	}
}

// TIME-8, REG-6: a handler's id text is its UUID's canonical text; OffID
// matches it without parsing, and also takes the same id in upper case.
// Registering and removing a one-off handler stays within its allocation
// budget: the Handler, with its first list inline, and its id text.
func TestHandlerIDTextAndOffID(t *testing.T) {
	b, err := NewBus("IDText", WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	fn := func(context.Context, *Event) (any, error) { return nil, nil }
	h, err := b.On("WorkEvent", fn)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.ID(), h.UUID().String(); got != want {
		t.Fatalf("ID() = %q, want %q", got, want)
	}
	want := ident.HandlerID(b.ID(), h.Name(), h.FilePath(), h.RegisteredAt().String(), "WorkEvent")
	if h.UUID() != want {
		t.Fatalf("id %s, want HandlerID's %s", h.UUID(), want)
	}
	if n := testing.AllocsPerRun(100, func() { _ = h.ID() }); n != 0 {
		t.Errorf("ID allocates %v times", n)
	}
	b.OffID("WorkEvent", strings.ToUpper(h.ID()))
	if len(b.HandlersFor("WorkEvent")) != 0 {
		t.Fatal("OffID with the upper-case id left the handler")
	}

	// Two handlers may share an id (WithHandlerID): OffID removes both.
	id := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for range 2 {
		if _, err := b.On("WorkEvent", fn, WithHandlerID(id)); err != nil {
			t.Fatal(err)
		}
	}
	b.OffID("WorkEvent", id)
	if n := len(b.HandlersFor("WorkEvent")); n != 0 {
		t.Fatalf("OffID left %d of the two handlers sharing its id", n)
	}

	n := testing.AllocsPerRun(200, func() {
		h, _ := b.On("WorkEvent", fn)
		b.OffID("WorkEvent", h.ID())
	})
	if n > 2 {
		t.Errorf("On+OffID of a one-off handler: %v allocations, want 2 (the Handler and its id text)", n)
	}
	if len(b.HandlersFor("WorkEvent")) != 0 || len(b.Handlers()) != 0 {
		t.Fatal("handlers left after OffID")
	}
}

// EVT-1: event types are identifiers, with '.' allowed after the first
// byte; anything else, non-ASCII letters included, is rejected.
func TestValidEventType(t *testing.T) {
	for name, ok := range map[string]bool{
		"WorkEvent": true, "a": true, "Z9": true, "pkg.Event": true, "a.b.c": true, "a_b": true,
		"": false, "_a": false, "9a": false, ".a": false, "a-b": false, "a b": false,
		"é": false, "aé": false, "a\x00": false, strings.Repeat("a", maxEventTypeLen): true,
		strings.Repeat("a", maxEventTypeLen+1): false,
	} {
		if err := validEventType(name); (err == nil) != ok {
			t.Errorf("validEventType(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// HCONC-2: the rows of a parallel-handler processing share one allocation
// for their extensions; each still points back at its processing.
func TestParallelRowsShareExtensionSlab(t *testing.T) {
	b, err := NewBus("ExtSlab", WithLogger(slog.New(slog.DiscardHandler)), WithHandlerConcurrency(ParallelHandlers))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	const n = 40
	for range n {
		if _, err := b.On("WorkEvent", func(context.Context, *Event) (any, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEvent("WorkEvent", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := e.Rows()
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.Status() != StatusCompleted || r.ext == nil || r.ext.proc == nil {
			t.Fatalf("row %d: status %v, ext %v", i, r.Status(), r.ext)
		}
		if i > 0 && uintptr(unsafe.Pointer(r.ext))-uintptr(unsafe.Pointer(rows[i-1].ext)) != unsafe.Sizeof(rowExt{}) {
			t.Fatalf("row %d's extension is not next to row %d's", i, i-1)
		}
	}
}

// An id string a caller keeps does not keep its handler reachable.
func TestHandlerIDDoesNotRetainHandler(t *testing.T) {
	b, err := NewBus("IDRetain", WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	h, err := b.On("WorkEvent", func(context.Context, *Event) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	id := h.ID()
	w := weak.Make(h)
	h.Off()
	h = nil
	for i := 0; i < 10 && w.Value() != nil; i++ {
		runtime.GC()
	}
	if w.Value() != nil {
		t.Fatal("the handler is still reachable while only its id is kept")
	}
	if _, err := ident.ParseUUID(id); err != nil {
		t.Fatalf("kept id %q: %v", id, err)
	}
}

// TIMEOUT-1, SLOW-2, EVT-6: the dispatcher keeps the settings it resolved for
// events that set nothing themselves; an event of the same type with its own
// settings must still get them, and the next plain event the plain ones.
func TestSettingsFollowEachEvent(t *testing.T) {
	var slow atomic.Int32
	logger := slog.New(countingHandler{match: "Slow event handler", n: &slow})
	b, err := NewBus("Settings", WithEventTimeout(0), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if _, err := b.On("SettingsEvent", func(ctx context.Context, _ *Event) (any, error) {
		select {
		case <-time.After(40 * time.Millisecond):
			return "done", nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}); err != nil {
		t.Fatal(err)
	}
	run := func(set func(*Event)) error {
		t.Helper()
		e, err := NewEvent("SettingsEvent", nil)
		if err != nil {
			t.Fatal(err)
		}
		if set != nil {
			set(e)
		}
		if err := b.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e.Rows()[0].Error()
	}
	if err := run(nil); err != nil {
		t.Fatalf("plain event: %v", err)
	}
	if err := run(func(e *Event) { e.SetHandlerTimeout(5 * time.Millisecond) }); !errors.Is(err, ErrHandlerTimeout) {
		t.Fatalf("event with a 5ms handler timeout: row error %v, want a timeout", err)
	}
	if err := run(nil); err != nil {
		t.Fatalf("plain event after one with its own timeout: %v", err)
	}
	if n := slow.Load(); n != 0 {
		t.Fatalf("%d slow warnings before any event asked for one", n)
	}
	if err := run(func(e *Event) { e.SetHandlerSlowTimeout(5 * time.Millisecond) }); err != nil {
		t.Fatalf("event with a slow threshold: %v", err)
	}
	if n := slow.Load(); n != 1 {
		t.Fatalf("%d slow warnings for the event with a 5ms threshold, want 1", n)
	}
	if err := run(nil); err != nil {
		t.Fatalf("plain event: %v", err)
	}
	if n := slow.Load(); n != 1 {
		t.Fatalf("the plain event after it warned too (%d warnings)", n)
	}
}

// countingHandler is a slog.Handler counting records whose message contains
// match.
type countingHandler struct {
	match string
	n     *atomic.Int32
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// isUnset must agree with comparing against unsetConfig; it names every
// field, so a new field must be added to it.
func TestEventConfigIsUnset(t *testing.T) {
	if n := reflect.TypeFor[eventConfig]().NumField(); n != 7 {
		t.Fatalf("eventConfig has %d fields; update isUnset and this test", n)
	}
	c := unsetConfig
	if !c.isUnset() {
		t.Fatal("unsetConfig is not unset")
	}
	for i, set := range []func(*eventConfig){
		func(c *eventConfig) { c.timeout = 0 },
		func(c *eventConfig) { c.handlerTimeout = time.Second },
		func(c *eventConfig) { c.slowTimeout = 0 },
		func(c *eventConfig) { c.handlerSlowTimeout = 0 },
		func(c *eventConfig) { c.concurrency = ParallelEvents },
		func(c *eventConfig) { c.handlerConcurrency = ParallelHandlers },
		func(c *eventConfig) { c.completion = CompleteFirst },
	} {
		c := unsetConfig
		set(&c)
		if c.isUnset() || c == unsetConfig {
			t.Errorf("field %d set: isUnset %v, == unsetConfig %v", i, c.isUnset(), c == unsetConfig)
		}
	}
}
