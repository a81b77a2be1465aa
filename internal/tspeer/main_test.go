package tspeer

import (
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

// A BridgePeer's reader goroutine ends with its process: none is left
// after a test's cleanups.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
