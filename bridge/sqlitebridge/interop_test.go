package sqlitebridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR15 runs the live checks against the
// official TypeScript package's SQLiteEventBridge (abxbus 2.5.56, run on
// Node 22 for its node:sqlite), on a database file of each subtest's own.
func TestInteropWithTypeScript_BR15(t *testing.T) {
	dir := t.TempDir()
	path := func(ch string) string { return filepath.Join(dir, ch+".sqlite3") }
	tsinterop.Run(t, tsinterop.Config{
		Kind:   "sqlite",
		TSArgs: func(_ *testing.T, ch string) []any { return []any{path(ch), "abxbus_events", 0.01} },
		NewGo: func(t *testing.T, ch string) *bridge.Bridge {
			f := &fixture{path: path(ch), table: "abxbus_events"}
			return f.newBridge(t)
		},
	})
}
