// Resolution of outcome-unknown sends (SPEC §18): a same-key retry after a 504 finds the message, resends once, or says when to ask again.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildLiveApp, buildTestApp, post } from './helper.js'
import { startSandbox } from '../src/sandbox/server.js'

const body = (template: string) => ({ to: '+593 98 765 4321', template, params: ['Maria'] })
const sendsOf = (sandbox: { messages: () => Array<{ body: unknown, receivedAt: string }> }, template: string) =>
  sandbox.messages().filter((m) => (m.body as { elementName?: string } | null)?.elementName === template)

t.test('504, then a same-key retry finds the message: 202 with its id, exactly one send', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { sandbox: { slowMs: 2000, deliveryStepMs: 0 }, env: { JELOU_TIMEOUT_MS: '200' } })
  const key = { 'idempotency-key': 'order-77' }
  const first = await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key)
  t.match(first, { status: 504, body: { code: 'UPSTREAM_TIMEOUT' } })
  t.match(first.body.detail, /if Jelou has the message, the retry answers 202 with its messageId/, 'the 504 says what a same-key retry does')
  t.ok(Number(first.headers['retry-after']) >= 1, 'and when to retry')
  // Sandbox mode: the window is the deadline plus 1 s (2 s here). Before it has passed, a sole
  // candidate proves nothing (another sender's message could be listed while ours is not yet).
  const early = await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key)
  t.match(early, { status: 504, body: { resolution: 'pending' } }, 'too early to claim the message Jelou lists')
  await new Promise((resolve) => setTimeout(resolve, Number(first.headers['retry-after']) * 1000 + 100))
  const retry = await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key)
  t.match(retry, { status: 202, body: { resolved: true, kind: 'text', template: 'sandbox_timeout_sent', to: '593987654321' } }, 'after Retry-After, found')
  t.equal(retry.body.messageId, sandbox.notifications()[0]?.id, 'the id Jelou created on the first attempt')
  t.equal(sendsOf(sandbox, 'sandbox_timeout_sent').length, 1, 'Jelou received exactly one send')
  const again = await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key)
  t.match(again, { status: 202, body: { messageId: retry.body.messageId, resolved: true } }, 'the resolution is the key\'s answer from now on')
  t.match((await app.inject({ url: retry.body.statusUrl as string })).json(), { resolved: true, status: 'accepted' }, 'and the message is recorded')
  t.equal(sendsOf(sandbox, 'sandbox_timeout_sent').length, 1)
  t.ok(logs.lines().some((line) => line.resolution === 'found'), 'a log line says it was resolved')
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_resolutions_total\{outcome="found"\} 1/)
})

t.test('504, then same-key retries: 504 with Retry-After until Jelou has had time, then one resend', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { sandbox: { slowMs: 2000, deliveryStepMs: 0 }, env: { JELOU_TIMEOUT_MS: '200', RESOLUTION_WINDOW_SECONDS: '2', RESOLUTION_CLOCK_SKEW_SECONDS: '1' } })
  const key = { 'idempotency-key': 'order-78' }
  const first = await post(app, '/v1/messages/text', body('sandbox_timeout_unsent'), key)
  t.equal(first.status, 504)
  const early = await post(app, '/v1/messages/text', body('sandbox_timeout_unsent'), key)
  t.match(early, { status: 504, body: { code: 'UPSTREAM_TIMEOUT' } }, 'absence proves nothing yet')
  const wait = Number(early.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 2, 'Retry-After says when Jelou will have registered it')
  t.equal(sendsOf(sandbox, 'sandbox_timeout_unsent').length, 1, 'no resend before the wait')
  // The client honours Retry-After, as the 504 asks.
  await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 100))
  const resent = await post(app, '/v1/messages/text', body('sandbox_timeout_unsent'), key)
  t.match(resent, { status: 202 })
  t.equal(resent.body.resolved, undefined, 'a new send, not a found one')
  const sends = sendsOf(sandbox, 'sandbox_timeout_unsent')
  t.equal(sends.length, 2, 'exactly two sends')
  t.ok(Date.parse(sends[0]?.receivedAt as string) - Date.parse(sends[1]?.receivedAt as string) >= 2000, 'the second only after the registration window')
  t.equal(logs.lines().filter((line) => /^hsm resend/.test(line.msg)).length, 1, 'one log line says it is sent once more')
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_resolutions_total\{outcome="resent"\} 1/)
})

t.test('Redis: two instances on one Redis see each other\'s messages and events', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL not set' : false }, async (t) => {
  const env = { REDIS_URL: process.env.REDIS_URL as string, REDIS_KEY_PREFIX: `test:${randomUUID()}:`, JELOU_EVENTS_TOKEN: 'events-token-0123456789abcdef', MESSAGE_STATUS_FRESH_SECONDS: '3600' }
  const sandbox = await startSandbox({ deliveryStepMs: 0 })
  const a = await buildTestApp(t, { sandbox, env })
  const b = await buildTestApp(t, { sandbox, env })
  const sent = await post(a.app, '/v1/messages/text', { ...body('shipping_notice'), clientRef: 'shared-1' })
  const url = sent.body.statusUrl as string
  let seen = await b.app.inject({ url })
  for (let i = 0; i < 100 && seen.statusCode === 404; i++) seen = await b.app.inject({ url }) // the record is written right after the answer
  t.match(seen.json(), { messageId: sent.body.messageId, status: 'accepted' }, 'B sees A\'s message')
  const event = await post(b.app, '/v1/events/jelou', { messageId: sent.body.messageId, event: 'delivered_user' }, { authorization: 'Bearer events-token-0123456789abcdef' })
  t.equal(event.status, 200)
  t.match((await a.app.inject({ url })).json(), { status: 'delivered_user', source: 'event' }, 'A sees the event B received')
  t.equal((await b.app.inject({ url: '/v1/messages?clientRef=shared-1' })).json().messages.length, 1)
})

t.test('without REDIS_URL a live app still resolves against a standalone Jelou look-alike', async (t) => {
  const sandbox = await startSandbox({ slowMs: 2000, deliveryStepMs: 0 })
  t.teardown(() => sandbox.close())
  const { app } = await buildLiveApp(t, sandbox.url, { JELOU_CLIENT_ID: 'sandbox', JELOU_CLIENT_SECRET: 'sandbox', JELOU_TIMEOUT_MS: '200', RESOLUTION_CLOCK_SKEW_SECONDS: '1', RESOLUTION_WINDOW_SECONDS: '2' })
  const key = { 'idempotency-key': 'live-1' }
  const first = await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key)
  t.equal(first.status, 504)
  await new Promise((resolve) => setTimeout(resolve, Number(first.headers['retry-after']) * 1000 + 100))
  t.match(await post(app, '/v1/messages/text', body('sandbox_timeout_sent'), key), { status: 202, body: { resolved: true } })
})
