package bridgeinterop

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/wire"
)

// The schema rule forgives what Zod's writer adds and nothing else.
func TestDiffEventsSchema_RT4(t *testing.T) {
	const base = `{"event_type":"X","event_id":"0190a8b6-3c3e-7c1a-8f2e-4b5d6e7f8091","event_result_type":`
	goSchema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"string"}}}},"required":["ok"]}}`
	for _, c := range []struct {
		name, got string
		same      bool
	}{
		{"as sent", goSchema, true},
		{"additionalProperties {} everywhere", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","additionalProperties":{},
			"properties":{"ok":{"type":"boolean"},"inner":{"type":"object","additionalProperties":true,"properties":{"a":{"type":"string"}}}},"required":["ok"]}}`, true},
		{"no $schema", `{"type":"object","properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"string"}}}},"required":["ok"]}}`, true},
		{"additionalProperties false", `{"type":"object","additionalProperties":false,"properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"string"}}}},"required":["ok"]}}`, false},
		{"nested type changed", `{"type":"object","properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"number"}}}},"required":["ok"]}}`, false},
		{"required dropped", `{"type":"object","properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"string"}}}}}}`, false},
		{"other $schema", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"ok":{"type":"boolean"},"inner":{"type":"object","properties":{"a":{"type":"string"}}}},"required":["ok"]}}`, false},
		{"null", `null}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			diffs, err := diffEvents([]byte(base+goSchema), []byte(base+c.got))
			require.NoError(t, err)
			if c.same {
				assert.Empty(t, diffs)
			} else {
				require.Len(t, diffs, 1)
				assert.Contains(t, diffs[0], "event_result_type")
			}
		})
	}
}

// Only the schema line is forgiven: another difference beside it stays.
func TestDiffEventsKeepsOtherDiffs_RT4(t *testing.T) {
	want := `{"event_type":"X","label":"a","event_result_type":{"type":"object"}}`
	got := `{"event_type":"X","label":"b","event_result_type":{"type":"object","additionalProperties":{}}}`
	diffs, err := diffEvents([]byte(want), []byte(got))
	require.NoError(t, err)
	require.Len(t, diffs, 1)
	assert.Contains(t, diffs[0], "label")
}

// A Compat242 event gets event_blocks_parent_completion false when it has
// none; an Upstream one and one that has the field are left alone.
func TestCompatDefaults(t *testing.T) {
	compat := []byte(`{"event_type":"X"}`)
	assert.JSONEq(t, `{"event_type":"X","event_blocks_parent_completion":false}`, string(compatDefaults(wire.Compat242, compat)))
	assert.Equal(t, compat, compatDefaults(wire.Upstream, compat))
	has := []byte(`{"event_type":"X","event_blocks_parent_completion":true}`)
	assert.Equal(t, has, compatDefaults(wire.Compat242, has))
}
