package bridgetest

import (
	"slices"
	"testing"
	"time"
)

// MeasureRate is the throughput benchmark of a transport, and of the raw
// client it is compared with: it calls send b.N times from one goroutine,
// waits until received reports b.N messages, and reports events/s from
// the first send to the last receipt.
func MeasureRate(b *testing.B, send func(i int) error, received func() int64) {
	b.Helper()
	start := time.Now()
	i := 0
	for b.Loop() {
		if err := send(i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	deadline := time.Now().Add(time.Minute)
	for received() < int64(i) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", received(), i)
		}
		time.Sleep(50 * time.Microsecond)
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "events/s")
}

// MeasureLatency is the end-to-end latency benchmark: b.N times it calls
// send and waits for got (the receiver's handler signals it for each
// message), and reports the median and the 99th percentile in
// microseconds.
func MeasureLatency(b *testing.B, send func(i int) error, got <-chan struct{}) {
	b.Helper()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if err := send(i); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(time.Minute):
			b.Fatalf("message %d not received", i)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(us(0.5), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
}
