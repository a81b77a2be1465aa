// Reads the ErrorEvent and ResultEvent JSON that ringbus's AutoError and
// AutoReturn middlewares emitted and reports what a consumer using the
// official abxbus TypeScript package reads from them. Driven by
// middleware/ts_test.go; not part of the Go module.
//
// usage: node automw.mjs <manifest.json>
// manifest: {"events": [{"name": "...", "file": "event.json"}]}
// stdout: {"events": [{"name", "error"?, "event_type"?, "payload"?, "json"?}]}
//   payload: the fields error, error_type and data as the event holds them
//   json: the event's toJSON()
import { readFileSync } from 'node:fs'
import { BaseEvent } from 'abxbus'

const manifest = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const out = { events: [] }

const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)))
const message = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

for (const c of manifest.events ?? []) {
  const r = { name: c.name }
  out.events.push(r)
  try {
    const ev = BaseEvent.fromJSON(JSON.parse(readFileSync(c.file, 'utf8')))
    r.event_type = ev.event_type
    r.payload = {}
    for (const k of ['error', 'error_type', 'data']) {
      if (k in ev) r.payload[k] = plain(ev[k])
    }
    r.json = plain(ev.toJSON())
  } catch (e) {
    r.error = message(e)
  }
}

process.stdout.write(JSON.stringify(out))
