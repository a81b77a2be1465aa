// Package bridgeinterop is the live interop suite every bridge transport's
// tests run against the official abxbus TypeScript package: a ringbus
// bridge on one side of a channel, a TypeScript bridge peer (package
// tspeer) of the same kind on the other, and four exchanges between them:
//
//   - GoToTS: events of varied shapes emitted on a Go application bus
//     wired to the bridge with Connect reach a TypeScript listener with
//     every field equal to what the Go bridge sent, in both writer modes;
//   - TSToGo: events a TypeScript sender emits reach the Go application
//     bus equal to what TypeScript sent, with a new id and the path
//     sender bus, Go bridge, Go bus;
//   - RequestReplyGoAsks: a Go ask is answered by a TypeScript responder,
//     whose reply reaches the Go bus as the child of the ask as
//     TypeScript received it;
//   - RequestReplyTSAsks: a TypeScript ask is answered by a Go handler
//     emitting the reply as a child; TypeScript receives it.
//
// A transport's test calls Run with a Config whose Endpoints function
// builds a fresh channel for each exchange:
//
//	func TestInteropTS(t *testing.T) {
//		bridgeinterop.Run(t, bridgeinterop.Config{
//			Bridge: "jsonl",
//			Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
//				path := filepath.Join(t.TempDir(), "events.jsonl")
//				return bridgeinterop.Endpoints{TSArgs: []any{path, 0.01}, Go: newBridge(t, path, opts...)}
//			},
//		})
//	}
//
// Events are compared with tspeer.DiffEvents (RT-4's normalisation: ids,
// paths and result rows dropped, times as instants, in-flight statuses
// and bus defaults folded), with three more rules for what the
// TypeScript package 2.5.56 does differently and legitimately, each
// written where it applies:
//
//   - it writes back an event_result_type it revived through Zod, which
//     adds "additionalProperties": {} to object schemas (sameSchema);
//   - it reads an event without event_blocks_parent_completion, as the
//     Go bridge's default Compat242 mode writes them, as false
//     (compatDefaults);
//   - every receiver mints a new event_id, so a reply's event_parent_id
//     is the ask's id at the responder, never the asker's.
//
// The peers (interop/ts/bridge.mjs) work around the TypeScript package's
// faults that have nothing to do with the wire format (see tspeer and
// /work/shared/spec/ts-peer.md): they call start() before on(), forward
// received events without returning them, keep Redis subscriptions from
// being dropped and refresh the SQLite column cache. The suite sends no
// malformed events: TypeScript's Redis and socket listeners crash on
// them, and bridgetest covers bad input on the Go side. TypeScript
// responders and askers re-publish what they receive, and the Go side,
// wired with Connect, re-publishes what it receives too: every such event
// carries the receiving bus in its event_path and is dropped there, which
// the suite checks (no event is received twice on either side); peers
// stay up until the Go bridges have flushed (tspeer.BridgePeer.Stop), so
// no re-published event is left retrying against a peer that has gone.
//
// The suite needs node and npm (see tspeer.Node): without them it skips,
// and under CI=true it fails. Each exchange takes about a second.
package bridgeinterop

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/tspeer"
	"github.com/ringbus/ringbus/schema"
	"github.com/ringbus/ringbus/wire"
)

// Flow says which way events go in one exchange of the suite, so that
// Endpoints can build only the endpoints the exchange needs (on HTTP and
// the Unix socket, a listening endpoint per receiving side).
type Flow uint8

// The flows of the suite's exchanges.
const (
	// GoToTS: the Go bridge sends, the TypeScript peer listens.
	GoToTS Flow = 1 << iota
	// TSToGo: the TypeScript peer sends, the Go bridge listens.
	TSToGo
	// BothWays: request/reply; each side sends and listens.
	BothWays = GoToTS | TSToGo
)

// String returns "GoToTS", "TSToGo" or "BothWays".
func (f Flow) String() string {
	switch f {
	case GoToTS:
		return "GoToTS"
	case TSToGo:
		return "TSToGo"
	case BothWays:
		return "BothWays"
	}
	return fmt.Sprintf("Flow(%d)", uint8(f))
}

// Endpoints are the two ends of one fresh channel, for one exchange.
type Endpoints struct {
	// TSArgs are the TypeScript bridge constructor's arguments for the
	// peer (tspeer.BridgeManifest.Args): those of its listening bridge
	// when the TypeScript side listens (GoToTS, BothWays), else of its
	// sending bridge.
	TSArgs []any
	// TSSendArgs, when set, are the arguments of a second TypeScript
	// bridge that the peer sends with (tspeer.BridgeManifest.SendArgs),
	// the first then only listening: a Unix socket path has one listener.
	TSSendArgs []any
	// Go is the Go bridge on the channel: it listens when the Go side
	// listens (TSToGo, BothWays), and sends unless GoSend is set. The
	// suite connects it to the Go application bus (Bridge.Connect),
	// starts it and closes it.
	Go *bridge.Bridge
	// GoSend, when set, is a second Go bridge that sends to the
	// TypeScript peer, Go then only listening (a Unix socket path per
	// direction, or an HTTP bridge per endpoint). It is connected, started
	// and closed like Go. It must not listen where the peer listens.
	GoSend *bridge.Bridge
}

// Config describes a transport to the suite.
type Config struct {
	// Bridge is the TypeScript bridge kind (tspeer.BridgeManifest.Bridge):
	// "jsonl", "sqlite", "http", "socket", "redis", "nats" or "postgres".
	Bridge string
	// Endpoints returns the endpoints of a channel no other test uses for
	// one exchange of flow, with the Go bridges (Go and GoSend alike)
	// built with opts (the suite's encoder and error handler) and not yet
	// started.
	Endpoints func(t *testing.T, flow Flow, opts ...bridge.Option) Endpoints
	// Timeout bounds every wait of the suite (default 20 s); the exchanges
	// take well under a second once node runs, so it only bounds how long
	// a broken run hangs.
	Timeout time.Duration
	// IgnoreError, when set, says which errors the Go bridges report that
	// do not fail the test (by default every reported error does).
	IgnoreError func(error) bool
	// Skip names exchanges (GoToTS, TSToGo, RequestReplyGoAsks,
	// RequestReplyTSAsks) the transport cannot run, with why.
	Skip map[string]string
}

// Run runs the suite's exchanges as subtests of t, one after the other.
func Run(t *testing.T, c Config) {
	if c.Endpoints == nil {
		t.Fatal("bridgeinterop: Config.Endpoints is nil")
	}
	if c.Timeout == 0 {
		c.Timeout = 20 * time.Second
	}
	declare(t)
	tests := []struct {
		name string
		f    func(*testing.T, Config)
	}{
		{"GoToTS", testGoToTS},
		{"TSToGo", testTSToGo},
		{"RequestReplyGoAsks", testGoAsks},
		{"RequestReplyTSAsks", testTSAsks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := c.Skip[tc.name]; ok {
				t.Skip(why)
			}
			tc.f(t, c)
		})
	}
}

// The event types the suite exchanges. askType and replyType are the
// defaults of tspeer's Respond and Ask roles.
const (
	untypedType = "InteropUntyped"
	typedType   = "InteropTyped"
	parentType  = "InteropParent"
	childType   = "InteropChild"
	askType     = "PeerAsk"
	replyType   = "PeerReply"
)

// InteropResult is what handlers of an InteropTyped event return; its
// JSON Schema is the event's event_result_type.
type InteropResult struct {
	OK    bool     `json:"ok"`
	Score float64  `json:"score"`
	Tags  []string `json:"tags"`
}

// InteropTyped is the declared event type the suite sends: its
// event_result_type is InteropResult's schema.
type InteropTyped struct {
	api.Event[InteropResult]
	Label string         `json:"label"`
	Score float64        `json:"score"`
	Tags  []string       `json:"tags"`
	Meta  map[string]any `json:"meta"`
}

var (
	declareOnce sync.Once
	declareErr  error
)

// declare declares InteropTyped once per test binary.
func declare(t *testing.T) {
	t.Helper()
	declareOnce.Do(func() { declareErr = api.Declare[InteropTyped](api.TypeOptions{Name: typedType}) })
	if declareErr != nil {
		t.Fatalf("bridgeinterop: declaring %s: %v", typedType, declareErr)
	}
}

// side is the Go end of one exchange: the application bus, its bridges
// and what they reported.
type side struct {
	c      Config
	mode   wire.Mode // the Go bridges' writer mode
	bus    *api.Bus
	ep     Endpoints
	errMu  sync.Mutex
	errs   []error
	seenMu sync.Mutex
	seen   map[string][]seen // by label field (or event_type when none)
	seenCh chan struct{}     // signalled on every seen event
}

// seen is one event the Go application bus handled, encoded as it was
// while its handlers ran: sent by the bridges' encoder, as they sent it,
// and full by the Upstream encoder, which writes every field (the one
// to compare a received event by, as TypeScript writes every field too).
type seen struct {
	ev         *api.BaseEvent
	sent, full []byte
}

// newSide builds the Go end for flow: a bus named GoApp with a handler
// that records every event it handles, encoded by enc, and the bridges
// Endpoints returns, connected to the bus and started. Everything is
// closed when t ends, and the errors the bridges reported fail t.
func newSide(t *testing.T, c Config, flow Flow, enc wire.Encoder, opts ...bridge.Option) *side {
	t.Helper()
	s := &side{c: c, mode: enc.Mode, seen: map[string][]seen{}, seenCh: make(chan struct{}, 1)}
	bus, err := api.NewBus("GoApp", api.WithHistoryDrop(true))
	if err != nil {
		t.Fatal(err)
	}
	s.bus = bus
	t.Cleanup(func() { _ = bus.Close() })

	opts = append([]bridge.Option{bridge.WithEncoder(enc), bridge.WithErrorHandler(s.report)}, opts...)
	s.ep = c.Endpoints(t, flow, opts...)
	if s.ep.Go == nil {
		t.Fatal("bridgeinterop: Endpoints returned no Go bridge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	for _, b := range s.bridges() {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
			defer cancel()
			if err := b.Close(ctx); err != nil {
				t.Errorf("bridgeinterop: closing %s: %v", b.Name(), err)
			}
		})
		if err := b.Start(ctx); err != nil {
			t.Fatalf("bridgeinterop: starting %s: %v", b.Name(), err)
		}
		if err := b.Connect(bus); err != nil {
			t.Fatal(err)
		}
	}
	// Registered after Connect's forwarding handler, this one runs after
	// it (handlers of one pattern run in registration order, serially by
	// default), so the event it encodes is in the state the bridge sent
	// it in, but for the forwarding row, which RT-4 drops anyway.
	if _, err := api.OnAll(bus, func(_ context.Context, e *api.BaseEvent) (any, error) {
		sent, err := enc.Marshal(e)
		if err != nil {
			return nil, err
		}
		full, err := wire.Encoder{Mode: wire.Upstream}.Marshal(e)
		if err != nil {
			return nil, err
		}
		key := e.Type()
		if l, ok := e.Field("label"); ok {
			key = fmt.Sprint(l)
		}
		s.seenMu.Lock()
		s.seen[key] = append(s.seen[key], seen{e, sent, full})
		s.seenMu.Unlock()
		select {
		case s.seenCh <- struct{}{}:
		default:
		}
		return nil, nil
	}, api.WithHandlerName("bridgeinterop.record")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.errMu.Lock()
		defer s.errMu.Unlock()
		for _, err := range s.errs {
			t.Errorf("bridgeinterop: a Go bridge reported: %v", err)
		}
	})
	return s
}

// bridges returns the Go bridges of the exchange.
func (s *side) bridges() []*bridge.Bridge {
	if s.ep.GoSend != nil {
		return []*bridge.Bridge{s.ep.Go, s.ep.GoSend}
	}
	return []*bridge.Bridge{s.ep.Go}
}

func (s *side) report(err error) {
	if s.c.IgnoreError != nil && s.c.IgnoreError(err) {
		return
	}
	s.errMu.Lock()
	s.errs = append(s.errs, err)
	s.errMu.Unlock()
}

// wait returns the first event the bus handled under key (its label
// field, or its type when it has none), waiting up to the suite's
// timeout.
func (s *side) wait(t *testing.T, key string) seen {
	t.Helper()
	timer := time.NewTimer(s.c.Timeout)
	defer timer.Stop()
	for {
		s.seenMu.Lock()
		list := s.seen[key]
		s.seenMu.Unlock()
		if len(list) > 0 {
			return list[0]
		}
		select {
		case <-s.seenCh:
		case <-timer.C:
			t.Fatalf("bridgeinterop: no %q event on the Go bus after %v", key, s.c.Timeout)
		}
	}
}

// asSent returns the JSON of an event the Go bridges sent, as a reader
// of the current wire format takes it (see compatDefaults).
func (s *side) asSent(x seen) []byte { return compatDefaults(s.mode, x.sent) }

// emit emits e on the Go bus and returns what the bus handled.
func (s *side) emit(t *testing.T, e api.Eventer, key string) seen {
	t.Helper()
	if err := s.bus.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return s.wait(t, key)
}

// peer starts a TypeScript peer for the exchange with the channel's
// arguments. Peers that listen run until end stops them (Count -1): a Go
// bridge wired with Connect sends them what it re-publishes after the
// exchange, and a peer that had exited would leave it retrying against a
// closed port or socket.
func (s *side) peer(t *testing.T, m tspeer.BridgeManifest) *tspeer.BridgePeer {
	t.Helper()
	m.Bridge, m.Args, m.SendArgs, m.Timeout = s.c.Bridge, s.ep.TSArgs, s.ep.TSSendArgs, s.c.Timeout
	if m.Role != tspeer.Send {
		m.Count = -1
	}
	return tspeer.StartBridgePeer(t, m)
}

// end ends an exchange with peer: it waits until the Go bridges have
// handed over everything they queued, stops the peer, which must exit
// successfully, and checks that the peer received no event beyond those
// the test read: what the Go side re-publishes carries the peer's bus in
// its event_path, so the peer's bus drops it (BR-5).
func (s *side) end(t *testing.T, peer *tspeer.BridgePeer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.c.Timeout)
	defer cancel()
	for _, b := range s.bridges() {
		if err := b.Flush(ctx); err != nil {
			t.Fatalf("bridgeinterop: flushing %s: %v", b.Name(), err)
		}
	}
	if err := peer.Stop(s.c.Timeout); err != nil {
		t.Fatal(err)
	}
	// The peer has exited and its output is read: this does not wait.
	if ev, err := peer.Next(0); err == nil {
		t.Fatalf("the TypeScript peer received an event more than the test expected: %s", ev)
	}
}

// requireOnce fails t unless the Go bus has handled one event under
// each key so far. (One arriving later goes unnoticed; none is waited
// for.)
func (s *side) requireOnce(t *testing.T, keys ...string) {
	t.Helper()
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	for _, k := range keys {
		if n := len(s.seen[k]); n != 1 {
			t.Fatalf("the Go bus handled %d %q events, want 1", n, k)
		}
	}
}

// fields decodes the top-level fields of an event's JSON.
func fields(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("bridgeinterop: %v in %s", err, raw)
	}
	return m
}

// requireSame fails t unless got is the event want, as diffEvents
// compares them.
func requireSame(t *testing.T, want, got []byte) {
	t.Helper()
	diffs, err := diffEvents(want, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("events differ after normalisation:\n  %s\nwant %s\ngot  %s", strings.Join(diffs, "\n  "), want, got)
	}
}

// diffEvents is tspeer.DiffEvents (RT-4's normalisation) but for an
// event_result_type that is the same schema by sameSchema.
func diffEvents(want, got []byte) ([]string, error) {
	diffs, err := tspeer.DiffEvents(want, got)
	if err != nil {
		return nil, err
	}
	for i, d := range diffs {
		if !strings.HasPrefix(d, "event_result_type:") {
			continue
		}
		var w, g struct {
			Schema any `json:"event_result_type"`
		}
		if json.Unmarshal(want, &w) == nil && json.Unmarshal(got, &g) == nil && sameSchema(w.Schema, g.Schema) {
			return slices.Delete(diffs, i, i+1), nil
		}
	}
	return diffs, nil
}

// requirePath fails t unless the event's event_path is labels.
func requirePath(t *testing.T, raw []byte, labels ...string) {
	t.Helper()
	path, _ := fields(t, raw)["event_path"].([]any)
	want := make([]any, len(labels))
	for i, l := range labels {
		want[i] = l
	}
	if !slices.Equal(path, want) {
		t.Fatalf("event_path %v, want %v in %s", path, want, raw)
	}
}

// requireNewID fails t unless the two events' ids differ: a receiver
// mints a new event_id (BR-4).
func requireNewID(t *testing.T, sent, got []byte) {
	t.Helper()
	a, b := fields(t, sent)["event_id"], fields(t, got)["event_id"]
	if a == nil || a == b {
		t.Fatalf("event_id %v kept across the bridge; a receiver mints a new one", a)
	}
}

// sameSchema reports whether two event_result_type values are the same
// JSON Schema once written alike. The TypeScript package turns a schema it
// receives into a Zod type and writes that back with Zod's JSON Schema
// writer, which gives every object schema that does not forbid other
// properties "additionalProperties": {} (the empty schema: anything
// goes), where the Go writer leaves the keyword out, which means the same.
// So an additionalProperties of {} or true is taken out of every subschema
// on both sides before comparing; so is a root "$schema" of draft 2020-12,
// the default both writers fill in. Nothing else is forgiven: a keyword
// missing or changed on either side is still a difference.
func sameSchema(want, got any) bool {
	return reflect.DeepEqual(canonicalSchema(want, true), canonicalSchema(got, true))
}

// The schema keywords whose value is a subschema, a map of subschemas by
// name, or a list of subschemas.
var (
	subschemaKeys    = []string{"additionalProperties", "items", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems"}
	subschemaMapKeys = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
	subschemaListKey = []string{"anyOf", "oneOf", "allOf", "prefixItems", "items"}
)

// canonicalSchema returns a copy of the schema s with the defaults
// sameSchema forgives taken out.
func canonicalSchema(s any, root bool) any {
	m, ok := s.(map[string]any)
	if !ok {
		return s
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if root && out["$schema"] == schema.Draft202012 {
		delete(out, "$schema")
	}
	for _, k := range subschemaKeys {
		if v, ok := out[k]; ok {
			out[k] = canonicalSchema(v, false)
		}
	}
	for _, k := range subschemaMapKeys {
		if sub, ok := out[k].(map[string]any); ok {
			c := make(map[string]any, len(sub))
			for name, v := range sub {
				c[name] = canonicalSchema(v, false)
			}
			out[k] = c
		}
	}
	for _, k := range subschemaListKey {
		if list, ok := out[k].([]any); ok {
			c := make([]any, len(list))
			for i, v := range list {
				c[i] = canonicalSchema(v, false)
			}
			out[k] = c
		}
	}
	if ap, ok := out["additionalProperties"]; ok {
		if m, isMap := ap.(map[string]any); ap == true || (isMap && len(m) == 0) {
			delete(out, "additionalProperties")
		}
	}
	return out
}
