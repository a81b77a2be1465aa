package redisbridge_test

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/internal/services"
)

// BenchmarkRedis compares a ringbus bridge pair (emit on one, handled on
// the other, each on its own connections) with go-redis alone moving the
// same JSON on the same server in the same run: events per second, and one
// event's latency end to end (p50, p99).
func BenchmarkRedis(b *testing.B) {
	url := redisURL(b)
	ctx := context.Background()
	ev := bridgetest.BenchEvent(b, 0)
	data := bridgetest.Encode(b, ev)
	b.Run("ringbus", func(b *testing.B) {
		send, c := ringbusPair(b, url)
		bridgetest.MeasureRate(b, func(int) error { return send.Emit(ctx, ev) }, c.Load)
	})
	b.Run("raw", func(b *testing.B) {
		ch, c := rawSubscriber(b)
		queue := make(chan []byte, bridge.DefaultQueueSize)
		done := rawPublisher(b, ch, queue)
		bridgetest.MeasureRate(b, func(int) error { queue <- data; return nil }, c.Load)
		close(queue)
		<-done
	})
	b.Run("latency/ringbus", func(b *testing.B) {
		send, c := ringbusPair(b, url)
		bridgetest.MeasureLatency(b, func(int) error { return send.Emit(ctx, ev) }, c.Got)
	})
	b.Run("latency/raw", func(b *testing.B) {
		ch, c := rawSubscriber(b)
		pub := rawClient(b)
		bridgetest.MeasureLatency(b, func(int) error { return pub.Publish(ctx, ch, data).Err() }, c.Got)
	})
}

// ringbusPair returns a sender bridge and the count of Bench events a
// receiver bridge on the same channel handled.
func ringbusPair(b *testing.B, url string) (*bridge.Bridge, *bridgetest.Counter) {
	ch := services.Unique(b, "ringbus")
	send, recv := newBridge(b, url, ch), newBridge(b, url, ch)
	return send, bridgetest.StartCounting(b, send, recv, "Bench")
}

// rawSubscriber subscribes a go-redis client of its own to a new channel
// and counts what arrives on it, until b ends.
func rawSubscriber(b *testing.B) (string, *bridgetest.Counter) {
	ch := services.Unique(b, "ringbus")
	ctx := context.Background()
	sub := rawClient(b).Subscribe(ctx, ch)
	if _, err := sub.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	c := bridgetest.NewCounter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := sub.ReceiveMessage(ctx); err != nil {
				return
			}
			c.Hit()
		}
	}()
	b.Cleanup(func() { _ = sub.Close(); <-done })
	return ch, c
}

// rawPublisher publishes what queue gives on ch with a go-redis client of
// its own, as the bridge does: what is waiting, up to a batch, in one
// pipeline. It closes the channel it returns when queue is closed.
func rawPublisher(b *testing.B, ch string, queue <-chan []byte) <-chan struct{} {
	pub := rawClient(b)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe := pub.Pipeline()
		for data := range queue {
			pipe.Publish(ctx, ch, data)
		fill:
			for pipe.Len() < bridge.DefaultBatchSize {
				select {
				case data, ok := <-queue:
					if !ok {
						break fill
					}
					pipe.Publish(ctx, ch, data)
				default:
					break fill
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	return done
}
