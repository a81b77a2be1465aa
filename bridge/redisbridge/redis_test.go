package redisbridge_test

import (
	"context"
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
	// is exactly the event's JSON as the encoder writes it, one PUBLISH per
	// event and in order when a batch goes in one pipeline.
	url := redisURL(t)
	raw := rawClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := services.Unique(t, "ringbus")
	sub := raw.Subscribe(ctx, ch)
	defer func() { _ = sub.Close() }()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)

	b := newBridge(t, url, ch)
	defer func() { _ = b.Close(ctx) }()
	require.NoError(t, b.Start(ctx))
	val, err := raw.Get(ctx, "__abxbus:bridge_init__").Result()
	require.NoError(t, err)
	assert.Equal(t, "1", val)
	ttl, err := raw.TTL(ctx, "__abxbus:bridge_init__").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0))
	assert.LessOrEqual(t, ttl, 60*time.Second)

	var want []string
	for i := range 300 { // more than a batch: two pipelines
		e := bridgetest.Event(t, "Exact", map[string]any{"seq": i, "text": "héllo \"q\" \u2028"})
		want = append(want, string(bridgetest.Encode(t, e)))
		require.NoError(t, b.Emit(ctx, e))
	}
	require.NoError(t, b.Flush(ctx))
	for i, w := range want {
		msg, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, w, msg.Payload, "message %d", i)
	}
}

func TestInitKeyAndDatabase_BR20(t *testing.T) {
	// On a Redis of the test's own: the init key goes to the URL's
	// database, only if it is not there (NX), and the channel is the
	// server's, whatever the database.
	srv := services.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db := func(n int) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: n,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	b := newBridge(t, "redis://"+srv.Addr()+"/3/shared", "")
	defer func() { _ = b.Close(ctx) }()
	require.NoError(t, b.Start(ctx))
	for n, want := range map[int]int64{0: 0, 3: 1, 5: 0} {
		got, err := db(n).Exists(ctx, "__abxbus:bridge_init__").Result()
		require.NoError(t, err)
		assert.Equal(t, want, got, "init key in database %d", n)
	}

	// NX: a key already there keeps its value and its TTL (none here).
	db5 := db(5)
	require.NoError(t, db5.Set(ctx, "__abxbus:bridge_init__", "mine", 0).Err())
	c := newBridge(t, "redis://"+srv.Addr()+"/5", "shared")
	defer func() { _ = c.Close(ctx) }()
	require.NoError(t, c.Start(ctx))
	val, err := db5.Get(ctx, "__abxbus:bridge_init__").Result()
	require.NoError(t, err)
	assert.Equal(t, "mine", val)
	ttl, err := db5.TTL(ctx, "__abxbus:bridge_init__").Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl, "no TTL added to an existing key")

	// Bridges on databases 3 and 5 share the channel.
	var got atomic.Int64
	_, err = c.On("AcrossDatabases", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil })
	require.NoError(t, err)
	require.NoError(t, b.Emit(ctx, bridgetest.Event(t, "AcrossDatabases", nil)))
	bridgetest.WaitFor(t, 10*time.Second, "the event on the other database's bridge", func() bool { return got.Load() == 1 })
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
