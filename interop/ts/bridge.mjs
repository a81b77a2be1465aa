// Runs one bridge peer with the official abxbus TypeScript package, for
// ringbus's bridge interop tests. Driven by internal/tspeer (BridgePeer);
// not part of the Go module.
//
// usage: node bridge.mjs <manifest.json>   (SQLite needs Node >= 22.5)
//
// manifest:
//   bridge      "jsonl" | "sqlite" | "http" | "socket" | "redis" | "nats" | "postgres"
//   args        the bridge constructor's arguments, as the TS constructor takes
//               them, e.g. ["/tmp/x.jsonl", 0.01] or [{"send_to": ..., "listen_on": ...}]
//   send_args   optional: arguments of a second bridge of the same kind used only
//               for sending (a unix socket path is either listened on or sent to
//               by one process, so request/reply over sockets takes two paths)
//   role        "listen" | "send" | "respond" | "ask"
//   bus_name    the app bus's name (default "TSPeer")
//   events      event JSON objects to send (send, ask), revived with BaseEvent.fromJSON
//   ask_type    respond: the event type answered (default "PeerAsk")
//   reply_type  respond: the reply's event type; ask: the type awaited (default "PeerReply")
//   count       events to receive (listen, default 1), asks to answer (respond,
//               default 1) or replies to await (ask, default len(events)); a
//               negative count runs until timeout_ms and then exits 0
//   timeout_ms  give up this long after the ready line (default 30000);
//               a "stop" line on stdin ends any role as if its count were reached
//   workarounds false: run the package exactly as it is, without the three
//               work-arounds below (Redis client info, SQLite column cache,
//               SQLite busy timeout)
//
// Wiring: bridge.start() before bridge.on() (on() then start() subscribes twice
// on NATS, Postgres and JSONL); outbound bus.on('*', bridge.emit); inbound
// bridge.on('*', e => { bus.emit(e) }), which does not return the event (the
// documented bridge.on('*', bus.emit) makes forwarded events unserialisable in
// 2.5.56). listen uses only the inbound wiring, send only the outbound, respond
// and ask both. A respond peer answers each ask_type event with a reply_type
// event emitted as its child, payload {"answer": "re: " + ask.question}.
//
// stdout, one JSON object a line:
//   {"ready": true, "bus_label": "...", "bridge_label": "..."}  once listening
//   {"sending": <event JSON>}   send/ask: each event as revived, before it is emitted
//   {"sent": n}                 send/ask: every event went through bridge.emit
//   {"event": <event JSON>}     every event from the wire, as the app bus handler sees it
//   {"replied": <event JSON>}   respond: each reply as emitted
//   {"reply": <event JSON>}     ask: each reply_type event from the wire
//   {"error": "..."}            then exit 1 (2 on timeout); send, ask and respond
//                               also fail when bridge.emit failed for an event
//                               of theirs (not for one from the wire)
import { readFileSync } from 'node:fs'
import { BaseEvent, EventBus } from 'abxbus'

const manifest = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const role = manifest.role
const askType = manifest.ask_type ?? 'PeerAsk'
const replyType = manifest.reply_type ?? 'PeerReply'
const timeoutMs = manifest.timeout_ms ?? 30000

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const message = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

let closing = null
const bridges = []
async function finish(code, error) {
  if (error !== undefined) print({ error })
  if (!closing) {
    // Close what can be closed, but never hang on a broker that went away.
    // An HTTP listener's close waits for idle keep-alive connections: end them.
    for (const b of bridges) b.node_server?.closeAllConnections?.()
    closing = Promise.race([
      Promise.allSettled(bridges.map((b) => b.close())),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ])
  }
  await closing
  process.exit(code)
}

process.on('uncaughtException', (e) => void finish(1, `uncaught: ${message(e)}`))
process.on('unhandledRejection', (e) => void finish(1, `unhandled rejection: ${message(e)}`))
// The driver holds our stdin open; when it goes away, so does this peer.
// A "stop" line on stdin asks the peer to finish as if it had reached its
// count (BridgePeer.Stop): a peer with a negative count stays up until the
// driver is done sending to it.
const stopped = deferred()
let stdinBuf = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  stdinBuf += chunk
  for (let i; (i = stdinBuf.indexOf('\n')) >= 0; stdinBuf = stdinBuf.slice(i + 1)) {
    if (stdinBuf.slice(0, i).trim() === 'stop') stopped.resolve()
  }
})
process.stdin.on('end', () => void finish(3, 'stdin closed'))
process.stdin.on('error', () => void finish(3, 'stdin closed'))
process.stdin.resume()


async function bridgeClass(kind) {
  const classes = {
    jsonl: 'JSONLEventBridge',
    sqlite: 'SQLiteEventBridge',
    http: 'HTTPEventBridge',
    socket: 'SocketEventBridge',
    redis: 'RedisEventBridge',
    nats: 'NATSEventBridge',
    postgres: 'PostgresEventBridge',
  }
  if (!(kind in classes)) throw new Error(`unknown bridge ${JSON.stringify(kind)}`)
  const mod = await import('abxbus/bridges')
  return mod[classes[kind]]
}

// Work-arounds for three faults of the TypeScript package and its peers that
// have nothing to do with the wire format, on unless the manifest says
// "workarounds": false:
//
// Redis: ioredis 5.10 and 5.11 send CLIENT SETINFO on connecting without
// waiting for it, so a SUBSCRIBE sent early (as RedisEventBridge.start does)
// can reach the server first; the SETINFO error reply in subscriber mode
// then makes ioredis drop the connection, and the subscription is lost
// (measured: about one start in 40). The peer turns the client info off
// through the URL, which ioredis reads options from.
//
// SQLite: SQLiteEventBridge reads the table's columns once, at start, and
// adds a column it has not seen with ALTER TABLE ... ADD COLUMN, which
// fails ("duplicate column name") when another process added that column
// since; the emit throws, and so does every later one. The peer has the
// bridge read the columns again before adding one.
//
// SQLite, too: SQLiteEventBridge opens its DatabaseSync without a busy
// timeout (node:sqlite's default is 0), so an emit fails at once with
// "database is locked" whenever another process is writing the file at
// that moment (measured: a Go bridge wired with Connect, re-publishing
// the events it received into the same table while the peer sent, failed
// the peer's emits in 6 runs of 6). The peer sets busy_timeout = 5000 on
// the bridge's connection as soon as it is opened, as Python's sqlite3
// does by default.
const workarounds = manifest.workarounds !== false

function bridgeArgs(kind, args) {
  if (!workarounds || kind !== 'redis' || typeof args[0] !== 'string') return args
  const url = new URL(args[0])
  if (!url.searchParams.has('disableClientInfo')) url.searchParams.set('disableClientInfo', 'true')
  return [url.toString(), ...args.slice(1)]
}

function patchBridge(kind, bridge) {
  if (!workarounds || kind !== 'sqlite') return bridge
  let db = bridge.db
  Object.defineProperty(bridge, 'db', {
    get: () => db,
    set: (value) => {
      value?.exec('PRAGMA busy_timeout = 5000')
      db = value
    },
  })
  const ensureColumns = bridge.ensureColumns.bind(bridge)
  bridge.ensureColumns = (keys) => {
    if (keys.some((key) => !bridge.table_columns.has(key))) bridge.refreshColumnCache()
    ensureColumns(keys)
  }
  return bridge
}

// Resolves once the bridge's subscription is in place at the broker, so a
// ready line means a message published next is heard.
async function settle(kind, bridge) {
  if (kind === 'nats' && bridge.nc) await bridge.nc.flush()
}

async function main() {
  if (!['listen', 'send', 'respond', 'ask'].includes(role)) throw new Error(`unknown role ${JSON.stringify(role)}`)
  const Bridge = await bridgeClass(manifest.bridge)
  const bus = new EventBus(manifest.bus_name ?? 'TSPeer')
  const make = (args) => patchBridge(manifest.bridge, new Bridge(...bridgeArgs(manifest.bridge, args ?? [])))
  const inbound = role === 'send' ? null : make(manifest.args)
  const outbound = role === 'listen' ? null : manifest.send_args || !inbound ? make(manifest.send_args ?? manifest.args) : inbound
  for (const b of [inbound, outbound]) if (b && !bridges.includes(b)) bridges.push(b)

  const local = new Set() // ids of the events this peer emitted itself
  const done = deferred()
  let received = 0
  let answered = 0
  let replies = 0
  const limit = (n, fallback) => (n === undefined || n === 0 ? fallback : n)

  // A reply event class registered under reply_type, so fromJSON revives
  // replies as it and the responder can construct them.
  const Reply = BaseEvent.extend(replyType, {})

  if (role === 'respond') {
    const want = limit(manifest.count, 1)
    bus.on(askType, (event) => {
      const reply = Reply({ answer: `re: ${event.question ?? ''}` })
      local.add(reply.event_id)
      event.emit(reply)
      print({ replied: reply.toJSON() })
      answered++
      if (want > 0 && answered >= want) done.resolve()
    })
  }
  if (role === 'ask') {
    const want = limit(manifest.count, (manifest.events ?? []).length)
    bus.on(replyType, (event) => {
      if (local.has(event.event_id)) return
      print({ reply: event.toJSON() })
      replies++
      if (want > 0 && replies >= want) done.resolve()
    })
  }
  if (inbound) {
    const want = limit(manifest.count, 1)
    bus.on('*', (event) => {
      if (local.has(event.event_id)) return
      print({ event: event.toJSON() })
      received++
      if (role === 'listen' && want > 0 && received >= want) done.resolve()
    })
    await inbound.start()
    await settle(manifest.bridge, inbound)
    inbound.on('*', (event) => {
      bus.emit(event)
    })
  }
  // The outbound handler's failures for the peer's own events (sent ones
  // and replies), which the bus records on the event. Re-publishing what
  // came from the wire may fail (an HTTP peer that has gone away): it is
  // no part of the exchange.
  const forwarder = outbound ? bus.on('*', outbound.emit) : null
  const checkForwarded = () => {
    const failures = []
    for (const event of bus.event_history.values()) {
      if (!local.has(event.event_id)) continue
      const result = forwarder && event.event_results.get(forwarder.id)
      if (result?.status === 'error') failures.push(`${event.event_type} ${event.event_id}: ${message(result.error)}`)
    }
    if (failures.length) throw new Error(`bridge.emit failed: ${failures.join('; ')}`)
  }

  print({ ready: true, bus_label: bus.label, bridge_label: inbound ? inbound.inbound_bus.label : null })
  setTimeout(() => {
    if (manifest.count < 0) void finish(0)
    else void finish(2, `timeout after ${timeoutMs} ms in role ${role}`)
  }, timeoutMs).unref()

  if (role === 'send' || role === 'ask') {
    const sent = []
    for (const obj of manifest.events ?? []) {
      const event = BaseEvent.fromJSON(obj)
      local.add(event.event_id)
      print({ sending: event.toJSON() })
      sent.push(event)
      bus.emit(event)
    }
    await bus.waitUntilIdle()
    checkForwarded()
    print({ sent: sent.length })
    if (role === 'send') done.resolve()
  }

  await Promise.race([done.promise, stopped.promise])
  await bus.waitUntilIdle() // a responder's replies have gone out
  checkForwarded()
  await finish(0)
}

function deferred() {
  let resolve
  const promise = new Promise((r) => (resolve = r))
  return { promise, resolve }
}

main().catch((e) => void finish(1, message(e)))
