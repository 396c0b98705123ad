// The sandbox inbox (SPEC §20) through the front door: page, assets, data, headers, and its absence in live mode.
import t from 'tap'
import { demoLookup } from '../src/sandbox/demo-catalogue.js'
import { inboxEntry } from '../src/preview/inbox.js'
import { createScheduler } from '../src/schedule/scheduler.js'
import type { ScheduledSend } from '../src/send.js'
import type { JobQueue } from '../src/queue/queue.js'
import type { StatusStore } from '../src/status/types.js'
import { pino } from 'pino'
import type { SandboxRecord } from '../src/sandbox/server.js'
import { once } from 'node:events'
import { buildLiveApp, buildTestApp, freePort, post, readyIs, redisServerSkip, startRedis } from './helper.js'

const TO = '+593 98 765 4321'
const SHOP = 'shop-key-0123456789abcdef'
const CRM = 'crm-key-0123456789abcdef0'
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Redis killed and restarted, and apps closed meanwhile: minutes on a machine running two suites at once.
t.setTimeout(360_000)

t.test('GET /sandbox is an HTML shell with no inline script, under a CSP that forbids inline scripts', async (t) => {
  const { app } = await buildTestApp(t)
  const page = await app.inject({ method: 'GET', url: '/sandbox' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(page.headers['content-security-policy'], CSP)
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline|unsafe-eval/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.match(page.body, '<script src="/sandbox/inbox.js" defer></script>')
  t.notMatch(page.body, /<script>|<style>|\sstyle=|\son[a-z]+=/, 'no inline script, style or handler')
  t.notMatch(page.body, /https?:\/\//, 'nothing loaded from elsewhere')

  for (const [url, type] of [['/sandbox/inbox.js', /^text\/javascript/], ['/sandbox/inbox.css', /^text\/css/]] as const) {
    const asset = await app.inject({ method: 'GET', url })
    t.equal(asset.statusCode, 200, url)
    t.match(asset.headers['content-type'], type, url)
    t.notMatch(asset.body, /https?:\/\/|@import|url\(/, `${url} loads nothing from elsewhere`)
  }
  const script = (await app.inject({ method: 'GET', url: '/sandbox/inbox.js' })).body
  t.notMatch(script, /innerHTML|insertAdjacentHTML|document\.write/, 'the script never parses values as markup')
})

t.test('GET /sandbox/inbox.json: newest first, masked recipient, the preview of what was received', async (t) => {
  const { app } = await buildTestApp(t)
  const empty = await app.inject({ method: 'GET', url: '/sandbox/inbox.json' })
  t.strictSame(empty.json(), { messages: [], scheduled: [] })

  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'] })).status, 202)
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'sandbox_rejected', params: ['Maria'] })).status, 422)
  const res = await app.inject({ method: 'GET', url: '/sandbox/inbox.json' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-security-policy'], CSP)
  const { messages } = res.json() as { messages: Array<Record<string, unknown>> }
  t.equal(messages.length, 2)
  t.match(messages[0], { seq: 2, template: 'sandbox_rejected', status: 422, to: '5939******21', delivery: null, preview: null }, 'a refused request: no preview')
  // The accepted send's status from the sandbox's notifications (the delivery timer moves it on).
  t.match(messages[1], {
    seq: 1,
    botId: 'bot-123',
    template: 'order_update',
    status: 200,
    to: '5939******21',
    delivery: 'CREATED',
    preview: { known: true, body: 'Hola Maria, tu pedido ORD-1 está en camino.', problems: [] }
  })
  t.notMatch(res.body, /593987654321|authorization|Basic /i, 'no full number or credentials')
})

t.test('scheduled sends: every caller\'s listed apart, masked, no values; cancelled through the sandbox for their own caller', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { API_KEYS: `shop:${SHOP},crm:${CRM}`, SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
  const shop = { 'x-api-key': SHOP }
  const crm = { 'x-api-key': CRM }
  const later = inMs(3600000)
  const latest = inMs(7200000)
  const soon = inMs(1500)
  const waiting = await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'], sendAt: later }, shop)
  const code = await post(app, '/v1/messages/authentication', { to: '+593 98 765 4332', template: 'login_code', language: 'es', code: '483920', sendAt: latest }, crm)
  const due = await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Juan', 'ORD-2'], sendAt: soon }, shop)
  t.same([waiting.status, code.status, due.status], [202, 202, 202], 'three sends scheduled by two callers')
  const inbox = async () => (await app.inject({ method: 'GET', url: '/sandbox/inbox.json' })).json() as { messages: Array<Record<string, unknown>>, scheduled: Array<Record<string, unknown>> }

  const first = await inbox()
  t.same(first.messages, [], 'nothing received yet')
  t.same(first.scheduled.map((s) => s.id), [due.body.messageId, waiting.body.messageId, code.body.messageId], 'the waiting ones, soonest first')
  t.match(first.scheduled[1], { caller: 'shop', kind: 'text', template: 'order_update', botId: 'bot-123', to: '5939******21', sendAt: new Date(later).toISOString(), state: 'scheduled', messageId: null, code: null, cancellable: true })
  t.match(first.scheduled[2], { caller: 'crm', kind: 'authentication', template: 'login_code', to: '5939******32', state: 'scheduled', cancellable: true })
  const json = JSON.stringify(first)
  t.notMatch(json, /483920/, 'an authentication code is never shown')
  t.notMatch(json, /593987654321|593987654332|ORD-1|Maria/, 'no full number, no values')

  // The page's Cancel: no caller key, and it acts for the schedule's own caller.
  const cancelled = await app.inject({ method: 'DELETE', url: `/sandbox/scheduled/${String(waiting.body.messageId)}` })
  t.equal(cancelled.statusCode, 200)
  t.match(cancelled.json(), { messageId: waiting.body.messageId, status: 'cancelled', scheduleId: waiting.body.messageId })
  t.equal((await app.inject({ method: 'DELETE', url: `/sandbox/scheduled/${String(waiting.body.messageId)}` })).statusCode, 200, 'again: still cancelled')
  t.match((await app.inject({ url: `/v1/messages/${String(waiting.body.messageId)}`, headers: shop })).json(), { status: 'cancelled' }, 'its caller sees it cancelled')
  t.match((await app.inject({ method: 'DELETE', url: '/sandbox/scheduled/sch-00000000-0000-4000-8000-000000000000' })).json(), { code: 'NOT_FOUND' }, 'an unknown id: 404')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/messages/${String(code.body.messageId)}` })).statusCode, 401, 'the service\'s own DELETE still wants the caller key')

  // The soon one is sent at its time: it leaves the waiting ones, and arrives among the received messages.
  let after = await inbox()
  for (let i = 0; i < 200 && after.messages.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    after = await inbox()
  }
  t.equal(after.messages.length, 1, 'the due one was received by the sandbox')
  let sent = after.scheduled.find((s) => s.id === due.body.messageId)
  for (let i = 0; i < 100 && sent?.state !== 'sent'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    sent = (await inbox()).scheduled.find((s) => s.id === due.body.messageId)
  }
  after = await inbox()
  t.match(after.messages[0], { template: 'order_update', status: 200, preview: { body: 'Hola Juan, tu pedido ORD-2 está en camino.' } })
  t.same(after.scheduled.map((s) => [s.id, s.state, s.cancellable]), [
    [code.body.messageId, 'scheduled', true],
    [due.body.messageId, 'sent', false],
    [waiting.body.messageId, 'cancelled', false]
  ], 'still waiting first; then the finished ones, latest change first')
  t.equal(after.scheduled[1]?.messageId, after.messages[0]?.messageId, 'the sent one names its received message')
  t.match((await app.inject({ method: 'DELETE', url: `/sandbox/scheduled/${String(due.body.messageId)}` })).json(), { code: 'MESSAGE_NOT_CANCELLABLE' }, 'sent: 409')
  t.match((await app.inject({ method: 'DELETE', url: `/sandbox/scheduled/${String(after.messages[0]?.messageId)}` })).json(), { code: 'NOT_FOUND' }, 'a received message is not a scheduled send')
  t.equal(sandbox.messages().length, 1, 'only the due one was sent')
})

t.test('Redis down: the inbox still shows what the sandbox received; the schedules it cannot read are left out, and logged', { skip: redisServerSkip }, async (t) => {
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  const { app, logs } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'] })).status, 202)
  const scheduled = await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'ORD-2'], sendAt: inMs(3600000) })
  t.equal(scheduled.status, 202)
  t.equal((await app.inject({ method: 'GET', url: '/sandbox/inbox.json' })).json().scheduled.length, 1)
  redis.kill('SIGKILL')
  await once(redis, 'exit')
  const res = await app.inject({ method: 'GET', url: '/sandbox/inbox.json' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { messages: [{ template: 'order_update', status: 200 }], scheduled: [] })
  t.ok(logs.lines().some((line) => line.msg === 'sandbox inbox could not read a scheduled send' && line.scheduleId === scheduled.body.messageId), 'the miss is logged')
  // Back up and reconnected, so the app closes its connections at once.
  redis = await startRedis(port)
  await readyIs(app, 200)
})

t.test('the scheduler remembers the latest schedules it took for the inbox, at most as many as asked; none by default', async (t) => {
  const queue = { handle: () => {}, add: async (_type: string, id: string) => ({ id, added: true }) } as unknown as JobQueue
  const status = { record: () => {}, flush: async () => true, get: async () => undefined } as unknown as StatusStore
  const config = { schedule: { minAheadMs: 1000, maxAheadMs: 86400000, maxLatenessMs: 900000 }, queue: {} } as never
  const send = (n: number): ScheduledSend => ({ id: `sch-${n}`, caller: 'anonymous', kind: 'text', template: 'order_update', botId: 'bot-123', to: '593987654321', body: {} as never, requestId: `r${n}`, sendAt: Date.now() + 60000, scheduledAt: Date.now() })
  const bounded = createScheduler({ config, queue, status, log: pino({ level: 'silent' }), remember: 3 })
  const none = createScheduler({ config, queue, status, log: pino({ level: 'silent' }) })
  for (let n = 1; n <= 5; n++) {
    await bounded.schedule(send(n))
    await none.schedule(send(n))
  }
  t.same(bounded.recent(), ['sch-5', 'sch-4', 'sch-3'], 'the last three, newest first')
  t.same(none.recent(), [], 'live mode remembers none')
})

t.test('a record carrying a delivery state (SPEC §18) shows it; anything else is no state', async (t) => {
  const record: SandboxRecord = {
    seq: 1,
    receivedAt: '2026-01-01T00:00:00.000Z',
    method: 'POST',
    path: '/v2/whatsapp/b/hsm',
    botId: 'b',
    authorization: null,
    requestId: null,
    contentType: 'application/json',
    status: 200,
    body: { elementName: 'order_update', destinations: ['593987654321'], type: 'text', language: 'es', parameters: ['a', 'b'] }
  }
  t.equal(inboxEntry({ ...record, sentStatus: 'read' } as SandboxRecord, demoLookup).delivery, 'READ')
  t.equal(inboxEntry({ ...record, sentStatus: 'DELIVERED_USER' } as SandboxRecord, demoLookup).delivery, 'DELIVERED_USER')
  t.equal(inboxEntry({ ...record, sentStatus: 'LOST' } as SandboxRecord, demoLookup).delivery, null)
  t.equal(inboxEntry(record, demoLookup).delivery, null)
  t.match(inboxEntry({ ...record, status: 0 }, demoLookup), { preview: null, status: 0 }, 'still pending: not read as an accepted body')
  t.match(inboxEntry({ ...record, status: 422, body: 'not json' }, demoLookup), { preview: null, to: null, template: null })
})

t.test('Swagger UI\'s description points to the inbox', async (t) => {
  const { app } = await buildTestApp(t)
  const doc = app.swagger() as { info: { description: string } }
  t.match(doc.info.description, '[the sandbox inbox](/sandbox)')
})

t.test('live mode: no inbox page, data or assets', async (t) => {
  const { app } = await buildLiveApp(t, 'http://127.0.0.1:9')
  for (const [method, url] of [...['/sandbox', '/sandbox/inbox.json', '/sandbox/inbox.js', '/sandbox/inbox.css', '/sandbox/inbox.svg'].map((url) => ['GET', url] as const), ['DELETE', '/sandbox/scheduled/sch-1'] as const]) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, url)
    t.notMatch(res.body, /Sandbox inbox/, url)
  }
})
