// Package ringbusprom exports ringbus's own counters to Prometheus: events
// started and completed by event type, handler durations, errors, timeouts
// and cancellations, and the queue depth and history size of each bus.
//
// The package is named ringbusprom, not prometheus, so that it can be
// imported next to github.com/prometheus/client_golang/prometheus without
// renaming either:
//
//	c, err := ringbusprom.New()
//	if err != nil { ... }
//	prometheus.MustRegister(c)
//	bus, err := api.NewBus("Orders", api.WithMiddlewares(c))
//
// A Collector is both a prometheus.Collector and an api.Middleware: its
// hooks count what happens with atomic adds, and a scrape reads the counts
// and the buses' gauges. Nothing runs in between: the collector starts no
// goroutine.
//
// # Metrics
//
//	ringbus_events_started_total{event_type}                counter
//	ringbus_events_completed_total{event_type,status}       counter, status completed|failed
//	ringbus_handler_duration_seconds{event_type,handler}    histogram
//	ringbus_handler_errors_total{event_type,handler}        counter
//	ringbus_handler_timeouts_total{event_type,handler}      counter
//	ringbus_handler_cancellations_total{event_type,cause}   counter
//	ringbus_queue_depth{bus}                                gauge
//	ringbus_history_size{bus}                               gauge
//
// An event is started when the first bus begins processing it, and
// completed when it and its children have completed. It has failed when
// one of its handler rows ended with an error; a handler cancelled because
// another won a first-result race (api.CompleteFirst) is no failure, and is
// counted only as a cancellation with cause first_result.
//
// A handler's duration runs from its start to the end of its row, so a
// handler stopped at a deadline is measured to the deadline; a handler
// cancelled before it started has no duration. The cause label of
// ringbus_handler_cancellations_total says why the bus stopped a handler,
// whether it was running (aborted) or had not started (cancelled):
// handler_timeout (its own timeout; also counted per handler in
// ringbus_handler_timeouts_total), event_timeout, parent_timeout and
// parent_aborted (the handler awaiting the event timed out or was
// aborted), first_result, and bus_stopped (Stop or Close).
//
// The gauges are read from each bus at scrape time, labelled with the
// bus's name; buses of one name (in different domains) are summed. The
// queue depth counts the events in a bus's queue that its dispatcher has
// not taken yet: it takes them in batches, so a burst of events can be
// past the queue, and not counted, before it starts the first of them.
//
// # Label cardinality
//
// Every label is bounded. The first WithMaxEventTypes event types get
// series of their own, later ones share event_type="other"; the same goes
// for (event type, handler) pairs with WithMaxHandlers (handler="other")
// and for bus names with WithMaxBuses (bus="other"). The cause and status
// labels take the fixed values above. Series of event types and handlers
// are kept for the life of the collector, since counters must not go
// back; bus series go with their buses.
//
// # Buses
//
// Give the collector to every bus an event may visit: the completion of a
// forwarded event is reported by the bus that completes it. A bus the
// collector is given to is attached, for its gauges, when its first
// handler is registered; Attach attaches any other bus. A bus given the
// collector as a middleware is forgotten when it is stopped or closed
// (the collector implements api.BusCloseObserver); a bus attached by hand
// alone is checked at every scrape and dropped once closed (and closed
// ones are pruned whenever the set of attached buses doubles, so buses
// created and closed without scrapes do not pile up).
//
// # Cost
//
// Per event with one handler, the hooks read the event type twice, find
// the event type's series twice and the handler's once, each through a
// one-entry cache in front of a lock-free map, and do four atomic adds;
// nothing is allocated and the collector takes no lock of its own. A
// failed row also writes its event to a concurrent map until the event
// completes. On the batch benchmark (BenchmarkEmitBatchPrometheus: 512
// events emitted, then awaited, one handler) that is about 330
// instructions per event, on top of about 900 that the bus spends calling
// the hooks of any middleware, against 3,700 for the bare bus; in time
// the collector costs about 20% per event there (19% to 26% in runs on a
// shared 2-core machine), half of it the hook calls themselves.
package ringbusprom
