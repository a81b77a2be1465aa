// Package middlewares shows two middlewares written as a user of ringbus
// writes them, outside the engine, through package api only:
//
//   - TransitionCounter observes the bus with the lifecycle hooks of
//     api.Middleware and counts the result rows' transitions.
//   - Timing wraps every handler (an api.HandlerWrapper) to measure how long
//     it runs and to put its start time in the handler's ctx.
package middlewares

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ringbus/ringbus/api"
)

// TransitionCounter counts the transitions of the result rows of every bus
// it is given to (api.WithMiddlewares): rows created (pending), handlers
// started, and handlers finished, with the failures among them. It is safe
// for concurrent use: hooks of parallel handlers call it at the same time.
type TransitionCounter struct {
	api.NopMiddleware // the hooks it does not need
	pending, started  atomic.Int64
	completed, failed atomic.Int64
}

// OnResultChange counts one transition of a row.
func (c *TransitionCounter) OnResultChange(_ context.Context, _ *api.Bus, _ *api.BaseEvent, r *api.Result, s api.Status) {
	switch s {
	case api.StatusPending:
		c.pending.Add(1)
	case api.StatusStarted:
		c.started.Add(1)
	case api.StatusCompleted:
		c.completed.Add(1)
		if r.Error() != nil {
			c.failed.Add(1)
		}
	}
}

// Counts returns the transitions counted so far.
func (c *TransitionCounter) Counts() (pending, started, completed, failed int64) {
	return c.pending.Load(), c.started.Load(), c.completed.Load(), c.failed.Load()
}

type startKey struct{}

// Timing returns a wrapper that measures each handler call and reports it
// to observe, with the handler's name and its error. The handler's ctx
// carries the call's start time (see StartTime).
func Timing(observe func(handler string, d time.Duration, err error)) api.HandlerWrapper {
	return func(next api.HandlerFunc) api.HandlerFunc {
		return func(ctx context.Context, e *api.BaseEvent) (any, error) {
			start := time.Now()
			v, err := next(context.WithValue(ctx, startKey{}, start), e)
			name := ""
			if r := api.CurrentResult(ctx); r != nil {
				name = r.HandlerName()
			}
			observe(name, time.Since(start), err)
			return v, err
		}
	}
}

// StartTime returns the time the Timing wrapper started the handler whose
// ctx is ctx.
func StartTime(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(startKey{}).(time.Time)
	return t, ok
}
