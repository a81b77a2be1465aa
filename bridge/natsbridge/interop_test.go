package natsbridge_test

import (
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/natsbridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
	"github.com/ringbus/ringbus/internal/services"
)

// TestInteropWithTypeScript_BR24 runs the live interop suite against the
// official TypeScript package's NATSEventBridge (abxbus 2.5.56 with nats),
// on a subject of each exchange's own.
func TestInteropWithTypeScript_BR24(t *testing.T) {
	url := sharedURL(t)
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "nats",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			subject := services.Unique(t, "ringbus")
			return bridgeinterop.Endpoints{TSArgs: []any{url, subject}, Go: newBridge(t, url, subject, natsbridge.WithBridgeOptions(opts...))}
		},
	})
}
