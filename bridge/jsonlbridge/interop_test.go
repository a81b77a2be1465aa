package jsonlbridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
)

// The live interop suite against the TypeScript JSONLEventBridge, both
// sides on one file (polled every 10 ms by the peer): RT-4, BR-4, BR-5,
// BR-8, BR-9.
func TestInteropTS_RT4_BR8_BR9(t *testing.T) {
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "jsonl",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			return bridgeinterop.Endpoints{TSArgs: []any{path, 0.01}, Go: newBridge(t, path, opts...)}
		},
	})
}
