// Package leakcheck is the goroutine-leak check the project's test binaries
// run after their tests: after Stop no goroutine of a bus may be left. It
// uses the public package leakcheck's list of the goroutines to ignore, so
// the project's tests check exactly what a user's tests check.
package leakcheck

import (
	"testing"

	"github.com/ringbus/ringbus/leakcheck"
	"go.uber.org/goleak"
)

// Options are the goroutines every check ignores: the two that ants starts
// at import for its default pool, which ringbus never uses.
var Options = leakcheck.Options()

// VerifyTestMain runs the tests of m, then fails the binary if a goroutine
// other than those of Options is still running.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Options...) }
