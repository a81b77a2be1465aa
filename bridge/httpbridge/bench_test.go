package httpbridge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/httpbridge"
)

// ringbusPair returns a send-only bridge posting to a listen-only one
// whose "Bench" handler counts.
func ringbusPair(b *testing.B, conc int) (*bridge.Bridge, *bridgetest.Counter) {
	l, url := listen(b, "/bench")
	recv := newBridge(b, "", url, httpbridge.WithListener(l))
	send := newBridge(b, url, "", httpbridge.WithConcurrency(conc))
	return send, bridgetest.StartCounting(b, send, recv, "Bench")
}

// rawServer is a plain net/http listener answering as abxbus's does (202,
// Connection: close) after reading the body.
func rawServer(b *testing.B) (string, *bridgetest.Counter) {
	l, url := listen(b, "/raw")
	c := bridgetest.NewCounter()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "accepted")
		c.Hit()
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close(); <-done })
	return url, c
}

// rawPost posts data with client and checks for a 2xx.
func rawPost(b *testing.B, client *http.Client, url string, data []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	return nil
}

// BenchmarkHTTP compares events/s and one event's latency through two
// ringbus HTTP bridges with a plain net/http client posting the same bytes
// to a plain net/http server that answers the same way (202, Connection:
// close), in one run.
func BenchmarkHTTP(b *testing.B) {
	ctx := context.Background()
	data := bridgetest.Encode(b, bridgetest.BenchEvent(b, 0))
	client := &http.Client{Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	for _, conc := range []int{1, 4} {
		name := map[int]string{1: "serial", 4: "conc4"}[conc]
		b.Run("ringbus/"+name, func(b *testing.B) {
			send, c := ringbusPair(b, conc)
			bridgetest.MeasureRate(b, func(i int) error { return send.Emit(ctx, bridgetest.BenchEvent(b, i)) }, c.Load)
		})
		b.Run("raw/"+name, func(b *testing.B) {
			url, c := rawServer(b)
			jobs := make(chan struct{}, 256)
			var wg sync.WaitGroup
			for range conc {
				wg.Go(func() {
					for range jobs {
						if err := rawPost(b, client, url, data); err != nil {
							b.Error(err)
						}
					}
				})
			}
			bridgetest.MeasureRate(b, func(int) error { jobs <- struct{}{}; return nil }, c.Load)
			close(jobs)
			wg.Wait()
		})
	}
	b.Run("latency/ringbus", func(b *testing.B) {
		send, c := ringbusPair(b, 1)
		bridgetest.MeasureLatency(b, func(i int) error { return send.Emit(ctx, bridgetest.BenchEvent(b, i)) }, c.Got)
	})
	b.Run("latency/raw", func(b *testing.B) {
		url, c := rawServer(b)
		bridgetest.MeasureLatency(b, func(int) error { return rawPost(b, client, url, data) }, c.Got)
	})
}
