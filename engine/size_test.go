package engine

import (
	"testing"
	"unsafe"
)

func TestSizes(t *testing.T) {
	t.Logf("Event=%d Result=%d processing=%d Handler=%d", unsafe.Sizeof(Event{}), unsafe.Sizeof(Result{}), unsafe.Sizeof(processing{}), unsafe.Sizeof(Handler{}))
}
