// Message status (SPEC §18): record, lookup, events, polling, scoping, TTL, stale answers; over real sockets to the sandbox.
import t from 'tap'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildLiveApp, buildTestApp, post } from './helper.js'
import { startSandbox } from '../src/sandbox/server.js'
import { memoryStatusStore } from '../src/status/memory.js'

const TOKEN = 'events-token-0123456789abcdef'
const body = { to: '+593 98 765 4321', template: 'shipping_notice', params: ['Maria'] }
const bearer = { authorization: `Bearer ${TOKEN}` }

async function get (app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url, headers })
  return { status: response.statusCode, body: response.json() as Record<string, any> }
}

/** Polls a condition on the message's status until it holds (bounded in count; each round waits for the app, not a fixed time). */
async function until (app: FastifyInstance, url: string, done: (status: Record<string, any>) => boolean, headers: Record<string, string> = {}) {
  for (let round = 0; round < 300; round++) {
    const res = await get(app, url, headers)
    if (res.status === 200 && done(res.body)) return res.body
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`condition never held for ${url}`)
}

t.test('accepted → delivered_channel → delivered_user → read through the sandbox\'s events', async (t) => {
  const sandbox = await startSandbox({ deliveryStepMs: 30 })
  const { app } = await buildTestApp(t, { sandbox, env: { JELOU_EVENTS_TOKEN: TOKEN, MESSAGE_STATUS_FRESH_SECONDS: '3600' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  sandbox.sendEventsTo(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events/jelou`, TOKEN)
  const sent = await post(app, '/v1/messages/text', body)
  t.equal(sent.status, 202)
  t.equal(sent.body.statusUrl, `/v1/messages/${String(sent.body.messageId)}`, '202 carries the status URL')
  const first = await get(app, sent.body.statusUrl as string)
  t.match(first.body, { status: 'accepted', source: 'send', stale: false, resolved: false, template: 'shipping_notice', to: '593987654321' })
  const read = await until(app, sent.body.statusUrl as string, (s) => s.status === 'read')
  t.equal(read.source, 'event', 'news came from events (no poll: fresh for an hour)')
  const steps = read.steps as Record<string, string>
  t.ok(Date.parse(steps.accepted) <= Date.parse(steps.delivered_channel) && Date.parse(steps.delivered_channel) <= Date.parse(steps.delivered_user) &&
    Date.parse(steps.delivered_user) <= Date.parse(steps.read), 'each step has its time, in order')
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /hsm_message_status_total\{status="read"\} 1/)
  t.match(metrics, /hsm_status_events_total\{outcome="stored"\} [1-9]/)
})

t.test('with events off, polling Jelou\'s notifications moves it to read; an undeliverable one fails with Meta\'s reason', async (t) => {
  const { app } = await buildTestApp(t, { sandbox: { deliveryStepMs: 30 }, env: { MESSAGE_STATUS_FRESH_SECONDS: '0' } })
  const sent = await post(app, '/v1/messages/text', body)
  const read = await until(app, sent.body.statusUrl as string, (s) => s.status === 'read')
  t.equal(read.source, 'jelou')
  t.ok(read.steps.delivered_user !== undefined && read.steps.delivered_channel !== undefined)
  const bad = await post(app, '/v1/messages/text', { ...body, template: 'sandbox_undeliverable' })
  const failed = await until(app, bad.body.statusUrl as string, (s) => s.status === 'failed')
  t.match(failed.failure, { code: 131026, message: 'Message undeliverable' })
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_status_lookups_total\{source="refreshed"\} [1-9]/)
})

t.test('events: out of order, repeated and early events; status only moves forward', async (t) => {
  // A Jelou stand-in that always accepts with the same id, so an event can arrive before the send.
  const jelou = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      if (request.url?.includes('/notifications') === true) response.writeHead(503).end()
      else response.writeHead(200, { 'content-type': 'application/json' }).end('[{"id":"early-1","destination":"593987654321"}]')
    })
  }).listen(0, '127.0.0.1')
  await once(jelou, 'listening')
  t.teardown(() => { jelou.close() })
  const { app } = await buildLiveApp(t, `http://127.0.0.1:${(jelou.address() as AddressInfo).port}`, { JELOU_EVENTS_TOKEN: TOKEN, MESSAGE_STATUS_FRESH_SECONDS: '3600' })
  const event = async (payload: unknown) => await post(app, '/v1/events/jelou', payload, bearer)

  const early = await event({ messageId: 'early-1', event: 'delivered_channel', timestamp: '2026-12-02T10:00:01Z' })
  t.match(early, { status: 200, body: { received: 1, changed: 1 } }, 'an event for an unknown message is kept')
  t.equal((await get(app, '/v1/messages/early-1')).status, 404, 'but not shown before the send is recorded')
  t.equal((await post(app, '/v1/messages/text', body)).status, 202)
  t.match((await get(app, '/v1/messages/early-1')).body, { status: 'delivered_channel', steps: { delivered_channel: '2026-12-02T10:00:01.000Z' } }, 'merged with the record')

  t.match(await event({ id: 'early-1', sentStatus: 'READ', timestamp: '2026-12-02T10:00:05Z' }), { body: { changed: 1 } })
  t.match(await event([{ id: 'early-1', status: 'DELIVERED_USER', timestamp: '2026-12-02T10:00:03Z' }]), { body: { changed: 1 } }, 'an older step still fills its time')
  const afterRead = await get(app, '/v1/messages/early-1')
  t.match(afterRead.body, { status: 'read', source: 'event', steps: { delivered_user: '2026-12-02T10:00:03.000Z', read: '2026-12-02T10:00:05.000Z' } }, 'but never moves the status back')
  t.match(await event({ id: 'early-1', sentStatus: 'READ', timestamp: '2026-12-02T11:00:00Z' }), { body: { received: 1, changed: 0 } }, 'a repeat changes nothing')
  t.match(await event({ events: [{ id: 'early-1', event: 'failed', error: { code: 131026 } }] }), { body: { changed: 1 } })
  t.match((await get(app, '/v1/messages/early-1')).body, { status: 'read', steps: { read: '2026-12-02T10:00:05.000Z' } }, 'a late failure does not undo a read message')
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /hsm_status_events_total\{outcome="repeated"\} 1/)
})

t.test('events: token (Bearer or Basic password), malformed bodies, and off when unset', async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { JELOU_EVENTS_TOKEN: TOKEN } })
  const ok = { messageId: 'm-1', event: 'read' }
  for (const [name, headers] of [
    ['no token', {}],
    ['a wrong Bearer token', { authorization: 'Bearer events-token-0123456789abcdeX' }],
    ['a wrong Basic password', { authorization: `Basic ${Buffer.from('jelou:nope').toString('base64')}` }],
    ['a wrong X-API-Key', { 'x-api-key': 'events-token-0123456789abcdeX' }]
  ] as Array<[string, Record<string, string>]>) {
    const res = await post(app, '/v1/events/jelou', ok, headers)
    t.match(res, { status: 401, body: { code: 'UNAUTHORIZED' } }, name)
  }
  t.match(await post(app, '/v1/events/jelou', ok, { authorization: `Basic ${Buffer.from(`jelou:${TOKEN}`).toString('base64')}` }), { status: 200 }, 'Basic with the token as password')
  const noId = await post(app, '/v1/events/jelou', { event: 'read' }, bearer)
  t.match(noId, { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/messageId', rule: 'required' }] } })
  const badStatus = await post(app, '/v1/events/jelou', { messageId: 'm-1', event: 'teleported' }, bearer)
  t.match(badStatus, { status: 400, body: { errors: [{ path: '/event', rule: 'enum' }] } })
  const notJson = await app.inject({ method: 'POST', url: '/v1/events/jelou', headers: { ...bearer, 'content-type': 'application/json' }, payload: '{"messageId":' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.headers['content-type'], 'application/problem+json; charset=utf-8')
  const mixed = await post(app, '/v1/events/jelou', [ok, { nothing: true }], bearer)
  t.match(mixed, { status: 200, body: { received: 1, refused: [{ path: '/1/messageId' }] } }, 'the readable events of a batch are kept')
  t.ok(logs.lines().some((line) => line.msg === 'status events refused'), 'a refused event leaves a log line')
  t.notMatch(logs.text(), TOKEN, 'the token is never logged')

  const { app: off } = await buildLiveApp(t, 'http://127.0.0.1:9')
  t.match(await post(off, '/v1/events/jelou', ok, bearer), { status: 404, body: { code: 'NOT_FOUND' } }, 'off when JELOU_EVENTS_TOKEN is unset')
})

t.test('caller scoping and clientRef lookup', async (t) => {
  const { app } = await buildTestApp(t, { env: { API_KEYS: 'billing:billing-key-0123456789,login:login-key-abcdefghij' } })
  const billing = { authorization: 'Bearer billing-key-0123456789' }
  const login = { authorization: 'Bearer login-key-abcdefghij' }
  const a = await post(app, '/v1/messages/text', { ...body, clientRef: 'order-1' }, billing)
  const b = await post(app, '/v1/messages/text', { ...body, clientRef: 'order-1', params: ['Ana'] }, billing)
  await post(app, '/v1/messages/text', { ...body, clientRef: 'order-1' }, login)
  t.equal((await get(app, a.body.statusUrl as string, billing)).status, 200)
  t.match(await get(app, a.body.statusUrl as string, login), { status: 404, body: { code: 'NOT_FOUND' } }, 'another caller\'s message is 404')
  t.equal((await get(app, a.body.statusUrl as string)).status, 401, 'the status routes need a key')
  const list = await get(app, '/v1/messages?clientRef=order-1', billing)
  t.same(list.body.messages.map((m: { messageId: string }) => m.messageId), [a.body.messageId, b.body.messageId], 'both, oldest first, and only the caller\'s')
  t.same((await get(app, '/v1/messages?clientRef=nothing', billing)).body, { messages: [] })
  t.match(await get(app, '/v1/messages', billing), { status: 400, body: { errors: [{ in: 'querystring', path: '/clientRef', rule: 'required' }] } })
})

t.test('a stored status is answered stale when Jelou cannot answer the refresh', async (t) => {
  const sandbox = await startSandbox({ deliveryStepMs: 0 })
  const { app } = await buildLiveApp(t, sandbox.url, { JELOU_CLIENT_ID: 'sandbox', JELOU_CLIENT_SECRET: 'sandbox', MESSAGE_STATUS_FRESH_SECONDS: '0', MESSAGE_STATUS_TIMEOUT_MS: '500' })
  const sent = await post(app, '/v1/messages/text', body)
  t.match((await get(app, sent.body.statusUrl as string)).body, { status: 'accepted', source: 'jelou', stale: false })
  await sandbox.close()
  const stale = await get(app, sent.body.statusUrl as string)
  t.match(stale, { status: 200, body: { status: 'accepted', stale: true, messageId: sent.body.messageId } })
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_status_lookups_total\{source="stale"\} 1/)
})

t.test('TTL: a record is gone after MESSAGE_TTL_SECONDS, and the memory store stays bounded', async (t) => {
  let clock = 1_000_000
  const store = memoryStatusStore(3, 60_000, () => clock)
  const base = { caller: 'c', botId: 'b', template: 't', kind: 'text', to: '1', acceptedAt: clock, requestId: 'r', clientRef: 'ref' }
  store.record({ ...base, messageId: 'a' })
  t.ok(await store.get('a'))
  clock += 60_001
  t.equal(await store.get('a'), undefined, 'expired')
  t.same(await store.byClientRef('c', 'ref'), [])
  for (const id of ['b', 'c', 'd', 'e']) store.record({ ...base, messageId: id })
  t.equal(await store.get('b'), undefined, 'the oldest is dropped beyond the bound')
  t.ok(await store.get('e'))
})

t.test('sandbox mode: the built-in sandbox posts its events to the service\'s own receiver', async (t) => {
  const { buildApp } = await import('../src/app.js')
  const { loadConfig } = await import('../src/config.js')
  const { pino } = await import('pino')
  const app = await buildApp(loadConfig({ JELOU_BOT_ID: 'bot-123', SANDBOX_DELIVERY_STEP_MS: '30', MESSAGE_STATUS_FRESH_SECONDS: '3600', MAX_EVENT_LOOP_DELAY_MS: '0' }), { logger: pino({ level: 'silent' }) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const sent = await post(app, '/v1/messages/text', body)
  const read = await until(app, sent.body.statusUrl as string, (s) => s.status === 'read')
  t.equal(read.source, 'event', 'with a token the service made up')
})
