package pgbridge_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/services"
	"github.com/ringbus/ringbus/internal/tsinterop"
)

// TestInteropWithTypeScript_BR19 runs the live checks against the
// official TypeScript package's PostgresEventBridge (abxbus 2.5.56 with
// pg), on a table and channel of each subtest's own.
func TestInteropWithTypeScript_BR19(t *testing.T) {
	addr := services.Require(t, services.Postgres)
	var mu sync.Mutex
	fixtures := map[string]*fixture{}
	get := func(t *testing.T, ch string) *fixture {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := fixtures[ch]; ok {
			return f
		}
		f := newFixture(t)
		// TypeScript LISTENs with the channel unquoted, which PostgreSQL
		// folds to lower case.
		f.channel = strings.ToLower(f.channel)
		fixtures[ch] = f
		return f
	}
	tsinterop.Run(t, tsinterop.Config{
		Kind: "postgres",
		TSArgs: func(t *testing.T, ch string) []any {
			f := get(t, ch)
			return []any{"postgresql://postgres@" + addr + "/test/" + f.table, f.channel}
		},
		NewGo: func(t *testing.T, ch string) *bridge.Bridge { return get(t, ch).newBridge(t) },
	})
}
