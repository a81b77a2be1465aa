package socketbridge_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/socketbridge"
)

// benchFields is the payload of the benchmark's events: a few fields and
// 200 bytes of text, about 600 bytes of JSON.
func benchFields(i int) map[string]any {
	return map[string]any{"seq": i, "user": "u-42", "ok": true, "text": strings.Repeat("x", 200)}
}

// ringbusPair returns a send-only bridge writing to a listening one whose
// "Bench" handler counts and signals.
func ringbusPair(b *testing.B) (send *bridge.Bridge, count *atomic.Int64, got chan struct{}) {
	path := sockPath(b)
	recv := newBridge(b, path)
	send = newBridge(b, path, socketbridge.WithSendOnly())
	closeAll(b, send, recv)
	count = new(atomic.Int64)
	got = make(chan struct{}, 1)
	if _, err := recv.On("Bench", func(context.Context, *api.BaseEvent) (any, error) {
		count.Add(1)
		select {
		case got <- struct{}{}:
		default:
		}
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := recv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := send.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return send, count, got
}

// rawListener counts the lines of every connection to a fresh path.
func rawListener(b *testing.B) (path string, count *atomic.Int64, got chan struct{}) {
	path = sockPath(b)
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	count = new(atomic.Int64)
	got = make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				r := bufio.NewReaderSize(c, 64<<10)
				for {
					if _, err := r.ReadSlice('\n'); err != nil {
						return
					}
					count.Add(1)
					select {
					case got <- struct{}{}:
					default:
					}
				}
			})
		}
	})
	b.Cleanup(func() { _ = l.Close(); wg.Wait() })
	return path, count, got
}

// rawSendLine writes one line on a connection of its own, as abxbus does.
func rawSendLine(path string, line []byte) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	_, err = c.Write(line)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// BenchmarkSocket compares events/s and one event's latency through two
// ringbus socket bridges with plain Unix socket writes of the same bytes
// in one run: a connection per event (abxbus's way) and one connection
// for everything (the floor).
func BenchmarkSocket(b *testing.B) {
	ctx := context.Background()
	line := append(encode(b, event(b, "Bench", benchFields(0))), '\n')
	b.Run("ringbus", func(b *testing.B) {
		send, count, _ := ringbusPair(b)
		bridgetest.MeasureRate(b, func(i int) error {
			return send.Emit(ctx, event(b, "Bench", benchFields(i)))
		}, count.Load)
	})
	b.Run("raw/conn-per-event", func(b *testing.B) {
		path, count, _ := rawListener(b)
		bridgetest.MeasureRate(b, func(int) error { return rawSendLine(path, line) }, count.Load)
	})
	b.Run("raw/one-conn", func(b *testing.B) {
		path, count, _ := rawListener(b)
		c, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(c, 64<<10)
		bridgetest.MeasureRate(b, func(int) error {
			_, err := w.Write(line)
			if err == nil && w.Available() < len(line) {
				err = w.Flush()
			}
			return err
		}, func() int64 {
			_ = w.Flush()
			return count.Load()
		})
		_ = c.Close()
	})
	b.Run("latency/ringbus", func(b *testing.B) {
		send, _, got := ringbusPair(b)
		bridgetest.MeasureLatency(b, func(i int) error { return send.Emit(ctx, event(b, "Bench", benchFields(i))) }, got)
	})
	b.Run("latency/raw", func(b *testing.B) {
		path, _, got := rawListener(b)
		bridgetest.MeasureLatency(b, func(int) error { return rawSendLine(path, line) }, got)
	})
}
