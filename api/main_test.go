package api_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaks goroutines. The ants default pool
// starts two goroutines when the package is imported; they are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}
