// Package wal is a write-ahead log for ringbus: a middleware that appends
// each completed event to a file, one line of JSON per event, and a reader
// that replays such a file into a bus or iterates over its events.
//
//	w, err := wal.Open("/var/lib/app/events.wal")  // SyncEvery by default
//	if err != nil { ... }
//	bus, _ := api.NewBus("App", api.WithMiddlewares(w))
//	...
//	_ = bus.Stop(ctx)
//	err = w.Close()                                // then the WAL
//
// After a restart:
//
//	rep, err := wal.Replay(ctx, "/var/lib/app/events.wal", bus)
//
// # What is written
//
// Only completed events are written, each once, when it completes:
// nothing while its handlers run. A line is the event's JSON in the
// format of package wire (the zero wire.Encoder by default: abxbus 2.4.2's
// event JSON, every event_* field and the payload, event_created_at and
// the other times as strings, and no result rows; WithEncoder with
// wire.Upstream adds them), followed by a newline. The whole line goes to
// the file in one write on a file opened for appending, so a line is
// never interleaved with another, and a crash can only leave the last
// line short. A child event completes before its parent, so its line comes
// first; an event emitted again after it completed is written again.
//
// The hook that writes runs on the bus's processing path and holds no bus
// lock. The WAL records the events that complete on the buses it is given
// to: a forwarded event completes on one of the buses it visits, so give
// the WAL to each of them.
//
// # Sync policies
//
// SyncEvery (the default) writes and fsyncs an event's line before the bus
// goes on: once Wait on the event has returned, its line survives a kill
// of the process (SIGKILL included) and a crash of the machine. Events
// that complete at the same time share one fsync. A serial bus then runs
// at the speed of the disk's fsync, one event at a time.
//
// SyncBatch(interval, maxEvents) and SyncNone hand each line to a
// goroutine of the WAL through a bounded queue (WithQueueSize), so the bus
// does not wait for the disk unless the queue is full. SyncBatch fsyncs
// every maxEvents lines or interval after the first line not yet synced;
// SyncNone leaves it to the operating system. Under both, the events that
// completed last before a crash or a kill may be missing from the file.
//
// # Reading
//
// Read iterates over a file's events in file order. Replay emits fresh
// copies of them on a bus (new ids unless WithOriginalIDs, an empty
// event_path), waiting for each before the next (WithInFlight for more),
// and returns a Report. Both skip a torn last line and report it
// (ErrTorn), and skip a corrupt line anywhere else, reporting its line
// number and offset (ErrCorrupt, with the decoder's *wire.DecodeError),
// then go on. Lines of any length are read, up to WithMaxLineBytes.
//
// # Errors
//
// A failed write or fsync stops the WAL: it writes nothing more, each
// event it then loses is reported, and Close returns the first failure.
// Failures are *Error values, logged with slog (WithLogger) and passed to
// the function given with WithErrorHandler; errors.Is matches their cause
// (syscall.ENOSPC, ErrClosed, ErrFailed, ...).
//
// # Cost
//
// Writing an event costs the encoding of its JSON (about half a
// microsecond for a small event) and one write system call; fsync costs
// what the disk takes. The README's WAL section has the throughput of each
// policy measured beside the bare bus.
//
// A WAL is safe for concurrent use by any number of buses and goroutines.
package wal
