package ringbusprom_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ringbus/ringbus/leakcheck"
)

// Every bus a test creates is closed; after that no goroutine may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.Options()...)
}
