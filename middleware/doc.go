// Package middleware holds ringbus's built-in middlewares: values that
// implement api.Middleware and are given to a bus with api.WithMiddlewares.
//
//	logger := middleware.Slog(slog.Default())
//	bus, err := api.NewBus("Orders",
//		api.WithMiddlewares(middleware.AutoError(), middleware.AutoReturn(), logger))
//
// # Events for outcomes
//
//   - AutoError emits "<Type>ErrorEvent" when a handler of a Type event
//     fails, with the payload fields "error" ({"type", "message"} on the
//     wire) and "error_type".
//   - AutoReturn emits "<Type>ResultEvent" when a handler of a Type event
//     returns a value that is not nil and not an event, with the payload
//     field "data".
//   - AutoHandlerChange emits BusHandlerRegisteredEvent and
//     BusHandlerUnregisteredEvent when a handler is registered or removed,
//     with the payload field "handler" (the handler's abxbus JSON).
//
// They emit on the bus whose hook fired, the way the abxbus Python package
// does, so handlers on other buses and in other runtimes (through a bridge)
// can react to outcomes that otherwise stay in the result rows. Event types
// ending in "ErrorEvent" or "ResultEvent" never produce further events, so
// a failing handler of an ErrorEvent does not start a chain.
//
// # Logs
//
//   - Logger writes one line per completed event, "[Bus#ab12] {...}", the
//     event's event_* fields as compact JSON, to stdout or another writer and
//     optionally to a file.
//   - Slog writes every event and result-row transition as a structured
//     log/slog record with attributes.
//
// # Concurrency
//
// Every middleware of this package is safe for concurrent use and may be
// given to several buses. None may be copied after first use.
package middleware
