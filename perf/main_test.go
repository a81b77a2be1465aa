package perf

import (
	"testing"

	"go.uber.org/goleak"
)

// No scenario may leave a goroutine behind once its buses are stopped.
// ants starts two goroutines at import for its default pool, which ringbus
// never uses: exactly those are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}
