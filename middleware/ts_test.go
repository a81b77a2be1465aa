package middleware_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/internal/tspeer"
	"github.com/ringbus/ringbus/middleware"
	"github.com/ringbus/ringbus/wire"
)

// tsEvent is one entry of what interop/ts/automw.mjs prints.
type tsEvent struct {
	Name      string                     `json:"name"`
	Error     string                     `json:"error"`
	EventType string                     `json:"event_type"`
	Payload   map[string]json.RawMessage `json:"payload"`
	JSON      map[string]json.RawMessage `json:"json"`
}

// runAutoTS writes the events to a temporary folder and has automw.mjs
// read them with the official TypeScript package, installed into
// interop/ts with npm ci on first use, as wire's live check installs it.
// Without node or npm the test is skipped, or fails under CI=true.
func runAutoTS(t *testing.T, events map[string][]byte) map[string]tsEvent {
	t.Helper()
	manifest := struct {
		Events []tspeer.EventFile `json:"events"`
	}{tspeer.WriteEvents(t, events)}
	var rep struct {
		Events []tsEvent `json:"events"`
	}
	tspeer.Run(t, "automw.mjs", manifest, &rep)
	got := map[string]tsEvent{}
	for _, e := range rep.Events {
		got[e.Name] = e
	}
	require.Len(t, got, len(events))
	return got
}

// MW-10, MW-11, RT-6 (issue 11): the ErrorEvents and ResultEvents that
// AutoError and AutoReturn emit on a ringbus bus, written by the wire
// codec in both writer modes, read by the official TypeScript package
// 2.5.56 (BaseEvent.fromJSON): error, error_type and data arrive intact,
// and every field ringbus wrote comes back from TypeScript's toJSON with
// the same value.
func TestTypeScriptReadsAutoEvents_MW10(t *testing.T) {
	ctx := testCtx(t)
	results := map[string]any{
		"int":    123,
		"string": "receipt",
		"object": map[string]any{"total": 42.5, "items": []any{"a", "b"}, "paid": true, "note": nil},
		"list":   []int{1, 2, 3},
	}
	emitted := autoEvents(t, ctx, []string{"fail", "timeout", "int", "string", "object", "list"}, func(action string) (any, error) {
		switch action {
		case "fail":
			return nil, &ValueError{"boom"}
		case "timeout":
			return nil, &api.HandlerTimeoutError{Handler: "slow", Timeout: time.Second}
		}
		return results[action], nil
	})
	want := map[string]map[string]string{ // the payload fields TypeScript must read, as JSON
		"fail":    {"error": `{"type":"ValueError","message":"boom"}`, "error_type": `"ValueError"`},
		"timeout": {"error_type": `"EventHandlerTimeoutError"`},
		"int":     {"data": `123`},
		"string":  {"data": `"receipt"`},
		"object":  {"data": `{"items":["a","b"],"note":null,"paid":true,"total":42.5}`},
		"list":    {"data": `[1,2,3]`},
	}
	timeoutMsg, err := json.Marshal(emitted["timeout"].Fields()["error"].(error).Error())
	require.NoError(t, err)
	want["timeout"]["error"] = `{"type":"EventHandlerTimeoutError","message":` + string(timeoutMsg) + `}`

	files := map[string][]byte{}
	for action, ev := range emitted {
		for mode, enc := range map[string]wire.Encoder{"compat242": {}, "upstream": {Mode: wire.Upstream}} {
			data, err := enc.Marshal(ev)
			require.NoError(t, err, "%s %s", action, mode)
			files[action+"_"+mode] = data
		}
	}
	got := runAutoTS(t, files)
	for name, data := range files {
		ts := got[name]
		require.Empty(t, ts.Error, "%s: TypeScript could not read the event", name)
		action := name[:len(name)-len("_compat242")]
		if mode := name[len(name)-len("upstream"):]; mode == "upstream" {
			action = name[:len(name)-len("_upstream")]
		}
		ev := emitted[action]
		assert.Equal(t, ev.Type(), ts.EventType, name)
		for field, js := range want[action] {
			assert.JSONEq(t, js, string(ts.Payload[field]), "%s: %s as TypeScript reads it", name, field)
		}
		var mine map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(data, &mine))
		for k, v := range mine {
			back, ok := ts.JSON[k]
			if !ok {
				// TypeScript leaves out what is undefined; a missing key
				// reads as null in every runtime.
				assert.Equal(t, "null", string(v), "%s: TypeScript's toJSON drops %s", name, k)
				continue
			}
			assert.JSONEq(t, string(v), string(back), "%s: field %s", name, k)
		}
	}
}

// autoEvents runs each action on a bus with AutoError and AutoReturn and
// returns the event emitted for it.
func autoEvents(t *testing.T, ctx context.Context, actions []string, handle func(action string) (any, error)) map[string]*api.BaseEvent {
	t.Helper()
	bus := newBus(t, "AutoTSBus", api.WithMiddlewares(middleware.AutoError(), middleware.AutoReturn()))
	_, err := api.On(bus, func(_ context.Context, e *UserActionEvent) (any, error) { return handle(e.Action) })
	require.NoError(t, err)
	got := make(chan *api.BaseEvent, 1)
	for _, typ := range []string{"UserActionEventErrorEvent", "UserActionEventResultEvent"} {
		_, err := api.OnType(bus, typ, func(_ context.Context, ev *api.BaseEvent) (any, error) {
			got <- ev
			return nil, nil
		})
		require.NoError(t, err)
	}
	out := map[string]*api.BaseEvent{}
	for _, action := range actions {
		e := &UserActionEvent{Action: action, UserID: "u1"}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		select {
		case ev := <-got:
			out[action] = ev
		case <-ctx.Done():
			t.Fatalf("no event for %s", action)
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
	}
	return out
}
