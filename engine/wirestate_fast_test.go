package engine

import (
	"testing"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// The fast paths of wirestate.go: the detached handler cache in front of
// the map, and Restore leaving out an event start its rows already give.

func TestDetachedHandlerRecentCache(t *testing.T) {
	base := HandlerDesc{ID: ident.NewV7(), Name: "h.fast", Pattern: "Fast", RegisteredAt: ident.Now(),
		BusID: ident.NewV7(), BusName: "FastBus", SlowTimeout: -1}
	h1, err := DetachedHandler(base)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := DetachedHandler(base)
	if err != nil || h2 != h1 {
		t.Fatalf("same description: %p, %v; want %p", h2, err, h1)
	}
	// Strings equal in value but not in memory hit the same entry.
	d := base
	d.Name = string([]byte("h.fast"))
	if h, _ := DetachedHandler(d); h != h1 {
		t.Fatal("an equal description gave another handler")
	}
	// Same id, any other field different: never the cached handler.
	for i, mod := range []func(*HandlerDesc){
		func(d *HandlerDesc) { d.Name = "h.other" },
		func(d *HandlerDesc) { d.FilePath = "x.go" },
		func(d *HandlerDesc) { d.Pattern = "Other" },
		func(d *HandlerDesc) { d.Timeout = time.Second },
		func(d *HandlerDesc) { d.SlowTimeout = time.Second },
		func(d *HandlerDesc) { d.RegisteredAt++ },
		func(d *HandlerDesc) { d.BusID = ident.NewV7() },
		func(d *HandlerDesc) { d.BusName = "OtherBus" },
	} {
		d := base
		mod(&d)
		h, err := DetachedHandler(d)
		if err != nil {
			t.Fatal(err)
		}
		if h == h1 || DescOf(h) != d {
			t.Fatalf("change %d: got %+v for %+v", i, DescOf(h), d)
		}
		// The first description still gives the first handler.
		if h, _ := DetachedHandler(base); h != h1 {
			t.Fatalf("change %d: lost the identity of the first handler", i)
		}
		// And the changed one its own, every time.
		if again, _ := DetachedHandler(d); again != h {
			t.Fatalf("change %d: a second lookup gave another handler", i)
		}
	}
}

func TestRestoreStartFromRows(t *testing.T) {
	t0 := ident.Now()
	h := HandlerDesc{ID: ident.NewV7(), Name: "h.start", BusID: ident.NewV7(), BusName: "StartBus"}
	row := func(st Status, started ident.Time) RowState {
		return RowState{ID: ident.NewV7(), Status: st, Handler: h, StartedAt: started, CompletedAt: started + 10}
	}
	for i, tc := range []struct {
		started   ident.Time
		rows      []RowState
		wantExt   bool
		wantStart ident.Time
	}{
		// The usual case: the event started with its finished row.
		{t0 + 5, []RowState{row(StatusCompleted, t0+5)}, false, t0 + 5},
		{t0 + 5, []RowState{row(StatusError, t0+7), row(StatusCompleted, t0+5)}, false, t0 + 5},
		// An earlier event start must be kept.
		{t0 + 1, []RowState{row(StatusCompleted, t0+5)}, true, t0 + 1},
		// A later one is kept too (the rows' earliest start wins anyway).
		{t0 + 9, []RowState{row(StatusCompleted, t0+5)}, true, t0 + 5},
		// The earliest start belongs to a row that may still run: kept.
		{t0 + 5, []RowState{row(StatusStarted, t0+5)}, true, t0 + 5},
		{t0 + 5, []RowState{row(StatusCompleted, t0+6), row(StatusStarted, t0+5)}, true, t0 + 5},
		// A tie with a finished row is enough.
		{t0 + 5, []RowState{row(StatusStarted, t0+5), row(StatusCompleted, t0+5)}, false, t0 + 5},
		// No rows.
		{t0 + 5, nil, true, t0 + 5},
	} {
		e := new(Event)
		s := EventState{Type: "StartFromRows", Status: StatusStarted, StartedAt: tc.started, Rows: tc.rows,
			Timeout: -1, SlowTimeout: -1, HandlerTimeout: -1, HandlerSlowTimeout: -1}
		if err := Restore(e, nil, &s); err != nil {
			t.Fatal(err)
		}
		if got := e.ext != nil && e.ext.started != 0; got != tc.wantExt {
			t.Errorf("case %d: start stored = %v, want %v", i, got, tc.wantExt)
		}
		if got := e.StartedTime(); got != tc.wantStart {
			t.Errorf("case %d: StartedTime = %d, want %d", i, got, tc.wantStart)
		}
		if got := StateOf(e).StartedAt; got != tc.wantStart {
			t.Errorf("case %d: StateOf(e).StartedAt = %d, want %d", i, got, tc.wantStart)
		}
	}
}
