package httpbridge_test

import (
	"net"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/httpbridge"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR28 runs the live checks against the
// official TypeScript package's HTTPEventBridge (abxbus 2.5.56): each side
// listens on a port of its own and posts to the other's.
func TestInteropWithTypeScript_BR28(t *testing.T) {
	var mu sync.Mutex
	urls := map[string][2]string{} // channel -> Go's URL, TypeScript's URL
	pair := func(t *testing.T, ch string) (goURL, tsURL string) {
		mu.Lock()
		defer mu.Unlock()
		if u, ok := urls[ch]; ok {
			return u[0], u[1]
		}
		u := [2]string{"http://" + freePort(t) + "/go", "http://" + freePort(t) + "/ts"}
		urls[ch] = u
		return u[0], u[1]
	}
	tsinterop.Run(t, tsinterop.Config{
		Kind: "http",
		TSArgs: func(t *testing.T, ch string) []any {
			goURL, tsURL := pair(t, ch)
			return []any{map[string]any{"listen_on": tsURL, "send_to": goURL}}
		},
		NewGo: func(t *testing.T, ch string) *bridge.Bridge {
			goURL, tsURL := pair(t, ch)
			b, err := httpbridge.New(tsURL, goURL)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	})
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
