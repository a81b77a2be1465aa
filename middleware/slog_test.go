package middleware_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
)

// MW-1, MW-2, MW-14 (Go): one record per transition, in the hook order of
// MW-2 for an event with a succeeding and a failing handler, each a fixed
// message with typed attributes: bus, event and handler labels, elapsed as
// a time.Duration and the error value; the message says whether the
// handler completed or failed.
// Transitions and completions are Debug, the failure Warn.
func TestSlogRecordsEveryTransition_MW2(t *testing.T) {
	ctx := testCtx(t)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "SlogBus", api.WithMiddlewares(middleware.Slog(slog.New(logs))))
	h1, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "ok", nil }, api.WithHandlerName("h1"))
	require.NoError(t, err)
	boom := &ValueError{"boom"}
	h2, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, boom }, api.WithHandlerName("h2"))
	require.NoError(t, err)

	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))

	recs := logs.records("")
	var got []string
	for _, r := range recs {
		got = append(got, strings.TrimPrefix(r.msg, "ringbus: ")+" "+r.str("handler"))
	}
	assert.Equal(t, []string{
		"event pending ",
		"handler pending " + h1.Label(),
		"handler pending " + h2.Label(),
		"handler started " + h1.Label(),
		"event started ",
		"handler completed " + h1.Label(),
		"handler started " + h2.Label(),
		"handler failed " + h2.Label(),
		"event completed ",
	}, got)
	for _, r := range recs {
		assert.Equal(t, bus.Label(), r.str("bus"), r.msg)
		assert.Equal(t, "UserActionEvent", r.str("event_type"), r.msg)
		assert.Equal(t, e.ID(), r.str("event_id"), r.msg)
		want := slog.LevelDebug
		if r.msg == "ringbus: handler failed" {
			want = slog.LevelWarn
		}
		assert.Equal(t, want, r.level, r.msg)
	}
	done := recs[5]
	assert.Equal(t, []string{"bus", "event_type", "event_id", "handler", "elapsed"}, done.order,
		"five attributes: a slog.Record holds them without allocating")
	assert.Equal(t, slog.KindDuration, done.attrs["elapsed"].Kind())
	failed := recs[7]
	assert.Equal(t, []string{"bus", "event_type", "event_id", "handler", "elapsed", "error"}, failed.order)
	assert.Same(t, boom, failed.attrs["error"].Any(), "the error value, not its text")
	ev := recs[8]
	assert.Equal(t, []string{"bus", "event_type", "event_id", "elapsed"}, ev.order)
	assert.Equal(t, time.Duration(e.CompletedTime()-e.CreatedTime()), ev.attrs["elapsed"].Duration())
	assert.Equal(t, []string{"bus", "event_type", "event_id"}, recs[0].order)
}

// MW-3 with MW-14: an event without handlers logs pending and completed.
func TestSlogEventWithoutHandlers_MW3(t *testing.T) {
	ctx := testCtx(t)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "SlogEmptyBus", api.WithMiddlewares(middleware.Slog(slog.New(logs))))
	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	var msgs []string
	for _, r := range logs.records("") {
		msgs = append(msgs, r.msg)
	}
	assert.Equal(t, []string{"ringbus: event pending", "ringbus: event completed"}, msgs)
}

// MW-14 (Go): a level that is off costs the handler's Enabled and nothing
// else: at Info, only the failure reaches Handle; levels are configurable.
func TestSlogLevels_MW14(t *testing.T) {
	ctx := testCtx(t)
	run := func(t *testing.T, logs *recorder, opts ...middleware.SlogOption) {
		bus := newBus(t, "SlogLevelBus", api.WithMiddlewares(middleware.Slog(slog.New(logs), opts...)))
		_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "ok", nil })
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return nil, &ValueError{"x"} })
		require.NoError(t, err)
		e := &UserActionEvent{}
		require.NoError(t, bus.Emit(ctx, e))
		require.NoError(t, e.Wait(ctx))
		require.NoError(t, bus.WaitUntilIdle(ctx))
	}
	t.Run("defaults at Info", func(t *testing.T) {
		logs := &recorder{level: slog.LevelInfo}
		run(t, logs)
		recs := logs.records("")
		require.Len(t, recs, 1)
		assert.Equal(t, "ringbus: handler failed", recs[0].msg)
		assert.Equal(t, 9, logs.asked, "Enabled asked once per transition")
	})
	t.Run("configured", func(t *testing.T) {
		logs := &recorder{level: slog.LevelInfo}
		run(t, logs, middleware.WithCompletedLevel(slog.LevelInfo), middleware.WithFailureLevel(slog.LevelError),
			middleware.WithPendingLevel(slog.LevelDebug-4), middleware.WithStartedLevel(slog.LevelDebug-4))
		levels := map[string]slog.Level{}
		for _, r := range logs.records("") {
			levels[r.msg] = r.level
		}
		assert.Equal(t, map[string]slog.Level{
			"ringbus: handler completed": slog.LevelInfo,
			"ringbus: handler failed":    slog.LevelError,
			"ringbus: event completed":   slog.LevelInfo,
		}, levels)
	})
}

// MW-4 with MW-14: a handler cancelled before it started logs pending,
// then failed without elapsed (it never ran).
func TestSlogCancelledRowHasNoElapsed_MW4(t *testing.T) {
	ctx := testCtx(t)
	logs := &recorder{level: slog.LevelDebug}
	bus := newBus(t, "SlogFirstBus", api.WithMiddlewares(middleware.Slog(slog.New(logs))), api.WithCompletion(api.CompleteFirst))
	_, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "win", nil }, api.WithHandlerName("winner"))
	require.NoError(t, err)
	loser, err := api.On(bus, func(context.Context, *UserActionEvent) (any, error) { return "late", nil }, api.WithHandlerName("loser"))
	require.NoError(t, err)
	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	var got []record
	for _, r := range logs.records("") {
		if r.str("handler") == loser.Label() {
			got = append(got, r)
		}
	}
	require.Len(t, got, 2)
	assert.Equal(t, "ringbus: handler pending", got[0].msg)
	assert.Equal(t, "ringbus: handler failed", got[1].msg)
	assert.NotContains(t, got[1].attrs, "elapsed")
	assert.ErrorIs(t, got[1].attrs["error"].Any().(error), api.ErrHandlerCancelled)
}

// MW-14 (Go): with a text handler the records read as key=value pairs,
// and a nil logger is slog.Default.
func TestSlogTextHandler_MW14(t *testing.T) {
	ctx := testCtx(t)
	var buf syncBuffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bus := newBus(t, "SlogTextBus", api.WithMiddlewares(middleware.Slog(l)))
	e := &UserActionEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	out := buf.String()
	assert.Contains(t, out, `msg="ringbus: event completed" bus=`+bus.Label()+" event_type=UserActionEvent event_id="+e.ID()+" elapsed=")
	assert.NotContains(t, out, "source=")

	prev := slog.Default()
	var def bytes.Buffer
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	m := middleware.Slog(nil)
	bus2 := newBus(t, "SlogDefaultBus", api.WithMiddlewares(m))
	e2 := &UserActionEvent{}
	require.NoError(t, bus2.Emit(ctx, e2))
	require.NoError(t, e2.Wait(ctx))
	require.NoError(t, bus2.WaitUntilIdle(ctx))
	require.NoError(t, bus2.Close())
	assert.Contains(t, def.String(), "event_id="+e2.ID())
}
