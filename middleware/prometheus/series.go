package ringbusprom

import (
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/puzpuzpuz/xsync/v4"
)

// The series a collector keeps. Each is created once, on the first event
// or row that needs it (the slow path, which may lock an xsync bucket), and
// then found with one lock-free map read and updated with atomic adds. A
// series is never removed: its counters must only go up.

// Why a handler's row ended without the handler finishing on its own: the
// values of the cause label. The order is the index into
// typeSeries.cancels.
const (
	causeHandlerTimeout = iota
	causeEventTimeout
	causeParentTimeout
	causeParentAborted
	causeFirstResult
	causeBusStopped
	causeOther
	numCauses
)

var causeLabels = [numCauses]string{
	causeHandlerTimeout: "handler_timeout",
	causeEventTimeout:   "event_timeout",
	causeParentTimeout:  "parent_timeout",
	causeParentAborted:  "parent_aborted",
	causeFirstResult:    "first_result",
	causeBusStopped:     "bus_stopped",
	causeOther:          "other",
}

// typeSeries holds the counters of one event_type label value.
type typeSeries struct {
	label     string
	started   atomic.Uint64
	completed atomic.Uint64 // completed without a failed row
	failed    atomic.Uint64 // completed with at least one failed row
	cancels   [numCauses]atomic.Uint64

	// handlers maps a handler name to its series; beyond the collector's
	// handler limit, rows go to otherHandler.
	handlers     *xsync.Map[string, *handlerSeries]
	otherHandler atomic.Pointer[handlerSeries]
	// last is the series the previous row of this type used: with one
	// handler per event type, the common case, it saves the map read.
	last atomic.Pointer[handlerSeries]
}

func newTypeSeries(label string) *typeSeries {
	return &typeSeries{label: label, handlers: xsync.NewMap[string, *handlerSeries]()}
}

// handlerSeries holds the counters and duration histogram of one
// (event_type, handler) label pair.
type handlerSeries struct {
	ts        *typeSeries // its event type's series
	eventType string
	handler   string // the label value
	name      string // the handler name it was created for (for the caches)
	errors    atomic.Uint64
	timeouts  atomic.Uint64
	hist      histogram
}

// histogram is a lock-free duration histogram: per-bucket counts and a sum
// in nanoseconds. Its count is the sum of the bucket counts, so a scrape
// never sees a count that disagrees with its buckets.
type histogram struct {
	bounds []int64         // upper bounds in nanoseconds, shared, ascending
	counts []atomic.Uint64 // len(bounds)+1; the last is +Inf
	sum    atomic.Int64    // nanoseconds
}

func newHistogram(bounds []int64) histogram {
	return histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// observe records one duration of d nanoseconds. The buckets are scanned
// from the smallest: handlers of an in-process bus mostly fall in the
// first few, where a linear scan beats a binary search.
func (h *histogram) observe(d int64) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && h.bounds[i] < d {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(d)
}

// labelValue makes s usable as a label value: Prometheus requires UTF-8.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
