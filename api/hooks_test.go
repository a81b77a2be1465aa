package api_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

// MW-2, MW-7, CANCEL-1, CANCEL-2, TIMEOUT-6: every way a row can end
// reports it to the middlewares exactly once, after its pending and (when
// it ran) started hooks. A parent handler that times out while awaiting a
// child aborts the child's running handler (the queue-jump is aborted) and
// cancels the child's handler that never started (the cascade); each of
// the three rows and both events see one monotonic sequence.
func TestHooksEveryEndingReportedOnce_MW7(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := newMsRecorder("")
		bus := spBus(t, "HooksEveryEnding", api.WithMiddlewares(rec))
		_, err := api.On(bus, func(hctx context.Context, _ *msEvent) (string, error) {
			c := &msChild{}
			if err := bus.Emit(hctx, c); err != nil {
				return "", err
			}
			return "", c.Now(hctx) // queue-jumps: the child runs inside this handler
		}, api.WithHandlerName("parent"), api.WithHandlerTimeout(50*time.Millisecond))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msChild) (string, error) {
			time.Sleep(time.Second) // ignores its ctx
			return "late", nil
		}, api.WithHandlerName("running_child"))
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *msChild) (string, error) { return "never", nil },
			api.WithHandlerName("pending_child"))
		require.NoError(t, err)

		e := &msEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
		time.Sleep(2 * time.Second) // the ignoring handler returns late: no second report

		per := map[string][]string{}
		for _, c := range rec.snapshot() {
			f := strings.Fields(c)
			per[f[1]] = append(per[f[1]], f[2])
		}
		assert.Equal(t, []string{"pending(pending)", "started(started)", "completed(error)"}, per["parent"], "handler timeout")
		assert.Equal(t, []string{"pending(pending)", "started(started)", "completed(error)"}, per["running_child"], "aborted by the cascade")
		assert.Equal(t, []string{"pending(pending)", "completed(error)"}, per["pending_child"], "cancelled by the cascade")
		assert.Equal(t, []string{"pending", "started", "completed"}, per["msEvent"])
		assert.Equal(t, []string{"pending", "started", "completed"}, per["msChild"])

		rows := e.Rows()
		require.Len(t, rows, 1)
		require.ErrorIs(t, rows[0].Error(), api.ErrHandlerTimeout)
	})
}
