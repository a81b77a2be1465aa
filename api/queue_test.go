package api_test

// Tests of the bounded emit queue (WithMaxQueue, WithQueueFullPolicy). The
// bound is an opt-in extension of EMIT-2 (a bus without it keeps the
// unbounded queue) and composes with the history limit (HIST-4, HIST-5).
//
// Blocking is observed in testing/synctest bubbles: synctest.Wait returns
// once every other goroutine of the bubble is durably blocked, so "the
// emitter is waiting for room" is established as a fact, not guessed from a
// sleep, and a deadlock fails the test instead of hanging it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
)

// QJob is the event of the queue tests; N is its emit number.
type QJob struct {
	api.Event[int]
	N int `json:"n"`
}

// QChild is emitted by QJob handlers.
type QChild struct {
	api.Event[int]
	N int `json:"n"`
}

var queueEmits = flag.Int("ringbus.queue-emits", 50_000, "how many events the queue memory test emits per bus")

var quSeq atomic.Int64

// quBus returns a bus with a unique name and a silent logger, closed at
// cleanup (inside the bubble when called in one).
func quBus(t *testing.T, prefix string, opts ...api.Option) *api.Bus {
	t.Helper()
	name := fmt.Sprintf("QU_%s_%d", prefix, quSeq.Add(1))
	bus, err := api.NewBus(name, append([]api.Option{api.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// quGate is a QJob handler that holds every event until it is let through
// (release lets one through, open all), recording the order events start.
type quGate struct {
	ch      chan struct{}
	mu      sync.Mutex
	started []int
}

func quOnGate(t *testing.T, bus *api.Bus) *quGate {
	t.Helper()
	g := &quGate{ch: make(chan struct{})}
	_, err := api.On(bus, func(ctx context.Context, e *QJob) (int, error) {
		g.mu.Lock()
		g.started = append(g.started, e.N)
		g.mu.Unlock()
		select {
		case <-g.ch:
			return e.N, nil
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	})
	require.NoError(t, err)
	return g
}

func (g *quGate) release() { g.ch <- struct{}{} }
func (g *quGate) open()    { close(g.ch) }
func (g *quGate) order() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.started...)
}

// quEmitAsync emits e on bus from a new goroutine and returns the channel
// that receives Emit's error.
func quEmitAsync(ctx context.Context, bus *api.Bus, e api.Eventer) <-chan error {
	done := make(chan error, 1)
	go func() { done <- bus.Emit(ctx, e) }()
	return done
}

// quReturned reports whether the emit behind done has returned, without
// waiting (call it after synctest.Wait).
func quReturned(done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

// quFill emits jobs 0..n-1 on bus and waits until job 0 is running, so
// that with a gate holding job 0 the queue holds jobs 1..n-1.
func quFill(t *testing.T, bus *api.Bus, n int) []*QJob {
	t.Helper()
	jobs := make([]*QJob, n)
	for i := range jobs {
		jobs[i] = &QJob{N: i}
		require.NoError(t, bus.Emit(context.Background(), jobs[i]))
		if i == 0 {
			synctest.Wait() // job 0 has started: it no longer counts as queued
		}
	}
	synctest.Wait()
	return jobs
}

func TestQueueOptionsValidate_EMIT2(t *testing.T) {
	_, err := api.NewBus("QU_BadMax", api.WithMaxQueue(-1))
	assert.ErrorIs(t, err, api.ErrBadOption)
	_, err = api.NewBus("QU_BadPolicy0", api.WithQueueFullPolicy(api.QueueFullPolicy(0)))
	assert.ErrorIs(t, err, api.ErrBadOption)
	_, err = api.NewBus("QU_BadPolicy9", api.WithQueueFullPolicy(api.QueueFullPolicy(9)))
	assert.ErrorIs(t, err, api.ErrBadOption)

	def := quBus(t, "Default")
	n, p := def.MaxQueue()
	assert.Equal(t, 0, n, "EMIT-2: the default queue is unbounded")
	assert.Equal(t, api.QueueBlock, p)

	set := quBus(t, "Set", api.WithMaxQueue(5), api.WithQueueFullPolicy(api.QueueReject))
	n, p = set.MaxQueue()
	assert.Equal(t, 5, n)
	assert.Equal(t, api.QueueReject, p)
	assert.Equal(t, "block", api.QueueBlock.String())
	assert.Equal(t, "reject", api.QueueReject.String())
}

// An emitter finding the queue full waits, and proceeds as soon as the
// dispatcher starts a queued event.
func TestQueueBlockWaitsForRoomThenProceeds_EMIT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Block", api.WithMaxQueue(2))
		g := quOnGate(t, bus)
		jobs := quFill(t, bus, 3) // job 0 runs; jobs 1 and 2 fill the queue
		require.Equal(t, []int{0}, g.order())

		late := &QJob{N: 3}
		done := quEmitAsync(ctx, bus, late)
		synctest.Wait()
		if err, ok := quReturned(done); ok {
			t.Fatalf("Emit returned %v while the queue held its limit; it must wait", err)
		}
		assert.Equal(t, 3, bus.HistoryLen(), "a waiting event is not recorded yet")

		g.release() // job 0 ends, job 1 starts: one place frees up
		synctest.Wait()
		err, ok := quReturned(done)
		require.True(t, ok, "Emit must return once the queue has room")
		require.NoError(t, err)

		g.open()
		require.NoError(t, bus.WaitUntilIdle(ctx))
		for _, j := range append(jobs, late) {
			assert.Equal(t, api.StatusCompleted, j.Status())
		}
		assert.Equal(t, []int{0, 1, 2, 3}, g.order())
	})
}

// Waiting emitters get room in the order they started waiting.
func TestQueueWaitersAdmittedInFIFOOrder_EMIT2_CONC1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "FIFO", api.WithMaxQueue(1))
		g := quOnGate(t, bus)
		quFill(t, bus, 2)
		var dones []<-chan error
		for i := 2; i < 8; i++ {
			dones = append(dones, quEmitAsync(ctx, bus, &QJob{N: i}))
			synctest.Wait() // waiter i is parked before waiter i+1 arrives
		}
		for _, d := range dones {
			_, ok := quReturned(d)
			require.False(t, ok, "every late emitter waits")
		}
		g.open()
		for _, d := range dones {
			require.NoError(t, <-d)
		}
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7}, g.order())
	})
}

// Reject mode fails at once with the typed error and records nothing.
func TestQueueRejectFailsAtOnceWithTypedError_EMIT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Reject", api.WithMaxQueue(3), api.WithQueueFullPolicy(api.QueueReject))
		g := quOnGate(t, bus)
		jobs := quFill(t, bus, 4)

		over := &QJob{N: 4}
		err := bus.Emit(ctx, over)
		require.ErrorIs(t, err, api.ErrQueueFull)
		var qf *api.QueueFullError
		require.ErrorAs(t, err, &qf)
		assert.Equal(t, bus.Label(), qf.Bus)
		assert.Equal(t, 3, qf.Limit)
		assert.Contains(t, err.Error(), bus.Label())
		assert.Contains(t, err.Error(), "3")
		assert.True(t, strings.HasPrefix(err.Error(), "ringbus: "), err.Error())
		assert.Equal(t, 4, bus.HistoryLen(), "a rejected event is not recorded")
		assert.ErrorIs(t, over.Wait(ctx), api.ErrNotAttached, "a rejected event is not emitted")

		g.release() // job 1 starts: room for one
		synctest.Wait()
		require.NoError(t, bus.Emit(ctx, over), "the same event is accepted once there is room")
		g.open()
		require.NoError(t, bus.WaitUntilIdle(ctx))
		for _, j := range append(jobs, over) {
			assert.Equal(t, api.StatusCompleted, j.Status())
		}
	})
}

// Concurrent emitters against a reject-mode bus: no more events are ever
// accepted than the bound allows, every rejection is the typed error, and
// every accepted event completes.
func TestQueueRejectFloodLosesNoAcceptedEvent_EMIT2(t *testing.T) {
	const (
		limit     = 64
		producers = 4
		perProd   = 2000
	)
	ctx := scCtx(t)
	bus := quBus(t, "Flood", api.WithMaxQueue(limit), api.WithQueueFullPolicy(api.QueueReject), api.WithHistoryDrop(true))
	hold := make(chan struct{})
	var calls atomic.Int64
	_, err := api.On(bus, func(hctx context.Context, e *QJob) (int, error) {
		if e.N == -1 {
			<-hold
		}
		calls.Add(1)
		return e.N, nil
	})
	require.NoError(t, err)

	flood := func() (accepted []*QJob, rejected int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				var mine []*QJob
				bad := 0
				for i := range perProd {
					j := &QJob{N: p*perProd + i}
					switch err := bus.Emit(ctx, j); {
					case err == nil:
						mine = append(mine, j)
					case errors.Is(err, api.ErrQueueFull):
						bad++
					default:
						t.Errorf("unexpected emit error: %v", err)
					}
				}
				mu.Lock()
				accepted = append(accepted, mine...)
				rejected += bad
				mu.Unlock()
			})
		}
		wg.Wait()
		return accepted, rejected
	}

	// Phase 1: the first event holds the dispatcher, so nothing leaves the
	// queue: at most limit events can be accepted behind it.
	first := &QJob{N: -1}
	require.NoError(t, bus.Emit(ctx, first))
	accepted, rejected := flood()
	assert.LessOrEqual(t, len(accepted), limit, "accepted beyond the queue limit while nothing was dequeued")
	assert.GreaterOrEqual(t, len(accepted), limit-1)
	assert.Equal(t, producers*perProd, len(accepted)+rejected)
	close(hold)

	// Phase 2: the dispatcher runs freely while the producers flood.
	more, rejected2 := flood()
	assert.Equal(t, producers*perProd, len(more)+rejected2)
	accepted = append(accepted, more...)
	require.NoError(t, bus.WaitUntilIdle(ctx))
	assert.Equal(t, int64(len(accepted)+1), calls.Load(), "every accepted event ran once")
	for _, j := range accepted {
		if j.Status() != api.StatusCompleted {
			t.Fatalf("accepted event %d is %s", j.N, j.Status())
		}
	}
}

// Concurrent emitters against a waiting-mode bus, some of which give up
// part way: the events waiting in the queue never exceed the limit, a
// give-up is the typed error, and every accepted event runs once.
func TestQueueBlockFloodNeverExceedsLimit_EMIT2(t *testing.T) {
	const (
		limit     = 8
		producers = 4
		perProd   = 300
	)
	ctx := scCtx(t)
	bus := quBus(t, "BlockFlood", api.WithMaxQueue(limit), api.WithMaxHistory(api.UnlimitedHistory))
	var calls, maxQueued atomic.Int64
	_, err := api.On(bus, func(context.Context, *QJob) (int, error) {
		calls.Add(1)
		if q := int64(len(engine.QueuedEvents(bus))); q > maxQueued.Load() {
			maxQueued.Store(q) // only the dispatcher writes it
		}
		runtime.Gosched()
		return 0, nil
	})
	require.NoError(t, err)

	var accepted, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProd {
				ectx := ctx
				if p%2 == 1 && i%7 == 0 {
					c, cancel := context.WithCancel(ctx)
					cancel() // this emitter gives up at once if it has to wait
					ectx = c
				}
				switch err := bus.Emit(ectx, &QJob{N: p*perProd + i}); {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, api.ErrQueueFull) && errors.Is(err, context.Canceled):
					gaveUp.Add(1)
				default:
					t.Errorf("unexpected emit error: %v", err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, bus.WaitUntilIdle(ctx))
	t.Logf("accepted %d, gave up %d, most queued seen %d", accepted.Load(), gaveUp.Load(), maxQueued.Load())
	assert.Equal(t, int64(producers*perProd), accepted.Load()+gaveUp.Load())
	assert.Equal(t, accepted.Load(), calls.Load(), "every accepted event ran once")
	assert.LessOrEqual(t, maxQueued.Load(), int64(limit))
}

// quHeap returns the live heap after a full collection.
func quHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// quFlood emits n events on a bus (history dropping, so only the queue
// holds them) whose handler holds the first event, and returns how much
// live heap the bus holds once the producer has emitted everything or
// waits for room, and how many emits had returned by then.
func quFlood(t *testing.T, n int, opts ...api.Option) (held int64, returned int) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Heap", append([]api.Option{api.WithHistoryDrop(true)}, opts...)...)
		release := make(chan struct{})
		var calls atomic.Int64
		_, err := api.On(bus, func(hctx context.Context, _ *QJob) (int, error) {
			select {
			case <-release:
			case <-hctx.Done():
			}
			calls.Add(1)
			return 0, nil
		})
		require.NoError(t, err)
		base := quHeap()
		var sent atomic.Int64
		done := make(chan error, 1)
		go func() {
			for i := range n {
				if err := bus.Emit(ctx, &QJob{N: i}); err != nil {
					done <- err
					return
				}
				sent.Add(1)
			}
			done <- nil
		}()
		synctest.Wait() // the producer is done, or waits for room
		held = quHeap() - base
		returned = int(sent.Load())
		close(release)
		require.NoError(t, <-done)
		require.NoError(t, bus.WaitUntilIdle(ctx))
		assert.Equal(t, int64(n), calls.Load(), "every event ran")
	})
	return held, returned
}

// The issue's case: a flood of emits on a bus with a dropping history. The
// unbounded queue holds every event; with a bound the producer waits and
// the live heap stays flat.
func TestQueueBoundKeepsLiveHeapFlat_EMIT2_HIST5(t *testing.T) {
	n := *queueEmits
	const limit = 1000
	var unbounded, bounded int64
	var unboundedSent, boundedSent int
	t.Run("unbounded", func(t *testing.T) { unbounded, unboundedSent = quFlood(t, n) })
	t.Run("bounded", func(t *testing.T) { bounded, boundedSent = quFlood(t, n, api.WithMaxQueue(limit)) })
	t.Logf("%d emits: unbounded queue holds %d KiB after %d emits; bounded(%d) holds %d KiB after %d emits",
		n, unbounded>>10, unboundedSent, limit, bounded>>10, boundedSent)

	assert.Equal(t, n, unboundedSent, "without a bound no emit waits")
	// The first event is running, limit events queued, the next emit waits.
	assert.Equal(t, limit+1, boundedSent, "with a bound the producer waits once the queue is full")
	const flat = 2 << 20
	assert.Less(t, bounded, int64(flat), "the bounded bus's live heap must not grow with the number of emits")
	assert.Greater(t, unbounded, int64(2*flat), "the unbounded bus should grow (raise -ringbus.queue-emits if it does not)")
}

func TestQueueCtxCancelWhileWaiting_EMIT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := quBus(t, "Cancel", api.WithMaxQueue(1))
		g := quOnGate(t, bus)
		quFill(t, bus, 2)

		cctx, cancel := context.WithCancel(context.Background())
		ev := &QJob{N: 2}
		done := quEmitAsync(cctx, bus, ev)
		synctest.Wait()
		_, ok := quReturned(done)
		require.False(t, ok)
		cancel()
		synctest.Wait()
		err, ok := quReturned(done)
		require.True(t, ok, "cancelling ctx ends the wait")
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, api.ErrQueueFull)
		var qf *api.QueueFullError
		require.ErrorAs(t, err, &qf)
		assert.Equal(t, 1, qf.Limit)
		assert.ErrorIs(t, ev.Wait(context.Background()), api.ErrNotAttached, "the event was not emitted")

		// A deadline and a cancel cause are both visible.
		why := errors.New("caller gave up")
		tctx, tcancel := context.WithTimeoutCause(context.Background(), time.Second, why)
		defer tcancel()
		start := time.Now()
		err = bus.Emit(tctx, &QJob{N: 3})
		assert.Equal(t, time.Second, time.Since(start), "the wait lasts until the deadline")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, why)
		assert.ErrorIs(t, err, api.ErrQueueFull)

		// A waiter that gave up does not hold a place: the next one gets it.
		next := quEmitAsync(context.Background(), bus, &QJob{N: 4})
		synctest.Wait()
		g.release()
		synctest.Wait()
		err, ok = quReturned(next)
		require.True(t, ok)
		require.NoError(t, err)
		g.open()
		require.NoError(t, bus.WaitUntilIdle(context.Background()))
		assert.Equal(t, []int{0, 1, 4}, g.order())
	})
}

func TestQueueCloseWakesWaiters_EMIT2_STOP2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := quBus(t, "Close", api.WithMaxQueue(1))
		quOnGate(t, bus)
		quFill(t, bus, 2)
		a := quEmitAsync(context.Background(), bus, &QJob{N: 2})
		b := quEmitAsync(context.Background(), bus, &QJob{N: 3})
		synctest.Wait()
		require.NoError(t, bus.Close())
		synctest.Wait()
		for _, d := range []<-chan error{a, b} {
			err, ok := quReturned(d)
			require.True(t, ok, "Close wakes waiting emitters")
			assert.ErrorIs(t, err, api.ErrBusClosed)
		}
	})
}

func TestQueueStopWakesWaiters_EMIT2_STOP1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := quBus(t, "Stop", api.WithMaxQueue(1))
		quOnGate(t, bus) // never released: the drain cannot finish
		quFill(t, bus, 2)
		w := quEmitAsync(context.Background(), bus, &QJob{N: 2})
		synctest.Wait()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, bus.Stop(sctx), context.DeadlineExceeded)
		synctest.Wait()
		err, ok := quReturned(w)
		require.True(t, ok, "Stop wakes waiting emitters")
		assert.ErrorIs(t, err, api.ErrBusClosed)
	})
}

// A handler emitting on its own full bus must not wait: the dispatcher that
// would make room is running that handler. The emit fails at once.
func TestQueueEmitFromHandlerOnFullBusFailsAtOnce_EMIT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Inner", api.WithMaxQueue(1))
		var first, second *QChild
		var secondErr error
		_, err := api.On(bus, func(hctx context.Context, e *QJob) (int, error) {
			first, second = &QChild{N: 1}, &QChild{N: 2}
			if err := bus.Emit(hctx, first); err != nil {
				return 0, err
			}
			secondErr = bus.Emit(hctx, second) // the queue holds first: full
			return 0, nil
		})
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *QChild) (int, error) { return 1, nil })
		require.NoError(t, err)

		parent := &QJob{}
		require.NoError(t, bus.Emit(ctx, parent))
		require.NoError(t, parent.Wait(ctx))
		require.ErrorIs(t, secondErr, api.ErrQueueFull)
		var qf *api.QueueFullError
		require.ErrorAs(t, secondErr, &qf)
		assert.Equal(t, bus.Label(), qf.Bus)
		assert.Equal(t, api.StatusCompleted, first.Status())
		assert.ErrorIs(t, second.Wait(ctx), api.ErrNotAttached)
	})
}

// A child that its parent's handler awaits runs at once (AWAIT-4) and so
// leaves the queue count when it starts: a handler may emit and await any
// number of children one at a time on a bus whose limit is 1.
func TestQueueAwaitedChildLeavesQueueWhenItStarts_AWAIT4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Jump", api.WithMaxQueue(1))
		var ran atomic.Int64
		_, err := api.On(bus, func(hctx context.Context, e *QJob) (int, error) {
			for i := range 5 {
				c := &QChild{N: i}
				if err := bus.Emit(hctx, c); err != nil {
					return 0, err
				}
				if err := c.Now(hctx); err != nil {
					return 0, err
				}
			}
			return 0, nil
		})
		require.NoError(t, err)
		_, err = api.On(bus, func(context.Context, *QChild) (int, error) { ran.Add(1); return 1, nil })
		require.NoError(t, err)

		parent := &QJob{}
		require.NoError(t, bus.Emit(ctx, parent))
		v, err := parent.Result(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, v)
		assert.Equal(t, int64(5), ran.Load())
	})
}

// Forwarded events count on the target bus. A forward onto a full target
// runs inside the source's handler, so it does not wait: the forwarding
// handler fails with the typed error and the source keeps going.
func TestQueueForwardToFullBusFailsForwardingHandler_FWD1_EMIT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		src := quBus(t, "FwdSrc")
		dst := quBus(t, "FwdDst", api.WithMaxQueue(1))
		_, err := src.Forward(api.Wildcard, dst)
		require.NoError(t, err)
		g := quOnGate(t, dst)

		a, b, c := &QJob{N: 0}, &QJob{N: 1}, &QJob{N: 2}
		require.NoError(t, src.Emit(ctx, a))
		synctest.Wait() // a runs on dst
		require.NoError(t, src.Emit(ctx, b))
		require.NoError(t, src.Emit(ctx, c))
		// a runs on dst (held by the gate), b waits in dst's queue, and
		// c's forward finds dst full.
		require.NoError(t, c.Wait(ctx))
		rows := c.Rows()
		require.Len(t, rows, 1)
		assert.ErrorIs(t, rows[0].Error(), api.ErrQueueFull)
		assert.Equal(t, []int{0}, g.order())

		g.open()
		require.NoError(t, a.Wait(ctx))
		require.NoError(t, b.Wait(ctx))
		assert.Equal(t, []int{0, 1}, g.order())
	})
}

// SER-2: a restored queue is requeued whole, over the limit if need be;
// the requeued events count, so emits fail until the queue is back under
// the limit.
func TestQueueRequeueCountsButIsNotLimited_SER2_SER3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		bus := quBus(t, "Requeue", api.WithMaxQueue(1), api.WithQueueFullPolicy(api.QueueReject))
		g := quOnGate(t, bus)
		jobs := []*QJob{{N: 0}, {N: 1}, {N: 2}}
		for _, j := range jobs {
			require.NoError(t, engine.Requeue(bus, j))
		}
		assert.ErrorIs(t, bus.Emit(ctx, &QJob{N: 9}), api.ErrQueueFull, "3 requeued events fill a queue of 1")
		engine.Resume(bus)
		synctest.Wait() // job 0 runs; 1 and 2 wait
		assert.ErrorIs(t, bus.Emit(ctx, &QJob{N: 9}), api.ErrQueueFull)
		g.release()
		synctest.Wait() // job 1 runs; 2 waits: the queue is at its limit
		assert.ErrorIs(t, bus.Emit(ctx, &QJob{N: 9}), api.ErrQueueFull)
		g.release()
		synctest.Wait() // job 2 runs: the queue is empty
		last := &QJob{N: 3}
		require.NoError(t, bus.Emit(ctx, last))
		g.open()
		require.NoError(t, bus.WaitUntilIdle(ctx))
		for _, j := range append(jobs, last) {
			assert.Equal(t, api.StatusCompleted, j.Status())
		}
		assert.Equal(t, []int{0, 1, 2, 3}, g.order())
	})
}

// HIST-4 with a queue bound: with dropping off, a full history is final, so
// a waiting-mode emit fails with the history error at once instead of
// waiting for queue room it could never use.
func TestQueueFullHistoryRejectsBeforeWaiting_HIST4(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := quBus(t, "Hist", api.WithMaxHistory(3), api.WithMaxQueue(2))
		g := quOnGate(t, bus)
		quFill(t, bus, 3) // history 3/3, queue 2/2
		done := quEmitAsync(context.Background(), bus, &QJob{N: 3})
		synctest.Wait()
		err, ok := quReturned(done)
		require.True(t, ok, "Emit must not wait when the history is full")
		assert.ErrorIs(t, err, api.ErrHistoryFull)
		assert.NotErrorIs(t, err, api.ErrQueueFull)

		// Reject mode: the history error too, not the queue error.
		rej := quBus(t, "HistRej", api.WithMaxHistory(3), api.WithMaxQueue(2), api.WithQueueFullPolicy(api.QueueReject))
		rg := quOnGate(t, rej)
		quFill(t, rej, 3)
		err = rej.Emit(context.Background(), &QJob{N: 3})
		assert.ErrorIs(t, err, api.ErrHistoryFull)
		assert.NotErrorIs(t, err, api.ErrQueueFull)

		g.open()
		rg.open()
		require.NoError(t, bus.WaitUntilIdle(context.Background()))
		require.NoError(t, rej.WaitUntilIdle(context.Background()))
	})
}

// Bound a bus's queue and shed load when it is full. (A bus that waits for
// room instead is the default: leave out WithQueueFullPolicy.)
func ExampleWithMaxQueue() {
	ctx := context.Background()
	bus, err := api.NewBus("ExampleQueueBus",
		api.WithMaxQueue(1),
		api.WithQueueFullPolicy(api.QueueReject),
		api.WithHistoryDrop(true), // the history keeps only the newest 100
	)
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close() }()

	started, release := make(chan struct{}, 1), make(chan struct{})
	_, err = api.On(bus, func(ctx context.Context, e *exGreet) (string, error) {
		started <- struct{}{}
		<-release
		return "hello, " + e.Name, nil
	})
	if err != nil {
		panic(err)
	}

	_ = bus.Emit(ctx, &exGreet{Name: "ada"}) // runs
	<-started
	_ = bus.Emit(ctx, &exGreet{Name: "bob"}) // waits in the queue
	err = bus.Emit(ctx, &exGreet{Name: "cyd"})
	fmt.Println(errors.Is(err, api.ErrQueueFull))

	close(release)
	<-started
	_ = bus.WaitUntilIdle(ctx)
	// Output: true
}
