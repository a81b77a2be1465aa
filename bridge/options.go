package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/wire"
)

// Option configures a Bridge (see New and the transports' constructors).
type Option func(*config)

type config struct {
	name         string
	logger       *slog.Logger
	onError      func(error)
	enc          wire.Encoder
	dec          wire.Decoder
	maxMessage   int
	queueSize    int
	batchSize    int
	inboundQueue int
	syncEmit     bool
	propagator   Propagator
	busOpts      []api.Option
	retryMin     time.Duration
	retryMax     time.Duration
}

// Defaults of the options.
const (
	DefaultMaxMessageSize = 16 << 20 // bytes
	DefaultMaxDepth       = 1000     // levels of JSON nesting
	DefaultQueueSize      = 4096     // events waiting to be sent
	DefaultBatchSize      = 256      // events per transport Send
	DefaultInboundQueue   = 1024     // received events waiting for the inbound bus
)

func defaults() config {
	return config{
		logger:       slog.Default(),
		dec:          wire.Decoder{MaxDepth: DefaultMaxDepth},
		maxMessage:   DefaultMaxMessageSize,
		queueSize:    DefaultQueueSize,
		batchSize:    DefaultBatchSize,
		inboundQueue: DefaultInboundQueue,
		retryMin:     10 * time.Millisecond,
		retryMax:     time.Second,
	}
}

func (c *config) check() error {
	switch {
	case c.maxMessage <= 0:
		return fmt.Errorf("%w: max message size %d", ErrConfig, c.maxMessage)
	case c.queueSize <= 0:
		return fmt.Errorf("%w: queue size %d", ErrConfig, c.queueSize)
	case c.batchSize <= 0:
		return fmt.Errorf("%w: batch size %d", ErrConfig, c.batchSize)
	case c.inboundQueue <= 0:
		return fmt.Errorf("%w: inbound queue %d", ErrConfig, c.inboundQueue)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return nil
}

// WithName names the bridge and its inbound bus. The default is the
// transport's kind and 8 random characters ("RedisEventBridge_k3v9x0qa"),
// as abxbus names its bridges. Names must differ between the processes
// on one channel.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithLogger sets the logger of the bridge and its inbound bus. Without an
// error handler, the bridge logs its errors here at Warn level.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithErrorHandler makes the bridge pass f every error it recovers from
// instead of logging it: a received message dropped as invalid (matching
// ErrInvalidMessage or ErrMessageTooLarge), a failed send (ErrSend), a
// lost connection (ErrDisconnected), lost messages (*LostError). f is
// called from the bridge's goroutines and must not block for long.
func WithErrorHandler(f func(error)) Option { return func(c *config) { c.onError = f } }

// WithEncoder sets how events are written; the default writes the abxbus
// 2.4.2 form, which every abxbus release reads (see wire.Mode).
func WithEncoder(e wire.Encoder) Option { return func(c *config) { c.enc = e } }

// WithDecoder sets how received events are read. The default is strict
// (see wire.Decoder) and accepts at most DefaultMaxDepth levels of nesting.
func WithDecoder(d wire.Decoder) Option { return func(c *config) { c.dec = d } }

// WithMaxMessageSize drops received messages larger than n bytes
// (default DefaultMaxMessageSize).
func WithMaxMessageSize(n int) Option { return func(c *config) { c.maxMessage = n } }

// WithQueueSize sets how many events may wait to be sent (default
// DefaultQueueSize); Emit waits for room when they are that many.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = n } }

// WithBatchSize sets the most events handed to the transport at once
// (default DefaultBatchSize); transports that can pipeline send a batch
// in one round trip.
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// WithInboundQueue sets how many received events may wait for the
// inbound bus (default DefaultInboundQueue); the listener waits for room
// beyond that, so a slow consumer slows reading instead of growing memory.
func WithInboundQueue(n int) Option { return func(c *config) { c.inboundQueue = n } }

// WithSyncEmit makes Emit wait until the transport has taken the event
// (sent it, or for HTTP, had it accepted) and return the send's error.
// Concurrent emitters still share batches.
func WithSyncEmit() Option { return func(c *config) { c.syncEmit = true } }

// WithBusOptions adds options for the inbound bus (after the bridge's
// own: no history, a bounded queue, the bridge's logger), such as
// middlewares.
func WithBusOptions(opts ...api.Option) Option {
	return func(c *config) { c.busOpts = append(c.busOpts, opts...) }
}

// WithRetryBackoff sets the pause before sending again after a failed
// send: min at first, doubling up to max (defaults 10ms and 1s).
func WithRetryBackoff(min, max time.Duration) Option {
	return func(c *config) { c.retryMin, c.retryMax = min, max }
}

// Propagator carries trace context across a bridge in message headers,
// on the transports that have them (NATS and HTTP). Inject writes the
// context of ctx into headers when an event is sent; Extract returns ctx
// with the context read from a received message's headers, and the
// received event is emitted with it. The OpenTelemetry middleware's
// propagator (package ringbusotel) has this shape.
type Propagator interface {
	Inject(ctx context.Context, headers map[string]string)
	Extract(ctx context.Context, headers map[string]string) context.Context
}

// WithPropagator carries trace context in message headers (see
// Propagator). Event JSON never carries it.
func WithPropagator(p Propagator) Option { return func(c *config) { c.propagator = p } }
