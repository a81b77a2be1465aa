package redisbridge_test

import (
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR22 runs the live checks against the
// official TypeScript package's RedisEventBridge (abxbus 2.5.56 with
// ioredis).
func TestInteropWithTypeScript_BR22(t *testing.T) {
	url := redisURL(t)
	tsinterop.Run(t, tsinterop.Config{
		Kind:   "redis",
		TSArgs: func(_ *testing.T, ch string) []any { return []any{url, ch} },
		NewGo:  func(t *testing.T, ch string) *bridge.Bridge { return newBridge(t, url, ch) },
	})
}
