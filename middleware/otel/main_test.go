package ringbusotel_test

import (
	"testing"

	"github.com/ringbus/ringbus/leakcheck"
)

// After every bus is closed no goroutine is left: neither the buses' nor
// any the tracing starts (it starts none).
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
