package jsonlbridge_test

import (
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR10 runs the live checks against the
// official TypeScript package's JSONLEventBridge (abxbus 2.5.56).
func TestInteropWithTypeScript_BR10(t *testing.T) {
	dir := t.TempDir()
	path := func(ch string) string { return filepath.Join(dir, ch+".jsonl") }
	tsinterop.Run(t, tsinterop.Config{
		Kind:   "jsonl",
		TSArgs: func(_ *testing.T, ch string) []any { return []any{path(ch), 0.01} },
		NewGo:  func(t *testing.T, ch string) *bridge.Bridge { return newBridge(t, path(ch)) },
	})
}
