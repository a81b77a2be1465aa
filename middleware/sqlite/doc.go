// Package sqlitemirror is a ringbus middleware that mirrors every
// lifecycle transition of a bus's events and result rows into an
// append-only SQLite database, the history mirror of abxbus, so that the
// history can be queried with SQL while the program runs and after it
// exits.
//
//	m, err := sqlitemirror.Open(ctx, "history.db")
//	if err != nil { ... }
//	defer m.Close()                       // after the buses: it writes what is left
//	bus, _ := api.NewBus("Orders", api.WithMiddlewares(m))
//	defer bus.Close()
//
// # Tables
//
// Open creates two tables if they are missing, and sets the database to
// WAL journal mode with synchronous=NORMAL, so that readers in other
// connections or processes never block the writer:
//
//	events_log(id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,
//	    event_type TEXT NOT NULL, event_status TEXT NOT NULL,
//	    eventbus_id TEXT NOT NULL, eventbus_name TEXT NOT NULL, phase TEXT,
//	    event_json TEXT NOT NULL, inserted_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
//
//	event_results_log(id INTEGER PRIMARY KEY AUTOINCREMENT,
//	    event_result_id TEXT NOT NULL, event_id TEXT NOT NULL,
//	    handler_id TEXT NOT NULL, handler_name TEXT NOT NULL,
//	    eventbus_id TEXT NOT NULL, eventbus_name TEXT NOT NULL,
//	    event_type TEXT NOT NULL, status TEXT NOT NULL, phase TEXT,
//	    result_repr TEXT, error_repr TEXT, event_result_json TEXT,
//	    inserted_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
//
// Each hook call adds one row. phase is the transition the hook reports
// (pending, started or completed); event_status and status are the event's
// and the row's status at that moment, so a failed handler's completed row
// has status "error". eventbus_name holds the bus label ("Orders#ab12"),
// which tells apart buses of the same name. event_json is the event's
// abxbus JSON at that moment (package wire; the abxbus 2.4.2 form unless
// WithEncoder says otherwise) and event_result_json the row's EventResult
// JSON. result_repr is set when the handler returned without an error: a
// string is quoted as Go quotes it ("ok" with its quotes), an event is
// written as Event(Type#ab12), nil as nil, any other value as fmt's %#v.
// error_repr is set when the handler failed: the error's cross-language
// type name and its message, Error('handler boom').
//
// Several processes may mirror into the same file: each waits for the
// others' write transactions (up to the busy timeout, WithBusyTimeout).
//
// # Writing off the bus's path
//
// The hooks only take a snapshot of what the row needs (statuses, the
// JSON) and put it in a bounded queue (WithQueueSize); one goroutine of
// the Mirror inserts the queued rows in batches, one transaction per batch
// of up to WithBatchSize rows, written once the batch is full or
// WithFlushInterval after its first row. A slow disk therefore does not
// slow the bus until the queue is full. Then the hook waits for room and
// so does the bus (QueueBlock, the default: no row is lost), or, with
// WithQueueFullPolicy(QueueDrop), the row is dropped and counted
// (Stats.Dropped). Flush waits until every row queued before it is
// written; Close writes what is queued and closes the database.
//
// # Errors
//
// Failures are reported three ways: to the function given by
// WithErrorHandler as they happen, as slog records with attributes
// (WithLogger), and from the next Flush or Close. Each is an *Error whose
// Op says what failed; errors.Is matches it against ErrWrite, ErrEncode,
// ErrQueueFull or ErrClosed, and against the SQLite driver's error it
// wraps. A failed batch is rolled back and its rows are lost
// (Stats.Failed); the Mirror goes on with the next batch.
//
// # Cost
//
// A hook encodes the event with package wire (a row's hook encodes it
// with its rows, from which the writer takes the row) into a pooled
// buffer and queues it; nothing in a hook touches the database. For an
// event with one handler (six hooks) that is about 15 to 24 µs and 16
// allocations (about 1 KiB) on the bus's goroutine, where the bare bus
// spends 1.2 to 1.8 µs per event. The writer, SQLite in pure Go, sustains
// about 8,000 to 11,000 such events a second (six rows each, about 3.5
// KiB of JSON) on a 2-core development machine: a bus emitting faster
// fills the queue, and then waits for the writer under QueueBlock. The
// package's benchmark, BenchmarkEmitBatchSQLiteMirror, measures both
// beside the bare bus in one run.
//
// A Mirror is safe for concurrent use and may serve several buses. It must
// not be copied. The SQLite driver is modernc.org/sqlite, in pure Go:
// no cgo is needed.
package sqlitemirror
