package httpbridge_test

import (
	"net"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/httpbridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
)

// TestInteropWithTypeScript_BR28 runs the live interop suite against the
// official TypeScript package's HTTPEventBridge (abxbus 2.5.56): each side
// listens on a port of its own and posts to the other's.
func TestInteropWithTypeScript_BR28(t *testing.T) {
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "http",
		Endpoints: func(t *testing.T, flow bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			bo := httpbridge.WithBridgeOptions(opts...)
			tsURL := "http://" + freePort(t) + "/ts"
			goL, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			goURL := "http://" + goL.Addr().String() + "/go"
			mk := func(sendTo, listenOn string, o ...httpbridge.Option) *bridge.Bridge {
				b, err := httpbridge.New(sendTo, listenOn, append(o, bo)...)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			switch flow {
			case bridgeinterop.GoToTS:
				_ = goL.Close()
				return bridgeinterop.Endpoints{TSArgs: []any{map[string]any{"listen_on": tsURL}}, Go: mk(tsURL, "")}
			case bridgeinterop.TSToGo:
				return bridgeinterop.Endpoints{TSArgs: []any{map[string]any{"send_to": goURL}}, Go: mk("", goURL, httpbridge.WithListener(goL))}
			default:
				return bridgeinterop.Endpoints{TSArgs: []any{map[string]any{"listen_on": tsURL, "send_to": goURL}}, Go: mk(tsURL, goURL, httpbridge.WithListener(goL))}
			}
		},
	})
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
