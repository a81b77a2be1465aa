package api_test

// Memory and goroutine tests for traffic-shaped growth (issue 9, part 2):
// closed buses leaving their domain (BUS-5, BUS-6, STOP-3, STOP-5),
// placeholders of remote buses read from the wire, the timers of parallel
// events and queue-jumps, and contexts derived from a handler's context.
// Each test measures the live heap after runtime.GC, or goroutine counts,
// over many iterations and fails when they grow with the iteration count.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// growth returns how much the live heap grew from before to after (0 when
// it shrank).
func growth(before, after uint64) uint64 {
	if after < before {
		return 0
	}
	return after - before
}

type MemBlob struct {
	api.Event[int]
	Data []byte `json:"data"`
}

var memQuiet = api.WithLogger(slog.New(slog.DiscardHandler))

// A request-scoped bus (create, one event with a large payload, Close)
// must leave nothing behind: its domain forgets it on Close, so the bus,
// its history and the payload are garbage (BUS-6, STOP-3; upstream removes
// a stopped bus from the registry, STOP-5). Its name is free again at once
// (BUS-5).
func TestMemoryClosedBusesLeaveTheirDomain_BUS5_BUS6_STOP3(t *testing.T) {
	const n = 1000
	const payload = 64 << 10
	ctx := context.Background()
	inDomain := func(b *api.Bus) bool {
		for _, x := range engine.DefaultDomain.Buses() {
			if x == b {
				return true
			}
		}
		return false
	}
	stayed := 0
	run := func() {
		bus, err := api.NewBus("MemRequestBus", memQuiet)
		require.NoError(t, err)
		require.Equal(t, "MemRequestBus", bus.Name(), "the name of a closed bus is free again")
		_, err = api.On(bus, func(ctx context.Context, e *MemBlob) (int, error) { return len(e.Data), nil })
		require.NoError(t, err)
		ev, err := api.Emit(ctx, bus, &MemBlob{Data: make([]byte, payload)})
		require.NoError(t, err)
		v, err := ev.Result(ctx)
		require.NoError(t, err)
		require.Equal(t, payload, v)
		require.True(t, inDomain(bus))
		require.NoError(t, bus.Close())
		if inDomain(bus) {
			stayed++
		}
	}
	run() // warm up: types, pools, logger
	before := liveHeap()
	for range n {
		run()
	}
	after := liveHeap()
	g := growth(before, after)
	t.Logf("live heap grew by %d bytes over %d closed buses (%d per bus)", g, n, g/n)
	assert.Less(t, g, uint64(n*2<<10), "closed buses are kept alive")
	assert.Zero(t, stayed, "closed buses stayed in their domain")

	// Stop (not only Close) releases the bus too.
	bus, err := api.NewBus("MemRequestBus", memQuiet)
	require.NoError(t, err)
	require.Equal(t, "MemRequestBus", bus.Name())
	require.NoError(t, bus.Stop(ctx))
	assert.False(t, inDomain(bus), "a stopped bus must leave its domain")
}

// Parent lookups over the live buses still work after other buses closed:
// an event restored from the wire names its parent by id only, and
// EventIsChildOf finds the parent in a live bus's history.
func TestMemoryParentLookupAfterClosedBuses_BUS6(t *testing.T) {
	ctx := context.Background()
	bus, err := api.NewBus("MemLookupBus", memQuiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	other, err := api.NewBus("MemLookupOther", memQuiet)
	require.NoError(t, err)
	require.NoError(t, other.Close())
	var child *api.BaseEvent
	_, err = api.OnType(bus, "MemParent", func(ctx context.Context, e *api.BaseEvent) (any, error) {
		c, err := api.NewEvent("MemChild", nil)
		if err != nil {
			return nil, err
		}
		child = c
		return nil, bus.Emit(ctx, c)
	})
	require.NoError(t, err)
	parent, err := api.NewEvent("MemParent", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, parent))
	require.NoError(t, parent.Wait(ctx))
	require.NotNil(t, child)
	data, err := wire.Marshal(child)
	require.NoError(t, err)
	back, err := wire.Unmarshal(data)
	require.NoError(t, err)
	assert.True(t, api.EventIsChildOf(back, parent), "the parent is found by id among the live buses")
}

// memRemoteEvent is the JSON of an event processed by the bus with id
// busID on another process, as a bridge receives it.
func memRemoteEvent(i int) []byte {
	busID := fmt.Sprintf("01a2191e-2214-76c9-92f9-%012x", i)
	hid := fmt.Sprintf("51ab8415-a85b-50f0-8f94-%012x", i)
	return []byte(`{"event_type":"MemRemote","event_id":"01a2191e-2215-72e8-bb3d-d90d66e60fdd",` +
		`"event_created_at":"2026-11-26T18:28:54.933354144Z","event_path":["Peer` + fmt.Sprint(i) + `#` + busID[len(busID)-4:] + `"],` +
		`"event_status":"completed","event_results":{"` + hid + `":{"status":"completed","handler_id":"` + hid +
		`","handler_name":"handle","handler_event_pattern":"MemRemote","eventbus_name":"Peer` + fmt.Sprint(i) +
		`","eventbus_id":"` + busID + `","result":1}}}`)
}

// Receiving events from many distinct peers keeps no memory per peer: the
// placeholder bus of a row read from the wire is cached up to a bound, and
// what the cache holds is small (the handler metadata of a row, WIRE-19).
func TestMemoryRemoteBusesFromManyPeersAreBounded_WIRE19(t *testing.T) {
	const n = 5000
	decode := func(from int) {
		for i := from; i < from+n; i++ {
			ev, err := wire.Unmarshal(memRemoteEvent(i))
			require.NoError(t, err)
			rows := engine.Core(ev).Rows()
			require.Len(t, rows, 1)
			require.Equal(t, fmt.Sprintf("Peer%d", i), rows[0].Bus().Name())
			require.True(t, rows[0].Bus().IsClosed())
		}
	}
	// Fill whatever caches there are first, so that the second round only
	// sees what is kept per peer beyond them.
	start := liveHeap()
	decode(1 << 20)
	before := liveHeap()
	decode(2 << 20)
	after := liveHeap()
	g1, g := growth(start, before), growth(before, after)
	t.Logf("live heap grew by %d bytes over the first %d peers (%d per peer), by %d over %d more (%d per peer)", g1, n, g1/n, g, n, g/n)
	assert.Less(t, g1, uint64(n*2<<10), "the remote-bus cache holds too much per peer")
	assert.Less(t, g, uint64(n*100), "memory is kept per remote peer")
}

// Parallel events and queue-jumps use the bus's shared, lazily re-armed
// watchdog, not a timer each (the default 60s event timeout applies to
// all of them): after many such events and idle, nothing per event stays
// live, and after Close nothing of the bus does.
func TestMemoryParallelEventsAndQueueJumpsArmNoTimerEach_TIMEOUT4_AWAIT4(t *testing.T) {
	const n = 20000
	ctx := context.Background()
	bus, err := api.NewBus("MemParallelBus", memQuiet, api.WithEventConcurrency(api.ParallelEvents),
		api.WithMaxHistory(64), api.WithHistoryDrop(true))
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	_, err = api.OnType(bus, "MemPar", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	serial, err := api.NewBus("MemJumpBus", memQuiet, api.WithMaxHistory(64), api.WithHistoryDrop(true))
	require.NoError(t, err)
	defer func() { require.NoError(t, serial.Close()) }()
	_, err = api.OnType(serial, "MemJumpChild", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	_, err = api.OnType(serial, "MemJumpParent", func(ctx context.Context, _ *api.BaseEvent) (any, error) {
		c, err := api.NewEvent("MemJumpChild", nil)
		if err != nil {
			return nil, err
		}
		if err := serial.Emit(ctx, c); err != nil {
			return nil, err
		}
		return nil, c.Now(ctx) // a queue-jump
	})
	require.NoError(t, err)

	emit := func(count int) {
		for range count {
			e, err := api.NewEvent("MemPar", nil)
			require.NoError(t, err)
			require.NoError(t, bus.Emit(ctx, e))
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
		for range count / 10 {
			e, err := api.NewEvent("MemJumpParent", nil)
			require.NoError(t, err)
			require.NoError(t, serial.Emit(ctx, e))
		}
		require.NoError(t, serial.WaitUntilIdle(ctx))
	}
	// A first round grows what is bounded (the pool's workers, the tracked
	// set's table) to about its size; the rounds after it show what stays
	// per event. Before the shared watchdog, each event left a timer of
	// about 200 bytes live for its 60s timeout.
	// The bound is 50 bytes per event over six rounds, a quarter of such a
	// timer: what the pool and the tables hold varies by 1 to 4 MB from
	// run to run on a loaded machine, whatever the number of rounds, so
	// more rounds separate a per-event leak from that noise.
	emit(n)
	before := liveHeap()
	const rounds = 6
	for range rounds {
		emit(n)
	}
	idle := liveHeap()
	g := growth(before, idle)
	t.Logf("live heap grew by %d bytes over %d parallel events and %d queue-jumps, idle", g, rounds*n, rounds*n/10)
	assert.Less(t, g, uint64(50*rounds*n), "parallel events and queue-jumps leave a live timer each")
}

// context.WithTimeout and friends on a handler's context start no
// goroutine: the handler context has the AfterFunc method the standard
// library uses to propagate cancellation (CTX-9).
func TestMemoryDerivedContextsStartNoGoroutine_CTX9(t *testing.T) {
	const n = 500
	ctx := context.Background()
	bus, err := api.NewBus("MemCtxBus", memQuiet)
	require.NoError(t, err)
	defer func() { require.NoError(t, bus.Close()) }()
	var grew int
	var stillLive, doneAfterCancel bool
	_, err = api.OnType(bus, "MemCtx", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
		start := runtime.NumGoroutine()
		cancels := make([]context.CancelFunc, 0, 2*n)
		derived := make([]context.Context, 0, 2*n)
		for range n {
			d, cancel := context.WithTimeout(hctx, time.Hour)
			derived = append(derived, d)
			cancels = append(cancels, cancel)
			d2, cancel2 := context.WithCancel(hctx)
			derived = append(derived, d2)
			cancels = append(cancels, cancel2)
		}
		grew = runtime.NumGoroutine() - start
		stillLive = true
		for _, d := range derived {
			if d.Err() != nil {
				stillLive = false
			}
		}
		for _, c := range cancels {
			c()
		}
		doneAfterCancel = true
		for _, d := range derived {
			if d.Err() == nil {
				doneAfterCancel = false
			}
		}
		return nil, nil
	})
	require.NoError(t, err)
	e, err := api.NewEvent("MemCtx", nil)
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, e))
	require.NoError(t, e.Wait(ctx))
	assert.True(t, stillLive, "derived contexts are live while the handler runs")
	assert.True(t, doneAfterCancel)
	assert.Less(t, grew, 10, "deriving %d contexts from a handler context started goroutines", 2*n)
}

// A context derived from a handler's context is cancelled when the handler
// context is: at the handler's timeout, when the handler is aborted (Close)
// and once the handler has returned (CTX-9, TIMEOUT-6, STOP-2).
func TestMemoryDerivedContextFollowsHandlerContext_CTX9_TIMEOUT6_STOP2(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "MemDerivedTimeout")
			var derr error
			_, err := api.OnType(bus, "MemD", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
				d, cancel := context.WithCancel(hctx)
				defer cancel()
				<-d.Done()
				derr = d.Err()
				return nil, nil
			}, api.WithHandlerTimeout(time.Second))
			require.NoError(t, err)
			e, err := api.NewEvent("MemD", nil)
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), e))
			require.NoError(t, e.Wait(context.Background()))
			synctest.Wait()
			assert.ErrorIs(t, derr, context.DeadlineExceeded)
			assert.ErrorIs(t, e.Rows()[0].Error(), api.ErrHandlerTimeout)
		})
	})
	t.Run("abort", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "MemDerivedAbort")
			started := make(chan struct{})
			var derr error
			_, err := api.OnType(bus, "MemD", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
				d, cancel := context.WithTimeout(hctx, time.Hour)
				defer cancel()
				close(started)
				<-d.Done()
				derr = d.Err()
				return nil, nil
			})
			require.NoError(t, err)
			e, err := api.NewEvent("MemD", nil)
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), e))
			<-started
			require.NoError(t, bus.Close())
			synctest.Wait()
			assert.ErrorIs(t, derr, context.Canceled)
			assert.ErrorIs(t, e.Rows()[0].Error(), api.ErrHandlerAborted)
		})
	})
	t.Run("return", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bus := spBus(t, "MemDerivedReturn")
			var kept context.Context
			var fired chan struct{}
			var stopEarly func() bool
			var stoppedEarly bool
			_, err := api.OnType(bus, "MemD", func(hctx context.Context, _ *api.BaseEvent) (any, error) {
				d, cancel := context.WithTimeout(hctx, time.Hour)
				_ = cancel // deliberately kept past the handler
				kept = d
				ch := make(chan struct{})
				fired = ch
				context.AfterFunc(hctx, func() { close(ch) })
				stopEarly = context.AfterFunc(hctx, func() { t.Error("a stopped AfterFunc ran") })
				stoppedEarly = stopEarly()
				return nil, nil
			})
			require.NoError(t, err)
			e, err := api.NewEvent("MemD", nil)
			require.NoError(t, err)
			require.NoError(t, bus.Emit(context.Background(), e))
			require.NoError(t, e.Wait(context.Background()))
			synctest.Wait()
			require.NotNil(t, kept)
			assert.ErrorIs(t, kept.Err(), context.Canceled, "the derived ctx ends when the handler returns")
			select {
			case <-fired:
			default:
				t.Error("context.AfterFunc on a handler context did not run after the handler returned")
			}
			assert.True(t, stoppedEarly, "stop before the context is done prevents the call")
			assert.False(t, stopEarly(), "stop is idempotent")
		})
	})
}
