package bridgeinterop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/tspeer"
	"github.com/ringbus/ringbus/wire"
)

// nested is a payload value with every JSON type, nested.
func nested() map[string]any {
	return map[string]any{
		"list":  []any{1, 2.5, "x", nil, true, false},
		"empty": map[string]any{},
		"deep":  map[string]any{"a": map[string]any{"b": []any{map[string]any{}, []any{}}}},
	}
}

// unicodeText is a string with non-ASCII text, a JavaScript line
// separator, quotes, a backslash and characters HTML escaping would touch.
const unicodeText = "é ✓ \u2028 \"quoted\" 日本語 😀 \\ / <a href='x'>&amp;</a>"

// goEvents returns the events testGoToTS emits, made fresh: labelled
// untyped, unicode, typed and parent (whose handler emits the fifth,
// child).
func goEvents(t *testing.T) []api.Eventer {
	t.Helper()
	untyped, err := api.NewEvent(untypedType, map[string]any{
		"label": "untyped", "nested": nested(), "count": 42, "ratio": -0.125,
		"small": 1e-7, "big": 9007199254740991, "flag": false, "none": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	untyped.SetTimeout(5 * time.Second)
	untyped.SetHandlerTimeout(1500 * time.Millisecond)

	unicode, err := api.NewEvent(untypedType, map[string]any{"label": "unicode", "text": unicodeText, "ключ": "значение"})
	if err != nil {
		t.Fatal(err)
	}
	// Not "parallel" events: one could be sent before the events emitted
	// ahead of it, and the SQLite listeners' (created, id) cursor would
	// then skip those (BR-13, BR-14).
	unicode.SetConcurrency(api.GlobalSerial)
	unicode.SetHandlerConcurrency(api.ParallelHandlers)
	unicode.SetCompletion(api.CompleteFirst)

	typed := &InteropTyped{Label: "typed", Score: 0.75, Tags: []string{"a", "b"}, Meta: map[string]any{"k": "v", "n": 3}}
	typed.SetTimeout(2500 * time.Millisecond)
	typed.SetSlowTimeout(4 * time.Second)

	parent, err := api.NewEvent(parentType, map[string]any{"label": "parent"})
	if err != nil {
		t.Fatal(err)
	}
	return []api.Eventer{untyped, unicode, typed, parent}
}

// GoToTS (RT-4, BR-4, BR-5): the Go events reach a TypeScript listener
// with every field equal to what the Go bridge sent, in either writer
// mode, a new id and the path Go bus, TypeScript bridge, TypeScript bus.
func testGoToTS(t *testing.T, c Config) {
	for _, mode := range []wire.Mode{wire.Compat242, wire.Upstream} {
		t.Run(mode.String(), func(t *testing.T) {
			enc := wire.Encoder{Mode: mode}
			s := newSide(t, c, GoToTS, enc)
			// The parent's handler emits the child with its ctx: a child
			// event (event_parent_id, event_emitted_by_handler_id).
			if _, err := api.OnType(s.bus, parentType, func(ctx context.Context, _ *api.BaseEvent) (any, error) {
				child, err := api.NewEvent(childType, map[string]any{"label": "child", "n": 1})
				if err != nil {
					return nil, err
				}
				child.SetTimeout(3 * time.Second)
				return nil, s.bus.Emit(ctx, child)
			}); err != nil {
				t.Fatal(err)
			}
			events := goEvents(t)
			labels := []string{"untyped", "unicode", "typed", "parent", "child"}
			listener := s.peer(t, tspeer.BridgeManifest{Role: tspeer.Listen, BusName: "TSListener"})

			sent := map[string]seen{}
			for i, e := range events {
				sent[labels[i]] = s.emit(t, e, labels[i])
			}
			sent["child"] = s.wait(t, "child")
			if p, c := sent["parent"].ev, sent["child"].ev; c.ParentID() != p.ID() {
				t.Fatalf("the Go child's event_parent_id is %q, want the parent's id %q", c.ParentID(), p.ID())
			}

			for range labels {
				got, err := listener.Next(c.Timeout)
				if err != nil {
					t.Fatal(err)
				}
				label, _ := fields(t, got)["label"].(string)
				want, ok := sent[label]
				if !ok {
					t.Fatalf("the TypeScript listener received an event Go did not send, or twice: %s", got)
				}
				delete(sent, label)
				requireSame(t, s.asSent(want), got)
				requireNewID(t, want.sent, got)
				requirePath(t, got, s.bus.Label(), listener.BridgeLabel, listener.BusLabel)
				if label == "child" {
					// The child's parent is the Go parent by its Go id: a
					// bridge keeps event_parent_id as it is.
					if p := fields(t, got)["event_parent_id"]; p != want.ev.ParentID() {
						t.Fatalf("event_parent_id %v, want %s", p, want.ev.ParentID())
					}
				}
			}
			s.end(t, listener)
			s.requireOnce(t, labels...)
		})
	}
}

// compatDefaults returns a Compat242 event's JSON with what the
// TypeScript package fills in for the fields that mode does not write:
// event_blocks_parent_completion, false. (event_results, the other one,
// is dropped by RT-4's normalisation.) A Go event whose flag is true
// loses it in that mode, and the comparison then shows it.
func compatDefaults(mode wire.Mode, raw []byte) []byte {
	if mode != wire.Compat242 {
		return raw
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	if _, ok := m["event_blocks_parent_completion"]; ok {
		return raw
	}
	m["event_blocks_parent_completion"] = json.RawMessage("false")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// tsEvents returns the events testTSToGo has a TypeScript peer send, as
// event JSON: the same shapes as goEvents, and the typed event with the
// result schema its Go declaration has, as a TypeScript service knowing
// the type sends it.
func tsEvents(t *testing.T) []json.RawMessage {
	t.Helper()
	typed, err := wire.Marshal(&InteropTyped{})
	if err != nil {
		t.Fatal(err)
	}
	schema := fields(t, typed)["event_result_type"]
	events := []map[string]any{
		{"event_type": untypedType, "label": "untyped", "event_timeout": 5, "event_handler_timeout": 1.5,
			"nested": nested(), "count": 42, "ratio": -0.125, "small": 1e-7, "big": 9007199254740991, "flag": false},
		{"event_type": untypedType, "label": "unicode", "text": unicodeText, "ключ": "значение",
			"event_concurrency": "global-serial", "event_handler_concurrency": "parallel", "event_handler_completion": "first"},
		{"event_type": "InteropSchema", "label": "schema", "event_result_type": map[string]any{
			"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}},
			"required": []any{"ok"}, "additionalProperties": false}},
		{"event_type": typedType, "label": "typed", "score": 0.5, "tags": []any{"x"}, "meta": map[string]any{"k": 1},
			"event_result_type": schema, "event_timeout": 2.5},
		{"event_type": childType, "label": "child", "event_parent_id": "0190a8b6-3c3e-7c1a-8f2e-4b5d6e7f8091",
			"event_emitted_by_handler_id": "6f1c2a9e-0d4b-5e8f-9a1b-2c3d4e5f6a7b", "event_timeout": 3},
	}
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		if out[i], err = json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TSToGo (RT-4, BR-4, BR-5): the events a TypeScript sender sends reach
// the Go bus equal to what it sent, with a new id and the path
// TypeScript bus, Go bridge, Go bus.
func testTSToGo(t *testing.T, c Config) {
	s := newSide(t, c, TSToGo, wire.Encoder{})
	events := tsEvents(t)
	sender := s.peer(t, tspeer.BridgeManifest{Role: tspeer.Send, BusName: "TSSender", Events: events})
	var labels []string
	for range events {
		want, err := sender.NextOf(tspeer.Sending, c.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		label, _ := fields(t, want)["label"].(string)
		labels = append(labels, label)
		got := s.wait(t, label)
		requireSame(t, want, got.full)
		requireNewID(t, want, got.full)
		requirePath(t, got.full, sender.BusLabel, s.ep.Go.Label(), s.bus.Label())
	}
	if _, err := sender.NextOf(tspeer.Sent, c.Timeout); err != nil {
		t.Fatal(err)
	}
	s.end(t, sender)
	s.requireOnce(t, labels...)
	// The typed event arrives as the Go type it is declared with.
	got := s.wait(t, "typed")
	typed, ok := got.ev.Payload().(*InteropTyped)
	if !ok {
		t.Fatalf("the %s event arrived as %T, not as the Go type declared for it", typedType, got.ev.Payload())
	}
	if typed.Score != 0.5 || len(typed.Tags) != 1 || typed.Tags[0] != "x" {
		t.Fatalf("the %s event arrived with payload %+v", typedType, typed)
	}
}

// RequestReplyGoAsks (BR-5 (b)): a TypeScript responder answers an ask
// emitted on the Go bus; the reply reaches the Go bus as the child of the
// ask as the responder received it. Ids are minted anew by every
// receiver, so the reply's event_parent_id is the responder's id of the
// ask, not the Go one: that is what can be checked.
func testGoAsks(t *testing.T, c Config) {
	s := newSide(t, c, BothWays, wire.Encoder{})
	responder := s.peer(t, tspeer.BridgeManifest{Role: tspeer.Respond, BusName: "TSResponder"})
	ask, err := api.NewEvent(askType, map[string]any{"question": "why, Go?"})
	if err != nil {
		t.Fatal(err)
	}
	goAsk := s.emit(t, ask, askType)

	gotAsk, err := responder.Next(c.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	requireSame(t, s.asSent(goAsk), gotAsk)
	requireNewID(t, goAsk.sent, gotAsk)
	requirePath(t, gotAsk, s.bus.Label(), responder.BridgeLabel, responder.BusLabel)
	tsAskID := fields(t, gotAsk)["event_id"]

	replied, err := responder.NextOf(tspeer.Replied, c.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if p := fields(t, replied)["event_parent_id"]; p != tsAskID {
		t.Fatalf("the responder's reply has event_parent_id %v, want its ask's id %v", p, tsAskID)
	}

	reply := s.wait(t, replyType)
	if a, _ := reply.ev.Field("answer"); a != "re: why, Go?" {
		t.Fatalf("answer %v, want %q", a, "re: why, Go?")
	}
	if p := reply.ev.ParentID(); p != tsAskID {
		t.Fatalf("the reply on the Go bus has event_parent_id %q, want the ask's id at the responder %v (Go's was %s)", p, tsAskID, goAsk.ev.ID())
	}
	requireSame(t, replied, reply.full)
	requireNewID(t, replied, reply.full)
	requirePath(t, reply.full, responder.BusLabel, s.ep.Go.Label(), s.bus.Label())
	s.end(t, responder)
	s.requireOnce(t, askType, replyType)
}

// RequestReplyTSAsks (BR-5 (b)): a Go handler answers a TypeScript
// asker's ask with a reply emitted as the ask's child on the Go bus,
// which Connect sends; the asker receives it as the child of the ask as
// the Go bus received it.
func testTSAsks(t *testing.T, c Config) {
	s := newSide(t, c, BothWays, wire.Encoder{})
	if _, err := api.OnType(s.bus, askType, func(ctx context.Context, e *api.BaseEvent) (any, error) {
		q, _ := e.Field("question")
		reply, err := api.NewEvent(replyType, map[string]any{"answer": "re: " + q.(string)})
		if err != nil {
			return nil, err
		}
		return nil, s.bus.Emit(ctx, reply)
	}); err != nil {
		t.Fatal(err)
	}
	asker := s.peer(t, tspeer.BridgeManifest{Role: tspeer.Ask, BusName: "TSAsker",
		Events: []json.RawMessage{json.RawMessage(`{"event_type":"PeerAsk","question":"why, TypeScript?"}`)}})

	sentAsk, err := asker.NextOf(tspeer.Sending, c.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	goAsk := s.wait(t, askType)
	requireSame(t, sentAsk, goAsk.full)
	requireNewID(t, sentAsk, goAsk.full)
	requirePath(t, goAsk.full, asker.BusLabel, s.ep.Go.Label(), s.bus.Label())

	goReply := s.wait(t, replyType)
	if p := goReply.ev.ParentID(); p != goAsk.ev.ID() {
		t.Fatalf("the Go reply has event_parent_id %q, want the ask's id %q", p, goAsk.ev.ID())
	}
	reply, err := asker.NextReply(c.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if a := fields(t, reply)["answer"]; a != "re: why, TypeScript?" {
		t.Fatalf("answer %v, want %q", a, "re: why, TypeScript?")
	}
	requireSame(t, s.asSent(goReply), reply)
	requireNewID(t, goReply.sent, reply)
	requirePath(t, reply, s.bus.Label(), asker.BridgeLabel, asker.BusLabel)
	// The asker prints every event from the wire too: the reply, once.
	ev, err := asker.Next(c.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if id := fields(t, ev)["event_id"]; id != fields(t, reply)["event_id"] {
		t.Fatalf("the asker received %s, want only the reply", ev)
	}
	s.end(t, asker)
	s.requireOnce(t, askType, replyType)
}
