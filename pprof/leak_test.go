package main

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// Scenarios run in this process must leave no goroutine behind. ants starts
// two goroutines at import for its default pool, never used: those are
// ignored.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
