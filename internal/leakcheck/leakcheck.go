// Package leakcheck is the goroutine-leak check the project's test binaries
// run after their tests: after Stop no goroutine of a bus may be left.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are the goroutines every check ignores: the two that ants starts
// at import for its default pool, which ringbus never uses.
var Options = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

// VerifyTestMain runs the tests of m, then fails the binary if a goroutine
// other than those of Options is still running.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Options...) }
