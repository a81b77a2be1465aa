// Package ring provides Queue, an unbounded multi-producer single-consumer
// FIFO queue that producers use without locks.
//
// It is the hand-off between the goroutines that emit events and the one
// goroutine that dispatches them: any number of goroutines Push, one
// consumer drains with PopBatch (or TryPop) and blocks in Wait when there is
// nothing to do.
//
// # Ordering and memory model
//
// The queue is strictly FIFO across goroutines: if Push(a) happens before
// Push(b), whichever goroutines make the calls, the consumer pops a before
// b. Pushes that are concurrent are ordered by the queue, and each
// producer's own values come out in the order it pushed them.
//
// Push synchronizes before the PopBatch (or TryPop) that returns the value:
// whatever the producer wrote before Push, the consumer can read after the
// pop without further synchronization. When Wait returns true, the Push of
// the oldest value in the queue has completed and synchronizes before that
// return; a Push that completes while the consumer is parked always wakes
// it (it parks again if an older value is still unpublished). Close
// synchronizes before every Push that returns false.
//
// # Design
//
// A single atomic counter hands every Push a global position (one
// fetch-add, so the order of the fetch-adds is the order of the queue, and
// that is what makes the FIFO promise above hold). Positions map onto
// segments linked into a list, each starting where the one before ends:
// the first has 16 slots and each later one twice as many as the one
// before, up to 1024, so a queue that only ever sees a few values costs a
// few hundred bytes and a busy one soon allocates only full-length
// segments. A producer finds its slot in the segment its hint points to
// with one subtraction and one comparison. Each slot has a ready flag, as
// in Dmitry Vyukov's
// bounded queue: the producer writes the value and then sets the flag, and
// the consumer reads the value only after it has seen the flag. Producers
// therefore never wait for each other or for the consumer, and never take a
// lock.
//
// The producer that takes the middle position of a segment links the next
// one, after it has published its value (so the consumer never waits for
// an allocation), so segment allocation (one allocation of 1024 slots for a
// full-length segment) is amortised over the segment's pushes and normally
// happens well before any producer needs the new segment. A
// segment is not reused: once the consumer has left it, the garbage
// collector frees it. The consumer zeroes every slot it empties, so popped
// values are not kept alive by the queue.
//
// The consumer walks the positions in order. If it reaches a position that
// a producer has claimed but not yet published (the producer was preempted
// between its fetch-add and its store), it spins briefly and then stops
// there, even if later positions are ready: order is never given up to make
// progress. PopBatch then returns what it has, and Wait parks until that
// slot is published.
//
// Parking uses an atomic parked flag and a channel of capacity one. The
// consumer sets the flag and then checks the head slot again; a producer
// sets the ready flag and then checks parked. Because these accesses are
// sequentially consistent, at least one of the two sees the other, so
// either the consumer does not park or the producer sends it a wake-up.
//
// The counter, the producers' segment hint, the consumer's position and the
// parked flag each sit on their own cache line (128 bytes on amd64, arm64
// and POWER, 256 on s390x, 64 elsewhere), so producers and the consumer do
// not slow each other down by sharing lines. Neighbouring slots are not
// spread over lines: producers pushing at the same moment write to adjacent
// slots, which costs some false sharing, but it keeps the consumer's reads
// sequential, which matters more for batch draining.
//
// # Costs
//
// Push: one fetch-add, two stores and one load, plus one 1024-slot segment
// allocation every 1024 pushes once the queue is past its first 1008
// positions (16 KiB for an 8-byte T, so about 18 bytes and 0 allocations
// per push amortised). A new queue costs about 1.1 KiB (New, one Push and
// one pop, 8-byte T), most of it the padding that keeps the counters on
// their own cache lines. Pop: two loads per value and one store per batch.
//
// Measured on the 2-core development VM (Intel Xeon, linux/amd64,
// go test -bench . -benchtime=200ms, several runs), against a buffered
// channel and a mutex-protected slice doing the same work in the same run:
//
//	benchmark                      ring        chan        mutex+slice
//	PushPop (1 goroutine)          25-29 ns    34-36 ns    26-27 ns
//	PushBatch64, per value         17-22 ns    33-35 ns    13-14 ns
//	4 producers + consumer, /value 22-36 ns    43-53 ns    20-31 ns
//
// On two cores the ring is about twice as fast as a channel and level with
// an uncontended mutex; what it adds over the mutex is that a producer never
// waits for another producer or for the consumer (a preempted lock holder
// stalls every producer behind a mutex), and that the consumer drains a
// whole batch with one store. Measure on the target machine before quoting
// these numbers elsewhere.
//
// # When not to use it
//
//   - When producers must be slowed down when the consumer falls behind.
//     The queue is unbounded: a stalled consumer lets it grow until memory
//     runs out. Use a bounded queue or a buffered channel for back-pressure.
//   - When there is more than one consumer. The consumer methods are not
//     safe for concurrent use; several consumers need a channel or an MPMC
//     queue.
//   - When T is large. A full-length segment holds 1024 values inline, so
//     a 1 KiB T means 1 MiB segments; queue pointers instead.
//   - When the queue is nearly always empty and latency matters more than
//     throughput. A parked consumer is woken through a channel, which costs
//     about as much as a channel send; a plain channel is simpler then.
//   - When a producer can be preempted for long between claiming and
//     publishing (for example under heavy CPU oversubscription): every value
//     behind its position waits for it.
package ring
