package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

type ExplicitParent struct {
	api.Event[string]
	Name string `json:"name"`
}

// D1: event.Emit(child) links explicitly, also from outside a handler, and
// the parent waits for that child (CHILD-5).
func TestExplicitChildEmit_D1_CHILD5(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := api.NewBus("ExplicitChildBus")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	release := make(chan struct{})
	started := make(chan struct{})
	childEmitted := make(chan struct{})
	_, err = api.On(bus, func(ctx context.Context, e *ExplicitParent) (string, error) {
		if e.Name == "child" {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return "child done", nil
		}
		close(started)
		<-childEmitted
		return "parent done", nil
	})
	require.NoError(t, err)

	parent := &ExplicitParent{Name: "parent"}
	require.NoError(t, bus.Emit(ctx, parent))
	<-started
	child := &ExplicitParent{Name: "child"}
	require.NoError(t, parent.Emit(ctx, child))
	close(childEmitted)
	require.Equal(t, parent.ID(), child.ParentID())
	require.True(t, api.EventIsChildOf(child, parent))

	// The parent's handler is done but the parent waits for its child.
	waitCtx, waitCancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer waitCancel()
	require.ErrorIs(t, parent.Wait(waitCtx), context.DeadlineExceeded)
	close(release)
	require.NoError(t, parent.Wait(ctx))
	require.Equal(t, api.StatusCompleted, child.Status())
}

// CHILD-3: an explicitly set parent id is not overwritten by the handler
// context the event is emitted with.
func TestExplicitParentNotOverridden_CHILD3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := api.NewBus("ExplicitParentBus")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	const explicit = "0190a0b0-c0d0-7e0f-8000-000000000001"
	inner := &ExplicitParent{Name: "inner"}
	require.NoError(t, inner.SetParentID(explicit))
	_, err = api.On(bus, func(ctx context.Context, e *ExplicitParent) (string, error) {
		if e.Name == "outer" {
			return "", bus.Emit(ctx, inner)
		}
		return "ok", nil
	})
	require.NoError(t, err)
	outer := &ExplicitParent{Name: "outer"}
	require.NoError(t, bus.Emit(ctx, outer))
	require.NoError(t, outer.Wait(ctx))
	require.NoError(t, inner.Wait(ctx))
	require.Equal(t, explicit, inner.ParentID())
}
