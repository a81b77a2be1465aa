package perf

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// No scenario may leave a goroutine behind once its buses are stopped.
// ants starts two goroutines at import for its default pool, which ringbus
// never uses: exactly those are ignored.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
