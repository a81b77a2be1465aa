package pgbridge_test

import (
	"strings"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/bridgeinterop"
	"github.com/ringbus/ringbus/internal/services"
)

// TestInteropWithTypeScript_BR19 runs the live interop suite against the
// official TypeScript package's PostgresEventBridge (abxbus 2.5.56 with
// pg), on a table and channel of each exchange's own.
func TestInteropWithTypeScript_BR19(t *testing.T) {
	addr := services.Require(t, services.Postgres)
	bridgeinterop.Run(t, bridgeinterop.Config{
		Bridge: "postgres",
		Endpoints: func(t *testing.T, _ bridgeinterop.Flow, opts ...bridge.Option) bridgeinterop.Endpoints {
			f := newFixture(t)
			// TypeScript LISTENs with the channel unquoted, which
			// PostgreSQL folds to lower case.
			f.channel = strings.ToLower(f.channel)
			return bridgeinterop.Endpoints{TSArgs: []any{"postgresql://postgres@" + addr + "/test/" + f.table, f.channel}, Go: f.newBridge(t, opts...)}
		},
	})
}
