// Package api is ringbus's typed public API: typed events whose handlers
// return typed results, on top of package engine.
//
// Declare an event by embedding Event[R] in a struct; R is what its
// handlers return:
//
//	type UserCreated struct {
//		api.Event[string]
//		UserID string `json:"user_id"`
//	}
//
//	bus, _ := api.NewBus("Users")
//	defer bus.Close()
//	api.On(bus, func(ctx context.Context, e *UserCreated) (string, error) {
//		return "welcome " + e.UserID, nil
//	})
//	e := &UserCreated{UserID: "u1"}
//	_ = bus.Emit(ctx, e)
//	greeting, err := e.Result(ctx)
//
// A handler registered for *UserCreated must return string: the compiler
// rejects any other result type. Handlers for event type names or for every
// event ("*") take the untyped *BaseEvent (OnType, OnAll).
//
// Inside a handler, use the handler's ctx: emitting with it links the new
// event as a child, and awaiting a child with it (Now, Result) runs the child
// at once instead of queueing behind the running event.
//
// # Concurrency
//
// Bus methods, the event getters and the result helpers are safe for
// concurrent use. Set an event's options (SetTimeout, SetConcurrency, ...)
// before emitting it. Events must not be copied after they are emitted. See
// package engine for the ordering guarantees and what happens before what.
package api
