package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Scenarios run in this process must leave no goroutine behind. ants starts
// two goroutines at import for its default pool, never used: those are
// ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}
