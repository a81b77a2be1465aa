package redisbridge_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/redisbridge"
	"github.com/ringbus/ringbus/internal/services"
)

// freezer is a TCP proxy whose connections can be frozen: they stay open
// but forward nothing more, as when a network drops every packet. Later
// connections are forwarded again.
type freezer struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	frozen chan struct{} // closed by freeze; the connections made before it stop forwarding
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{l: l, target: target, frozen: make(chan struct{})}
	f.wg.Go(f.accept)
	t.Cleanup(func() {
		_ = l.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *freezer) addr() string { return f.l.Addr().String() }

func (f *freezer) accept() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, up)
		frozen := f.frozen
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(up, c, frozen) })
		f.wg.Go(func() { f.pipe(c, up, frozen) })
	}
}

// pipe copies from src to dst until frozen, then reads and drops.
func (f *freezer) pipe(dst, src net.Conn, frozen <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-frozen:
			n = 0 // swallowed
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			return
		}
	}
}

// freeze stops the connections open now from forwarding anything.
func (f *freezer) freeze() {
	f.mu.Lock()
	close(f.frozen)
	f.frozen = make(chan struct{})
	f.mu.Unlock()
}

func TestSilentConnectionReplaced_BR21(t *testing.T) {
	// The subscriber's connection goes silent without closing: pings
	// bring no pong, so the bridge reports the loss, subscribes again on a
	// new connection by itself and reports the gap, and events arrive
	// again.
	proxy := newFreezer(t, services.Require(t, services.Redis))
	ch := services.Unique(t, "ringbus")
	var rep reports
	recv, err := redisbridge.New("redis://"+proxy.addr()+"/0", ch, redisbridge.WithHealthCheck(50*time.Millisecond),
		redisbridge.WithBridgeOptions(bridge.WithErrorHandler(rep.add)))
	if err != nil {
		t.Fatal(err)
	}
	send := newBridge(t, redisURL(t), ch)
	bridgetest.CloseAll(t, send, recv)
	var got atomic.Int64
	if _, err := recv.On("Ping", func(context.Context, *api.BaseEvent) (any, error) { got.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := recv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	emit := func() {
		t.Helper()
		if err := send.Emit(ctx, bridgetest.Event(t, "Ping", nil)); err != nil {
			t.Fatal(err)
		}
		if err := send.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	emit()
	bridgetest.WaitFor(t, 10*time.Second, "the first event", func() bool { return got.Load() == 1 })
	time.Sleep(200 * time.Millisecond) // quiet: the health check pings and gets its pongs
	if n := rep.disconnects.Load() + rep.gaps.Load(); n != 0 {
		t.Fatalf("%d reports on a healthy connection", n)
	}
	proxy.freeze()
	bridgetest.WaitFor(t, 10*time.Second, "the silent connection to be reported", func() bool { return rep.disconnects.Load() >= 1 })
	bridgetest.WaitFor(t, 10*time.Second, "the subscription on a new connection", func() bool { return rep.gaps.Load() >= 1 })
	emit()
	bridgetest.WaitFor(t, 10*time.Second, "an event on the new connection", func() bool { return got.Load() == 2 })
	t.Logf("disconnects %d, gaps %d, other %v", rep.disconnects.Load(), rep.gaps.Load(), rep.other)
}
