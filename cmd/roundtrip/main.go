// Command roundtrip is ringbus's side of the cross-runtime roundtrip tests
// of abxbus (wire.md RT-1, RT-6): the other runtimes' test suites drive it
// with the same argv contract as the upstream Go port's roundtrip_cli.
//
// Usage:
//
//	roundtrip events <input.json> <output.json>
//
// events reads a JSON array of event objects, hydrates each one (an
// untyped ringbus event: payload kept as is, result rows restored) and
// writes the array back, each event in the shape it came in (WIRE-14):
// with event_blocks_parent_completion and event_results when the input had
// them (event_results as a list if it was one), in the 2.4.2 form
// otherwise. Unknown event_ keys are kept.
//
//	roundtrip bus <input.json> <output.json>
//
// bus reads a bus snapshot (wire.md §6), restores it as a ringbus bus
// (wire.UnmarshalBus: handlers as stubs, history, queue) without running
// anything, and writes the restored bus's snapshot back (wire.MarshalBus)
// in the shape it came in (wire.BusShapeOf): its events with their rows as
// an event_results array (2.4.2) or object (upstream).
//
//	roundtrip jsonl-listener <config.json>
//
// jsonl-listener reads a config {"path", "ready_path", "output_path"},
// listens on the JSONL file at path with a ringbus JSONL bridge (polling
// every 50ms), writes ready_path once it listens, then writes the first
// event it receives to output_path and exits. The event is written as the
// bridge received it (a new event_id, the bridge in its event_path), in the
// shape its line had; the output file appears whole (a temporary file
// renamed). Lines that are not valid events are skipped and reported on
// stderr. Without an event within 30 seconds it fails.
//
// Exit status: 0 on success, 1 when the input cannot be read, parsed or
// written (the reason is printed on stderr), 2 for a usage error or an
// unsupported mode.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("invalid arguments")

func run(args []string, stderr io.Writer) int {
	err := dispatch(args, stderr)
	if err == nil {
		return 0
	}
	logf(stderr, "roundtrip: %v\n", err)
	if errors.Is(err, errUsage) {
		logf(stderr, "usage: roundtrip events|bus <input.json> <output.json>\n       roundtrip jsonl-listener <config.json>\n")
		return 2
	}
	return 1
}

func dispatch(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no mode given", errUsage)
	}
	switch args[0] {
	case "events":
		if len(args) != 3 {
			return fmt.Errorf("%w: events needs <input.json> <output.json>", errUsage)
		}
		return eventsMode(args[1], args[2])
	case "bus":
		if len(args) != 3 {
			return fmt.Errorf("%w: bus needs <input.json> <output.json>", errUsage)
		}
		return busMode(args[1], args[2])
	case "jsonl-listener":
		if len(args) != 2 {
			return fmt.Errorf("%w: jsonl-listener needs <config.json>", errUsage)
		}
		return jsonlListener(args[1], stderr)
	}
	return fmt.Errorf("%w: unknown mode %q", errUsage, args[0])
}

// eventsMode implements "events": hydrate every event of the input array
// and write the array back, shape-preserving.
func eventsMode(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("%s: expected a JSON array of events: %w", in, err)
	}
	dec := wire.Decoder{AllowUnknownEventFields: true}
	var buf bytes.Buffer
	buf.WriteByte('[')
	b := make([]byte, 0, 4096)
	for i, raw := range raws {
		ev, err := dec.Unmarshal(raw)
		if err != nil {
			return fmt.Errorf("%s: event %d: %w", in, i, err)
		}
		b, err = wire.ShapeOf(raw).Append(b[:0], ev)
		if err != nil {
			return fmt.Errorf("%s: event %d: %w", in, i, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteString("]\n")
	return writeAtomic(out, buf.Bytes())
}

// busMode implements "bus": restore the snapshot on a paused bus of a
// private domain (nothing runs, no name conflicts) and write it back.
func busMode(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	b, err := wire.UnmarshalBus(data, wire.Paused(),
		wire.WithBusDecoder(wire.Decoder{AllowUnknownEventFields: true}),
		wire.WithEngineOptions(engine.WithDomain(engine.NewDomain()),
			engine.WithLogger(slog.New(slog.DiscardHandler))))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	snap, err := wire.MarshalBus(b, wire.BusShapeOf(data))
	_ = b.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return writeAtomic(out, append(snap, '\n'))
}

// writeAtomic writes data to path through a temporary file and a rename,
// so that a reader never sees a partial file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".roundtrip-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(err, tmp.Close(), os.Remove(name))
	}
	if err := tmp.Close(); err != nil {
		return errors.Join(err, os.Remove(name))
	}
	if err := os.Rename(name, path); err != nil {
		return errors.Join(err, os.Remove(name))
	}
	return nil
}

// logf writes a diagnostic to w. A diagnostic that cannot be written has
// nowhere else to go, so its error is dropped here, in one place.
func logf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
