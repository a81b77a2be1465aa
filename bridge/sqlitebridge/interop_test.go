package sqlitebridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
)

// TestInteropWithTypeScript_BR15 runs the live interop suite against the
// official TypeScript package's SQLiteEventBridge (abxbus 2.5.56, run on
// Node 22 for its node:sqlite), on a database file of each exchange's own.
func TestInteropWithTypeScript_BR15(t *testing.T) {
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "sqlite",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			f := &fixture{path: filepath.Join(t.TempDir(), "events.sqlite3"), table: "abxbus_events"}
			return bridgeinterop.Endpoints{TSArgs: []any{f.path, f.table, 0.01}, Go: f.newBridge(t, opts...)}
		},
	})
}
