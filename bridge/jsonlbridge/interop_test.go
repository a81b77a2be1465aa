package jsonlbridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
)

// TestInteropWithTypeScript_BR10 runs the live interop suite against the
// official TypeScript package's JSONLEventBridge (abxbus 2.5.56): both
// sides on one file, which the peer polls every 10 ms (RT-4, BR-4, BR-5,
// BR-8..10).
func TestInteropWithTypeScript_BR10(t *testing.T) {
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "jsonl",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			return bridgeinterop.Endpoints{TSArgs: []any{path, 0.01}, Go: newBridge(t, path, opts...)}
		},
	})
}
