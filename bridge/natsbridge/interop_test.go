package natsbridge_test

import (
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR24 runs the live checks against the
// official TypeScript package's NATSEventBridge (abxbus 2.5.56 with nats).
func TestInteropWithTypeScript_BR24(t *testing.T) {
	url := sharedURL(t)
	tsinterop.Run(t, tsinterop.Config{
		Kind:   "nats",
		TSArgs: func(_ *testing.T, ch string) []any { return []any{url, ch} },
		NewGo:  func(t *testing.T, ch string) *bridge.Bridge { return newBridge(t, url, ch) },
	})
}
