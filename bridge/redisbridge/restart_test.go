package redisbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/internal/services"
)

// reports sorts what a bridge reports.
type reports struct {
	disconnects, gaps atomic.Int64
	mu                sync.Mutex
	other             []error
}

func (r *reports) add(err error) {
	var lost *bridge.LostError
	switch {
	case errors.As(err, &lost):
		r.gaps.Add(1)
	case errors.Is(err, bridge.ErrDisconnected):
		r.disconnects.Add(1)
	default:
		r.mu.Lock()
		r.other = append(r.other, err)
		r.mu.Unlock()
	}
}

func TestRestartWhileStreaming_BR21(t *testing.T) {
	// A Redis the test owns is killed and restarted while 10k events
	// stream. The sender keeps what it could not publish and publishes it
	// once Redis is back (go-redis retries a command itself, so the
	// bridge may see no failed send at all); the receiver reports the disconnection, subscribes
	// again by itself and reports the gap (pub/sub keeps nothing for a
	// subscriber that is away); every event emitted once the receiver is
	// back arrives, and every event that did not arrive was emitted before.
	srv := services.StartRedis(t)
	ch := services.Unique(t, "ringbus")
	var repA, repB reports
	sender := newBridge(t, srv.URL(), ch, bridge.WithErrorHandler(repA.add), bridge.WithRetryBackoff(5*time.Millisecond, 100*time.Millisecond))
	receiver := newBridge(t, srv.URL(), ch, bridge.WithErrorHandler(repB.add))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 10000
	var seen [n]atomic.Int32
	var received, dups atomic.Int64
	_, err := receiver.On("Stream", func(_ context.Context, e *api.BaseEvent) (any, error) {
		v, _ := e.Field("seq")
		s, err := v.(json.Number).Int64()
		if err != nil || s < 0 || s >= n {
			t.Errorf("unexpected seq %v", v)
			return nil, nil
		}
		if seen[s].Add(1) == 1 {
			received.Add(1)
		} else {
			dups.Add(1)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*bridge.Bridge{receiver, sender} {
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var emitted atomic.Int64
	emitDone := make(chan error, 1)
	go func() {
		for i := range n {
			if err := sender.Emit(ctx, bridgetest.Event(t, "Stream", map[string]any{"seq": i})); err != nil {
				emitDone <- err
				return
			}
			emitted.Add(1)
			if i%100 == 99 {
				time.Sleep(5 * time.Millisecond) // a stream, not one burst
			}
		}
		emitDone <- nil
	}()
	bridgetest.WaitFor(t, 30*time.Second, "3000 events before the kill", func() bool { return received.Load() >= 3000 })
	srv.Kill()
	killedAt := emitted.Load()
	time.Sleep(200 * time.Millisecond)
	srv.Restart(t)
	bridgetest.WaitFor(t, 30*time.Second, "the receiver to subscribe again", func() bool { return repB.gaps.Load() >= 1 })
	mark := emitted.Load()
	if err := <-emitDone; err != nil {
		t.Fatal(err)
	}
	if mark > n-1000 {
		t.Fatalf("the stream was almost over (%d of %d) when the receiver was back: nothing tests the recovery", mark, n)
	}
	if err := sender.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bridgetest.WaitFor(t, 30*time.Second, "the events emitted after the receiver was back", func() bool {
		for s := mark; s < n; s++ {
			if seen[s].Load() == 0 {
				return false
			}
		}
		return true
	})
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelClose()
	if err := sender.Close(closeCtx); err != nil {
		t.Error(err)
	}
	if err := receiver.Close(closeCtx); err != nil {
		t.Error(err)
	}
	st := sender.Stats()
	missed, firstMissed, lastMissed := 0, -1, -1
	for s := range n {
		if seen[s].Load() == 0 {
			missed++
			lastMissed = s
			if firstMissed < 0 {
				firstMissed = s
			}
		}
	}
	t.Logf("emitted %d (%d when killed, %d once the receiver was back); sender: sent %d, send errors %d, lost %d; "+
		"receiver: received %d distinct (+%d duplicates), missed %d (seq %d..%d), disconnects %d, gaps reported %d",
		n, killedAt, mark, st.Sent, st.SendErrors, st.Lost, received.Load(), dups.Load(), missed, firstMissed, lastMissed,
		repB.disconnects.Load(), repB.gaps.Load())
	if st.Sent != n || st.Lost != 0 {
		t.Errorf("the sender sent %d and lost %d of %d events; it should retry until Redis is back", st.Sent, st.Lost, n)
	}
	if repB.disconnects.Load() < 1 {
		t.Error("the receiver did not report the disconnection")
	}
	if received.Load()+int64(missed) != n {
		t.Errorf("received %d + missed %d != emitted %d", received.Load(), missed, n)
	}
	if lastMissed >= int(mark) {
		t.Errorf("seq %d, emitted after the receiver was back, did not arrive", lastMissed)
	}
	for _, r := range []*reports{&repA, &repB} {
		r.mu.Lock()
		for _, err := range r.other {
			if !errors.Is(err, bridge.ErrSend) { // failed sends while Redis was down
				t.Errorf("reported %v", err)
			}
		}
		r.mu.Unlock()
	}
}
