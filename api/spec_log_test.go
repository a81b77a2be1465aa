package api_test

// Spec tests for what the bus logs (ERR-1, LOG-1, REC-1, BUS-5, REG-8,
// HIST-5 as Go maps them): fixed messages with the values in attributes
// under stable keys, and levels that keep a healthy service's log quiet.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
)

type lgEvent struct {
	api.Event[string]
	N int `json:"n"`
}

// lgAtLeast returns the records of l at level or above.
func lgAtLeast(l *spLog, level slog.Level) []spRecord {
	var out []spRecord
	for _, r := range l.records("") {
		if r.level >= level {
			out = append(out, r)
		}
	}
	return out
}

// LOG-1 (Go): LogTree returns the tree and logs nothing.
func TestSpecLog1_LogTreeLogsNothing(t *testing.T) {
	ctx := msCtx(t)
	bus, logs := spLogBus(t, "Log1QuietBus")
	_, err := api.On(bus, func(context.Context, *lgEvent) (string, error) { return "ok", nil }, api.WithHandlerName("h"))
	require.NoError(t, err)
	e := &lgEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	require.NoError(t, bus.WaitUntilIdle(ctx))
	before := len(logs.records(""))
	tree := bus.LogTree()
	assert.Contains(t, tree, e.Label())
	assert.Len(t, logs.records(""), before, "LogTree logs nothing")
	assert.Empty(t, logs.records(""), "a healthy bus logs nothing at all")
}

// ERR-1 (Go): a failed handler's error reaches the caller through the
// result, so it is logged at Debug only, with the bus, event and handler in
// attributes and the error value itself.
func TestSpecErr1_FailedHandlerLoggedAtDebug(t *testing.T) {
	ctx := msCtx(t)
	bus, logs := spLogBus(t, "Err1LogBus")
	boom := errors.New("boom")
	h, err := api.On(bus, func(context.Context, *lgEvent) (string, error) { return "", boom }, api.WithHandlerName("failing"))
	require.NoError(t, err)
	e := &lgEvent{}
	require.NoError(t, bus.Emit(ctx, e))
	_, err = e.Result(ctx)
	require.ErrorIs(t, err, boom, "the caller gets the error")

	recs := logs.records("ringbus: handler failed")
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, slog.LevelDebug, r.level)
	assert.Equal(t, "ringbus: handler failed", r.msg, "the message is fixed")
	assert.Equal(t, bus.Label(), r.str("bus"))
	assert.Equal(t, e.Type(), r.str("event_type"))
	assert.Equal(t, e.ID(), r.str("event_id"))
	assert.Equal(t, h.Label(), r.str("handler"))
	assert.Same(t, boom, r.attrs["error"].Any(), "the error value, not its text")
	assert.Empty(t, lgAtLeast(logs, slog.LevelInfo), "nothing above Debug for an error the caller gets")
}

// REC-1, REC-3 (Go): a runaway recursion whose deepest event nobody awaits
// leaves that event unprocessed and no caller is told, so it is logged at
// Error with the RecursionError.
func TestSpecRec1_UnawaitedRunawayLoggedAtError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus, logs := spLogBus(t, "Rec1UnawaitedBus")
		_, err := api.On(bus, func(hctx context.Context, e *lgEvent) (string, error) {
			if e.N < 5 {
				if err := bus.Emit(hctx, &lgEvent{N: e.N + 1}); err != nil {
					return "", err
				}
			}
			return "ok", nil
		}, api.WithHandlerName("fanout"))
		require.NoError(t, err)
		require.NoError(t, bus.Emit(ctx, &lgEvent{}))
		require.NoError(t, bus.WaitUntilIdle(ctx))

		recs := logs.records("ringbus: event not processed")
		require.Len(t, recs, 1)
		r := recs[0]
		assert.Equal(t, slog.LevelError, r.level)
		assert.Equal(t, bus.Label(), r.str("bus"))
		assert.Equal(t, api.TypeName[lgEvent](), r.str("event_type"))
		rerr, ok := r.attrs["error"].Any().(error)
		require.True(t, ok)
		assert.ErrorIs(t, rerr, api.ErrRecursion)
		var re *api.RecursionError
		require.ErrorAs(t, rerr, &re)
		assert.Equal(t, bus.Label(), re.Bus)
		assert.Equal(t, 3, re.Depth)
		assert.Equal(t, 2, re.Limit)
	})
}

// BUS-5, REG-8, HIST-5: the warnings an operator should look at are Warn,
// with fixed messages and attributes.
func TestSpecLogWarnings_BUS5_REG8_HIST5(t *testing.T) {
	ctx := msCtx(t)
	logs := &spLog{}
	logger := api.WithLogger(slog.New(logs))
	d := api.NewDomain()
	first := spBus(t, "LogWarnBus", api.WithDomain(d), logger)
	second := spBus(t, "LogWarnBus", api.WithDomain(d), logger, api.WithMaxHistory(2), api.WithHistoryDrop(true))

	renamed := logs.records("ringbus: bus name already taken")
	require.Len(t, renamed, 1)
	assert.Equal(t, slog.LevelWarn, renamed[0].level)
	assert.Equal(t, "LogWarnBus", renamed[0].str("name"))
	assert.Equal(t, second.Label(), renamed[0].str("bus"))
	assert.NotEqual(t, first.Label(), second.Label())

	h := func(context.Context, *lgEvent) (string, error) { return "ok", nil }
	_, err := api.On(second, h, api.WithHandlerName("twice"))
	require.NoError(t, err)
	twice, err := api.On(second, h, api.WithHandlerName("twice"))
	require.NoError(t, err)
	dup := logs.records("already registered")
	require.Len(t, dup, 1)
	assert.Equal(t, slog.LevelWarn, dup[0].level)
	assert.Equal(t, second.Label(), dup[0].str("bus"))
	assert.Equal(t, twice.Label(), dup[0].str("handler"))
	assert.Equal(t, api.TypeName[lgEvent](), dup[0].str("pattern"))

	// HIST-5: the first event blocks its handler, so the third Emit trims
	// the history to 2 by dropping an unfinished event (and warns once).
	block := make(chan struct{})
	_, err = api.On(second, func(context.Context, *lgEvent) (string, error) {
		<-block
		return "ok", nil
	}, api.WithHandlerName("blocker"))
	require.NoError(t, err)
	var evs []*lgEvent
	for i := range 4 {
		e := &lgEvent{N: i}
		require.NoError(t, second.Emit(ctx, e))
		evs = append(evs, e)
	}
	close(block)
	for _, e := range evs {
		require.NoError(t, e.Wait(ctx))
	}
	require.NoError(t, second.WaitUntilIdle(ctx))
	drop := logs.records("ringbus: history full")
	require.Len(t, drop, 1, "warned once")
	assert.Equal(t, slog.LevelWarn, drop[0].level)
	assert.Equal(t, second.Label(), drop[0].str("bus"))
	assert.Equal(t, int64(2), drop[0].attrs["limit"].Int64())

	// Every record names its bus, and no message carries values or emoji.
	for _, r := range logs.records("") {
		assert.NotEmpty(t, r.str("bus"), "%q has a bus attribute", r.msg)
		assert.True(t, strings.HasPrefix(r.msg, "ringbus: "), r.msg)
		assert.NotContains(t, r.msg, second.Label(), r.msg)
	}
}
