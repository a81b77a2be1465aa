package socketbridge_test

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/socketbridge"
)

// ringbusPair returns a send-only bridge writing to a listening one whose
// "Bench" handler counts.
func ringbusPair(b *testing.B) (*bridge.Bridge, *bridgetest.Counter) {
	path := sockPath(b)
	recv := newBridge(b, path)
	send := newBridge(b, path, socketbridge.WithSendOnly())
	return send, bridgetest.StartCounting(b, send, recv, "Bench")
}

// rawListener counts the lines of every connection to a fresh path.
func rawListener(b *testing.B) (string, *bridgetest.Counter) {
	path := sockPath(b)
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	count := bridgetest.NewCounter()
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
					count.Hit()
				}
			})
		}
	})
	b.Cleanup(func() { _ = l.Close(); wg.Wait() })
	return path, count
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
	line := append(bridgetest.Encode(b, bridgetest.BenchEvent(b, 0)), '\n')
	b.Run("ringbus", func(b *testing.B) {
		send, c := ringbusPair(b)
		bridgetest.MeasureRate(b, func(i int) error { return send.Emit(ctx, bridgetest.BenchEvent(b, i)) }, c.Load)
	})
	b.Run("raw/conn-per-event", func(b *testing.B) {
		path, c := rawListener(b)
		bridgetest.MeasureRate(b, func(int) error { return rawSendLine(path, line) }, c.Load)
	})
	b.Run("raw/one-conn", func(b *testing.B) {
		path, c := rawListener(b)
		conn, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(conn, 64<<10)
		bridgetest.MeasureRate(b, func(int) error {
			_, err := w.Write(line)
			if err == nil && w.Available() < len(line) {
				err = w.Flush()
			}
			return err
		}, func() int64 {
			_ = w.Flush()
			return c.Load()
		})
		_ = conn.Close()
	})
	b.Run("latency/ringbus", func(b *testing.B) {
		send, c := ringbusPair(b)
		bridgetest.MeasureLatency(b, func(i int) error { return send.Emit(ctx, bridgetest.BenchEvent(b, i)) }, c.Got)
	})
	b.Run("latency/raw", func(b *testing.B) {
		path, c := rawListener(b)
		bridgetest.MeasureLatency(b, func(int) error { return rawSendLine(path, line) }, c.Got)
	})
}
