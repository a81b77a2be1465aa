// Package redisbridge is the Redis transport of package bridge, the one
// abxbus calls RedisEventBridge: events are published on a Redis pub/sub
// channel as their JSON, and every bridge subscribed to the channel
// receives them, its own included.
//
// Redis pub/sub keeps nothing: a subscriber sees what is published while
// it is subscribed. When the connection drops, the bridge reconnects and
// subscribes again by itself and reports the gap as a *bridge.LostError,
// since messages published meanwhile are gone. Sending retries until Redis
// is back, so the sender loses nothing it queued while Redis was away.
//
// This package is its own module, so only programs that use it depend on
// github.com/redis/go-redis/v9.
package redisbridge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/ringbus/ringbus/bridge"
)

// DefaultChannel is the channel used when neither the constructor nor the
// URL names one, as in abxbus.
const DefaultChannel = "abxbus_events"

// initKey is the key abxbus's Redis bridges set on start to check the
// connection and the database (BR-20).
const initKey = "__abxbus:bridge_init__"

// Option configures the transport, or the bridge New returns.
type Option func(*Transport)

// WithBridgeOptions passes opts to the bridge New returns.
func WithBridgeOptions(opts ...bridge.Option) Option {
	return func(t *Transport) { t.bopts = append(t.bopts, opts...) }
}

// WithClient makes the transport publish and subscribe through c (its
// subscription takes a connection of its own) instead of a client built
// from the URL, whose host and database are then ignored. Close does not
// close c.
func WithClient(c *redis.Client) Option {
	return func(t *Transport) { t.client, t.ownClient = c, false }
}

// WithHealthCheck sets how long the subscriber waits for a message before
// it pings Redis to find out whether the connection still works (default
// 5s).
func WithHealthCheck(d time.Duration) Option { return func(t *Transport) { t.health = d } }

// Transport publishes events on a Redis channel and subscribes to it. Use
// New for a Bridge over it, or NewTransport with bridge.New.
type Transport struct {
	channel   string
	client    *redis.Client
	ownClient bool
	health    time.Duration
	bopts     []bridge.Option

	mu     sync.Mutex
	pubsub *redis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// NewTransport returns the transport for redisURL, of the form
// redis[s]://[user:password@]host:port[/db[/channel]] as abxbus takes it:
// the first path segment is the logical database (0 by default), the
// second the channel. channel, when not empty, wins over the URL's; the
// default is DefaultChannel. Note that Redis channels are global to a
// server, not per database.
func NewTransport(redisURL, channel string, opts ...Option) (*Transport, error) {
	connURL, urlChannel, err := parseURL(redisURL)
	if err != nil {
		return nil, err
	}
	switch {
	case channel != "":
	case urlChannel != "":
		channel = urlChannel
	default:
		channel = DefaultChannel
	}
	t := &Transport{channel: channel, health: 5 * time.Second}
	for _, o := range opts {
		o(t)
	}
	if t.client == nil {
		ro, err := redis.ParseURL(connURL)
		if err != nil {
			return nil, fmt.Errorf("%w: redis URL %q: %w", bridge.ErrConfig, redisURL, err)
		}
		// Maintenance notifications (a Redis Enterprise/Cloud feature) start
		// a goroutine per client that Close does not stop in go-redis
		// v9.22; a bridge must leave nothing running after Close.
		ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		t.client, t.ownClient = redis.NewClient(ro), true
	}
	if t.health <= 0 {
		t.health = 5 * time.Second
	}
	return t, nil
}

// New returns a bridge over the Redis channel, like abxbus's
// RedisEventBridge(redis_url, channel).
func New(redisURL, channel string, opts ...Option) (*bridge.Bridge, error) {
	t, err := NewTransport(redisURL, channel, opts...)
	if err != nil {
		return nil, err
	}
	b, err := bridge.New(t, t.bopts...)
	if err != nil && t.ownClient {
		_ = t.client.Close()
	}
	return b, err
}

// parseURL splits abxbus's Redis URL into the URL to connect to (path
// reduced to the database) and the channel it names, if any.
func parseURL(raw string) (connURL, channel string, err error) {
	// BR-20 (constructor rules): /<db>[/<channel>], db numeric; more
	// segments or a non-numeric db are refused.
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: redis URL: %w", bridge.ErrConfig, err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return "", "", fmt.Errorf("%w: redis URL %q: scheme must be redis or rediss", bridge.ErrConfig, raw)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("%w: redis URL %q: no host", bridge.ErrConfig, raw)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	db := "0"
	switch len(segs) {
	case 0:
	case 1, 2:
		if segs[0] != "" {
			if _, err := strconv.ParseUint(segs[0], 10, 16); err != nil {
				return "", "", fmt.Errorf("%w: redis URL %q: database %q is not a number", bridge.ErrConfig, raw, segs[0])
			}
			db = segs[0]
		}
		if len(segs) == 2 {
			if channel, err = url.PathUnescape(segs[1]); err != nil || channel == "" {
				return "", "", fmt.Errorf("%w: redis URL %q: bad channel", bridge.ErrConfig, raw)
			}
		}
	default:
		return "", "", fmt.Errorf("%w: redis URL %q: expected /<db>[/<channel>]", bridge.ErrConfig, raw)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), channel, nil
}

// Channel returns the channel the transport publishes on and listens to.
func (t *Transport) Channel() string { return t.channel }

// Kind returns "RedisEventBridge".
func (t *Transport) Kind() string { return "RedisEventBridge" }

// Open sets abxbus's init key (checking the connection and database),
// subscribes to the channel and starts listening.
func (t *Transport) Open(ctx context.Context, in bridge.Inbox) error {
	// BR-20: SET __abxbus:bridge_init__ 1 EX 60 NX, then SUBSCRIBE.
	if err := t.client.SetNX(ctx, initKey, 1, 60*time.Second).Err(); err != nil {
		return fmt.Errorf("redis bridge: %w", err)
	}
	ps := t.client.Subscribe(ctx)
	if err := ps.Subscribe(ctx, t.channel); err != nil {
		_ = ps.Close()
		return fmt.Errorf("redis bridge: subscribe %s: %w", t.channel, err)
	}
	// Wait for the confirmation: messages published after it reach us.
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			_ = ps.Close()
			return fmt.Errorf("redis bridge: subscribe %s: %w", t.channel, err)
		}
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" {
			break
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.pubsub, t.cancel, t.done = ps, cancel, make(chan struct{})
	t.mu.Unlock()
	// Two stages, so that reading the socket and decoding overlap: the
	// reader hands payloads to the deliverer in order.
	payloads := make(chan string, 1024)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for p := range payloads {
			// The payload is a fresh string go-redis made for this message
			// and nothing else holds: view it as bytes without a copy
			// (Deliver keeps nothing after it returns).
			in.Deliver(lctx, bridge.Message{Data: unsafe.Slice(unsafe.StringData(p), len(p))})
		}
	}()
	go func() {
		t.listen(lctx, ps, in, payloads)
		close(payloads)
		<-delivered
		close(t.done)
	}()
	return nil
}

// listen reads the subscription until Close. go-redis reconnects and
// subscribes again after a broken connection on the next read; a
// confirmation that arrives later than the first marks such a gap.
func (t *Transport) listen(ctx context.Context, ps *redis.PubSub, in bridge.Inbox, out chan<- string) {
	// BR-21: every message on the channel goes to the bridge (BR-4).
	down := false
	backoff := 20 * time.Millisecond
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, t.health)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var nerr interface{ Timeout() bool }
			if errors.As(err, &nerr) && nerr.Timeout() && !down {
				// Quiet channel: make sure the connection still works.
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			if !down {
				down = true
				in.Report(fmt.Errorf("%w: redis channel %s: %w", bridge.ErrDisconnected, t.channel, err))
			}
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			select {
			case out <- m.Payload:
			case <-ctx.Done():
				return
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Subscribed again after a reconnect: whatever was
				// published in between is lost (pub/sub keeps nothing).
				down, backoff = false, 20*time.Millisecond
				in.Report(&bridge.LostError{Err: fmt.Errorf("redis channel %s: resubscribed after a lost connection", t.channel)})
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Send publishes the messages in one pipeline: one round trip for the
// batch.
func (t *Transport) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	// BR-21: PUBLISH <channel> <compact event JSON>.
	if len(msgs) == 1 {
		if err := t.client.Publish(ctx, t.channel, msgs[0].Data).Err(); err != nil {
			return 0, err
		}
		return 1, nil
	}
	pipe := t.client.Pipeline()
	for _, m := range msgs {
		pipe.Publish(ctx, t.channel, m.Data)
	}
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return len(msgs), nil
	}
	n := 0
	for _, c := range cmds {
		if c.Err() != nil {
			break
		}
		n++
	}
	return n, err
}

// Close unsubscribes and closes the connections (the client's only when
// the transport made it). It does not wait for Redis: a server that is
// down does not hold it up.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	ps, cancel, done := t.pubsub, t.cancel, t.done
	t.pubsub = nil
	t.mu.Unlock()
	var errs []error
	if cancel != nil {
		cancel()
		errs = append(errs, ps.Close()) // unblocks the listener's read
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
			<-done
		}
	}
	if t.ownClient {
		errs = append(errs, t.client.Close())
	}
	return errors.Join(errs...)
}
