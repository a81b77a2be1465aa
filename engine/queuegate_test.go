package engine

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The queue gate (WithMaxQueue, an opt-in extension of EMIT-2) under
// concurrent takers, waiters that give up and a releasing consumer: places
// taken never exceed the limit, and when everyone is done nothing is taken
// and nobody is left waiting.
func TestQueueGateStressKeepsLimit_EMIT2(t *testing.T) {
	const (
		limit   = 4
		takers  = 8
		perTake = 2000
	)
	var g queueGate
	stopped := make(chan struct{})
	held := make(chan struct{}, takers*perTake)
	var over atomic.Int64
	check := func() {
		if n := g.n.Load(); n > limit || n < 0 {
			over.Add(1)
		}
	}
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for range held {
			check()
			g.release(limit)
			runtime.Gosched()
		}
	}()
	var taken, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for w := range takers {
		wg.Go(func() {
			for i := range perTake {
				ok := g.tryTake(limit)
				if !ok {
					ctx := context.Background()
					if (w+i)%5 == 0 {
						c, cancel := context.WithCancel(ctx)
						cancel()
						ctx = c
					}
					ok = g.wait(ctx, limit, stopped) == nil
				}
				if !ok {
					gaveUp.Add(1)
					continue
				}
				check()
				taken.Add(1)
				held <- struct{}{}
			}
		})
	}
	wg.Wait()
	close(held)
	<-consumerDone
	if over.Load() != 0 {
		t.Fatalf("places taken went outside [0, %d] %d times", limit, over.Load())
	}
	if taken.Load()+gaveUp.Load() != takers*perTake {
		t.Fatalf("taken %d + gave up %d != %d", taken.Load(), gaveUp.Load(), takers*perTake)
	}
	if n, nw := g.n.Load(), g.nwait.Load(); n != 0 || nw != 0 || g.head != nil || g.tail != nil {
		t.Fatalf("after the run: n=%d nwait=%d head=%p tail=%p", n, nw, g.head, g.tail)
	}
	t.Logf("taken %d, gave up %d", taken.Load(), gaveUp.Load())
}

// Waiters get places in the order they started waiting, and one that gives
// up leaves the line without taking a place.
func TestQueueGateGrantsInFIFOOrder_EMIT2(t *testing.T) {
	const limit, waiters, quitter = 2, 6, 2
	var g queueGate
	stopped := make(chan struct{})
	for range limit {
		if !g.tryTake(limit) {
			t.Fatal("a free place was refused")
		}
	}
	if g.tryTake(limit) {
		t.Fatal("a place beyond the limit was taken")
	}
	got := make(chan int, waiters)
	quitCtx, quit := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range waiters {
		ctx := context.Background()
		if i == quitter {
			ctx = quitCtx
		}
		wg.Go(func() {
			if g.wait(ctx, limit, stopped) == nil {
				got <- i
			}
		})
		for g.nwait.Load() != int32(i+1) { // waiter i is in line
			runtime.Gosched()
		}
	}
	quit()
	for g.nwait.Load() != waiters-1 {
		runtime.Gosched()
	}
	var order []int
	for range waiters - 1 {
		g.release(limit)
		order = append(order, <-got) // the grant, before the next release
	}
	wg.Wait()
	want := []int{0, 1, 3, 4, 5}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("grant order %v, want %v", order, want)
		}
	}
	if n := g.n.Load(); n != limit {
		t.Fatalf("%d places taken after the grants, want %d", n, limit)
	}
	if g.head != nil || g.nwait.Load() != 0 {
		t.Fatal("a waiter is left in line")
	}
}
