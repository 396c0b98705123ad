// Scheduled sends (SPEC §21): checked now, sent once at sendAt through the same pipeline, cancellable until then; over real sockets.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildLiveApp, buildTestApp, post, storeVariants } from './helper.js'
import { standin } from './jelou-standin.js'

const SHOP = 'shop-key-0123456789abcdef'
const CRM = 'crm-key-0123456789abcdef0'
const text = (extra: Record<string, unknown> = {}) => ({ to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], ...extra })
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

async function until (what: () => boolean | Promise<boolean>, ms = 60000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await what()) return true
    await sleep(25)
  }
  return false
}

const sent = (sandbox: { messages: () => Array<{ body: unknown }> }, template = 'order_update') =>
  sandbox.messages().filter((m) => (m.body as { elementName?: string } | null)?.elementName === template).length

for (const variant of storeVariants(t)) {
  t.test(`${variant.name}: scheduled, looked up, sent once at sendAt, then it is its message`, async (t) => {
    const { app, sandbox, logs } = await buildTestApp(t, { env: { ...variant.env, SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
    const sendAt = inMs(1500)
    const res = await post(app, '/v1/messages/text', text({ sendAt, clientRef: 'reminder-1' }))
    t.match(res, { status: 202, body: { status: 'scheduled', sendAt: new Date(sendAt).toISOString(), messageId: /^sch-/, statusUrl: /^\/v1\/messages\/sch-/, clientRef: 'reminder-1' } })
    const id = res.body.messageId as string
    t.match((await app.inject({ url: `/v1/messages/${id}` })).json(), { status: 'scheduled', scheduleId: id, sendAt: new Date(sendAt).toISOString() })
    t.equal(sent(sandbox), 0, 'nothing sent yet')
    t.ok(await until(async () => (await app.inject({ url: `/v1/messages/${id}` })).json().status === 'accepted'), 'sent at its time')
    const after = (await app.inject({ url: `/v1/messages/${id}` })).json()
    t.match(after, { status: 'accepted', scheduleId: id, messageId: sandbox.notifications()[0]?.id }, 'the schedule\'s id now answers with its message')
    t.ok(Date.parse(sandbox.notifications()[0]?.createdAt as string) >= Date.parse(sendAt) - 1000, 'not before sendAt')
    const listed = (await app.inject({ url: '/v1/messages?clientRef=reminder-1' })).json().messages
    t.equal(listed.length, 1, 'listed once by clientRef')
    t.ok(logs.lines().some((line) => line.msg === 'hsm scheduled' && line.outcome === 'scheduled' && line.scheduleId === id))
    t.ok(logs.lines().some((line) => line.msg === 'hsm sent' && line.scheduleId === id), 'the send line names the schedule')
    await sleep(300)
    t.equal(sent(sandbox), 1, 'exactly once')
    t.match((await app.inject({ url: '/metrics' })).body, /hsm_scheduled_sends_total\{outcome="sent"\} 1/)
  })
}

t.test('every check runs at once: a bad sendAt or a bad request fails now, naming the field and rule; a dry run says when', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const cases: Array<[string, unknown, string]> = [
    ['no zone', '2030-01-01T09:00:00', 'format'],
    ['not a date', 'tomorrow at nine', 'format'],
    ['too soon', inMs(30000), 'minAhead'],
    ['in the past', inMs(-60000), 'minAhead'],
    ['too far', inMs(36 * 86400000), 'maxAhead']
  ]
  for (const [name, sendAt, rule] of cases) {
    t.match(await post(app, '/v1/messages/text', text({ sendAt })), { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/sendAt', rule }] } }, name)
  }
  t.match(await post(app, '/v1/messages/text', text({ sendAt: inMs(3600000), to: '12' })), { status: 400, body: { errors: [{ path: '/to' }] } }, 'a bad number fails now, not at sendAt')
  const raw = await app.inject({ method: 'POST', url: `/v1/messages?botId=bot-123&sendAt=${encodeURIComponent('2030-01-01T09:00')}`, payload: { elementName: 'order_update', destinations: ['+593987654321'], type: 'text', parameters: ['a', 'b'] } })
  t.match(raw.json(), { errors: [{ in: 'querystring', path: '/sendAt' }] }, 'the raw route takes it in the query string')
  const dry = await post(app, '/v1/messages/text?dryRun=true', text({ sendAt: inMs(3600000) }))
  t.match(dry, { status: 200, body: { dryRun: true, sendAt: /Z$/, upstream: { body: { elementName: 'order_update' } } } })
  t.equal(sandbox.messages().length, 0, 'nothing sent or scheduled')
})

t.test('cancel: before (nothing sent), again (200), another caller (404), a message that was sent (409)', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { API_KEYS: `shop:${SHOP},crm:${CRM}`, SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
  const shop = { 'x-api-key': SHOP }
  const res = await post(app, '/v1/messages/text', text({ sendAt: inMs(1500) }), shop)
  const id = res.body.messageId as string
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: { 'x-api-key': CRM } })).statusCode, 404, 'another caller\'s')
  const cancelled = await app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: shop })
  t.equal(cancelled.statusCode, 200)
  t.match(cancelled.json(), { status: 'cancelled', scheduleId: id })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: shop })).statusCode, 200, 'again: still cancelled')
  await sleep(2500)
  t.equal(sandbox.messages().length, 0, 'never sent')
  const now = await post(app, '/v1/messages/text', text(), shop)
  const refused = await app.inject({ method: 'DELETE', url: `/v1/messages/${now.body.messageId as string}`, headers: shop })
  t.match(refused.json(), { status: 409, code: 'MESSAGE_NOT_CANCELLABLE' }, 'a message sent at once cannot be called back')
})

t.test('cancel while it is being sent: 409, and it is sent once', async (t) => {
  const jelou = await standin(t, { sendDelayMs: 1500 })
  const { app } = await buildLiveApp(t, jelou.url, { SCHEDULE_MIN_AHEAD_SECONDS: '1', JELOU_TIMEOUT_MS: '5000' })
  const res = await post(app, '/v1/messages/text', text({ sendAt: inMs(1200), botId: 'bot-1' }))
  const id = res.body.messageId as string
  t.ok(await until(() => jelou.sends.length === 1), 'the send reached Jelou')
  const refused = await app.inject({ method: 'DELETE', url: `/v1/messages/${id}` })
  t.match(refused.json(), { status: 409, code: 'MESSAGE_NOT_CANCELLABLE' })
  t.ok(await until(async () => (await app.inject({ url: `/v1/messages/${id}` })).json().status === 'accepted'))
  t.equal(jelou.sends.length, 1)
})

t.test('at sendAt the recipient guard applies: over the limit, the send ends failed with its code and its callback', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { SCHEDULE_MIN_AHEAD_SECONDS: '1', RECIPIENT_LIMIT: '1/60s' } })
  const res = await post(app, '/v1/messages/text', text({ sendAt: inMs(1200) }))
  t.equal(res.status, 202, 'scheduling does not count against the recipient')
  t.equal((await post(app, '/v1/messages/text', text())).status, 202, 'a send now takes the one allowed')
  const id = res.body.messageId as string
  t.ok(await until(async () => (await app.inject({ url: `/v1/messages/${id}` })).json().status === 'failed'))
  t.match((await app.inject({ url: `/v1/messages/${id}` })).json(), { status: 'failed', failure: { code: 'RECIPIENT_RATE_LIMITED' } })
  t.equal(sent(sandbox), 1, 'only the send made at once')
})

t.test('an Idempotency-Key covers the scheduling request: a repeat replays it and schedules nothing new', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
  const body = text({ sendAt: inMs(1500) })
  const key = { 'idempotency-key': `remind-${randomUUID()}` }
  const first = await post(app, '/v1/messages/text', body, key)
  const again = await post(app, '/v1/messages/text', body, key)
  t.equal(again.status, 202)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body.messageId, first.body.messageId)
  t.ok(await until(() => sent(sandbox) === 1))
  await sleep(500)
  t.equal(sent(sandbox), 1, 'one send')
})

t.test('Redis: a scheduled send survives a restart; one due too long ago while no replica ran expires', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL is not set (npm test sets it when redis-server is installed)' : false }, async (t) => {
  const env = { REDIS_URL: process.env.REDIS_URL as string, REDIS_KEY_PREFIX: `test:${randomUUID()}:`, SCHEDULE_MIN_AHEAD_SECONDS: '1', SCHEDULE_MAX_LATENESS_SECONDS: '1' }
  const first = await buildTestApp(t, { env })
  const late = await post(first.app, '/v1/messages/text', text({ sendAt: inMs(1200), clientRef: 'late' }))
  const later = await post(first.app, '/v1/messages/text', text({ sendAt: inMs(5000), clientRef: 'later' }))
  await first.app.close()
  // Nothing runs for 3.5 s: the first is then 2.3 s late (more than the 1 s allowed), the second not due yet.
  await sleep(3500)
  const second = await buildTestApp(t, { env, sandbox: first.sandbox })
  const state = async (id: string) => (await second.app.inject({ url: `/v1/messages/${id}` })).json()
  t.ok(await until(async () => (await state(late.body.messageId as string)).status === 'expired'))
  t.match(await state(late.body.messageId as string), { status: 'expired', failure: { code: 'SCHEDULE_EXPIRED' } })
  t.ok(await until(async () => (await state(later.body.messageId as string)).status === 'accepted'), 'the other is sent by the new replica')
  t.equal(sent(first.sandbox), 1, 'only the one on time')
})

t.test('a template disabled before sendAt: the send ends failed with the catalogue\'s code, nothing sent', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
  const res = await post(app, '/v1/messages/text', text({ sendAt: inMs(2000) }))
  t.equal(res.status, 202)
  const bot = 'bot-123'
  sandbox.templates.set(bot, sandbox.templates.get(bot).map((item) => item.elementName === 'order_update' ? { ...item, status: 'PAUSED' } : item))
  await app.catalogue.refreshNow()
  const id = res.body.messageId as string
  t.ok(await until(async () => (await app.inject({ url: `/v1/messages/${id}` })).json().status === 'failed'))
  t.match((await app.inject({ url: `/v1/messages/${id}` })).json(), { status: 'failed', failure: { code: 'TEMPLATE_NOT_APPROVED' } })
  t.equal(sent(sandbox), 0)
})
