// Package wire is ringbus's codec for the cross-language JSON wire format
// of abxbus: events, their result rows and their
// event_result_type, so that a Go service and a Python or TypeScript abxbus
// service exchange events and each understands the other exactly.
//
// # Compatibility
//
// The format is the JSON that abxbus's Python and TypeScript packages
// exchange: one flat object per event, whose event_* keys are the event's
// metadata and whose other keys are its payload. Two versions of it are in
// use: that of abxbus 2.4.2, and that of the current releases (the codec
// is checked against the TypeScript package 2.5.56), which adds
// event_blocks_parent_completion and the event's result rows
// (event_results) and still reads the 2.4.2 version. This package writes
// either (see [Mode]) and reads every form those runtimes write,
// TypeScript 2.4.2's result rows as an array included.
//
// # Writing
//
// [Marshal] and [Encoder] write one flat JSON object per event: every
// event_* field (null when unset, never omitted), then the payload
// fields beside them (a typed event's struct fields by their json tags, an
// untyped event's Fields), then wire fields the event brought in from
// another runtime. Timestamps are UTC with exactly nine fractional digits,
// ids are lowercase UUIDs, durations are seconds. event_result_type is the
// JSON Schema of the event's result type ([Declare]) or the schema the
// event arrived with.
//
// Two writer modes: [Compat242], the default, omits
// event_blocks_parent_completion and event_results, which abxbus 2.4.2
// rejects; [Upstream] writes both, like the current Python and TypeScript
// releases, event_results as an object keyed by handler id in row order,
// each row an abxbus EventResult object (the row's id and status, the
// handler's id, name and settings, its bus, the start and completion times,
// the result or the error as {"type","message"}, and the ids of the
// children it emitted). A row is
// written as the TypeScript package writes it: "error" only when the handler
// failed and "result" only when it completed (null then being the handler's
// nil), handler_timeout and handler_slow_timeout only when set, since
// TypeScript takes any "error" key, null included, as a failure, and a
// missing key reads as null everywhere.
//
// Payload names that a reader would refuse are refused with
// [ErrReservedField]: eventResult and eventResultsList, which TypeScript
// reserves, and, in Compat242 mode, first, which abxbus 2.4.2 reserves.
// Numbers beyond the float64 range (a json.Number such as 1e400, which
// JavaScript and Python read as Infinity) are refused like NaN, with
// [ErrEncode].
//
// # Reading
//
// [Unmarshal] and [Decoder] accept every form abxbus writes: 2.4.2
// events, current events with the blocks flag and event_results as an
// object, and TypeScript 2.4.2's event_results as an array. An event whose
// event_type was declared with a Go type (see [Declare] and
// engine.DeclareType) comes back as that type; any other as an
// untyped *engine.Event whose Fields keep the payload (numbers as
// json.Number), so forwarding it loses nothing. Keys that are not payload
// and not modelled survive a round trip. Result rows are restored as seeded
// rows (engine.Restore) whose handlers are detached descriptions of the
// remote handlers; a decoded completed event is complete, so waiting on it
// returns at once, though no bus runs it.
//
// Decoding never retains the input buffer: every string kept is a copy
// (sonic's CopyString for values it decodes). Bad input yields a
// [*DecodeError] naming the field and the byte offset, wrapping one of the
// sentinel errors ([ErrMalformed], [ErrTooDeep], [ErrFieldType], [ErrBadValue],
// [ErrBadTimestamp], [ErrBadUUID], [ErrReservedField],
// [ErrUnknownEventField], [ErrBadSchema], [ErrPayload]); the decoder never
// panics (it is fuzzed, FuzzDecodeEvent). Nesting is limited to
// [DefaultMaxDepth] levels, or [Decoder.MaxDepth].
//
// # Bus snapshots
//
// [MarshalBus] writes a bus as abxbus's EventBus JSON, with its keys in
// abxbus's order: id, name and settings, the handlers (abxbus's
// EventHandler objects), the handler index, the history with every event's
// result rows (an event_results array in Compat242 mode, as 2.4.2 dumps a
// bus; the Upstream object otherwise) and the ids of the queued events.
// [UnmarshalBus] rebuilds a bus from it, as abxbus's restore does:
// name and id kept exactly, handlers as no-op stubs unless bound
// ([WithHandlerFuncs], [WithHandlerResolver], or engine.BindHandler
// later), handlers missing from the snapshot re-created from their rows,
// event_children re-linked, and the queued events queued again, so that the
// bus resumes where it stopped: terminal rows keep their results and
// pending rows run. [BusShapeOf] picks the writer mode a snapshot
// came in, for the roundtrip command's bus mode.
//
// [Reset] makes the fresh copy of a received event that is emitted again,
// as abxbus's event_reset does.
//
// # Cost
//
// The event envelope is scanned and written by hand, and payload structs
// whose fields are all strings, bools and numbers are read and written field
// by field; other payload structs and arbitrary values (untyped payload,
// handler results) go through github.com/bytedance/sonic with encoding/json
// semantics. Measured on the development machine (2-vCPU EPYC VM,
// BenchmarkCodec, -count 10, benchstat medians on a quiet machine):
// encoding plus decoding a typed event with five payload fields takes about
// 1.2 µs and 3 allocations in the default Compat242 form, and about 1.6 µs
// and 4 allocations in the Upstream form, which adds its one result row (17
// more fields); encoding/json on a mirror struct takes 6.7 µs and 12 µs.
// Encoding alone is about 0.46 µs (no allocations with a reused buffer),
// decoding about 1.0 µs in the Upstream form.
//
// Encoders and Decoders are safe for concurrent use.
package wire

// Requirements of the team's spec that the package doc above describes,
// for maintainers (the tests cite the same IDs): every event_* key written,
// null when unset: WIRE-5; the writer modes: WIRE-14; the EventResult JSON:
// wire.md §3; the compatibility matrix read: wire.md §2.5; a decoded
// completed event is complete: WIRE-13; bus snapshots: wire.md §6, key
// order WIRE-20, handler JSON WIRE-21, row form per mode WIRE-22, restore
// WIRE-23 and SER-1..4, resuming where it stopped RT-3; Reset: RESET-1..4.
