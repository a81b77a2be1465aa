package ringbusprom

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ringbus/ringbus/api"
)

// Default limits and buckets.
const (
	// DefaultMaxEventTypes is the number of distinct event_type label
	// values a collector keeps unless WithMaxEventTypes says otherwise.
	DefaultMaxEventTypes = 100
	// DefaultMaxHandlers is the number of distinct (event_type, handler)
	// label pairs a collector keeps unless WithMaxHandlers says otherwise.
	DefaultMaxHandlers = 200
	// DefaultMaxBuses is the number of distinct bus label values a
	// collector reports unless WithMaxBuses says otherwise.
	DefaultMaxBuses = 100
)

// DefaultBuckets returns the upper bounds, in seconds, of the handler
// duration histogram unless WithBuckets says otherwise: 10 µs to 10 s,
// since handlers of an in-process bus often take microseconds.
func DefaultBuckets() []float64 {
	return []float64{1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}
}

// OtherLabel is the label value that series beyond a cardinality limit
// are counted under (see WithMaxEventTypes, WithMaxHandlers and
// WithMaxBuses). An event type, handler or bus actually named "other" is
// counted under the same series.
const OtherLabel = "other"

// Option configures a Collector. Options are made by the With functions
// of this package.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	maxTypes    int
	maxHandlers int
	maxBuses    int
	buckets     []float64 // seconds, ascending
}

func defaultConfig() config {
	return config{
		maxTypes:    DefaultMaxEventTypes,
		maxHandlers: DefaultMaxHandlers,
		maxBuses:    DefaultMaxBuses,
		buckets:     DefaultBuckets(),
	}
}

// badOption returns an error matching api.ErrBadOption.
func badOption(format string, args ...any) error {
	return fmt.Errorf("%w: prometheus: %s", api.ErrBadOption, fmt.Sprintf(format, args...))
}

// WithMaxEventTypes limits the distinct event_type label values to n
// (DefaultMaxEventTypes without this option). The first n event types
// the collector sees get their own series; events of any later type are
// counted under event_type="other". n must be at least 1.
func WithMaxEventTypes(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return badOption("WithMaxEventTypes(%d): the limit must be at least 1", n)
		}
		c.maxTypes = n
		return nil
	})
}

// WithMaxHandlers limits the distinct (event_type, handler) label pairs of
// the handler metrics to n (DefaultMaxHandlers without this option).
// Beyond n, a handler's rows are counted under handler="other" of their
// event type, so the handler series are at most n plus one per event type.
// n must be at least 1.
func WithMaxHandlers(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return badOption("WithMaxHandlers(%d): the limit must be at least 1", n)
		}
		c.maxHandlers = n
		return nil
	})
}

// WithMaxBuses limits the distinct bus label values of the queue and
// history gauges to n (DefaultMaxBuses without this option). Buses whose
// name arrives when n names are in use are reported under bus="other"; a
// name is freed once every bus of that name has been closed and a scrape
// has seen it. n must be at least 1.
func WithMaxBuses(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return badOption("WithMaxBuses(%d): the limit must be at least 1", n)
		}
		c.maxBuses = n
		return nil
	})
}

// WithBuckets sets the upper bounds, in seconds, of the handler duration
// histogram's buckets (DefaultBuckets without this option). They must be
// finite, positive and strictly increasing; the +Inf bucket is implied.
// Bounds are kept at nanosecond resolution.
func WithBuckets(bounds ...float64) Option {
	bounds = slices.Clone(bounds)
	return optionFunc(func(c *config) error {
		if len(bounds) == 0 {
			return badOption("WithBuckets: no bucket bounds given")
		}
		for i, b := range bounds {
			switch {
			case math.IsNaN(b) || math.IsInf(b, 0) || b <= 0:
				return badOption("WithBuckets: bound %d is %v; bounds must be finite and positive", i, b)
			case b > float64(math.MaxInt64)/float64(time.Second):
				return badOption("WithBuckets: bound %d is %v s, beyond what a time.Duration holds", i, b)
			case i > 0 && b <= bounds[i-1]:
				return badOption("WithBuckets: bounds must increase, but bound %d (%v) follows %v", i, b, bounds[i-1])
			case i > 0 && nanos(b) <= nanos(bounds[i-1]):
				return badOption("WithBuckets: bounds %d and %d are less than a nanosecond apart", i-1, i)
			}
		}
		c.buckets = bounds
		return nil
	})
}

// nanos converts a bound in seconds to the whole nanoseconds a duration
// may have and still fall in its bucket (le is inclusive). The small
// allowance keeps 1e-5 at 10,000 ns despite the float product's error.
func nanos(seconds float64) int64 { return int64(math.Floor(seconds*float64(time.Second) + 1e-6)) }
