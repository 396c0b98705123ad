// Callbacks (SPEC §21) over real sockets: a message's changes posted in order to a receiver on 127.0.0.1, signed so the
// standardwebhooks verifier accepts them; retries, failed deliveries listed and replayed per caller; the allow-list.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { SANDBOX_CALLBACK_SECRET } from '../src/config.js'
import { buildLiveApp, buildTestApp, post, storeVariants } from './helper.js'
import { startSandbox } from '../src/sandbox/server.js'
import type { FastifyInstance } from 'fastify'
import { FAST, standin } from './jelou-standin.js'

const TOKEN = 'events-token-for-callback-tests'
const bearer = { authorization: `Bearer ${TOKEN}` }
const SHOP_SECRET = `whsec_${Buffer.from('shop-callback-secret-of-32-bytes').toString('base64')}`
const SHOP = 'shop-key-0123456789abcdef'
const CRM = 'crm-key-0123456789abcdef0'

interface Received { headers: IncomingHttpHeaders, body: string, status: number, path: string }

/** A receiver on 127.0.0.1 whose answers the test scripts (by the count of requests so far), and what it got. */
async function receiver (t: Tap, answer: (index: number) => number = () => 204) {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => { body += String(chunk) })
    req.on('end', () => {
      const status = answer(received.length)
      received.push({ headers: req.headers, body, status, path: req.url ?? '' })
      if (status >= 300 && status < 400) res.setHeader('location', `http://127.0.0.1:${port}/moved`)
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const delivered = () => received.filter((r) => r.status >= 200 && r.status < 300)
  return { port, url: `http://127.0.0.1:${port}/hooks/hsm`, received, delivered, types: () => delivered().map((r) => (JSON.parse(r.body) as { type: string }).type) }
}
type Tap = { teardown: (fn: () => unknown) => void }

/** Waits for a condition, at most `ms` (bounded: generous, for a machine running two suites at once). */
async function until (what: () => boolean | Promise<boolean>, ms = 60000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await what()) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return false
}

const text = (extra: Record<string, unknown> = {}) => ({ to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], ...extra })
const event = (messageId: string, fields: Record<string, unknown>) => ({ messageId, timestamp: new Date().toISOString(), ...fields })

for (const variant of storeVariants(t)) {
  t.test(`${variant.name}: a message's callbacks arrive in order, signed, the reply's text and payload included`, async (t) => {
    const hooks = await receiver(t)
    const { app, logs } = await buildTestApp(t, { env: { ...variant.env, CALLBACK_URL_ALLOW: `http://127.0.0.1:${hooks.port}`, JELOU_EVENTS_TOKEN: TOKEN } })
    const sent = await post(app, '/v1/messages/text', text({ callbackUrl: hooks.url, clientRef: 'order-9' }))
    t.equal(sent.status, 202, JSON.stringify(sent.body))
    const id = sent.body.messageId as string
    t.ok(await until(() => hooks.delivered().length === 1), 'accepted is posted without any event')
    for (const fields of [{ event: 'delivered_channel' }, { event: 'delivered_user' }, { event: 'read' }, { event: 'reply', reply: { text: 'yes-please-7731', payload: 'CONFIRM_ORDER' } }]) {
      t.equal((await post(app, '/v1/events/jelou', event(id, fields), bearer)).status, 200)
    }
    // A repeat changes nothing: no second "read".
    await post(app, '/v1/events/jelou', event(id, { event: 'read' }), bearer)
    t.ok(await until(() => hooks.delivered().length === 5))
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.same(hooks.types(), ['message.accepted', 'message.delivered_channel', 'message.delivered_user', 'message.read', 'message.replied'], 'in order, each once')
    const verifier = new Webhook(SANDBOX_CALLBACK_SECRET)
    for (const r of hooks.delivered()) {
      t.doesNotThrow(() => verifier.verify(r.body, r.headers as Record<string, string>), `${r.headers['webhook-id'] as string} verifies`)
    }
    const last = hooks.delivered()[4] as Received
    t.match(JSON.parse(last.body), { type: 'message.replied', data: { messageId: id, status: 'replied', clientRef: 'order-9', reply: { text: 'yes-please-7731', payload: 'CONFIRM_ORDER' } } })
    t.throws(() => verifier.verify(last.body.replace('CONFIRM_ORDER', 'CANCEL_ORDER'), last.headers as Record<string, string>), 'a tampered body is rejected')
    t.equal(new Set(hooks.delivered().map((r) => r.headers['webhook-id'])).size, 5, 'each callback has its own webhook-id')
    const status = await app.inject({ url: `/v1/messages/${id}` })
    t.match(status.json(), { status: 'replied', reply: { text: 'yes-please-7731', payload: 'CONFIRM_ORDER' } }, 'the reply is on the message\'s status')
    t.notOk(logs.lines().some((line) => JSON.stringify(line).includes('yes-please-7731')), 'the customer\'s words are never logged')
    t.ok(logs.lines().some((line) => line.msg === 'callback delivered' && line.type === 'message.replied'))
  })
}

t.test('a receiver failing 3 times gets each callback once successfully, in order; a redirect is not followed', async (t) => {
  // 302, then 500 twice, then 204: the first callback takes four attempts (1 s, 2 s, 4 s apart).
  const hooks = await receiver(t, (i) => i === 0 ? 302 : i < 3 ? 500 : 204)
  const { app } = await buildTestApp(t, { env: { CALLBACK_URL_ALLOW: `http://127.0.0.1:${hooks.port}`, JELOU_EVENTS_TOKEN: TOKEN } })
  const sent = await post(app, '/v1/messages/text', text({ callbackUrl: hooks.url }))
  await post(app, '/v1/events/jelou', event(sent.body.messageId as string, { event: 'delivered_user' }), bearer)
  t.ok(await until(() => hooks.delivered().length === 2))
  t.same(hooks.types(), ['message.accepted', 'message.delivered_user'])
  const types = hooks.received.map((r) => (JSON.parse(r.body) as { type: string }).type)
  t.same(types, ['message.accepted', 'message.accepted', 'message.accepted', 'message.accepted', 'message.delivered_user'], 'the later callback waited for the earlier one')
  t.notOk(hooks.received.some((r) => r.path === '/moved'), 'the redirect was not followed')
  t.equal(new Set(hooks.received.slice(0, 4).map((r) => r.headers['webhook-id'])).size, 1, 'every attempt of one callback has the same webhook-id')
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_callback_deliveries_total\{outcome="error",attempt="1"\} 1/)
})

t.test('a receiver that never answers 2xx: failed, listed for its caller only, and replayed in order', async (t) => {
  let up = false
  const hooks = await receiver(t, () => up ? 204 : 503)
  const { app } = await buildTestApp(t, {
    env: {
      API_KEYS: `shop:${SHOP};callbackSecret=${SHOP_SECRET};callbackUrl=${hooks.url},crm:${CRM}`,
      CALLBACK_URL_ALLOW: `http://127.0.0.1:${hooks.port}`,
      // 3.6 s of retries: attempts at 0, 1 and 3 s.
      CALLBACK_RETRY_HOURS: '0.001',
      JELOU_EVENTS_TOKEN: TOKEN
    }
  })
  const shop = { 'x-api-key': SHOP }
  // No callbackUrl in the request: the caller's default.
  const sent = await post(app, '/v1/messages/text', text(), shop)
  t.equal(sent.status, 202)
  const failed = async (key: string) => (await app.inject({ url: '/v1/callbacks?state=failed', headers: { 'x-api-key': key } })).json() as { callbacks: Array<Record<string, unknown>> }
  t.ok(await until(async () => (await failed(SHOP)).callbacks.length === 1), 'listed once its retries ran out')
  await post(app, '/v1/events/jelou', event(sent.body.messageId as string, { event: 'failed', error: { code: 131026, message: 'Message undeliverable' } }), bearer)
  const [item] = (await failed(SHOP)).callbacks
  t.match(item, { messageId: sent.body.messageId, url: hooks.url, attempts: 3, error: /503/, waiting: 2 })
  t.same((await failed(CRM)).callbacks, [], 'another caller sees none')
  t.equal((await app.inject({ method: 'POST', url: `/v1/callbacks/${item?.id as string}/retry`, headers: { 'x-api-key': CRM } })).statusCode, 404, 'nor replays it')
  t.equal(hooks.delivered().length, 0)
  up = true
  const retry = await app.inject({ method: 'POST', url: `/v1/callbacks/${item?.id as string}/retry`, headers: shop })
  t.equal(retry.statusCode, 202)
  t.ok(await until(() => hooks.delivered().length === 2))
  t.same(hooks.types(), ['message.accepted', 'message.failed'], 'the failed one first, then the one waiting behind it')
  t.match(JSON.parse(hooks.delivered()[1]?.body as string), { data: { failure: { code: 131026 } } }, 'with Meta\'s reason')
  const verifier = new Webhook(SHOP_SECRET)
  for (const r of hooks.delivered()) t.doesNotThrow(() => verifier.verify(r.body, r.headers as Record<string, string>), 'signed with the caller\'s own secret')
  t.same((await failed(SHOP)).callbacks, [], 'no longer failed')
})

t.test('allow-list: refused URLs answer 400 naming callbackUrl and the rule, and nothing is sent', async (t) => {
  const hooks = await receiver(t)
  const { app, sandbox } = await buildTestApp(t, { env: { CALLBACK_URL_ALLOW: `http://127.0.0.1:${hooks.port}, https://*.example.com` } })
  const refused = [
    'http://example.com/hook',
    `https://127.0.0.1:${hooks.port}/hook`,
    `http://127.0.0.1:${hooks.port + 1}/hook`,
    `http://user:pass@127.0.0.1:${hooks.port}/hook`,
    `http://localhost:${hooks.port}/hook`,
    `http://[::1]:${hooks.port}/hook`,
    `http://169.254.169.254:${hooks.port}/latest`,
    'http://a.example.com/hook',
    'https://example.com/hook',
    'https://a.example.com.attacker.net/hook',
    'https://127.0.0.1/hook',
    'ftp://a.example.com/hook',
    'not a url'
  ]
  for (const url of refused) {
    const res = await post(app, '/v1/messages/text', text({ callbackUrl: url }))
    t.match(res, { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/callbackUrl' }] } }, url)
  }
  const raw = await app.inject({ method: 'POST', url: `/v1/messages?botId=bot-123&callbackUrl=${encodeURIComponent('http://example.com/x')}`, payload: { elementName: 'order_update', destinations: ['+593987654321'], type: 'text', parameters: ['a', 'b'] } })
  t.match(raw.json(), { errors: [{ in: 'querystring', path: '/callbackUrl', rule: 'allowList' }] }, 'the raw route takes it in the query string')
  t.equal(sandbox.messages().length, 0, 'nothing sent')
  const allowed = [`http://127.0.0.1:${hooks.port}/hook`, `http://2130706433:${hooks.port}/hook`, 'https://hooks.a.example.com/x']
  for (const url of allowed) {
    t.equal((await post(app, '/v1/messages/text?dryRun=true', text({ callbackUrl: url }))).status, 200, `${url} is allowed (the same host as a listed one, or a subdomain)`)
  }
})

t.test('with no CALLBACK_URL_ALLOW in live mode, callbacks are off and say so', async (t) => {
  const sandbox = await startSandbox({ port: 0 })
  t.teardown(() => sandbox.close())
  const { app } = await buildLiveApp(t, sandbox.url, { JELOU_CLIENT_ID: 'sandbox', JELOU_CLIENT_SECRET: 'sandbox', CALLBACK_SECRET: SHOP_SECRET })
  const res = await post(app, '/v1/messages/text', text({ callbackUrl: 'https://hooks.example.com/x' }))
  t.match(res.body, { errors: [{ path: '/callbackUrl', rule: 'allowList', message: /callbacks are off/ }] })
})

t.test('events receiver: X-API-Key, and X-Jelou-Signature when JELOU_EVENTS_SECRET is set', async (t) => {
  const secret = 'jelou-signing-secret-42'
  const { app } = await buildTestApp(t, { env: { JELOU_EVENTS_TOKEN: TOKEN, JELOU_EVENTS_SECRET: secret } })
  const sent = await post(app, '/v1/messages/text', text())
  const body = JSON.stringify(event(sent.body.messageId as string, { event: 'read' }))
  const sign = (payload: string) => `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`
  const send = async (headers: Record<string, string>, payload = body) => (await app.inject({ method: 'POST', url: '/v1/events/jelou', headers: { 'content-type': 'application/json', ...headers }, payload })).statusCode
  t.equal(await send({ 'x-api-key': TOKEN }), 401, 'unsigned while a secret is set')
  t.equal(await send({ 'x-api-key': TOKEN, 'x-jelou-signature': sign(`${body} `) }), 401, 'signed over other bytes')
  t.equal(await send({ 'x-api-key': 'wrong-token-0000000', 'x-jelou-signature': sign(body) }), 401, 'a wrong token')
  t.equal(await send({ 'x-api-key': TOKEN, 'x-jelou-signature': sign(body) }), 200, 'X-API-Key and a valid signature')
  t.equal(await send({ ...bearer, 'x-jelou-signature': sign(body).toUpperCase().replace('SHA256=', 'sha256=') }), 200, 'Bearer, hex in any case')
  const jelou = await startSandbox({ port: 0 })
  t.teardown(() => jelou.close())
  const only = await buildLiveApp(t, jelou.url, { JELOU_CLIENT_ID: 'sandbox', JELOU_CLIENT_SECRET: 'sandbox', JELOU_EVENTS_SECRET: secret })
  t.equal((await only.app.inject({ method: 'POST', url: '/v1/events/jelou', headers: { 'content-type': 'application/json', 'x-jelou-signature': sign(body) }, payload: body })).statusCode, 200, 'a secret alone is enough in live Jelou\'s "no auth" type')
})

t.test('a full queue refuses callbacks, never sends: the send answers 202 and the refusal is counted and logged once', async (t) => {
  const hang = createServer(() => {})
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hang.closeAllConnections(); hang.close() })
  const port = (hang.address() as AddressInfo).port
  const { app, logs } = await buildTestApp(t, { env: { CALLBACK_URL_ALLOW: `http://127.0.0.1:${port}`, QUEUE_MAX_JOBS: '10', QUEUE_CONCURRENCY: '1', CALLBACK_TIMEOUT_MS: '3000' } })
  for (let i = 0; i < 14; i++) {
    const res = await post(app, '/v1/messages/text', text({ to: `+593 98 765 43${String(10 + i)}`, callbackUrl: `http://127.0.0.1:${port}/hook` }))
    t.equal(res.status, 202, `send ${i + 1} answered`)
  }
  t.ok(await until(async () => /hsm_callbacks_not_queued_total \d/.test((await app.inject({ url: '/metrics' })).body) && !/hsm_callbacks_not_queued_total 0/.test((await app.inject({ url: '/metrics' })).body)), 'refusals counted')
  // Ten waiting, one running (it times out after 3 s and waits for its retry beside them).
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_queue_depth\{type="callback"\} 1[01]\n/, 'the queue holds its bound')
  t.equal(logs.lines().filter((line) => /^callbacks not queued/.test(line.msg as string)).length, 1, 'one log line, not one per send')
})

t.test('a 504\'s resolution is told: message.resolved, message.resent, message.unresolvable', async (t) => {
  const hooks = await receiver(t)
  const env = { ...FAST, CALLBACK_URL_ALLOW: `http://127.0.0.1:${hooks.port}`, CALLBACK_SECRET: SHOP_SECRET, IDEMPOTENCY_TTL_SECONDS: '3' }
  const keyed = async (app: FastifyInstance, key: string) => await post(app, '/v1/messages/text', text({ callbackUrl: hooks.url, clientRef: key }), { 'idempotency-key': key })
  const typeOf = (r: Received) => JSON.parse(r.body) as { type: string, data: Record<string, unknown> }

  // Found: Jelou created the message and never answered.
  const found = await standin(t, { send: () => ({ create: true, answer: 'hang' }) })
  const a = await buildLiveApp(t, found.url, env)
  t.equal((await keyed(a.app, 'found-1')).status, 504)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const resolved = await keyed(a.app, 'found-1')
  t.match(resolved, { status: 202, body: { resolved: true } })
  t.ok(await until(() => hooks.delivered().some((r) => typeOf(r).type === 'message.resolved')))
  t.match(typeOf(hooks.delivered().find((r) => typeOf(r).type === 'message.resolved') as Received).data, { messageId: resolved.body.messageId, resolution: 'resolved', status: 'accepted', clientRef: 'found-1' })

  // Resent: the first attempt never reached Jelou; the retry sends it once more.
  const resend = await standin(t, { send: (_body, i) => i === 0 ? { create: false, answer: 'hang' } : { create: true, answer: 'ok' } })
  const b = await buildLiveApp(t, resend.url, env)
  t.equal((await keyed(b.app, 'resent-1')).status, 504)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const again = await keyed(b.app, 'resent-1')
  t.equal(again.status, 202)
  t.ok(await until(() => hooks.delivered().some((r) => typeOf(r).type === 'message.resent')))
  t.match(typeOf(hooks.delivered().find((r) => typeOf(r).type === 'message.resent') as Received).data, { messageId: again.body.messageId, resolution: 'resent', clientRef: 'resent-1' })

  // Unresolvable: Jelou's notifications never answer, and the key's TTL (3 s) runs out.
  let down = false
  const unknown = await standin(t, { send: () => ({ create: true, answer: 'hang' }), failing: () => down })
  const c = await buildLiveApp(t, unknown.url, env)
  t.equal((await keyed(c.app, 'lost-1')).status, 504)
  down = true
  await new Promise((resolve) => setTimeout(resolve, 3100))
  t.match(await keyed(c.app, 'lost-1'), { status: 504, body: { resolution: 'unresolvable' } })
  t.ok(await until(() => hooks.delivered().some((r) => typeOf(r).type === 'message.unresolvable')))
  t.match(typeOf(hooks.delivered().find((r) => typeOf(r).type === 'message.unresolvable') as Received).data, { messageId: null, resolution: 'unresolvable', clientRef: 'lost-1' })
  t.notOk(hooks.delivered().some((r) => typeOf(r).data.clientRef === 'lost-1' && typeOf(r).type === 'message.accepted'), 'and no accepted for it')
})

t.test('draining: close waits for a delivery in flight, and it completes', async (t) => {
  let arrived = 0
  const slow = createServer((req, res) => {
    arrived++
    req.resume()
    setTimeout(() => res.writeHead(204).end(), 800)
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { slow.close() })
  const port = (slow.address() as AddressInfo).port
  const { app, logs } = await buildTestApp(t, { env: { CALLBACK_URL_ALLOW: `http://127.0.0.1:${port}` } })
  t.equal((await post(app, '/v1/messages/text', text({ callbackUrl: `http://127.0.0.1:${port}/hook` }))).status, 202)
  t.ok(await until(() => arrived === 1), 'the callback is on its way')
  await app.close()
  t.ok(logs.lines().some((line) => line.msg === 'callback delivered'), 'delivered before the app finished closing')
  t.notOk(logs.lines().some((line) => line.msg === 'callback not delivered; retried later'))
})
