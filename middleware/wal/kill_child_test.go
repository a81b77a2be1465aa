package wal_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
)

// childEnv, when set to a path, makes the test binary the child of
// TestWALSurvivesSIGKILL_MW13: it logs events to a WAL at that path and
// prints their ids, until it is killed.
const childEnv = "RINGBUS_WAL_KILL_CHILD"

// childMaxEvents bounds the child, should the parent never kill it.
const childMaxEvents = 5000

// killChild is the child process: a serial bus and a parallel bus share a
// WAL under SyncEvery. It emits events one after another on the serial
// bus, and every sixteenth time six at once on the parallel bus; every
// twentieth event carries a 256 KiB payload, so that some lines are long
// and a kill may cut one short. It prints "emit <id>" before each Emit
// ("emit <id> big" for the long ones) and "ack <id>" once the event's Wait
// has returned. The first long line written after killAfter acks is
// written only in part (tearingFile), as a kill in the middle of a large
// write leaves it, and the child prints "torn -" and hangs there until it
// is killed. It returns the exit code.
func killChild(path string) int {
	ctx := context.Background()
	var acks atomic.Int64
	w, err := wal.Open(path, wal.WithFileWrapper(func(f wal.File) wal.File {
		return &tearingFile{File: f, acks: &acks}
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var buses []*api.Bus
	for _, opts := range [][]api.Option{nil, {api.WithEventConcurrency(api.ParallelEvents)}} {
		bus, err := api.NewBus("KillChild", append(opts, api.WithHistoryDrop(true), api.WithMaxHistory(64), api.WithMiddlewares(w))...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := api.On(bus, func(context.Context, *walOrder) (string, error) { return "ok", nil }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		buses = append(buses, bus)
	}
	var mu sync.Mutex
	say := func(verb, id string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = os.Stdout.WriteString(verb + " " + id + "\n") // unbuffered: the parent sees it at once
		if verb == "ack" {
			acks.Add(1)
		}
	}
	blob := strings.Repeat("x", 256<<10)
	emit := func(bus *api.Bus, e *walOrder) error {
		id := e.ID()
		if e.Blob != "" {
			id += " big"
		}
		say("emit", id)
		if err := bus.Emit(ctx, e); err != nil {
			return err
		}
		if err := e.Wait(ctx); err != nil {
			return err
		}
		say("ack", e.ID())
		return nil
	}
	for i := 0; i < childMaxEvents; {
		if i%16 == 15 {
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for j := range 6 {
				e := &walOrder{OrderID: "burst", Qty: i + j}
				wg.Go(func() { errs <- emit(buses[1], e) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 2
				}
			}
			i += 6
			continue
		}
		e := &walOrder{OrderID: "serial", Qty: i}
		if i%20 == 0 {
			e.Blob = blob
		}
		if err := emit(buses[0], e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		i++
	}
	say("done", "-")
	return 0
}

// tearingFile is the child's WAL file. Once killAfter events are
// acknowledged, it writes the first half of the next long line, says
// "torn -" and blocks until the parent's SIGKILL: the file is left with a
// torn last line, as a kill during a large write(2) leaves it. Every other
// line goes to the file whole, in one write.
type tearingFile struct {
	wal.File
	acks *atomic.Int64
}

func (f *tearingFile) Write(p []byte) (int, error) {
	if len(p) < 128<<10 || f.acks.Load() < killAfter {
		return f.File.Write(p)
	}
	if _, err := f.File.Write(p[:len(p)/2]); err != nil {
		return 0, err
	}
	_, _ = os.Stdout.WriteString("torn -\n")
	select {} // until killed
}
