package mwbench

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// No benchmark may leave a goroutine behind once its bus is closed.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
