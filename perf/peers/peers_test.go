package peers

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	evbus "github.com/asaskevich/EventBus"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/perf"
)

// Every peer does the closest equivalent of ringbus's work: publish a
// value, a handler (on another goroutine where the library hands off) adds
// it to a checksum, and the publisher learns that it ran. The batch shape is
// the 50k-events scenario's: 512 publishes, then wait for all 512. One
// benchmark op is one event. perf/README-performance.md lists what each peer
// leaves out compared with ringbus.

const batchSize = 512

// peer is one library under test.
type peer interface {
	// publish hands v to the handler without waiting for it.
	publish(tb testing.TB, v int)
	// flush returns once every published value has been handled.
	flush(tb testing.TB)
	// call publishes v and returns once its handler has run.
	call(tb testing.TB, v int)
	// sum returns the handlers' checksum (call after flush).
	sum() int64
	// close stops the peer and reports an error of its shutdown to tb.
	close(tb testing.TB)
}

var peers = []struct {
	name string
	new  func(b testing.TB) peer
}{
	{"ringbus", newRingbus},
	{"watermill-gochannel", newWatermill},
	{"eventbus-async", newEventBusAsync},
	{"eventbus-sync", newEventBusSync},
	{"channel", newChannel},
}

// BenchmarkBatch is the 50k-events shape: batches of 512 publishes, each
// batch awaited before the next.
func BenchmarkBatch(b *testing.B) {
	for _, pc := range peers {
		b.Run(pc.name, func(b *testing.B) {
			p := pc.new(b)
			defer p.close(b)
			var want int64
			i, pending := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				v := i%97 + 1
				want += int64(v)
				p.publish(b, v)
				i++
				if pending++; pending == batchSize {
					p.flush(b)
					pending = 0
				}
			}
			p.flush(b)
			b.StopTimer()
			if got := p.sum(); got != want {
				b.Fatalf("checksum %d, want %d", got, want)
			}
		})
	}
}

// BenchmarkRoundTrip is one publish whose handler runs before the publisher
// goes on.
func BenchmarkRoundTrip(b *testing.B) {
	for _, pc := range peers {
		b.Run(pc.name, func(b *testing.B) {
			p := pc.new(b)
			defer p.close(b)
			var want int64
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				v := i%97 + 1
				want += int64(v)
				p.call(b, v)
				i++
			}
			b.StopTimer()
			if got := p.sum(); got != want {
				b.Fatalf("checksum %d, want %d", got, want)
			}
		})
	}
}

// TestPeers runs both shapes once per peer at a small size, so a broken
// peer shows up without running the benchmarks.
func TestPeers(t *testing.T) {
	for _, pc := range peers {
		t.Run(pc.name, func(t *testing.T) {
			p := pc.new(t)
			defer p.close(t)
			var want int64
			for i := range 3 * batchSize {
				want += int64(i%97 + 1)
				p.publish(t, i%97+1)
				if (i+1)%batchSize == 0 {
					p.flush(t)
				}
			}
			for i := range 100 {
				want += int64(i)
				p.call(t, i)
			}
			if got := p.sum(); got != want {
				t.Fatalf("checksum %d, want %d", got, want)
			}
		})
	}
}

func check(tb testing.TB, err error) {
	if err != nil {
		tb.Helper()
		tb.Fatal(err)
	}
}

// --- ringbus: the 50k-events bus (history 512, dropping), one handler ---

type ringbusPeer struct {
	bus   *api.Bus
	batch []*perf.PerfSimpleEvent
	total int64 // written by the bus's handler, read after Wait
	ctx   context.Context
}

func newRingbus(tb testing.TB) peer {
	bus, err := api.NewBus("PeerRingbus", api.WithMaxHistory(batchSize), api.WithHistoryDrop(true))
	if err != nil {
		tb.Fatal(err)
	}
	p := &ringbusPeer{bus: bus, batch: make([]*perf.PerfSimpleEvent, 0, batchSize), ctx: context.Background()}
	if _, err := api.On(bus, func(ctx context.Context, e *perf.PerfSimpleEvent) (struct{}, error) {
		p.total += int64(e.Value)
		return struct{}{}, nil
	}); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (p *ringbusPeer) publish(tb testing.TB, v int) {
	e := &perf.PerfSimpleEvent{Value: v}
	check(tb, p.bus.Emit(p.ctx, e))
	p.batch = append(p.batch, e)
}

func (p *ringbusPeer) flush(tb testing.TB) {
	for _, e := range p.batch {
		check(tb, e.Wait(p.ctx))
	}
	check(tb, p.bus.WaitUntilIdle(p.ctx))
	p.batch = p.batch[:0]
}

func (p *ringbusPeer) call(tb testing.TB, v int) {
	e := &perf.PerfSimpleEvent{Value: v}
	check(tb, p.bus.Emit(p.ctx, e))
	check(tb, e.Wait(p.ctx))
}

func (p *ringbusPeer) sum() int64          { return p.total }
func (p *ringbusPeer) close(tb testing.TB) { check(tb, p.bus.Close()) }

// --- watermill: in-memory gochannel pub/sub, one subscriber goroutine ---
//
// Batch: Publish does not block (gochannel delivers each message from a
// goroutine of its own); the subscriber acks and marks a WaitGroup, which
// the publisher waits on. Round trip: a second pub/sub with
// BlockPublishUntilSubscriberAck, so Publish returns once the subscriber
// acked.

type watermillPeer struct {
	async, sync *gochannel.GoChannel
	wg          sync.WaitGroup
	total       atomic.Int64
	done        sync.WaitGroup
}

const topic = "PerfSimpleEvent"

func newWatermill(tb testing.TB) peer {
	p := &watermillPeer{
		async: gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: batchSize}, watermill.NopLogger{}),
		sync:  gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{}),
	}
	for _, ps := range []*gochannel.GoChannel{p.async, p.sync} {
		msgs, err := ps.Subscribe(context.Background(), topic)
		if err != nil {
			tb.Fatal(err)
		}
		marks := ps == p.async
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for m := range msgs {
				p.total.Add(int64(binary.LittleEndian.Uint64(m.Payload)))
				m.Ack()
				if marks {
					p.wg.Done()
				}
			}
		}()
	}
	return p
}

func newMessage(v int) *message.Message {
	payload := make([]byte, 8)
	binary.LittleEndian.PutUint64(payload, uint64(v))
	return message.NewMessage(watermill.NewUUID(), payload)
}

func (p *watermillPeer) publish(tb testing.TB, v int) {
	p.wg.Add(1)
	check(tb, p.async.Publish(topic, newMessage(v)))
}

func (p *watermillPeer) flush(testing.TB) { p.wg.Wait() }

func (p *watermillPeer) call(tb testing.TB, v int) {
	check(tb, p.sync.Publish(topic, newMessage(v)))
}

func (p *watermillPeer) sum() int64 { return p.total.Load() }

func (p *watermillPeer) close(tb testing.TB) {
	err := errors.Join(p.async.Close(), p.sync.Close())
	p.done.Wait()
	check(tb, err)
}

// --- asaskevich/EventBus ---
//
// Async: SubscribeAsync(transactional) runs each publish's handler on a new
// goroutine, one at a time; WaitAsync waits for all of them (batch) or for
// the one (round trip). Sync: Subscribe runs the handler inside Publish, on
// the publisher's goroutine: no hand-off at all.

type eventBusPeer struct {
	bus   evbus.Bus
	total atomic.Int64
	async bool
}

func newEventBus(tb testing.TB, async bool) peer {
	p := &eventBusPeer{bus: evbus.New(), async: async}
	h := func(v int) { p.total.Add(int64(v)) }
	var err error
	if async {
		err = p.bus.SubscribeAsync(topic, h, true)
	} else {
		err = p.bus.Subscribe(topic, h)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func newEventBusAsync(tb testing.TB) peer { return newEventBus(tb, true) }
func newEventBusSync(tb testing.TB) peer  { return newEventBus(tb, false) }

func (p *eventBusPeer) publish(_ testing.TB, v int) { p.bus.Publish(topic, v) }
func (p *eventBusPeer) flush(testing.TB)            { p.bus.WaitAsync() }

func (p *eventBusPeer) call(_ testing.TB, v int) {
	p.bus.Publish(topic, v)
	p.bus.WaitAsync()
}

func (p *eventBusPeer) sum() int64       { return p.total.Load() }
func (p *eventBusPeer) close(testing.TB) { p.bus.WaitAsync() }

// --- the floor: a buffered channel to one worker goroutine ---
//
// Batch: values go down a channel of 512; a nil marker asks the worker to
// signal that it has handled everything before it. Round trip: a request
// channel and a reply channel.

type channelPeer struct {
	jobs  chan *int
	done  chan struct{}
	req   chan int
	resp  chan struct{}
	total atomic.Int64
	wg    sync.WaitGroup
}

func newChannel(testing.TB) peer {
	p := &channelPeer{
		jobs: make(chan *int, batchSize),
		done: make(chan struct{}, 1),
		req:  make(chan int, 1),
		resp: make(chan struct{}, 1),
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		for j := range p.jobs {
			if j == nil {
				p.done <- struct{}{}
				continue
			}
			p.total.Add(int64(*j))
		}
	}()
	go func() {
		defer p.wg.Done()
		for v := range p.req {
			p.total.Add(int64(v))
			p.resp <- struct{}{}
		}
	}()
	return p
}

func (p *channelPeer) publish(_ testing.TB, v int) {
	j := new(int) // one allocation per value, like an event or a message
	*j = v
	p.jobs <- j
}

func (p *channelPeer) flush(testing.TB) {
	p.jobs <- nil
	<-p.done
}

func (p *channelPeer) call(_ testing.TB, v int) {
	p.req <- v
	<-p.resp
}

func (p *channelPeer) sum() int64 { return p.total.Load() }

func (p *channelPeer) close(testing.TB) {
	close(p.jobs)
	close(p.req)
	p.wg.Wait()
}
