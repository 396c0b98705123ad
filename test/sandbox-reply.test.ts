// The sandbox recipient's answer (SPEC §21 "Sandbox") over real sockets: a reply through POST /sandbox/messages/{id}/reply
// becomes Jelou's reply event, the message's status and a signed message.replied callback at the service's own catcher.
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { quickReply } from '../src/templates/quick-reply.js'
import { buildLiveApp, buildTestApp, captureLogs, post } from './helper.js'
import { startSandbox } from '../src/sandbox/server.js'

/** The quick-reply route's own example: appointment_confirm, buttons Confirm (flow 1001) and Reschedule (flow 1002). */
const QUICK_REPLY = quickReply.examples.quickReply.value as Record<string, unknown>
const TYPED = 'running-late-5521'

async function until<T> (what: () => Promise<T | undefined>, ms = 20000): Promise<T | undefined> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const value = await what()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return undefined
}

interface Caught { type: string, signature: { valid: boolean, caller?: string }, body: { type: string, data: Record<string, unknown> } }

t.test('a tapped quick reply and a typed one reach the caller as signed message.replied callbacks at /sandbox/callbacks', async (t) => {
  // The app starts its own sandbox, which posts its events to the app once it listens (as `npm start` does).
  const config = loadConfig({ JELOU_BOT_ID: 'bot-123', RECIPIENT_LIMIT: '1000/60s', MAX_EVENT_LOOP_DELAY_MS: '0' })
  const { stream, capture } = captureLogs(t, [TYPED])
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${origin}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Record<string, any> }
  }
  const callbackUrl = `${origin}/sandbox/callbacks`

  const sent = await call('POST', '/v1/messages/quick-reply', { ...QUICK_REPLY, callbackUrl, clientRef: 'appointment-77' })
  t.equal(sent.status, 202, 'the quick-reply message is sent')
  const id = sent.body.messageId as string

  const entry = (await call('GET', '/sandbox/inbox.json')).body.messages[0]
  t.match(entry, { messageId: id, answerable: true, quickReplies: [{ text: 'Confirm', payload: '1001' }, { text: 'Reschedule', payload: '1002' }], replies: [] }, 'the inbox offers its two buttons, each with its flow id as payload')

  const tapped = await call('POST', `/sandbox/messages/${id}/reply`, { payload: '1002' })
  t.strictSame(tapped, { status: 202, type: 'application/json; charset=utf-8', body: { messageId: id, reply: { text: 'Reschedule', payload: '1002' } } }, 'tapping "Reschedule": 202, the button\'s label as the text')

  const callbacks = async () => (await call('GET', '/sandbox/callbacks.json')).body.callbacks as Caught[]
  const replied = await until(async () => (await callbacks()).find((c) => c.type === 'message.replied' && c.body.data.messageId === id))
  t.ok(replied, 'message.replied reached the catcher')
  t.match(replied, {
    signature: { valid: true },
    body: { type: 'message.replied', data: { messageId: id, status: 'replied', clientRef: 'appointment-77', template: 'appointment_confirm', reply: { text: 'Reschedule', payload: '1002' } } }
  }, 'signed, with the button\'s label and payload')
  const mine = (await callbacks()).filter((c) => c.body.data.messageId === id).reverse()
  t.equal(mine[0]?.type, 'message.accepted', 'accepted came first')
  t.ok(mine.every((c) => c.signature.valid), 'every callback verifies')

  const status = await call('GET', `/v1/messages/${id}`)
  t.match(status.body, { messageId: id, status: 'replied', reply: { text: 'Reschedule', payload: '1002' } }, 'the message shows the reply')
  const after = (await call('GET', '/sandbox/inbox.json')).body.messages[0]
  t.match(after, { messageId: id, delivery: 'REPLY', replies: [{ text: 'Reschedule', payload: '1002' }] }, 'the inbox shows the answer and the REPLY state')

  // A typed answer to a text message: only its text, and never in a log line (captureLogs refuses it at teardown).
  const text = await call('POST', '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'], botId: 'bot-123', callbackUrl })
  t.equal(text.status, 202)
  const typed = await call('POST', `/sandbox/messages/${text.body.messageId as string}/reply`, { text: TYPED })
  t.strictSame(typed.body, { messageId: text.body.messageId, reply: { text: TYPED } })
  const typedCallback = await until(async () => (await callbacks()).find((c) => c.type === 'message.replied' && c.body.data.messageId === text.body.messageId))
  t.match(typedCallback, { signature: { valid: true }, body: { data: { reply: { text: TYPED } } } }, 'the typed text arrives, signed')
  t.notOk((typedCallback?.body.data.reply as Record<string, unknown>).payload, 'a typed reply has no payload')
  t.ok(capture.lines().some((line) => line.msg === 'sandbox reply' && line.messageId === id && line.button === true), 'the reply is logged by id, without its words')
})

t.test('bad replies: 400 naming the field and rule, 404 for a message the sandbox does not have, and nothing is posted', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { sandbox: { deliveryStepMs: 20 } })
  const quick = await post(app, '/v1/messages/quick-reply', QUICK_REPLY)
  const text = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'], botId: 'bot-123' })
  const url = (id: unknown) => `/sandbox/messages/${String(id)}/reply`
  const cases: Array<[string, string, unknown, { path: string, rule: string, message?: RegExp }]> = [
    ['neither text nor payload', url(quick.body.messageId), {}, { path: '/text', rule: 'required', message: /payload/ }],
    ['an empty text', url(text.body.messageId), { text: '' }, { path: '/text', rule: 'minLength' }],
    ['a text longer than WhatsApp allows', url(text.body.messageId), { text: 'x'.repeat(4097) }, { path: '/text', rule: 'maxLength' }],
    ['an unknown field', url(text.body.messageId), { text: 'hi', button: 1 }, { path: '/button', rule: 'additionalProperties' }],
    ['a payload no button has', url(quick.body.messageId), { payload: 'CONFIRM' }, { path: '/payload', rule: 'enum', message: /"1001" \(Confirm\), "1002" \(Reschedule\)/ }],
    ['a payload on a message without buttons', url(text.body.messageId), { payload: '1001' }, { path: '/payload', rule: 'enum', message: /no quick-reply button/ }],
    ['another label for the tapped button', url(quick.body.messageId), { payload: '1001', text: 'Reschedule' }, { path: '/text', rule: 'const', message: /"Confirm"/ }],
    ['a text that is not a string', url(text.body.messageId), { text: 42 }, { path: '/text', rule: 'type' }]
  ]
  for (const [name, path, body, field] of cases) {
    const res = await post(app, path, body)
    t.match(res, { status: 400, headers: { 'content-type': /application\/problem\+json/ }, body: { code: 'VALIDATION_FAILED', errors: [{ in: 'body', ...field }] } }, name)
  }
  const plain = await app.inject({ method: 'POST', url: url(text.body.messageId), headers: { 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(plain.statusCode, 415, 'JSON only')
  const form = await app.inject({ method: 'POST', url: url(text.body.messageId), headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'text=hi' })
  t.equal(form.statusCode, 415, 'not a form post either: another site\'s page cannot answer without a CORS preflight')

  const unknown = await post(app, url('not-a-sandbox-message'), { text: 'hi' })
  t.match(unknown, { status: 404, headers: { 'content-type': /application\/problem\+json/ }, body: { code: 'NOT_FOUND', detail: /no message with this id/ } }, 'an id the sandbox never answered with')
  const failed = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'sandbox_undeliverable', params: ['a'], botId: 'bot-123' })
  t.equal(failed.status, 202)
  for (let i = 0; i < 200 && sandbox.notifications().find((n) => n.id === failed.body.messageId)?.sentStatus !== 'FAILED'; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.match(await post(app, url(failed.body.messageId), { text: 'hi' }), { status: 404, body: { code: 'NOT_FOUND', detail: /never reached a recipient/ } }, 'a message that failed cannot be answered')
  const inbox = (await app.inject({ url: '/sandbox/inbox.json' })).json() as { messages: Array<Record<string, unknown>> }
  t.match(inbox.messages.find((m) => m.messageId === failed.body.messageId), { delivery: 'FAILED', answerable: false, quickReplies: [] }, 'the inbox offers no answer to it')
  t.match(inbox.messages.find((m) => m.messageId === quick.body.messageId), { answerable: true, quickReplies: [{ payload: '1001' }, { payload: '1002' }] })

  t.same(sandbox.replies(), new Map(), 'no refused reply reached the sandbox')
  t.notOk(sandbox.notifications().some((n) => n.sentStatus === 'REPLY'), 'no message moved to REPLY')
  const ok = await post(app, url(quick.body.messageId), { payload: '1001', text: 'Confirm' })
  t.strictSame(ok.body, { messageId: quick.body.messageId, reply: { text: 'Confirm', payload: '1001' } }, 'the label may be sent with the payload')
  t.equal(sandbox.notifications().find((n) => n.id === quick.body.messageId)?.sentStatus, 'REPLY')
})

t.test('with API_KEYS the reply route stays open, like the inbox page that calls it', async (t) => {
  const key = 'shop-key-0123456789abcdef'
  const { app } = await buildTestApp(t, { env: { API_KEYS: `shop:${key}` } })
  const sent = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'], botId: 'bot-123' }, { 'x-api-key': key })
  t.equal(sent.status, 202)
  t.equal((await post(app, `/sandbox/messages/${sent.body.messageId as string}/reply`, { text: 'hi' })).status, 202, 'no key needed')
})

t.test('live mode has no reply route', async (t) => {
  const jelou = await startSandbox({ port: 0 })
  t.teardown(() => jelou.close())
  const { app } = await buildLiveApp(t, jelou.url, { JELOU_CLIENT_ID: 'sandbox', JELOU_CLIENT_SECRET: 'sandbox' })
  t.equal((await post(app, '/sandbox/messages/any/reply', { text: 'hi' })).status, 404)
})
