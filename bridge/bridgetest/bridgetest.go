// Package bridgetest is the conformance suite every bridge transport runs:
// the same tests, through the public API of package bridge, for the JSONL
// file, HTTP, Unix socket, SQLite, PostgreSQL, Redis and NATS transports,
// and for a user's own transport.
//
//	func TestConformance(t *testing.T) {
//		bridgetest.Run(t, bridgetest.Harness{
//			NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair { ... },
//			Echo:    true,
//			Ordered: true,
//		})
//	}
//
// The suite checks: events of varied shapes arrive with every field equal
// but a new id; one sender's order is kept where the transport keeps it; a
// bridge's own events come back on transports that echo and are handled
// once; two listeners on one channel both receive; bad payloads are dropped
// with an error matching bridge.ErrInvalidMessage while the next message
// still arrives; a listener restarted on the channel receives again;
// concurrent emitters lose nothing; Close under load returns and accounts
// for every event; Start is idempotent and On before Start subscribes once;
// and no goroutine is left behind.
package bridgetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/wire"
)

// Pair is two bridges on one fresh channel: what Sender emits reaches
// Receiver. They may be the same kind of bridge in two roles (Redis) or
// two endpoints (HTTP). The suite closes both.
type Pair struct {
	Sender, Receiver *bridge.Bridge
	// Raw publishes data on the channel as a foreign process would, for
	// the bad-input tests: it must reach Receiver as one message. For a
	// payload the transport cannot carry as it is, it returns an error
	// wrapping ErrUnsendable and the suite expects no report of it:
	// PostgreSQL text holds no invalid UTF-8, and a table bridge orders
	// its rows by their event_created_at column, so a row whose timestamp
	// is not one would stop every listener of the table.
	Raw func(ctx context.Context, data []byte) error
	// NewReceiver returns another bridge listening on the same channel, or
	// is nil when a channel has one listener only (a Unix socket path).
	NewReceiver func(t *testing.T, opts ...bridge.Option) *bridge.Bridge
	// ReplaceReceiver returns a new listener in place of a closed
	// Receiver; nil means NewReceiver serves.
	ReplaceReceiver func(t *testing.T, opts ...bridge.Option) *bridge.Bridge
}

// ErrUnsendable is what a Pair's Raw wraps for a payload that the
// transport cannot carry as one message.
var ErrUnsendable = errors.New("bridgetest: the transport cannot carry this payload")

// Harness describes a transport to the suite.
type Harness struct {
	// NewPair returns a pair of bridges on a channel no other test uses,
	// built with opts (the suite's error handler and names among them).
	NewPair func(t *testing.T, opts ...bridge.Option) Pair
	// Echo says a bridge hears its own messages (every abxbus transport
	// but HTTP and the Unix socket).
	Echo bool
	// Ordered says one sender's events arrive in the order sent.
	Ordered bool
	// Timeout bounds each wait for events (default 10s).
	Timeout time.Duration
	// Events is how many events the volume tests send (default 2000).
	Events int
	// Skip names tests of the suite the transport cannot pass, with why.
	Skip map[string]string
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.Timeout == 0 {
		h.Timeout = 10 * time.Second
	}
	if h.Events == 0 {
		h.Events = 2000
	}
	tests := []struct {
		name string
		f    func(*testing.T, Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Order", testOrder},
		{"Echo", testEcho},
		{"TwoListeners", testTwoListeners},
		{"BadPayloads", testBadPayloads},
		{"RestartListener", testRestartListener},
		{"ConcurrentEmitters", testConcurrentEmitters},
		{"CloseUnderLoad", testCloseUnderLoad},
		{"StartOnce", testStartOnce},
		{"NoGoroutineLeft", testNoGoroutineLeft},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := h.Skip[tc.name]; ok {
				t.Skip(why)
			}
			tc.f(t, h)
		})
	}
}

// errs collects what a bridge reports.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) { e.mu.Lock(); e.list = append(e.list, err); e.mu.Unlock() }

func (e *errs) matching(target error) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, err := range e.list {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

func (e *errs) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, err := range e.list {
		b.WriteString("\n  " + err.Error())
	}
	return b.String()
}

// rig is a pair with an application bus on each side.
type rig struct {
	h              Harness
	pair           Pair
	appA, appB     *api.Bus
	errA, errB     *errs
	gotMu          sync.Mutex
	got            []*api.BaseEvent
	gotN           atomic.Int64
	handledA       atomic.Int64
	closeA, closeB bool
	ctx            context.Context
}

func newRig(t *testing.T, h Harness, extra ...bridge.Option) *rig {
	t.Helper()
	r := &rig{h: h, errA: &errs{}, errB: &errs{}, ctx: context.Background()}
	opts := append([]bridge.Option{bridge.WithErrorHandler(func(err error) { r.errB.add(err) })}, extra...)
	r.pair = h.NewPair(t, opts...)
	if r.pair.Sender == nil || r.pair.Receiver == nil {
		t.Fatal("bridgetest: NewPair returned a nil bridge")
	}
	var err error
	if r.appA, err = api.NewBus("AppA", api.WithMaxHistory(0)); err != nil {
		t.Fatal(err)
	}
	if r.appB, err = api.NewBus("AppB", api.WithMaxHistory(0)); err != nil {
		t.Fatal(err)
	}
	_, _ = api.OnAll(r.appA, func(context.Context, *api.BaseEvent) (any, error) { r.handledA.Add(1); return nil, nil })
	_, _ = api.OnAll(r.appB, func(_ context.Context, e *api.BaseEvent) (any, error) {
		r.gotMu.Lock()
		r.got = append(r.got, e)
		r.gotMu.Unlock()
		r.gotN.Add(1)
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	for _, b := range []*bridge.Bridge{r.pair.Sender, r.pair.Receiver} {
		if err := b.Start(ctx); err != nil {
			t.Fatalf("bridgetest: start %s: %v", b.Name(), err)
		}
	}
	if err := r.pair.Sender.Connect(r.appA); err != nil {
		t.Fatal(err)
	}
	if err := r.pair.Receiver.Connect(r.appB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close(t) })
	return r
}

func (r *rig) close(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), r.h.Timeout)
	defer cancel()
	if !r.closeA {
		r.closeA = true
		if err := r.pair.Sender.Close(ctx); err != nil {
			t.Errorf("bridgetest: close sender: %v", err)
		}
	}
	if !r.closeB {
		r.closeB = true
		if err := r.pair.Receiver.Close(ctx); err != nil {
			t.Errorf("bridgetest: close receiver: %v", err)
		}
	}
	_ = r.appA.Stop(ctx)
	_ = r.appB.Stop(ctx)
}

// waitFor waits until cond holds, failing t after the harness's timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, timeout, what, cond)
}

func (r *rig) emit(t *testing.T, e api.Eventer) {
	t.Helper()
	if err := r.appA.Emit(r.ctx, e); err != nil {
		t.Fatal(err)
	}
}

// flush waits until app bus A handled what was emitted and its bridge
// sent it.
func (r *rig) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), r.h.Timeout)
	defer cancel()
	if err := r.appA.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.pair.Sender.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) received() []*api.BaseEvent {
	r.gotMu.Lock()
	defer r.gotMu.Unlock()
	return append([]*api.BaseEvent(nil), r.got...)
}

func seqEvent(t *testing.T, typ string, fields map[string]any) *api.BaseEvent {
	t.Helper()
	return Event(t, typ, fields)
}

func seqOf(e *api.BaseEvent) int {
	v, _ := e.Field("seq")
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case float64:
		return int(n)
	case int:
		return n
	}
	return -1
}

// comparable drops what a bridge changes (BR-4: a new id and status, no
// results, the path grows) and returns the rest of the event's JSON.
func comparable(t *testing.T, e api.Eventer) map[string]any {
	t.Helper()
	data, err := wire.Encoder{Mode: wire.Upstream}.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "event_path", "event_results", "event_status", "event_started_at",
		"event_completed_at", "event_pending_bus_count"} {
		delete(m, k)
	}
	return m
}

func testRoundTrip(t *testing.T, h Harness) {
	// BR-4, BR-7: every field but the id, status and results survives; the
	// id is new; the path grows by the receiving buses.
	r := newRig(t, h)
	big := strings.Repeat("ringbus ", 64<<10) // 512 KiB
	nested := map[string]any{"a": []any{1, 2.5, "x", nil, true, map[string]any{"b": []any{}}}}
	events := []*api.BaseEvent{
		seqEvent(t, "Plain", map[string]any{"seq": 0}),
		seqEvent(t, "Unicode", map[string]any{"seq": 1, "text": "héllo \u2028 世界 \"q\" \\ \n\t", "emoji": "🚌"}),
		seqEvent(t, "Nested", map[string]any{"seq": 2, "tree": nested, "n": 12345678901234, "f": -0.125}),
		seqEvent(t, "Big", map[string]any{"seq": 3, "blob": big}),
		seqEvent(t, "Empty", map[string]any{"seq": 4}),
	}
	events[4].SetTimeout(1500 * time.Millisecond)
	events[4].SetHandlerTimeout(250 * time.Millisecond)
	want := map[int]map[string]any{}
	for _, e := range events {
		r.emit(t, e)
	}
	r.flush(t)
	for _, e := range events {
		want[seqOf(e)] = comparable(t, e)
	}
	waitFor(t, h.Timeout, "5 events", func() bool { return r.gotN.Load() >= int64(len(events)) })
	got := r.received()
	ids := map[string]bool{}
	for _, e := range events {
		ids[e.ID()] = true
	}
	for _, e := range got {
		if ids[e.ID()] {
			t.Errorf("event %s kept its id across the bridge; a received event gets a new one", e.Type())
		}
		w, ok := want[seqOf(e)]
		if !ok {
			t.Errorf("unexpected event %s", e)
			continue
		}
		if g := comparable(t, e); !reflect.DeepEqual(g, w) {
			t.Errorf("event %s changed across the bridge:\n got %v\nwant %v", e.Type(), short(g), short(w))
		}
		path := e.Path()
		if len(path) < 3 || path[0] != r.appA.Label() || path[len(path)-2] != r.pair.Receiver.Label() || path[len(path)-1] != r.appB.Label() {
			t.Errorf("event_path %v: want [%s ... %s %s]", path, r.appA.Label(), r.pair.Receiver.Label(), r.appB.Label())
		}
	}
	if len(got) != len(events) {
		t.Errorf("received %d events, sent %d", len(got), len(events))
	}
}

func short(m map[string]any) string {
	s := fmt.Sprint(m)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

func testOrder(t *testing.T, h Harness) {
	if !h.Ordered {
		t.Skip("the transport does not keep order")
	}
	r := newRig(t, h)
	n := h.Events
	for i := range n {
		r.emit(t, seqEvent(t, "Seq", map[string]any{"seq": i}))
	}
	r.flush(t)
	waitFor(t, h.Timeout, fmt.Sprintf("%d events", n), func() bool { return r.gotN.Load() >= int64(n) })
	for i, e := range r.received() {
		if seqOf(e) != i {
			t.Fatalf("event %d arrived at position %d", seqOf(e), i)
		}
	}
}

func testEcho(t *testing.T, h Harness) {
	// BR-5: a bridge that hears itself passes its own events to its
	// inbound handlers, and the app bus they came from drops them.
	r := newRig(t, h)
	var echoes atomic.Int64
	if _, err := r.pair.Sender.On("*", func(context.Context, *api.BaseEvent) (any, error) {
		echoes.Add(1)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		r.emit(t, seqEvent(t, "EchoCheck", map[string]any{"seq": i}))
	}
	r.flush(t)
	waitFor(t, h.Timeout, "the receiver", func() bool { return r.gotN.Load() >= n })
	if h.Echo {
		// The receiver's bus republishes what it handled (BR-5 step 3), so
		// the sender hears its own 20 and the receiver's 20.
		waitFor(t, h.Timeout, "the echoes", func() bool { return echoes.Load() >= n })
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	_ = r.appB.WaitUntilIdle(ctx)
	_ = r.pair.Receiver.Flush(ctx)
	time.Sleep(50 * time.Millisecond) // let late echoes arrive; the counts below must not move
	_ = r.appA.WaitUntilIdle(ctx)
	if got := r.handledA.Load(); got != n {
		t.Errorf("app bus A handled %d events, want %d: an echo was handled again", got, n)
	}
	if got := r.gotN.Load(); got != n {
		t.Errorf("app bus B handled %d events, want %d", got, n)
	}
	if !h.Echo && echoes.Load() != 0 {
		t.Errorf("the sender heard %d of its own events on a transport said not to echo", echoes.Load())
	}
}

func testTwoListeners(t *testing.T, h Harness) {
	r := newRig(t, h)
	if r.pair.NewReceiver == nil {
		t.Skip("one listener per channel")
	}
	var n2 atomic.Int64
	second := r.pair.NewReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	defer func() { _ = second.Close(ctx) }()
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := second.On("Both", func(context.Context, *api.BaseEvent) (any, error) { n2.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		r.emit(t, seqEvent(t, "Both", map[string]any{"seq": i}))
	}
	r.flush(t)
	waitFor(t, h.Timeout, "the first listener", func() bool { return r.gotN.Load() >= n })
	waitFor(t, h.Timeout, "the second listener", func() bool { return n2.Load() >= n })
}

// BadPayloads are the messages the suite sends raw: each must be dropped
// with an error matching bridge.ErrInvalidMessage, and none may stop the
// listener.
var BadPayloads = []string{
	`{"event_type": "X", `,
	`not json at all`,
	`"a string"`,
	`["an", "array"]`,
	`42`,
	`null`,
	`{"event_type":"X","event_id":"not-a-uuid"}`,
	`{"event_type":"X","event_created_at":"yesterday"}`,
	`{"event_type":"X","emit":1}`,
	`{"event_type":"X","event_status":"exploded"}`,
	`{"event_type":"X","event_bogus":1}`,
	`{"event_type":"X","event_timeout":"soon"}`,
	`{"event_type":"X","event_path":"A#1234"}`,
	`{"event_type":"X","deep":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
	`{"event_type":"X","s":"` + "\xff\xfe" + `"}`,
}

func testBadPayloads(t *testing.T, h Harness) {
	// Nothing from the wire stops a listener: each bad message is dropped
	// and reported, and the next good one arrives.
	r := newRig(t, h)
	if r.pair.Raw == nil {
		t.Skip("the harness gives no raw sender")
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	bad := len(BadPayloads)
	for _, p := range BadPayloads {
		if err := r.pair.Raw(ctx, []byte(p)); errors.Is(err, ErrUnsendable) {
			t.Logf("the transport cannot carry %.40q: %v", p, err)
			bad--
		} else if err != nil {
			t.Fatalf("raw send %.40q: %v", p, err)
		}
	}
	good := seqEvent(t, "AfterBad", map[string]any{"seq": 7})
	r.emit(t, good)
	r.flush(t)
	waitFor(t, h.Timeout, "the good event after the bad ones", func() bool { return r.gotN.Load() >= 1 })
	waitFor(t, h.Timeout, fmt.Sprintf("%d reports of invalid messages", bad), func() bool {
		return r.errB.matching(bridge.ErrInvalidMessage)+r.errB.matching(bridge.ErrMessageTooLarge) >= bad
	})
	if got := r.pair.Receiver.Stats().Invalid; got < uint64(bad) {
		t.Errorf("Stats().Invalid = %d, want %d", got, bad)
	}
	if e := r.received()[0]; e.Type() != "AfterBad" {
		t.Errorf("received %s, want AfterBad", e.Type())
	}
}

func testRestartListener(t *testing.T, h Harness) {
	r := newRig(t, h)
	replace := r.pair.ReplaceReceiver
	if replace == nil {
		replace = r.pair.NewReceiver
	}
	if replace == nil {
		t.Skip("no way to make another listener")
	}
	r.emit(t, seqEvent(t, "BeforeRestart", map[string]any{"seq": 0}))
	r.flush(t)
	waitFor(t, h.Timeout, "the first event", func() bool { return r.gotN.Load() >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	r.closeB = true
	if err := r.pair.Receiver.Close(ctx); err != nil {
		t.Fatal(err)
	}
	next := replace(t, bridge.WithErrorHandler(r.errB.add))
	defer func() { _ = next.Close(ctx) }()
	if err := next.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	if _, err := next.On("AfterRestart", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	r.emit(t, seqEvent(t, "AfterRestart", map[string]any{"seq": 1}))
	r.flush(t)
	waitFor(t, h.Timeout, "the event after the restart", func() bool { return got.Load() >= 1 })
}

func testConcurrentEmitters(t *testing.T, h Harness) {
	r := newRig(t, h)
	const workers = 8
	per := h.Events / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				// Through the app bus: an event emitted straight on a
				// bridge that echoes has no app bus in its path, so its
				// echo would be handled and forwarded once more (BR-5).
				e := seqEvent(t, "Concurrent", map[string]any{"seq": w*per + i})
				if err := r.appA.Emit(r.ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	r.flush(t)
	total := workers * per
	waitFor(t, h.Timeout, fmt.Sprintf("%d events", total), func() bool { return r.gotN.Load() >= int64(total) })
	seen := make([]bool, total)
	for _, e := range r.received() {
		s := seqOf(e)
		if s < 0 || s >= total || seen[s] {
			t.Fatalf("event seq %d duplicated or unknown", s)
		}
		seen[s] = true
	}
	if st := r.pair.Sender.Stats(); st.Sent != uint64(total) {
		t.Errorf("Stats().Sent = %d, want %d", st.Sent, total)
	}
}

func testCloseUnderLoad(t *testing.T, h Harness) {
	// Close returns while emitters run; every accepted event is either sent
	// or reported lost; later Emits fail with ErrClosed. The pair is not
	// wired to app buses, so the sender sends only what the emitters gave.
	pair := h.NewPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	defer func() { _ = pair.Receiver.Close(ctx) }()
	var got atomic.Int64
	if _, err := pair.Receiver.On("Load", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := pair.Receiver.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				err := pair.Sender.Emit(ctx, seqEvent(t, "Load", map[string]any{"seq": w<<20 | i}))
				if errors.Is(err, bridge.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				accepted.Add(1)
			}
		})
	}
	waitFor(t, h.Timeout, "some traffic", func() bool { return got.Load() > 10 })
	if err := pair.Sender.Close(ctx); err != nil {
		t.Errorf("close under load: %v", err)
	}
	wg.Wait()
	if err := pair.Sender.Emit(ctx, seqEvent(t, "Late", nil)); !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Emit after Close = %v, want ErrClosed", err)
	}
	st := pair.Sender.Stats()
	if st.Sent+st.Lost != uint64(accepted.Load()) {
		t.Errorf("accepted %d events, sent %d and reported %d lost", accepted.Load(), st.Sent, st.Lost)
	}
	t.Logf("accepted %d, sent %d, lost %d, received %d so far", accepted.Load(), st.Sent, st.Lost, got.Load())
}

func testStartOnce(t *testing.T, h Harness) {
	// BR-2: On before Start and many concurrent Starts subscribe once, so
	// every event arrives once.
	pair := h.NewPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	defer func() { _ = pair.Sender.Close(ctx); _ = pair.Receiver.Close(ctx) }()
	var got atomic.Int64
	if _, err := pair.Receiver.On("Once", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := pair.Receiver.Start(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := pair.Sender.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if err := pair.Sender.Emit(ctx, seqEvent(t, "Once", map[string]any{"seq": i})); err != nil {
			t.Fatal(err)
		}
	}
	if err := pair.Sender.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.Timeout, "5 events", func() bool { return got.Load() >= n })
	// A second subscription would deliver each event twice: give it the
	// time one delivery took to show.
	time.Sleep(100 * time.Millisecond)
	if g := got.Load(); g != n {
		t.Errorf("received %d events, sent %d: subscribed more than once", g, n)
	}
}

func testNoGoroutineLeft(t *testing.T, h Harness) {
	// After Close nothing of the bridge runs: pairs made, used and closed
	// leave the goroutine count where it was.
	before := runtime.NumGoroutine()
	for range 5 {
		func() {
			r := newRig(t, h)
			r.emit(t, seqEvent(t, "Leak", map[string]any{"seq": 0}))
			r.flush(t)
			waitFor(t, h.Timeout, "the event", func() bool { return r.gotN.Load() >= 1 })
			r.close(t)
		}()
	}
	deadline := time.Now().Add(h.Timeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after closing every bridge:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
