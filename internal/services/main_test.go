package services_test

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// TestMain checks that no test leaves a goroutine behind, the ones that
// wait for the servers the tests start included.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
