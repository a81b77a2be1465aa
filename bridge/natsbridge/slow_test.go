package natsbridge_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/natsbridge"
	"github.com/ringbus/ringbus/internal/services"
)

func TestSlowConsumerDropsCounted_BR23(t *testing.T) {
	// A receiver that cannot keep up has messages dropped by the client
	// (past its pending limit). Every drop is reported with its count, so
	// that received + reported lost = published, exactly; also the drops
	// of one run, which the client signals once, at the first.
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "own connection", true: "WithConn"}[shared]
		t.Run(name, func(t *testing.T) {
			url := sharedURL(t)
			subject := services.Unique(t, "ringbus")
			var lost, lostReports atomic.Int64
			opts := []natsbridge.Option{
				natsbridge.WithPendingLimits(20, 1<<20),
				natsbridge.WithBridgeOptions(bridge.WithInboundQueue(1), bridge.WithErrorHandler(func(err error) {
					var le *bridge.LostError
					if errors.As(err, &le) && errors.Is(err, nats.ErrSlowConsumer) {
						lost.Add(int64(le.Count))
						lostReports.Add(1)
					}
				})),
			}
			// recvConn is the receiver's connection, for round trips that
			// tell the client has read what was published before.
			recvConn := make(chan *nats.Conn, 1)
			if shared {
				nc := rawConn(t, url)
				recvConn <- nc
				opts = append(opts, natsbridge.WithConn(nc))
			} else {
				opts = append(opts, natsbridge.WithOptions(nats.ConnectHandler(func(nc *nats.Conn) { recvConn <- nc })))
			}
			recv := newBridge(t, url, subject, opts...)
			release := make(chan struct{})
			var got atomic.Int64
			if _, err := recv.On("Slow", func(ctx context.Context, _ *api.BaseEvent) (any, error) {
				select {
				case <-release:
				case <-ctx.Done():
				}
				got.Add(1)
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := recv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			nc := <-recvConn
			pub := rawConn(t, url)
			data := bridgetest.Encode(t, bridgetest.Event(t, "Slow", nil))
			publish := func(n int) {
				t.Helper()
				for range n {
					if err := pub.Publish(subject, data); err != nil {
						t.Fatal(err)
					}
				}
				if err := pub.FlushWithContext(ctx); err != nil {
					t.Fatal(err)
				}
				if err := nc.FlushWithContext(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// A first run of drops, signalled; then more drops in the same
			// run (nothing was delivered in between), not signalled.
			publish(100)
			if !shared {
				bridgetest.WaitFor(t, 10*time.Second, "the first drop to be reported", func() bool { return lostReports.Load() > 0 })
			}
			publish(1900)
			const n = 2000
			close(release)
			bridgetest.WaitFor(t, 10*time.Second, "received + reported lost to reach the published count", func() bool {
				return got.Load()+lost.Load() >= n
			})
			if err := recv.Close(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("published %d, received %d, reported lost %d in %d reports", n, got.Load(), lost.Load(), lostReports.Load())
			if got.Load()+lost.Load() != n {
				t.Errorf("received %d + reported lost %d != published %d", got.Load(), lost.Load(), n)
			}
			if got.Load() >= n-1900 {
				t.Errorf("received %d: the second 1900 messages were not dropped, the test made no slow consumer", got.Load())
			}
		})
	}
}
