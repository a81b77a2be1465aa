package socketbridge_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/socketbridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR32 runs the live checks against the
// official TypeScript package's SocketEventBridge (abxbus 2.5.56). A path
// has one listener, so each side listens on a path of its own and sends to
// the other's.
func TestInteropWithTypeScript_BR32(t *testing.T) {
	dir, err := os.MkdirTemp("", "rbsock") // short: socket paths are at most 90 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	goPath := func(ch string) string { return filepath.Join(dir, ch[len(ch)-8:]+".go.sock") }
	tsPath := func(ch string) string { return filepath.Join(dir, ch[len(ch)-8:]+".ts.sock") }
	newBridge := func(t *testing.T, path string, opts ...socketbridge.Option) *bridge.Bridge {
		b, err := socketbridge.New(path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tsinterop.Run(t, tsinterop.Config{
		Kind:       "socket",
		TSArgs:     func(_ *testing.T, ch string) []any { return []any{tsPath(ch)} },
		TSSendArgs: func(_ *testing.T, ch string) []any { return []any{goPath(ch)} },
		NewGo:      func(t *testing.T, ch string) *bridge.Bridge { return newBridge(t, goPath(ch)) },
		NewGoSender: func(t *testing.T, ch string) *bridge.Bridge {
			return newBridge(t, tsPath(ch), socketbridge.WithSendOnly())
		},
	})
}
