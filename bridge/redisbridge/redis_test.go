package redisbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/redisbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/internal/services"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func redisURL(t testing.TB) string {
	return "redis://" + services.Require(t, services.Redis) + "/0"
}

func newBridge(t testing.TB, url, channel string, opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := redisbridge.New(url, channel, redisbridge.WithBridgeOptions(opts...))
	require.NoError(t, err)
	return b
}

func TestConformance_BR20_BR21(t *testing.T) {
	url := redisURL(t)
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    true,
		Ordered: true,
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			ch := services.Unique(t, "ringbus")
			raw := rawClient(t)
			return bridgetest.Pair{
				Sender:   newBridge(t, url, ch, opts...),
				Receiver: newBridge(t, url, ch, opts...),
				Raw: func(ctx context.Context, data []byte) error {
					return raw.Publish(ctx, ch, data).Err()
				},
				NewReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge { return newBridge(t, url, ch, opts...) },
			}
		},
	})
}

func rawClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: services.Require(t, services.Redis),
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestURLRules_BR20(t *testing.T) {
	for _, tc := range []struct {
		url, channel, want string
	}{
		{"redis://127.0.0.1:6379", "", "abxbus_events"},
		{"redis://127.0.0.1:6379/2", "", "abxbus_events"},
		{"redis://127.0.0.1:6379/2/orders", "", "orders"},
		{"redis://127.0.0.1:6379/2/orders", "billing", "billing"},
		{"rediss://user:pw@127.0.0.1:6380/0/x", "", "x"},
	} {
		tr, err := redisbridge.NewTransport(tc.url, tc.channel)
		require.NoError(t, err, tc.url)
		assert.Equal(t, tc.want, tr.Channel(), tc.url)
		require.NoError(t, tr.Close(context.Background()))
	}
	for _, bad := range []string{"redis://127.0.0.1:6379/a", "redis://127.0.0.1:6379/0/b/c", "http://127.0.0.1:6379/0", "redis:///0", "::"} {
		_, err := redisbridge.NewTransport(bad, "")
		assert.ErrorIs(t, err, bridge.ErrConfig, bad)
	}
}

func TestWireExact_BR20_BR21(t *testing.T) {
	// On start the init key is set with abxbus's TTL; what is published
	// is exactly the event's JSON; the URL's database is used.
	url := redisURL(t)
	raw := rawClient(t)
	ctx := context.Background()
	ch := services.Unique(t, "ringbus")
	sub := raw.Subscribe(ctx, ch)
	defer func() { _ = sub.Close() }()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)

	b := newBridge(t, url, ch, bridge.WithSyncEmit())
	defer func() { _ = b.Close(ctx) }()
	require.NoError(t, b.Start(ctx))
	ttl, err := raw.TTL(ctx, "__abxbus:bridge_init__").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0))
	assert.LessOrEqual(t, ttl, 60*time.Second)

	e, err := api.NewEvent("Exact", map[string]any{"k": "v"})
	require.NoError(t, err)
	require.NoError(t, b.Emit(ctx, e))
	msg, err := sub.ReceiveMessage(ctx)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(msg.Payload), &got))
	assert.Equal(t, e.ID(), got["event_id"])
	assert.Equal(t, "v", got["k"])
	assert.NotContains(t, msg.Payload, "\n", "compact JSON")
}

func TestBrokerRestartWhileStreaming(t *testing.T) {
	// A Redis the test owns is killed and restarted while 10k events
	// stream: the bridges reconnect by themselves, events sent after the
	// restart arrive, and what the receiver missed is reported.
	srv := services.StartRedis(t)
	ctx := context.Background()
	ch := services.Unique(t, "ringbus")
	var lostReports, disconnects atomic.Int64
	onErr := bridge.WithErrorHandler(func(err error) {
		var le *bridge.LostError
		switch {
		case errors.As(err, &le):
			lostReports.Add(1)
		case errors.Is(err, bridge.ErrDisconnected):
			disconnects.Add(1)
		}
	})
	sender := newBridge(t, srv.URL(), ch, onErr, bridge.WithRetryBackoff(5*time.Millisecond, 100*time.Millisecond))
	receiver := newBridge(t, srv.URL(), ch, onErr)
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		assert.NoError(t, sender.Close(cctx))
		assert.NoError(t, receiver.Close(cctx))
	}()
	var got atomic.Int64
	seen := make([]atomic.Bool, 10001)
	_, err := receiver.On("Stream", func(_ context.Context, e *api.BaseEvent) (any, error) {
		v, _ := e.Field("seq")
		n, _ := v.(json.Number).Int64()
		if !seen[n].Swap(true) {
			got.Add(1)
		}
		return nil, nil
	})
	require.NoError(t, err)
	require.NoError(t, receiver.Start(ctx))
	const total = 10000
	for i := range total {
		if i == total/2 {
			srv.Kill()
			time.AfterFunc(200*time.Millisecond, func() { srv.Restart(t) })
		}
		e, err := api.NewEvent("Stream", map[string]any{"seq": i})
		require.NoError(t, err)
		require.NoError(t, sender.Emit(ctx, e))
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, sender.Flush(fctx))
	// After the restart both sides are back: a last event must arrive.
	require.Eventually(t, func() bool {
		e, _ := api.NewEvent("Stream", map[string]any{"seq": total})
		_ = sender.Emit(ctx, e)
		_ = sender.Flush(fctx)
		return seen[total].Load()
	}, 20*time.Second, 50*time.Millisecond, "an event sent after the restart arrives")
	st := sender.Stats()
	t.Logf("sent %d (send errors %d), received %d distinct of %d, receiver reported %d disconnects and %d possible-loss gaps",
		st.Sent, st.SendErrors, got.Load(), total+1, disconnects.Load(), lostReports.Load())
	assert.Positive(t, disconnects.Load(), "the outage was reported")
	if got.Load() < total+1 {
		assert.Positive(t, lostReports.Load(), "events were missed and no gap was reported")
	}
}

func TestCloseWhileRedisIsDown(t *testing.T) {
	srv := services.StartRedis(t)
	ctx := context.Background()
	b := newBridge(t, srv.URL(), services.Unique(t, "ringbus"), bridge.WithErrorHandler(func(error) {}))
	require.NoError(t, b.Start(ctx))
	srv.Kill()
	for i := range 100 {
		e, _ := api.NewEvent("Doomed", map[string]any{"seq": i})
		require.NoError(t, b.Emit(ctx, e))
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := b.Close(cctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	st := b.Stats()
	assert.Equal(t, uint64(100), st.Sent+st.Lost, "every event sent or reported lost")
}
