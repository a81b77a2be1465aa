// Package tsinterop is the live interop check every bridge transport runs
// against the official abxbus TypeScript package (internal/tspeer): events
// from Go arrive in TypeScript with every field equal after RT-4's
// normalisation, events from TypeScript arrive in Go equal, and a request
// answered by a reply event works in both directions (BR-5 (b)).
package tsinterop

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/services"
	"github.com/ringbus/ringbus/internal/tspeer"
	"github.com/ringbus/ringbus/wire"
)

// Config says which TypeScript bridge to run and how to make the Go
// bridge on the same channel.
type Config struct {
	// Kind is the TypeScript bridge: "jsonl", "sqlite", "redis", "nats"
	// or "postgres" (see tspeer.BridgeManifest).
	Kind string
	// TSArgs returns the TypeScript constructor's arguments for channel
	// ch, a name unique to the subtest (a Redis channel, a NATS subject,
	// a file or table name).
	TSArgs func(t *testing.T, ch string) []any
	// NewGo returns a Go bridge on the same channel; Run starts, wires
	// and closes it.
	NewGo func(t *testing.T, ch string) *bridge.Bridge
	// TSSendArgs, when set, are the arguments of a second TypeScript
	// bridge the peer sends with (a Unix socket path has one listener, so
	// each side listens on a path of its own and sends to the other's).
	TSSendArgs func(t *testing.T, ch string) []any
	// NewGoSender, when set, returns the Go bridge that sends, NewGo's
	// then only receiving.
	NewGoSender func(t *testing.T, ch string) *bridge.Bridge
}

// tsWait bounds each wait for the TypeScript peer.
const tsWait = 30 * time.Second

func jsonFields(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// goSide is a Go app bus wired to a bridge on ch.
func goSide(t *testing.T, c Config, ch string) (*api.Bus, *bridge.Bridge) {
	t.Helper()
	ctx := context.Background()
	bus, err := api.NewBus("GoApp", api.WithMaxHistory(0))
	require.NoError(t, err)
	b := c.NewGo(t, ch)
	require.NoError(t, b.Start(ctx))
	send := b
	if c.NewGoSender != nil {
		send = c.NewGoSender(t, ch)
		require.NoError(t, send.Start(ctx))
	}
	// Connect's wiring, except that events received from the wire are not
	// published again (BR-5 step 3): the TypeScript peers exit once done,
	// and on HTTP or a socket that re-publishing would retry, until Close,
	// towards a peer that is gone. Connect itself is checked by bridgetest.
	_, err = api.OnAll(bus, func(ctx context.Context, e *api.BaseEvent) (any, error) {
		if slices.Contains(e.Path(), b.Label()) {
			return nil, nil
		}
		return send.Forward(ctx, e)
	})
	require.NoError(t, err)
	_, err = b.On("*", func(ctx context.Context, e *api.BaseEvent) (any, error) { return nil, bus.Emit(ctx, e) })
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if send != b {
			assert.NoError(t, send.Close(cctx))
		}
		assert.NoError(t, b.Close(cctx))
		assert.NoError(t, bus.Stop(cctx))
	})
	return bus, b
}

// Run runs the four live checks as subtests of t, each on a channel of
// its own.
func Run(t *testing.T, c Config) {
	tsArgs := func(t *testing.T, ch string) []any { return c.TSArgs(t, ch) }
	tsSendArgs := func(t *testing.T, ch string) []any {
		if c.TSSendArgs == nil {
			return nil
		}
		return c.TSSendArgs(t, ch)
	}

	t.Run("GoToTS", func(t *testing.T) {
		ch := services.Unique(t, "ringbus")
		bus, _ := goSide(t, c, ch)
		events := []*api.BaseEvent{}
		for i, f := range []map[string]any{
			{"label": "plain", "n": 1},
			{"label": "nested", "tree": map[string]any{"a": []any{1, 2.5, "x", nil, true}}, "text": "héllo 世界"},
			{"label": "timeouts", "big": 12345678901},
		} {
			e, err := api.NewEvent("GoPing", f)
			require.NoError(t, err)
			if i == 2 {
				e.SetTimeout(1500 * time.Millisecond)
				e.SetHandlerTimeout(250 * time.Millisecond)
			}
			events = append(events, e)
		}
		listener := tspeer.StartBridgePeer(t, tspeer.BridgeManifest{Bridge: c.Kind, Args: tsArgs(t, ch), SendArgs: tsSendArgs(t, ch), Role: tspeer.Listen, BusName: "TSListener", Count: len(events), Timeout: tsWait})
		sent := map[string][]byte{}
		for _, e := range events {
			// What is sent is the event as the bus's forwarding handler
			// sees it, in flight; taken before Emit it is the same after
			// RT-4's normalisation (status pending, no times), and it does
			// not race the event's completion. The Upstream form names
			// event_blocks_parent_completion as TypeScript does (the 2.4.2
			// form the bridge sends omits it; TypeScript reads that as
			// false).
			data, err := wire.Encoder{Mode: wire.Upstream}.Marshal(e)
			require.NoError(t, err)
			l, _ := e.Field("label")
			sent[l.(string)] = data
			require.NoError(t, bus.Emit(context.Background(), e))
		}
		for range events {
			got, err := listener.Next(tsWait)
			require.NoError(t, err)
			g := jsonFields(t, got)
			want, ok := sent[g["label"].(string)]
			require.True(t, ok, "TS received an event Go did not send: %s", got)
			delete(sent, g["label"].(string))
			tspeer.RequireSameEvent(t, want, got)
			assert.NotEqual(t, jsonFields(t, want)["event_id"], g["event_id"], "a new id on the receiving side")
			assert.Equal(t, []any{bus.Label(), listener.BridgeLabel, listener.BusLabel}, g["event_path"])
		}
		require.NoError(t, listener.Wait(tsWait))
	})

	t.Run("TSToGo", func(t *testing.T) {
		ch := services.Unique(t, "ringbus")
		bus, b := goSide(t, c, ch)
		got := make(chan []byte, 4)
		_, err := api.OnType(bus, "TSPing", func(_ context.Context, e *api.BaseEvent) (any, error) {
			data, err := wire.Encoder{Mode: wire.Upstream}.Marshal(e)
			got <- data
			return nil, err
		})
		require.NoError(t, err)
		sender := tspeer.StartBridgePeer(t, tspeer.BridgeManifest{Bridge: c.Kind, Args: tsArgs(t, ch), SendArgs: tsSendArgs(t, ch), Role: tspeer.Send, BusName: "TSSender", Timeout: tsWait,
			Events: []json.RawMessage{
				json.RawMessage(`{"event_type":"TSPing","label":"a","n":1}`),
				json.RawMessage(`{"event_type":"TSPing","label":"b","list":[1,"two",{"three":3}],"event_timeout":5}`),
			}})
		sent := map[string][]byte{}
		for range 2 {
			ev, err := sender.NextOf(tspeer.Sending, tsWait)
			require.NoError(t, err)
			sent[jsonFields(t, ev)["label"].(string)] = ev
		}
		require.NoError(t, sender.Wait(tsWait))
		for range 2 {
			var data []byte
			select {
			case data = <-got:
			case <-time.After(tsWait):
				t.Fatal("no event from TypeScript")
			}
			g := jsonFields(t, data)
			want := sent[g["label"].(string)]
			require.NotNil(t, want, "Go received an event TS did not send: %s", data)
			tspeer.RequireSameEvent(t, want, data)
			assert.NotEqual(t, jsonFields(t, want)["event_id"], g["event_id"])
			assert.Equal(t, []any{sender.BusLabel, b.Label(), bus.Label()}, g["event_path"])
		}
	})

	t.Run("GoAsksTSAnswers", func(t *testing.T) {
		ch := services.Unique(t, "ringbus")
		bus, _ := goSide(t, c, ch)
		responder := tspeer.StartBridgePeer(t, tspeer.BridgeManifest{Bridge: c.Kind, Args: tsArgs(t, ch), SendArgs: tsSendArgs(t, ch), Role: tspeer.Respond, BusName: "TSResponder", Timeout: tsWait})
		reply := make(chan *api.BaseEvent, 1)
		_, err := api.OnType(bus, "PeerReply", func(_ context.Context, e *api.BaseEvent) (any, error) { reply <- e; return nil, nil })
		require.NoError(t, err)
		ask, err := api.NewEvent("PeerAsk", map[string]any{"question": "why"})
		require.NoError(t, err)
		require.NoError(t, bus.Emit(context.Background(), ask))
		var r *api.BaseEvent
		select {
		case r = <-reply:
		case <-time.After(tsWait):
			t.Fatal("no reply from TypeScript")
		}
		answer, _ := r.Field("answer")
		assert.Equal(t, "re: why", answer)
		replied, err := responder.NextOf(tspeer.Replied, tsWait)
		require.NoError(t, err)
		assert.Equal(t, jsonFields(t, replied)["event_parent_id"], r.ParentID(), "the reply names the ask as TS received it")
		assert.Equal(t, responder.BusLabel, r.Path()[0])
		require.NoError(t, responder.Wait(tsWait))
	})

	t.Run("TSAsksGoAnswers", func(t *testing.T) {
		ch := services.Unique(t, "ringbus")
		bus, _ := goSide(t, c, ch)
		_, err := api.OnType(bus, "PeerAsk", func(ctx context.Context, e *api.BaseEvent) (any, error) {
			q, _ := e.Field("question")
			r, err := api.NewEvent("PeerReply", map[string]any{"answer": "go says: " + q.(string)})
			if err != nil {
				return nil, err
			}
			return nil, api.CurrentBus(ctx).Emit(ctx, r) // a child of the ask
		})
		require.NoError(t, err)
		asker := tspeer.StartBridgePeer(t, tspeer.BridgeManifest{Bridge: c.Kind, Args: tsArgs(t, ch), SendArgs: tsSendArgs(t, ch), Role: tspeer.Ask, BusName: "TSAsker", Timeout: tsWait,
			Events: []json.RawMessage{json.RawMessage(`{"event_type":"PeerAsk","question":"how"}`)}})
		reply, err := asker.NextReply(tsWait)
		require.NoError(t, err)
		r := jsonFields(t, reply)
		assert.Equal(t, "go says: how", r["answer"])
		assert.Equal(t, bus.Label(), r["event_path"].([]any)[0])
		assert.NotEmpty(t, r["event_parent_id"], "the reply is a child of the ask")
		require.NoError(t, asker.Wait(tsWait))
	})
}
