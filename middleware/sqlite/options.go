package sqlitemirror

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/wire"
)

// Option configures Open.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// QueueFullPolicy says what a hook does when the Mirror's queue is full.
type QueueFullPolicy uint8

const (
	// QueueBlock makes the hook wait for room in the queue, and so the bus
	// with it: no row is lost, and a bus cannot outrun the disk for longer
	// than the queue lasts. The default.
	QueueBlock QueueFullPolicy = iota
	// QueueDrop drops the row at once: the bus never waits for the disk,
	// and the rows dropped are counted (Stats.Dropped) and reported as an
	// *Error matching ErrQueueFull.
	QueueDrop
)

// String returns "block" or "drop".
func (p QueueFullPolicy) String() string {
	if p == QueueDrop {
		return "drop"
	}
	return "block"
}

// The defaults of the options.
const (
	// DefaultQueueSize is how many rows may wait for the writer.
	DefaultQueueSize = 8192
	// DefaultBatchSize is the most rows one transaction inserts.
	DefaultBatchSize = 512
	// DefaultFlushInterval is how long a batch waits for more rows after
	// its first before it is written.
	DefaultFlushInterval = 20 * time.Millisecond
	// DefaultBusyTimeout is how long a write waits for another
	// connection's write transaction (another process's mirror) to end.
	DefaultBusyTimeout = 5 * time.Second
)

type config struct {
	queue       int
	full        QueueFullPolicy
	batch       int
	interval    time.Duration
	busyTimeout time.Duration
	enc         wire.Encoder
	logger      *slog.Logger
	onError     func(error)
	beforeWrite func(rows int) (skip bool) // tests only: runs before each batch's transaction; skip drops it
}

func defaultConfig() config {
	return config{
		queue:       DefaultQueueSize,
		batch:       DefaultBatchSize,
		interval:    DefaultFlushInterval,
		busyTimeout: DefaultBusyTimeout,
		logger:      slog.Default(),
	}
}

func (c *config) validate() error {
	switch {
	case c.queue < 1:
		return fmt.Errorf("%w: queue size %d, want at least 1", ErrInvalidOption, c.queue)
	case c.batch < 1:
		return fmt.Errorf("%w: batch size %d, want at least 1", ErrInvalidOption, c.batch)
	case c.interval < 0:
		return fmt.Errorf("%w: flush interval %v, want 0 or more", ErrInvalidOption, c.interval)
	case c.busyTimeout < 0:
		return fmt.Errorf("%w: busy timeout %v, want 0 or more", ErrInvalidOption, c.busyTimeout)
	case c.full > QueueDrop:
		return fmt.Errorf("%w: queue full policy %d", ErrInvalidOption, c.full)
	}
	return nil
}

// WithQueueSize sets how many rows may wait for the writer
// (DefaultQueueSize by default). Each waiting row holds its JSON.
func WithQueueSize(n int) Option { return optionFunc(func(c *config) { c.queue = n }) }

// WithQueueFullPolicy sets what a hook does when the queue is full:
// QueueBlock (the default) waits for room, QueueDrop drops the row.
func WithQueueFullPolicy(p QueueFullPolicy) Option {
	return optionFunc(func(c *config) { c.full = p })
}

// WithBatchSize sets the most rows one transaction inserts
// (DefaultBatchSize by default).
func WithBatchSize(n int) Option { return optionFunc(func(c *config) { c.batch = n }) }

// WithFlushInterval sets how long a batch waits for more rows after its
// first one before it is written (DefaultFlushInterval by default). Zero
// writes whatever is queued as soon as the writer is free. Flush and Close
// write at once, whatever the interval.
func WithFlushInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval = d })
}

// WithBusyTimeout sets how long a write waits for another connection's
// write transaction, such as another process mirroring into the same file
// (DefaultBusyTimeout by default). A batch that waits longer fails with
// ErrWrite.
func WithBusyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.busyTimeout = d })
}

// WithEncoder sets the encoder of event_json. The default, the zero
// wire.Encoder, writes the event JSON of abxbus 2.4.2, without result
// rows; wire.Encoder{Mode: wire.Upstream} adds event_results.
// event_result_json is the row's EventResult JSON either way.
func WithEncoder(enc wire.Encoder) Option { return optionFunc(func(c *config) { c.enc = enc }) }

// WithLogger sets the logger of the Mirror's records (slog.Default() by
// default): a failed batch at Error; an event that cannot be encoded, and
// the first row dropped (queue full, or after Close) at Warn; later drops
// at Debug. The attributes are path, op, rows, event_id, event_type and
// error.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithErrorHandler sets a function that receives every failure as an
// *Error when it happens: a failed batch (on the Mirror's goroutine), an
// encode failure or a dropped row (on the goroutine of the hook). It must
// not block for long and must not call Close or Flush.
func WithErrorHandler(f func(error)) Option { return optionFunc(func(c *config) { c.onError = f }) }
