package wal

import (
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/ringbus/ringbus/wire"
)

type syncKind uint8

const (
	syncEvery syncKind = iota
	syncBatch
	syncNone
)

// SyncPolicy says when the WAL makes the lines it writes durable with
// fsync, and so what a completed event's Wait promises. Make one with
// SyncEvery, SyncBatch or SyncNone. The zero SyncPolicy is SyncEvery.
type SyncPolicy struct {
	kind      syncKind
	interval  time.Duration
	maxEvents int
}

// SyncEvery writes and fsyncs an event's line before the bus goes on, so
// that once Wait on the event returns its line is on disk: it survives a
// kill of the process and a crash of the machine. The write and the fsync
// run on the goroutine completing the event (a serial bus waits for them
// before starting its next event); events completing at the same time, on
// a parallel bus or on several buses sharing the WAL, share one fsync
// (group commit). The default.
func SyncEvery() SyncPolicy { return SyncPolicy{kind: syncEvery} }

// SyncBatch queues each event's line for a goroutine of the WAL, which
// writes it and fsyncs at most interval after the first line not yet
// synced, or as soon as maxEvents lines are not yet synced, whichever
// comes first. interval <= 0 syncs by count only, maxEvents <= 0 by time
// only; Open rejects both. The bus does not wait for the disk, so the last
// events that completed before a crash may be lost: at most interval's or
// maxEvents' worth, plus the queue (WithQueueSize).
func SyncBatch(interval time.Duration, maxEvents int) SyncPolicy {
	return SyncPolicy{kind: syncBatch, interval: interval, maxEvents: maxEvents}
}

// SyncNone queues each event's line for a goroutine of the WAL, which
// writes it and leaves flushing it to the operating system (Sync and Close
// still fsync). A line written survives a kill of the process, but not a
// crash of the machine; the queue is lost with the process.
func SyncNone() SyncPolicy { return SyncPolicy{kind: syncNone} }

// String describes the policy: "every", "batch(10ms, 512)" or "none".
func (p SyncPolicy) String() string {
	switch p.kind {
	case syncBatch:
		return fmt.Sprintf("batch(%s, %d)", p.interval, p.maxEvents)
	case syncNone:
		return "none"
	default:
		return "every"
	}
}

// Option configures Open.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	sync    SyncPolicy
	enc     wire.Encoder
	perm    fs.FileMode
	queue   int
	logger  *slog.Logger
	onError func(error)
	wrap    func(file) file // tests only
}

// DefaultQueueSize is the number of lines the SyncBatch and SyncNone
// policies queue for the WAL's goroutine unless WithQueueSize says
// otherwise.
const DefaultQueueSize = 1024

func defaultConfig() config {
	return config{perm: 0o644, queue: DefaultQueueSize, logger: slog.Default()}
}

func (c *config) validate() error {
	if c.sync.kind == syncBatch && c.sync.interval <= 0 && c.sync.maxEvents <= 0 {
		return fmt.Errorf("%w: SyncBatch needs a positive interval or a positive maxEvents", ErrInvalidOption)
	}
	if c.queue < 1 {
		return fmt.Errorf("%w: queue size %d, want at least 1", ErrInvalidOption, c.queue)
	}
	if c.perm&^fs.ModePerm != 0 {
		return fmt.Errorf("%w: file mode %v has bits beyond the permissions", ErrInvalidOption, c.perm)
	}
	return nil
}

// WithSync sets the sync policy: SyncEvery (the default), SyncBatch or
// SyncNone.
func WithSync(p SyncPolicy) Option { return optionFunc(func(c *config) { c.sync = p }) }

// WithEncoder sets the encoder of the lines. The default, the zero
// wire.Encoder, writes the event JSON of abxbus 2.4.2, without result
// rows; wire.Encoder{Mode: wire.Upstream} adds event_results (each
// handler's result or error) and event_blocks_parent_completion.
func WithEncoder(enc wire.Encoder) Option { return optionFunc(func(c *config) { c.enc = enc }) }

// WithPerm sets the permission bits of a file that Open creates (0o644 by
// default; the umask applies). A file that exists keeps its mode.
func WithPerm(perm fs.FileMode) Option { return optionFunc(func(c *config) { c.perm = perm }) }

// WithQueueSize sets how many lines the SyncBatch and SyncNone policies
// queue for the WAL's goroutine (DefaultQueueSize by default). When the
// queue is full, the hook waits for room, and so does the bus: a bus
// cannot outrun its disk for longer than the queue lasts. SyncEvery has no
// queue.
func WithQueueSize(n int) Option { return optionFunc(func(c *config) { c.queue = n }) }

// WithLogger sets the logger of the WAL's records (slog.Default() by
// default). A write or fsync failure is logged at Error once, when it
// happens; an event that cannot be encoded at Warn; the first event that
// completes after Close at Warn; further events lost to a failure or to
// Close at Debug. The attributes are path, op, event_id, event_type and
// error.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithErrorHandler sets a function that receives every failure as an
// *Error: each event whose line was not written or not made durable, and
// each fsync failure of the background policies. It runs on the goroutine
// that met the failure (the bus's, or the WAL's), with no lock of the WAL
// held; it must not block for long and must not call Close or Sync
// (they wait for the goroutine that may be running it). A panic in it is
// recovered and logged at Error.
func WithErrorHandler(f func(error)) Option { return optionFunc(func(c *config) { c.onError = f }) }
