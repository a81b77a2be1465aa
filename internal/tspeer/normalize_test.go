package tspeer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentEvent is an event as a sender holds it before it goes out.
const sentEvent = `{"event_id":"01a2382b-7323-7415-933d-65fc950f1390","event_created_at":"2026-12-02T19:11:41.347242420Z",
	"event_type":"Ping","event_timeout":null,"event_parent_id":null,"event_path":[],"event_pending_bus_count":0,
	"event_status":"pending","event_started_at":null,"event_completed_at":null,"label":"one","n":1}`

// The differences RT-4 allows between a sent and a received event compare
// equal, and every other difference is reported by field.
func TestDiffEvents_RT4(t *testing.T) {
	equal := map[string]string{
		"as received in a handler": `{"event_id":"01a2382b-7386-778a-8ae4-2a635e8a4bc0","event_created_at":"2026-12-02T19:11:41.347242420Z",
			"event_type":"Ping","event_timeout":null,"event_parent_id":null,"event_path":["A#1111","B#2222"],
			"event_pending_bus_count":2,"event_status":"started","event_started_at":"2026-12-02T19:11:41.450532362Z",
			"event_completed_at":null,"event_results":{"x":{"status":"started"}},"label":"one","n":1}`,
		"same instant in another zone and precision": `{"event_created_at":"2026-12-02T21:11:41.34724242+02:00",
			"event_type":"Ping","event_status":"pending","label":"one","n":1.0}`,
		"nulls omitted, defaults explicit": `{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping",
			"event_concurrency":"bus-serial","event_handler_concurrency":"serial","event_handler_completion":"all",
			"event_status":"pending","label":"one","n":1}`,
	}
	for name, got := range equal {
		t.Run(name, func(t *testing.T) {
			diffs, err := DiffEvents([]byte(sentEvent), []byte(got))
			require.NoError(t, err)
			assert.Empty(t, diffs)
		})
	}

	differ := map[string]struct{ got, diff string }{
		"payload value": {`{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping","event_status":"pending","label":"two","n":1}`,
			`label: want "one", got "two"`},
		"missing payload field": {`{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping","event_status":"pending","label":"one"}`,
			`n: want 1, missing`},
		"extra field": {`{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping","event_status":"pending","label":"one","n":1,"x":[]}`,
			`x: unexpected []`},
		"other instant": {`{"event_created_at":"2026-12-02T19:11:41.347242421Z","event_type":"Ping","event_status":"pending","label":"one","n":1}`,
			`event_created_at: want "2026-12-02T19:11:41.347242420Z", got "2026-12-02T19:11:41.347242421Z"`},
		"not the default concurrency": {`{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping","event_status":"pending","label":"one","n":1,
			"event_concurrency":"parallel"}`, `event_concurrency: want "bus-serial", got "parallel"`},
		"completed": {`{"event_created_at":"2026-12-02T19:11:41.347242420Z","event_type":"Ping","label":"one","n":1,
			"event_status":"completed"}`, `event_status: want "pending", got "completed"`},
	}
	for name, c := range differ {
		t.Run(name, func(t *testing.T) {
			diffs, err := DiffEvents([]byte(sentEvent), []byte(c.got))
			require.NoError(t, err)
			assert.Equal(t, []string{c.diff}, diffs)
		})
	}

	_, err := DiffEvents([]byte(sentEvent), []byte(`[1]`))
	assert.Error(t, err)
	_, err = DiffEvents([]byte(`null`), []byte(sentEvent))
	assert.Error(t, err)
}
