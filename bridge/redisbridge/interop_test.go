package redisbridge_test

import (
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
	"github.com/ringbus/ringbus/internal/services"
)

// TestInteropWithTypeScript_BR22 runs the live interop suite against the
// official TypeScript package's RedisEventBridge (abxbus 2.5.56 with
// ioredis), on a channel of each exchange's own.
func TestInteropWithTypeScript_BR22(t *testing.T) {
	url := redisURL(t)
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "redis",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			ch := services.Unique(t, "ringbus")
			return bridgeinterop.Endpoints{TSArgs: []any{url, ch}, Go: newBridge(t, url, ch, opts...)}
		},
	})
}
