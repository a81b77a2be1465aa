package socketbridge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/socketbridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
)

// TestInteropWithTypeScript_BR32 runs the live interop suite against the
// official TypeScript package's SocketEventBridge (abxbus 2.5.56). A path
// has one listener, so for request/reply each side listens on a path of
// its own and sends to the other's.
func TestInteropWithTypeScript_BR32(t *testing.T) {
	dir, err := os.MkdirTemp("", "rbsock") // short: socket paths are at most 90 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var n atomic.Int64
	sockPath := func() string { return filepath.Join(dir, fmt.Sprintf("%d.sock", n.Add(1))) }
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "socket",
		Endpoints: func(t *testing.T, flow bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			bo := socketbridge.WithBridgeOptions(opts...)
			mk := func(path string, o ...socketbridge.Option) *bridge.Bridge {
				b, err := socketbridge.New(path, append(o, bo)...)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			tsPath, goPath := sockPath(), sockPath()
			switch flow {
			case bridgeinterop.GoToTS:
				return bridgeinterop.Endpoints{TSArgs: []any{tsPath}, Go: mk(tsPath, socketbridge.WithSendOnly())}
			case bridgeinterop.TSToGo:
				return bridgeinterop.Endpoints{TSArgs: []any{goPath}, Go: mk(goPath)}
			default:
				return bridgeinterop.Endpoints{TSArgs: []any{tsPath}, TSSendArgs: []any{goPath}, Go: mk(goPath), GoSend: mk(tsPath, socketbridge.WithSendOnly())}
			}
		},
	})
}
