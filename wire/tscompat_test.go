package wire_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// WIRE-18, WIRE-5 (issue 9, 4.1): TypeScript 2.5.56 takes any "error" key
// in a result row, null included, as a failure (its eventResult() throws and
// eventResultsList() returns nothing), and a missing key means null to every
// reader. A row is written with "error" only when it failed and with
// "result" only when it completed (null there is the handler's own nil);
// the other keys whose value is null are left out too, as TypeScript leaves
// them out (but for handler_file_path, started_at and completed_at, which it
// writes as null).
func TestRowWritesOnlyNeededNullKeys_WIRE18(t *testing.T) {
	o, _ := runShop(t)
	m := decodeJSON(t, mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, o)).(map[string]any)
	rows := m["event_results"].(map[string]any)
	require.NotEmpty(t, rows)
	sawOK, sawErr := false, false
	for hid, r := range rows {
		row := r.(map[string]any)
		for k, v := range row {
			// TypeScript writes these three as null too.
			tsNull := k == "handler_file_path" || k == "started_at" || k == "completed_at"
			if v == nil && !tsNull && !(k == "result" && row["status"] == "completed") {
				t.Errorf("row %s (%v): key %q written as null", hid, row["handler_name"], k)
			}
		}
		switch row["status"] {
		case "completed":
			sawOK = true
			assert.NotContains(t, row, "error", "a completed row has no error key")
			assert.Contains(t, row, "result", "a completed row keeps its result, null included")
		case "error":
			sawErr = true
			assert.NotNil(t, row["error"])
			assert.NotContains(t, row, "result", "a failed row has no result")
		}
	}
	require.True(t, sawOK && sawErr, "the shop run has completed and failed rows")

	// A handler returning nil: the completed row says "result": null.
	ctx := context.Background()
	bus, err := api.NewBus("NilResultBus", quiet)
	require.NoError(t, err)
	t.Cleanup(func() { bus.Close() })
	_, err = api.OnType(bus, "NilResult", func(ctx context.Context, e *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	ev, err := api.NewEvent("NilResult", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, ev))
	require.NoError(t, ev.Wait(ctx))
	m = decodeJSON(t, mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)).(map[string]any)
	for _, r := range m["event_results"].(map[string]any) {
		row := r.(map[string]any)
		assert.Contains(t, row, "result")
		assert.Nil(t, row["result"])
		assert.NotContains(t, row, "error")
	}
	_ = engine.StatusCompleted
}
