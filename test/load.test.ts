// No loss, no duplicates under load: a bounded burst over real sockets against a stub with random delays and 5xx.
import t, { type Test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'
import { buildLiveApp } from './helper.js'

const TOTAL = 2000
const CONCURRENCY = 50

/** A tiny Jelou stand-in: 0-20 ms delay, about 3% answered 500; counts requests per idempotency key (carried in params). */
async function flakyUpstream (t: Test, seed: number) {
  let state = seed
  const random = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
  const perKey = new Map<string, { requests: number, ok: number }>()
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk) => { raw += String(chunk) })
    req.on('end', () => {
      // GETs: a same-key retry after a 502 asks Jelou's notifications about the message, and the
      // catalogue loads the template list at start-up. Both read this as an empty page.
      if (req.method !== 'POST') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"pagination":{"page":1,"limit":50,"total":0},"results":[]}')
        return
      }
      const body = JSON.parse(raw) as { parameters: string[], destinations: string[] }
      const key = body.parameters[0]
      const entry = perKey.get(key) ?? { requests: 0, ok: 0 }
      perKey.set(key, entry)
      entry.requests++
      const fail = random() < 0.03
      setTimeout(() => {
        if (fail) {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"internal_server_error"}')
        } else {
          entry.ok++
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id: `msg-${key}-${entry.ok}`, destination: body.destinations[0] }]))
        }
      }, Math.floor(random() * 20))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, perKey }
}

t.test(`${TOTAL} requests at ${CONCURRENCY} concurrent, a share repeating idempotency keys`, async (t) => {
  const upstream = await flakyUpstream(t, 42)
  // Load shedding stays on (the default 1 s event-loop limit): on a busy machine some requests
  // may get 503 OVERLOADED, which must then have sent nothing.
  const { app, logs } = await buildLiveApp(t, upstream.url, { RECIPIENT_LIMIT: '1000000/60s', RATE_LIMIT_PER_MINUTE: '1000000', MAX_EVENT_LOOP_DELAY_MS: '1000' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new Pool(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, { connections: CONCURRENCY })
  t.teardown(() => client.close())

  // Every fourth request repeats the key of the one before (usually still in flight: a 409), and
  // the last quarter of those repeat a key from much earlier (long done: a replay).
  const plan: string[] = []
  for (let i = 0; plan.length < TOTAL; i++) {
    plan.push(`key-${i}`)
    if (plan.length % 4 === 3) plan.push(plan.length > TOTAL * 0.75 ? `key-${i % 100}` : `key-${i}`)
  }
  const answers: Array<{ key: string, requestId: string, status: number, code?: string, messageId?: string, replayed: boolean }> = []
  let next = 0
  const deadline = Date.now() + 45000
  async function worker () {
    while (next < plan.length && Date.now() < deadline) {
      const i = next++
      const key = plan[i]
      const requestId = `load-${i}`
      const res = await client.request({
        method: 'POST',
        path: '/v1/messages/text',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-request-id': requestId },
        body: JSON.stringify({ to: '+593 98 765 4321', template: 'shipping_notice', params: [key] })
      })
      const body = await res.body.json() as { messageId?: string, code?: string }
      answers.push({ key, requestId, status: res.statusCode, code: body.code, messageId: body.messageId, replayed: res.headers['idempotent-replayed'] === 'true' })
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  t.equal(answers.length, TOTAL, 'every request answered within the time bound')

  const byStatus: Record<number, number> = {}
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1
  t.comment(`answers by status: ${JSON.stringify(byStatus)}; upstream requests: ${[...upstream.perKey.values()].reduce((n, e) => n + e.requests, 0)}`)
  t.strictSame(Object.keys(byStatus).filter((s) => !['202', '409', '502', '503'].includes(s)), [], 'only 202, 409 (in flight), 502 (upstream 5xx) and 503 (shed)')
  // Lower bounds, so a run where everything is shed or nothing repeats cannot pass: about 3% of
  // sends fail upstream and a quarter of the requests repeat a key.
  t.ok((byStatus[202] ?? 0) > TOTAL / 2, `most requests answered 202 (${byStatus[202] ?? 0} of ${TOTAL})`)
  const replays = answers.filter((a) => a.replayed).length
  t.ok(replays > 0, `answers for long-done keys were replayed (${replays})`)
  t.strictSame(answers.filter((a) => a.status === 503 && a.code !== 'OVERLOADED'), [], 'every 503 is load shedding')
  const shedOnly = [...new Set(answers.filter((a) => a.status === 503).map((a) => a.key))]
    .filter((key) => !answers.some((a) => a.key === key && a.status !== 503))
  t.strictSame(shedOnly.filter((key) => upstream.perKey.has(key)), [], 'a key that was only ever shed never reached the upstream')

  const twice = [...upstream.perKey].filter(([, e]) => e.requests > 1).map(([k]) => k)
  t.strictSame(twice, [], 'no idempotency key reached the upstream twice')
  const sentKeys = new Set(answers.filter((a) => a.status === 202).map((a) => a.key))
  for (const key of sentKeys) {
    if (upstream.perKey.get(key)?.ok !== 1) t.fail(`${key}: a 202 without exactly one accepted upstream request`)
    const ids = new Set(answers.filter((a) => a.key === key && a.status === 202).map((a) => a.messageId))
    if (ids.size !== 1) t.fail(`${key}: 202 answers disagree on the message id`)
  }
  t.equal(sentKeys.size, [...upstream.perKey.values()].filter((e) => e.ok === 1).length, 'every accepted upstream request has its 202')

  const perRequest = new Map<string, number>()
  for (const line of logs.lines()) {
    if (typeof line.reqId === 'string' && line.reqId.startsWith('load-')) perRequest.set(line.reqId, (perRequest.get(line.reqId) ?? 0) + 1)
  }
  const missing = answers.filter((a) => perRequest.get(a.requestId) !== 1).map((a) => a.requestId)
  t.strictSame(missing, [], 'every request has exactly one log line')
})
