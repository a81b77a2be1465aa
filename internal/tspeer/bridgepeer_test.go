package tspeer

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/internal/services"
)

// wait bounds every wait of these tests; the peers answer in well under a
// second, so it only limits how long a broken run hangs.
const wait = 20 * time.Second

// pingEvents are what the sending peers send: one with an object result
// schema, a timeout and nested payload values, one with non-ASCII text.
var pingEvents = []json.RawMessage{
	json.RawMessage(`{"event_type":"IPCPingEvent","label":"one","event_timeout":5,
		"event_result_type":{"type":"object","properties":{"ok":{"type":"boolean"},"score":{"type":"number"},
			"tags":{"type":"array","items":{"type":"string"}}},"required":["ok","score","tags"],"additionalProperties":false},
		"nested":{"list":[1,2.5,"x",null,true],"empty":{}},"count":42}`),
	json.RawMessage(`{"event_type":"IPCPingEvent","label":"two","text":"é ✓ \u2028 \"quoted\""}`),
}

// fields decodes the top-level fields of an event's JSON.
func fields(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// checkTransfer runs a TypeScript listener and a TypeScript sender on one
// bridge and checks that every event arrives equal to what was sent after
// RT-4's normalisation, with a new id (BR-4) and the path sender bus,
// listener's bridge, listener bus (BR-5).
func checkTransfer(t *testing.T, bridge string, listenArgs, sendArgs []any) {
	listener := StartBridgePeer(t, BridgeManifest{Bridge: bridge, Args: listenArgs, Role: Listen, BusName: "Listener", Count: len(pingEvents), Timeout: wait})
	sender := StartBridgePeer(t, BridgeManifest{Bridge: bridge, Args: sendArgs, Role: Send, BusName: "Sender", Events: pingEvents, Timeout: wait})

	sent := map[string]json.RawMessage{}
	for range pingEvents {
		ev, err := sender.NextOf(Sending, wait)
		require.NoError(t, err)
		sent[fields(t, ev)["label"].(string)] = ev
	}
	n, err := sender.NextOf(Sent, wait)
	require.NoError(t, err)
	assert.JSONEq(t, "2", string(n))
	require.NoError(t, sender.Wait(wait))

	for range pingEvents {
		got, err := listener.Next(wait)
		require.NoError(t, err)
		g := fields(t, got)
		want, ok := sent[g["label"].(string)]
		require.True(t, ok, "received an event that was not sent: %s", got)
		delete(sent, g["label"].(string))
		RequireSameEvent(t, want, got)
		assert.NotEqual(t, fields(t, want)["event_id"], g["event_id"], "the receiver mints a new event_id")
		assert.Equal(t, []any{sender.BusLabel, listener.BridgeLabel, listener.BusLabel}, g["event_path"])
	}
	require.NoError(t, listener.Wait(wait))
}

// checkRequestReply runs a TypeScript responder and a TypeScript asker on
// one bridge: the asker's PeerAsk reaches the responder, whose PeerReply,
// emitted as the ask's child, reaches the asker (BR-5 (b)). The manifests
// say which bridge and arguments; checkRequestReply sets the rest.
func checkRequestReply(t *testing.T, responderM, askerM BridgeManifest) {
	responderM.Role, responderM.BusName, responderM.Timeout = Respond, "Responder", wait
	responder := StartBridgePeer(t, responderM)
	askerM.Role, askerM.BusName, askerM.Timeout = Ask, "Asker", wait
	askerM.Events = []json.RawMessage{json.RawMessage(`{"event_type":"PeerAsk","question":"why"}`)}
	asker := StartBridgePeer(t, askerM)

	sentAsk, err := asker.NextOf(Sending, wait)
	require.NoError(t, err)
	gotAsk, err := responder.Next(wait)
	require.NoError(t, err)
	RequireSameEvent(t, sentAsk, gotAsk)
	assert.Equal(t, []any{asker.BusLabel, responder.BridgeLabel, responder.BusLabel}, fields(t, gotAsk)["event_path"])

	replied, err := responder.NextOf(Replied, wait)
	require.NoError(t, err)
	assert.Equal(t, fields(t, gotAsk)["event_id"], fields(t, replied)["event_parent_id"], "the reply is a child of the ask as the responder received it")

	reply, err := asker.NextReply(wait)
	require.NoError(t, err)
	r := fields(t, reply)
	assert.Equal(t, "PeerReply", r["event_type"])
	assert.Equal(t, "re: why", r["answer"])
	assert.Equal(t, []any{responder.BusLabel, asker.BridgeLabel, asker.BusLabel}, r["event_path"])
	RequireSameEvent(t, replied, reply)

	require.NoError(t, asker.Wait(wait))
	require.NoError(t, responder.Wait(wait))
}

func jsonlArgs(t *testing.T) []any {
	return []any{filepath.Join(t.TempDir(), "events.jsonl"), 0.01}
}

func sqliteArgs(t *testing.T) []any {
	return []any{filepath.Join(t.TempDir(), "events.sqlite3"), "abxbus_events", 0.01}
}

func redisArgs(t *testing.T) []any {
	addr := services.Require(t, services.Redis)
	return []any{"redis://" + addr + "/0", services.Unique(t, "ringbus")}
}

// postgresArgs: the Postgres peers share one table across runs (a table
// per run would pile up in the test database; receivers select rows by
// their unique event_id) and take a NOTIFY channel per test. checkBridge
// runs its subtests one after the other, so two first runs never create
// the table at once.
func postgresArgs(t *testing.T) []any {
	addr := services.Require(t, services.Postgres)
	// LISTEN folds an unquoted channel to lower case; pg_notify does not.
	return []any{"postgresql://postgres@" + addr + "/test/ringbus_tspeer_events", strings.ToLower(services.Unique(t, "rb"))}
}

func natsArgs(t *testing.T) []any {
	addr := services.Require(t, services.NATS)
	return []any{"nats://" + addr, services.Unique(t, "ringbus")}
}

// checkBridge runs checkTransfer and checkRequestReply on bridge, one
// after the other, with the same arguments for every peer of a subtest.
func checkBridge(t *testing.T, bridge string, args func(*testing.T) []any) {
	t.Run("transfer", func(t *testing.T) {
		a := args(t)
		checkTransfer(t, bridge, a, a)
	})
	t.Run("request-reply", func(t *testing.T) {
		a := args(t)
		checkRequestReply(t, BridgeManifest{Bridge: bridge, Args: a}, BridgeManifest{Bridge: bridge, Args: a})
	})
}

// The bridges whose peers all take the same arguments: a file, a table,
// a channel or a subject.
func TestBridgePeerSharedChannel_RT4(t *testing.T) {
	for _, c := range []struct {
		bridge string
		args   func(*testing.T) []any
	}{{"jsonl", jsonlArgs}, {"sqlite", sqliteArgs}, {"redis", redisArgs}, {"nats", natsArgs}, {"postgres", postgresArgs}} {
		t.Run(c.bridge, func(t *testing.T) {
			t.Parallel()
			checkBridge(t, c.bridge, c.args)
		})
	}
}

// The HTTP peers: a listener on one URL, a sender posting to it; for
// request/reply each listens on its own URL and sends to the other's.
func TestBridgePeerHTTP_RT4(t *testing.T) {
	t.Parallel()
	t.Run("transfer", func(t *testing.T) {
		url := "http://" + freeAddr(t) + "/events"
		checkTransfer(t, "http", []any{map[string]any{"listen_on": url}}, []any{map[string]any{"send_to": url}})
	})
	t.Run("request-reply", func(t *testing.T) {
		r, a := "http://"+freeAddr(t)+"/r", "http://"+freeAddr(t)+"/a"
		checkRequestReply(t,
			BridgeManifest{Bridge: "http", Args: []any{map[string]any{"listen_on": r, "send_to": a}}},
			BridgeManifest{Bridge: "http", Args: []any{map[string]any{"listen_on": a, "send_to": r}}})
	})
}

// The unix-socket peers: one process listens on a path and others send to
// it, so request/reply takes a path per direction (SendArgs).
func TestBridgePeerSocket_RT4(t *testing.T) {
	t.Parallel()
	t.Run("transfer", func(t *testing.T) {
		path := []any{filepath.Join(t.TempDir(), "s.sock")}
		checkTransfer(t, "socket", path, path)
	})
	t.Run("request-reply", func(t *testing.T) {
		dir := t.TempDir()
		r, a := []any{filepath.Join(dir, "r.sock")}, []any{filepath.Join(dir, "a.sock")}
		checkRequestReply(t,
			BridgeManifest{Bridge: "socket", Args: r, SendArgs: a},
			BridgeManifest{Bridge: "socket", Args: a, SendArgs: r})
	})
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// The TypeScript SQLite bridge's fault that bridge.mjs works around: it
// reads the table's columns at start only, so once another process added
// columns (the asker, writing its ask into a fresh table) its own writes
// fail with "duplicate column name". If this test fails, the package has
// changed: drop the work-around.
func TestBridgePeerSQLiteColumnCacheFault(t *testing.T) {
	t.Parallel()
	args := sqliteArgs(t)
	responder := StartBridgePeer(t, BridgeManifest{Bridge: "sqlite", Args: args, Role: Respond, Timeout: wait, NoWorkarounds: true})
	StartBridgePeer(t, BridgeManifest{Bridge: "sqlite", Args: args, Role: Ask, Timeout: wait, NoWorkarounds: true,
		Events: []json.RawMessage{json.RawMessage(`{"event_type":"PeerAsk","question":"why"}`)}})
	err := responder.Wait(wait)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplicate column name")
}

// A peer that cannot start fails StartBridgePeer with what it printed.
func TestBridgePeerStartError(t *testing.T) {
	t.Parallel()
	_, err := startBridgePeer(t, BridgeManifest{Bridge: "pigeon", Role: Listen, Timeout: wait})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown bridge "pigeon"`)
}

// Next gives up after its timeout, and once a peer has given up on its
// own, Next and Wait report it.
func TestBridgePeerTimeouts(t *testing.T) {
	t.Parallel()
	args := jsonlArgs(t)
	patient := StartBridgePeer(t, BridgeManifest{Bridge: "jsonl", Args: args, Role: Listen, Timeout: wait})
	_, err := patient.Next(50 * time.Millisecond)
	require.ErrorIs(t, err, ErrTimeout)

	impatient := StartBridgePeer(t, BridgeManifest{Bridge: "jsonl", Args: args, Role: Listen, Timeout: 200 * time.Millisecond})
	_, err = impatient.Next(wait)
	require.ErrorIs(t, err, ErrExited)
	err = impatient.Wait(wait)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timeout after 200 ms")
}

// Stop ends a peer that runs without a count: a responder that answered
// stays up until asked to stop, then exits successfully.
func TestBridgePeerStop(t *testing.T) {
	t.Parallel()
	args := jsonlArgs(t)
	responder := StartBridgePeer(t, BridgeManifest{Bridge: "jsonl", Args: args, Role: Respond, Count: -1, Timeout: wait})
	asker := StartBridgePeer(t, BridgeManifest{Bridge: "jsonl", Args: args, Role: Ask, Timeout: wait,
		Events: []json.RawMessage{json.RawMessage(`{"event_type":"PeerAsk","question":"why"}`)}})
	_, err := asker.NextReply(wait)
	require.NoError(t, err)
	require.NoError(t, asker.Wait(wait))
	_, err = responder.NextOf(Replied, wait)
	require.NoError(t, err)
	_, err = responder.NextOf(Sent, 200*time.Millisecond)
	require.ErrorIs(t, err, ErrTimeout, "the responder is still running")
	require.NoError(t, responder.Stop(wait))
	require.NoError(t, responder.Stop(wait), "stopping an exited peer reports how it exited")
}
