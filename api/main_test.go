package api_test

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// TestMain checks that no test leaks goroutines. The ants default pool
// starts two goroutines when the package is imported; they are ignored.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
