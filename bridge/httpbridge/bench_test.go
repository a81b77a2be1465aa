package httpbridge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/httpbridge"
)

// benchFields is the payload of the benchmark's events: a few fields and
// 200 bytes of text, about 600 bytes of JSON.
func benchFields(i int) map[string]any {
	return map[string]any{"seq": i, "user": "u-42", "ok": true, "text": strings.Repeat("x", 200)}
}

// ringbusPair returns a send-only bridge posting to a listen-only one
// whose "Bench" handler counts and signals.
func ringbusPair(b *testing.B, conc int) (send *bridge.Bridge, count *atomic.Int64, got chan struct{}) {
	l, url := listen(b, "/bench")
	recv := newBridge(b, "", url, httpbridge.WithListener(l))
	send = newBridge(b, url, "", httpbridge.WithConcurrency(conc))
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

// rawServer is a plain net/http listener answering as abxbus's does (202,
// Connection: close) after reading the body.
func rawServer(b *testing.B) (url string, count *atomic.Int64, got chan struct{}) {
	l, url := listen(b, "/raw")
	count = new(atomic.Int64)
	got = make(chan struct{}, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "accepted")
		count.Add(1)
		select {
		case got <- struct{}{}:
		default:
		}
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close(); <-done })
	return url, count, got
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
	data := encode(b, event(b, "Bench", benchFields(0)))
	client := &http.Client{Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	for _, conc := range []int{1, 4} {
		name := map[int]string{1: "serial", 4: "conc4"}[conc]
		b.Run("ringbus/"+name, func(b *testing.B) {
			send, count, _ := ringbusPair(b, conc)
			bridgetest.MeasureRate(b, func(i int) error {
				return send.Emit(ctx, event(b, "Bench", benchFields(i)))
			}, count.Load)
		})
		b.Run("raw/"+name, func(b *testing.B) {
			url, count, _ := rawServer(b)
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
			bridgetest.MeasureRate(b, func(int) error { jobs <- struct{}{}; return nil }, count.Load)
			close(jobs)
			wg.Wait()
		})
	}
	b.Run("latency/ringbus", func(b *testing.B) {
		send, _, got := ringbusPair(b, 1)
		bridgetest.MeasureLatency(b, func(i int) error { return send.Emit(ctx, event(b, "Bench", benchFields(i))) }, got)
	})
	b.Run("latency/raw", func(b *testing.B) {
		url, _, got := rawServer(b)
		bridgetest.MeasureLatency(b, func(int) error { return rawPost(b, client, url, data) }, got)
	})
}
