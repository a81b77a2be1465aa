package perf

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/api"
)

// A Probe is a micro-benchmark of the dispatch core that cmd/perfmatrix can
// run with testing.Benchmark, in a fresh process per run and GOMAXPROCS, so
// that the cost of one event or one bus can be compared between one and two
// cores in one command. The same bodies back the package's Benchmark
// functions.
type Probe struct {
	// ID names the probe on perfmatrix's command line (e.g. "emit-batch").
	ID string
	// Unit is what one benchmark iteration is: "event", "round trip", "bus".
	Unit string
	// Doc says in a line what one iteration does.
	Doc string
	// Bench is the benchmark body.
	Bench func(b *testing.B)
	// MinProcs is the least GOMAXPROCS the probe means anything at (0: any);
	// perfmatrix does not run it below.
	MinProcs int
}

// The probes' ids.
const (
	ProbeEmitBatch        = "emit-batch"
	ProbeEmitBatchChannel = "emit-batch-channel"
	ProbeRoundTrip        = "round-trip"
	ProbeRoundTripChannel = "round-trip-channel"
	ProbeBusLifecycle     = "bus-lifecycle"
	ProbeCacheLine        = "machine-cache-line"
	ProbeThreadWake       = "machine-thread-wake"
	ProbeClockRead        = "machine-clock-read"
	ProbePageFault        = "machine-page-fault"
)

var probes = []Probe{
	{ID: ProbeEmitBatch, Unit: "event", Bench: BenchEmitBatch,
		Doc: "an event emitted in a batch of 512, each awaited, one handler (BenchmarkEmitBatch/ringbus)"},
	{ID: ProbeEmitBatchChannel, Unit: "event", Bench: BenchEmitBatchChannel,
		Doc: "the same hand-off through a buffered channel to a worker goroutine (BenchmarkEmitBatch/channel)"},
	{ID: ProbeRoundTrip, Unit: "round trip", Bench: BenchRoundTrip,
		Doc: "one event emitted and awaited on an idle bus, one no-op handler (BenchmarkRoundTrip/ringbus)"},
	{ID: ProbeRoundTripChannel, Unit: "round trip", Bench: BenchRoundTripChannel,
		Doc: "a value to a worker goroutine and back through buffered channels (BenchmarkRoundTrip/channel)"},
	{ID: ProbeBusLifecycle, Unit: "bus", Bench: BenchBusLifecycle,
		Doc: "create a bus, register a handler, emit and await one event, close (BenchmarkBusLifecycle)"},
	{ID: ProbeCacheLine, Unit: "round trip", Bench: BenchCacheLinePingPong, MinProcs: 2,
		Doc: "the machine: a cache line to another core and back (BenchmarkCacheLinePingPong)"},
	{ID: ProbeThreadWake, Unit: "round trip", Bench: BenchThreadWakePingPong, MinProcs: 2,
		Doc: "the machine: two sleeping threads woken in turn (BenchmarkThreadWakePingPong)"},
	{ID: ProbeClockRead, Unit: "reading", Bench: BenchClockRead,
		Doc: "the machine: one monotonic clock reading, two of which every event pays (BenchmarkClockRead)"},
	{ID: ProbePageFault, Unit: "page", Bench: BenchPageFault,
		Doc: "the machine: the first write to a fresh page of memory, as a growing heap pays (BenchmarkPageFault)"},
}

// Probes returns the micro-benchmarks perfmatrix -probes runs.
func Probes() []Probe {
	out := make([]Probe, len(probes))
	copy(out, probes)
	return out
}

// LookupProbe returns the probe with the given id.
func LookupProbe(id string) (Probe, bool) {
	for _, p := range probes {
		if p.ID == id {
			return p, true
		}
	}
	return Probe{}, false
}

// ProbeIDs returns the probes' ids in order.
func ProbeIDs() []string {
	ids := make([]string, len(probes))
	for i, p := range probes {
		ids[i] = p.ID
	}
	return ids
}

// BenchEmitBatch measures the 50k-events shape per event: events emitted in
// batches of 512 and each one awaited, on a bus keeping 512 events of
// history with dropping on, one synchronous handler adding to a checksum
// that is checked at the end.
func BenchEmitBatch(b *testing.B) { BenchEmitBatchWith(b, "PerfBatch") }

// BenchEmitBatchWith is BenchEmitBatch on a bus named name with opts added
// to its history settings: the middleware benchmarks (package mwbench) add
// theirs.
func BenchEmitBatchWith(b *testing.B, name string, opts ...api.Option) {
	ctx := context.Background()
	bus, err := api.NewBus(name, append([]api.Option{api.WithMaxHistory(batchSize), api.WithHistoryDrop(true)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	sum := 0
	if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
		sum += e.Value
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*PerfSimpleEvent, 0, batchSize)
	want, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		e := &PerfSimpleEvent{BatchID: i / batchSize, Value: i%97 + 1}
		want += e.Value
		i++
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			waitAll(b, ctx, batch)
			batch = batch[:0]
		}
	}
	waitAll(b, ctx, batch)
	b.StopTimer()
	if err := bus.WaitUntilIdle(ctx); err != nil {
		b.Fatal(err)
	}
	if sum != want {
		b.Fatalf("checksum %d, want %d", sum, want)
	}
}

func waitAll(b *testing.B, ctx context.Context, batch []*PerfSimpleEvent) {
	for _, e := range batch {
		if err := e.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchEmitBatchChannel is BenchEmitBatch's floor: the same hand-off with a
// buffered channel and a worker goroutine that signals completion per
// batch.
func BenchEmitBatchChannel(b *testing.B) {
	type job struct{ value int }
	jobs := make(chan *job, batchSize)
	done := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	sum, want := 0, 0
	go func() {
		defer wg.Done()
		for j := range jobs {
			if j == nil {
				done <- struct{}{}
				continue
			}
			sum += j.value
		}
	}()
	i, pending := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		v := i%97 + 1
		want += v
		jobs <- &job{value: v}
		i++
		pending++
		if pending == batchSize {
			jobs <- nil
			<-done
			pending = 0
		}
	}
	jobs <- nil
	<-done
	close(jobs)
	wg.Wait()
	if sum != want {
		b.Fatalf("checksum %d, want %d", sum, want)
	}
}

// BenchRoundTrip measures one event emitted and awaited on an otherwise idle
// bus with one no-op handler.
func BenchRoundTrip(b *testing.B) {
	ctx := context.Background()
	bus, err := api.NewBus("PerfRoundTrip", api.WithMaxHistory(batchSize), api.WithHistoryDrop(true))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
		return struct{}{}, nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e := &PerfSimpleEvent{}
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchRoundTripChannel is BenchRoundTrip's floor: a value to a worker
// goroutine and back through two buffered channels.
func BenchRoundTripChannel(b *testing.B) {
	req := make(chan int, 1)
	resp := make(chan int, 1)
	go func() {
		for v := range req {
			resp <- v + 1
		}
		close(resp)
	}()
	b.ReportAllocs()
	for b.Loop() {
		req <- 1
		<-resp
	}
	close(req)
	<-resp
}

// BenchBusLifecycle measures what a short-lived bus costs: create it,
// register one handler, emit one event and await it, close the bus.
func BenchBusLifecycle(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		bus, err := api.NewBus("PerfLifecycle", api.WithMaxHistory(historyLimitEphemeral), api.WithHistoryDrop(true))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := api.On(bus, func(ctx context.Context, e *PerfSimpleEvent) (struct{}, error) {
			n += e.Value
			return struct{}{}, nil
		}); err != nil {
			b.Fatal(err)
		}
		e := &PerfSimpleEvent{Value: 1}
		if err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		if err := e.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if err := bus.Close(); err != nil {
			b.Fatal(fmt.Errorf("close: %w", err))
		}
	}
	if n != b.N {
		b.Fatalf("%d events handled, want %d", n, b.N)
	}
}
