// Package bridge connects ringbus buses in different processes, and to
// abxbus services written in Python or TypeScript, over the transports
// abxbus defines: a JSONL file, HTTP, a Unix socket (packages jsonlbridge,
// httpbridge and socketbridge here), and SQLite, PostgreSQL, Redis and
// NATS (nested modules, so importing one brings in only its client).
//
// A Bridge speaks exactly what abxbus's bridges speak: each message is one
// event's JSON. Wire it to an application bus with Connect:
//
//	b, err := jsonlbridge.New("/var/run/app/events.jsonl")
//	...
//	err = b.Connect(bus) // send what bus handles, emit on bus what arrives
//	defer b.Close(ctx)
//
// Every event bus handles is then sent, and every event received is
// emitted on bus. An event keeps its event_path across the bridge, so a
// bus never handles an event twice and events do not loop: on transports
// that hear their own messages, a process's own events come back and are
// dropped by the bus they came from. A received event gets a new event_id
// (as abxbus's event_reset does); its type, payload, parent id, creation
// time and path are kept. Results do not travel back: a reply is an event
// of its own (see middleware.AutoReturn).
//
// Sending is asynchronous: Emit queues the encoded event and a writer
// sends the queue in batches, pipelined on the transports that can. A
// failed send is retried with backoff; Flush waits for the queue, and
// Close sends what is left, bounded by its context. Receiving never stops
// for bad input: a message that is not a valid event is dropped, counted
// (Stats) and reported to the error handler with an error matching
// ErrInvalidMessage.
//
// Delivery is at most once, as in abxbus: listeners see messages sent
// after they started, and an event in flight when a connection drops may
// be lost (transports report such gaps with a *LostError).
package bridge
