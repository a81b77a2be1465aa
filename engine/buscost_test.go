package engine

// Tests of the parts that make a short-lived bus cheap (issue 13, target
// 3): the runner count Close waits on, the lazily made handler table and
// tracked set. The per-bus budget itself is checked in package perf
// (TestBusLifecycleBudget).

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
)

// A waiter that registers on a runnerGroup is always woken when the count
// reaches zero, whichever of the waiter and the last Done comes first. In a
// synctest bubble a lost wake-up blocks every goroutine, which fails the
// test as a deadlock.
func TestRunnerGroupWakesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g runnerGroup
		for i := range 2000 {
			g.Add(2)
			for range 2 {
				go func() {
					if i%2 == 0 {
						runtime.Gosched()
					}
					g.Done()
				}()
			}
			ch, unregister := g.zeroChan()
			if !g.idle() {
				<-ch
			}
			unregister()
			if !g.idle() {
				t.Fatalf("round %d: woken with %d runners", i, g.n.Load())
			}
		}
		if w := g.waiting.Load(); w != 0 {
			t.Fatalf("%d waiters left registered", w)
		}
	})
}

func TestRunnerGroupNegativePanics(t *testing.T) {
	var g runnerGroup
	defer func() {
		if recover() == nil {
			t.Fatal("Done on an empty group did not panic")
		}
	}()
	g.Done()
}

// The handler table keeps its first pattern inline and the others in a
// map made for the second one; clear empties both.
func TestSlotTable(t *testing.T) {
	var tb slotTable
	if _, ok := tb.Load("A"); ok {
		t.Fatal("empty table has A")
	}
	slots := map[string]*handlerSlot{"A": {}, "B": {}, "C": {}}
	for _, k := range []string{"A", "B", "C"} {
		tb.store(k, slots[k])
		if k == "A" && tb.more.Load() != nil {
			t.Fatal("the map was made for the first pattern")
		}
	}
	for k, want := range slots {
		if got, ok := tb.Load(k); !ok || got != want {
			t.Fatalf("Load(%q) = %p, %v; want %p", k, got, ok, want)
		}
	}
	if _, ok := tb.Load("D"); ok {
		t.Fatal("table has D")
	}
	seen := map[*handlerSlot]bool{}
	tb.clear(func(s *handlerSlot) { seen[s] = true })
	if len(seen) != len(slots) {
		t.Fatalf("clear visited %d slots, want %d", len(seen), len(slots))
	}
	for k := range slots {
		if _, ok := tb.Load(k); ok {
			t.Fatalf("%s still there after clear", k)
		}
	}
}

// A bus that handles several event types runs each event's own handlers,
// through the inline slot and the map alike, and Close(WithClear) forgets
// them.
func TestBusSeveralTypes(t *testing.T) {
	ctx := context.Background()
	b, err := NewBus("SeveralTypes", WithDomain(NewDomain()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	types := []string{"TypeA", "TypeB", "TypeC"}
	for _, typ := range types {
		if _, err := b.On(typ, func(_ context.Context, e *Event) (any, error) {
			got[typ+"<-"+e.Type()]++
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for _, typ := range types {
			e, err := NewEvent(typ, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := e.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, typ := range types {
		if n := got[typ+"<-"+typ]; n != 2 || len(got) != len(types) {
			t.Fatalf("handler calls %v, want each type's handler twice for its own type", got)
		}
	}
	if err := b.Close(WithClear()); err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		if hs := b.HandlersFor(typ); len(hs) != 0 {
			t.Fatalf("%s still has %d handlers after Close(WithClear())", typ, len(hs))
		}
	}
}
