package engine

import (
	"context"
	"sync"
	"testing"
)

// TestFirstEmitRacingStop_STOP1: the first Emit on a bus, which starts its
// dispatcher, may run while another goroutine stops the bus; under -race
// this caught the dispatcher being counted in the bus's runners after Stop
// had started waiting for them.
func TestFirstEmitRacingStop_STOP1(t *testing.T) {
	for range 200 {
		b, err := NewBus("RaceStop")
		if err != nil {
			t.Fatal(err)
		}
		e, _ := NewEvent("E", nil)
		var wg sync.WaitGroup
		wg.Go(func() { _ = b.Emit(context.Background(), e) })
		wg.Go(func() { _ = b.Stop(context.Background()) })
		wg.Wait()
		_ = b.Close()
	}
}
