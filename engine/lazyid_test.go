package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/ringbus/ringbus/ident"
)

// TIME-1, TIME-5: an event's id is made when it is first read, from the
// creation time: its timestamp bits are those NewV7At gives that instant,
// every reader sees one id, and two events never share one.
func TestLazyEventID(t *testing.T) {
	b, err := NewBus("LazyID")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	const n = 64
	evs := make([]*Event, n)
	for i := range evs {
		evs[i], _ = NewEvent("LazyIDEvent", nil)
		if err := b.Emit(context.Background(), evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[ident.UUID]bool{}
	for _, e := range evs {
		// Readers racing for the first read all get the same id.
		ids := make([]ident.UUID, 8)
		var wg sync.WaitGroup
		for j := range ids {
			wg.Go(func() { ids[j] = e.UUID() })
		}
		wg.Wait()
		for _, u := range ids[1:] {
			if u != ids[0] {
				t.Fatalf("readers saw %s and %s", ids[0], u)
			}
		}
		want := ident.NewV7At(e.CreatedTime())
		// 72 bits hold the timestamp (ms, then the fraction); the rest is random.
		if got := ids[0]; [9]byte(got[:9]) != [9]byte(want[:9]) {
			t.Fatalf("id %s does not encode the creation time %v (want prefix of %s)", got, e.CreatedAt(), want)
		}
		if seen[ids[0]] {
			t.Fatalf("duplicate id %s", ids[0])
		}
		seen[ids[0]] = true
		if e.ID() != ids[0].String() {
			t.Fatalf("ID %s, UUID %s", e.ID(), ids[0])
		}
	}
}
