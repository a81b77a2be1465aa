package natsbridge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/services"
)

// reports counts what a bridge reports.
type reports struct {
	disconnects, reconnects, lostCount atomic.Int64
	mu                                 sync.Mutex
	other                              []error
}

func (r *reports) add(err error) {
	var lost *bridge.LostError
	switch {
	case errors.As(err, &lost):
		if strings.Contains(lost.Error(), "reconnected") {
			r.reconnects.Add(1)
		}
		r.lostCount.Add(int64(lost.Count))
	case errors.Is(err, bridge.ErrDisconnected):
		r.disconnects.Add(1)
	default:
		r.mu.Lock()
		r.other = append(r.other, err)
		r.mu.Unlock()
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReconnectAfterRestart_BR23(t *testing.T) {
	// The server is killed and restarted while 10k events stream: both
	// bridges report the disconnection and the possible loss, reconnect by
	// themselves, and every event emitted once both are back arrives.
	srv := services.StartNATS(t)
	subject := services.Unique(t, "ringbus")
	var repA, repB reports
	a := newBridge(t, srv.URL(), subject, natsbridgeOpts(repA.add)...)
	b := newBridge(t, srv.URL(), subject, natsbridgeOpts(repB.add)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 10000
	got := make([]atomic.Bool, n)
	var received atomic.Int64
	if _, err := b.On("Stream", func(_ context.Context, e *api.BaseEvent) (any, error) {
		v, _ := e.Field("seq")
		if s, ok := asInt(v); ok && s >= 0 && s < n && !got[s].Swap(true) {
			received.Add(1)
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, br := range []*bridge.Bridge{a, b} {
		if err := br.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var emitted atomic.Int64
	emitDone := make(chan error, 1)
	go func() {
		for i := range n {
			e, err := api.NewEvent("Stream", map[string]any{"seq": i})
			if err == nil {
				err = a.Emit(ctx, e)
			}
			if err != nil {
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
	waitUntil(t, 30*time.Second, "3000 events before the kill", func() bool { return received.Load() >= 3000 })
	srv.Kill()
	killedAt := emitted.Load()
	time.Sleep(200 * time.Millisecond)
	srv.Restart(t)
	waitUntil(t, 30*time.Second, "both bridges to reconnect", func() bool {
		return repA.reconnects.Load() >= 1 && repB.reconnects.Load() >= 1
	})
	mark := emitted.Load()
	if err := <-emitDone; err != nil {
		t.Fatal(err)
	}
	if mark > n-1000 {
		t.Fatalf("the stream was almost over (%d of %d) when the bridges were back: nothing tests the recovery", mark, n)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the events emitted after the reconnection", func() bool {
		for s := mark; s < n; s++ {
			if !got[s].Load() {
				return false
			}
		}
		return true
	})
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelClose()
	if err := a.Close(closeCtx); err != nil {
		t.Error(err)
	}
	if err := b.Close(closeCtx); err != nil {
		t.Error(err)
	}
	st := a.Stats()
	t.Logf("emitted %d (%d when killed, %d once both reconnected); sender: sent %d, send errors %d, lost %d, disconnects %d; receiver: received %d distinct, disconnects %d, reconnects %d, reported lost %d",
		n, killedAt, mark, st.Sent, st.SendErrors, st.Lost, repA.disconnects.Load(), received.Load(),
		repB.disconnects.Load(), repB.reconnects.Load(), repB.lostCount.Load())
	if repA.disconnects.Load() < 1 || repB.disconnects.Load() < 1 {
		t.Errorf("disconnections reported: sender %d, receiver %d; want at least 1 each", repA.disconnects.Load(), repB.disconnects.Load())
	}
	if st.Sent != n {
		t.Errorf("the sender sent %d events, want all %d (it retries while the server is down)", st.Sent, n)
	}
	repA.mu.Lock()
	defer repA.mu.Unlock()
	for _, err := range repA.other {
		if !errors.Is(err, bridge.ErrSend) { // failed sends while the server was down
			t.Errorf("sender reported %v", err)
		}
	}
}

func TestCloseWhileServerDown_BR23(t *testing.T) {
	// Close returns within its context while the server is dead, and the
	// events it could not send are reported lost.
	srv := services.StartNATS(t)
	var rep reports
	a := newBridge(t, srv.URL(), services.Unique(t, "ringbus"), natsbridgeOpts(rep.add)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	waitUntil(t, 10*time.Second, "the disconnection", func() bool { return rep.disconnects.Load() >= 1 })
	const n = 50
	for i := range n {
		e, _ := api.NewEvent("Doomed", map[string]any{"seq": i})
		if err := a.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelClose()
	start := time.Now()
	err := a.Close(closeCtx)
	took := time.Since(start)
	t.Logf("Close took %v: %v", took, err)
	if took > 3*time.Second {
		t.Errorf("Close took %v with a 500ms context", took)
	}
	if st := a.Stats(); st.Sent+st.Lost != n {
		t.Errorf("emitted %d, sent %d, reported lost %d", n, st.Sent, st.Lost)
	}
}
