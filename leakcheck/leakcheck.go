// Package leakcheck helps a program's tests check for leaked goroutines
// with go.uber.org/goleak while they use ringbus.
//
// After a bus's Stop or Close returns, none of the bus's goroutines runs,
// except a handler that ignores its context's cancellation: it keeps its
// goroutine until it returns, and a leak check reports it until then. Two
// goroutines do run that no bus started: importing ringbus imports
// github.com/panjf2000/ants/v2, whose package initialisation starts two
// goroutines for its default pool. ringbus never uses that pool (every bus
// owns its own), but the goroutines exist from program start, so a plain
// goleak.VerifyNone(t) reports them. Pass Options to ignore exactly those
// two and nothing else:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, leakcheck.Options()...)
//	}
//
//	func TestOrders(t *testing.T) {
//		defer goleak.VerifyNone(t, leakcheck.Options()...)
//		...
//	}
//
// A test that uses another leak checker can ignore the functions named by
// IgnoredFunctions instead.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// IgnoredFunctions returns the names of the functions at the top of the
// stacks of the goroutines that importing ringbus starts: the stale-worker
// purger and the clock of ants's default pool.
func IgnoredFunctions() []string {
	return []string{
		"github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers",
		"github.com/panjf2000/ants/v2.(*poolCommon).ticktock",
	}
}

// Options returns goleak options that ignore the goroutines named by
// IgnoredFunctions. Combine them with options of your own as usual.
func Options() []goleak.Option {
	fns := IgnoredFunctions()
	opts := make([]goleak.Option, len(fns))
	for i, fn := range fns {
		opts[i] = goleak.IgnoreTopFunction(fn)
	}
	return opts
}

// VerifyTestMain runs the tests of m, then fails the test binary if a
// goroutine is still running other than those Options ignores. Use it as a
// package's TestMain.
func VerifyTestMain(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, append(Options(), extra...)...)
}

// VerifyNone fails t if a goroutine is running other than those Options
// ignores. Call it at the end of a test, or defer it at the start.
func VerifyNone(t testing.TB, extra ...goleak.Option) {
	t.Helper()
	goleak.VerifyNone(t, append(Options(), extra...)...)
}
