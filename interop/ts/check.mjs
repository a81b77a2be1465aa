// Reads events that ringbus wrote and reports what a consumer using the
// official abxbus TypeScript package gets from them. Driven by
// wire/ts_test.go; not part of the Go module.
//
// usage: node check.mjs <manifest.json>
// manifest: {"events": [{"name": "...", "file": "event.json"}],
//            "schemas": [{"name": "...", "schema": {...}, "values": [...]}]}
// stdout: {"events": [{"name", "error"?, "eventResult"?, "eventResultError"?,
//                      "eventResultsList"?, "eventResultsListError"?, "json"?}],
//          "schemas": [{"name", "accepted": [bool, ...]}]}
import { readFileSync } from 'node:fs'
import { BaseEvent } from 'abxbus'

const manifest = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const out = { events: [], schemas: [] }

const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)))
const message = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

for (const c of manifest.events ?? []) {
  const r = { name: c.name }
  out.events.push(r)
  let ev
  try {
    ev = BaseEvent.fromJSON(JSON.parse(readFileSync(c.file, 'utf8')))
  } catch (e) {
    r.error = message(e)
    continue
  }
  try {
    r.eventResult = plain(await ev.eventResult())
  } catch (e) {
    r.eventResultError = message(e)
  }
  try {
    r.eventResultsList = plain(await ev.eventResultsList())
  } catch (e) {
    r.eventResultsListError = message(e)
  }
  try {
    r.json = plain(ev.toJSON())
  } catch (e) {
    r.error = message(e)
  }
}

for (const c of manifest.schemas ?? []) {
  // The event's own result schema, as TypeScript builds it from JSON Schema.
  const ev = BaseEvent.fromJSON({ event_type: 'SchemaProbe', event_timeout: null, event_result_type: c.schema })
  out.schemas.push({ name: c.name, accepted: c.values.map((v) => ev.event_result_type.safeParse(v).success) })
}

process.stdout.write(JSON.stringify(out))
