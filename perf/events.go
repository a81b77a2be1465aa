package perf

import "github.com/ringbus/ringbus/api"

// The event types of the five scenarios, named like the reference harness's
// so that their event_type strings match. No handler returns a value, so
// their result type is struct{} (stored as nil, like Python's None).

// PerfSimpleEvent is the event of the 50k-events and 500-buses scenarios.
type PerfSimpleEvent struct { //nolint:revive // named like the reference harness's type so the event_type matches
	api.Event[struct{}]
	BatchID int `json:"batch_id"`
	Value   int `json:"value"`
}

// PerfTrimEvent is the trim event of the 50k-events scenario.
type PerfTrimEvent struct{ api.Event[struct{}] } //nolint:revive // named like the reference harness's type so the event_type matches

// PerfTrimEphemeralEvent is the trim event of the 500-buses scenario.
type PerfTrimEphemeralEvent struct{ api.Event[struct{}] } //nolint:revive // named like the reference harness's type so the event_type matches

// PerfFixedHandlersEvent is the one event of the 50k-parallel-handlers
// scenario.
type PerfFixedHandlersEvent struct { //nolint:revive // named like the reference harness's type so the event_type matches
	api.Event[struct{}]
	BaseValue int `json:"base_value"`
}

// PerfTrimFixedHandlersEvent is the trim event of the 50k-parallel-handlers
// scenario.
type PerfTrimFixedHandlersEvent struct{ api.Event[struct{}] } //nolint:revive // named like the reference harness's type so the event_type matches

// PerfRequestEvent is the event of the one-off-handlers scenario.
type PerfRequestEvent struct { //nolint:revive // named like the reference harness's type so the event_type matches
	api.Event[struct{}]
	Value int `json:"value"`
}

// PerfTrimOnOffEvent is the trim event of the one-off-handlers scenario.
type PerfTrimOnOffEvent struct{ api.Event[struct{}] } //nolint:revive // named like the reference harness's type so the event_type matches

// WCParent is the parent event of the worst-case scenario.
type WCParent struct {
	api.Event[struct{}]
	Iteration int `json:"iteration"`
	Value     int `json:"value"`
}

// WCChild is emitted by the worst case's ephemeral parent handler on bus A
// and forwarded by hand to bus C.
type WCChild struct {
	api.Event[struct{}]
	Iteration int `json:"iteration"`
	Value     int `json:"value"`
}

// WCGrandchild is emitted by the worst case's child handler on bus C.
type WCGrandchild struct {
	api.Event[struct{}]
	Iteration int `json:"iteration"`
	Value     int `json:"value"`
}

// WCTrimEvent is the trim event of the worst-case scenario.
type WCTrimEvent struct{ api.Event[struct{}] }
