// Package retry retries failing handlers, or any function, with a
// per-attempt timeout, waits that back off, a choice of which errors to
// retry, and a semaphore that limits how many calls run at once.
//
// A Policy is built once with New and used two ways: as a handler wrapper
// for a bus or a handler,
//
//	p, err := retry.New(retry.Attempts(3), retry.Delay(100*time.Millisecond), retry.Backoff(2),
//		retry.On(ErrUnavailable))
//	bus, err := api.NewBus("Orders", api.WithHandlerWrappers(p.Wrap()))
//
// or around any call with Do, such as an emit and its wait, which then
// retries the whole dispatch:
//
//	total, err := retry.Do(ctx, p, func(ctx context.Context) (float64, error) {
//		return api.Call(ctx, bus, &PriceOrder{OrderID: id})
//	})
//
// # Attempts and waits
//
// Attempts(n) is the total number of calls. After failed attempt k the
// policy waits Delay·Backoff^(k-1), spread by Jitter and capped by
// MaxDelay, then tries again. The last attempt's error is returned as it
// is, so errors.Is and errors.As see what the function returned. When the
// call's ctx ends, waiting and retrying stop at once.
//
// Timeout(d) gives each attempt a ctx that ends after d. An attempt that
// returns an error after that fails with a *TimeoutError (it matches
// ErrTimeout and context.DeadlineExceeded, and its Timeout method reports
// true), so a bus records the last one as a handler timeout: the result
// row's error is an *api.HandlerTimeoutError with the *TimeoutError
// inside. Attempts are not abandoned: a function that ignores its ctx
// holds the call up until it returns.
//
// # Which errors are retried
//
// Every error, unless the policy names some: On(errs...) matches with
// errors.Is, OnType[E]() with errors.As, OnMatch(re) matches a regular
// expression against "TypeName: message" (TypeName is the error's type as
// ringbus writes it in JSON: "TimeoutError", "HandlerPanicError", "Error"
// for errors.New and fmt.Errorf), and If(f) asks f. An error that none of
// them matches is returned at once.
//
// # Semaphores
//
// Semaphore(limit) lets at most limit calls with one key run at once.
// A call takes its place before the first attempt and keeps it across
// every attempt and wait. The key is the handler's name by default
// (SemaphoreKey and SemaphoreKeyFunc choose another), and its scope says
// which calls share it:
//
//	ScopeGlobal   every call with the key, on any bus (the default)
//	ScopeBus      the calls of handlers on one bus
//	ScopeHandler  the calls of one registered handler
//
// abxbus's retry decorator calls these scopes global, class and instance:
// a bus groups handlers as a class groups the methods of its instances,
// and a registered handler is one instance's bound method.
//
// A call waits for its place at most SemaphoreTimeout, or, without it,
// Timeout·max(1, limit-1) when the policy has a Timeout, else without a
// bound; its ctx ends the wait in every case. When the wait times out a
// lax policy (the default) logs a warning and goes on without the
// semaphore, and a strict one (SemaphoreLax(false)) returns a
// *SemaphoreTimeoutError, which matches ErrSemaphoreTimeout.
//
// # Logging
//
// Each retry is logged at Debug and each lax semaphore timeout at Warn,
// with attributes: "attempt", "attempts", "delay", "error", "semaphore",
// "limit", "timeout" (the bound on the wait), and inside a handler "bus", "event_type", "event_id"
// and "handler". The records go to WithLogger's logger, else to the bus's
// logger inside a handler, else to slog.Default(). OnRetry(f) is told of
// each retry too.
//
// # Cost
//
// A policy with neither Timeout nor Semaphore adds a function call and no
// allocation to a handler call that succeeds at once: in the package perf
// benchmark (batches of 512 events, one handler), Attempts(3) measured
// within the machine's noise of the bare bus, about 10% over it, with the
// same single allocation per event. A Timeout costs what deriving a
// context.WithTimeout from the handler's ctx costs, per attempt: 10 more
// allocations (570 bytes) per event, and about three times the bare bus's
// time per event in that benchmark. To bound a handler without retrying
// it, api.WithHandlerTimeout, which the bus's own watchdog enforces, is
// cheaper. A Semaphore adds a registry lookup
// under a mutex and a context.WithValue per call.
package retry
