package api_test

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/stretchr/testify/require"
)

// AWAIT-1, REG-2: once Wait (here through a view's Result) has returned
// for a completed event, Done is closed. A waiter that came just after the
// completion used to make a done channel nobody would close, and Done
// handed it out; the window is short, so the test races it many times
// (before the fix it lost a few times in a thousand).
func TestDoneClosedOnceWaitReturned_AWAIT1(t *testing.T) {
	ctx := context.Background()
	for i := range 3000 {
		bus, err := api.NewBus("WaitDone")
		require.NoError(t, err)
		release := make(chan struct{})
		_, err = api.On(bus, func(ctx context.Context, e *rfOrder) (string, error) {
			<-release
			return "x", nil
		})
		require.NoError(t, err)
		ue, err := api.NewEvent(api.TypeName[rfOrder](), map[string]any{"oid": "o1", "qty": 2})
		require.NoError(t, err)
		require.NoError(t, bus.Emit(ctx, ue))
		view, err := api.Find[rfOrder](ctx, bus)
		require.NoError(t, err)
		close(release)
		_, err = view.Result(ctx)
		require.NoError(t, err)
		select {
		case <-view.Done():
		default:
			t.Fatalf("iteration %d: Wait returned but Done is open (event %v)", i, ue.Status())
		}
		require.NoError(t, bus.Close())
	}
}
