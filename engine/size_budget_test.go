package engine

import (
	"testing"
	"unsafe"
)

// TestRowSizeBudget keeps a result row small: rows are allocated per event
// (rowSlab chunks), and the bytes allocated per event set how often the GC
// runs, which was a third of the instructions of an emitted event. One
// field for the value and the error (Result.out) brought a row from 112 to
// 96 bytes.
func TestRowSizeBudget(t *testing.T) {
	if got := unsafe.Sizeof(Result{}); got > 96 {
		t.Fatalf("Result is %d bytes, budget 96", got)
	}
}
