// SPEC §4, §6, §7: every request-body rule answers 400 naming the field and the rule, before anything is sent.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, post, type LogCapture } from './helper.js'
import type { Sandbox } from '../src/sandbox/server.js'

const TO = '+593 98 765 4321'
const CODE = 'CODE-7781'
const PNG = 'https://cdn.example.com/media/offer.png'
const MP4 = 'https://cdn.example.com/media/tour.mp4'
const PDF = 'https://cdn.example.com/media/invoice.pdf'
const PAST_ISO = '2020-01-01T00:00:00Z'
const FUTURE_ISO = '2030-01-01T00:00:00Z'

/** A valid body per kind route; each case changes one thing. Templates outside the demo catalogue: these are about field rules, not variable counts. */
const VALID: Record<string, Record<string, unknown>> = {
  text: { to: TO, template: 'order_update_v2', language: 'es', params: ['Maria', 'ORD-1234'] },
  image: { to: TO, template: 'promo_banner_v2', mediaUrl: PNG, params: ['Maria'] },
  video: { to: TO, template: 'product_tour_v2', mediaUrl: MP4 },
  document: { to: TO, template: 'invoice_ready_v2', mediaUrl: PDF, filename: 'invoice.pdf' },
  'url-button': { to: TO, template: 'track_order_v2', urlParams: ['ORD-1234'] },
  'quick-reply': { to: TO, template: 'appointment_confirm_v2', quickReplies: [{ text: 'Confirm', flowId: 1001 }, { text: 'Reschedule' }] },
  'header-parameter': { to: TO, template: 'account_notice_v2', headerParam: 'Maria' },
  catalog: { to: TO, template: 'spring_catalog_v2', thumbnailUrl: 'https://cdn.example.com/media/thumb.jpg' },
  'limited-time-offer': { to: TO, template: 'flash_sale_v2', offerExpiresAt: FUTURE_ISO, couponCode: 'SPRING25' },
  authentication: { to: TO, template: 'login_code_v2', code: CODE },
  carousel: {
    to: TO,
    template: 'weekly_offers_v2',
    cards: [
      { mediaUrl: PNG, params: ['Sneakers'], urlParams: ['sku-1'] },
      { mediaUrl: PNG, params: ['Backpack'], urlParams: ['sku-2'] }
    ]
  }
}

const card = (mediaUrl = PNG, extra: Record<string, unknown> = {}) => ({ mediaUrl, params: ['x'], urlParams: ['sku-1'], ...extra })
const cards = (n: number) => Array.from({ length: n }, () => card())

interface Case {
  name: string
  kind: string
  /** Fields merged over the kind's valid body. */
  set?: Record<string, unknown>
  /** Fields removed from the kind's valid body. */
  unset?: string[]
  status?: number
  code?: string
  in?: string
  path: string
  rule: string
  limit?: number
  message?: RegExp
  /** A rejected value that must not be echoed in the error body. */
  hidden?: string
}

const CASES: Case[] = [
  // unknown fields
  { name: 'unknown top-level field', kind: 'text', set: { colour: 'red' }, path: '/colour', rule: 'additionalProperties', message: /not an allowed field/ },
  { name: 'unknown field inside a quick reply', kind: 'quick-reply', set: { quickReplies: [{ text: 'Yes', payload: 'x' }] }, path: '/quickReplies/0/payload', rule: 'additionalProperties' },
  { name: 'unknown field inside a card', kind: 'carousel', set: { cards: [card(), card(PNG, { title: 'x' })] }, path: '/cards/1/title', rule: 'additionalProperties' },
  { name: 'headerParam on an image route', kind: 'image', set: { headerParam: 'Maria' }, path: '/headerParam', rule: 'additionalProperties' },
  // types, no coercion
  { name: 'params as a string', kind: 'text', set: { params: 'Maria' }, path: '/params', rule: 'type' },
  { name: 'flowId as the string "12"', kind: 'text', set: { flowId: '12' }, path: '/flowId', rule: 'type' },
  { name: 'param as a number', kind: 'text', set: { params: [12] }, path: '/params/0', rule: 'type' },
  // template
  { name: 'template with uppercase', kind: 'text', set: { template: 'Order_Update' }, path: '/template', rule: 'pattern', message: /lowercase letters, digits or underscores/ },
  { name: 'template with a dash', kind: 'text', set: { template: 'order-update' }, path: '/template', rule: 'pattern' },
  { name: 'template of 513 characters', kind: 'text', set: { template: 'a'.repeat(513) }, path: '/template', rule: 'pattern' },
  { name: 'missing template', kind: 'text', unset: ['template'], path: '/template', rule: 'required', message: /is required/ },
  // params
  { name: 'param with a newline', kind: 'text', set: { params: ['Maria', 'line\nbreak'] }, path: '/params/1', rule: 'pattern', message: /must not contain a newline or tab/ },
  { name: 'param with a tab', kind: 'text', set: { params: ['tab\there'] }, path: '/params/0', rule: 'pattern', message: /newline or tab/ },
  { name: 'param with a run of five spaces', kind: 'text', set: { params: ['a     b'] }, path: '/params/0', rule: 'pattern', message: /run of 5 or more spaces/ },
  { name: 'param over 1024 characters', kind: 'text', set: { params: ['x'.repeat(1025)] }, path: '/params/0', rule: 'maxLength', limit: 1024 },
  { name: 'empty param', kind: 'text', set: { params: [''] }, path: '/params/0', rule: 'minLength', limit: 1 },
  { name: 'header param over 60 characters', kind: 'text', set: { headerParam: 'h'.repeat(61) }, path: '/headerParam', rule: 'maxLength', limit: 60 },
  { name: 'header param over 60 on header-parameter', kind: 'header-parameter', set: { headerParam: 'h'.repeat(61) }, path: '/headerParam', rule: 'maxLength', limit: 60 },
  // media
  { name: 'image with a .pdf URL', kind: 'image', set: { mediaUrl: PDF }, path: '/mediaUrl', rule: 'pattern', message: /\.jpg, \.jpeg or \.png/ },
  { name: 'http (not https) media URL', kind: 'image', set: { mediaUrl: 'http://cdn.example.com/media/offer.png' }, path: '/mediaUrl', rule: 'pattern', message: /https URL/ },
  { name: 'video with a .png URL', kind: 'video', set: { mediaUrl: PNG }, path: '/mediaUrl', rule: 'pattern', message: /\.mp4/ },
  { name: 'document with a .jpg URL', kind: 'document', set: { mediaUrl: 'https://cdn.example.com/media/scan.jpg' }, path: '/mediaUrl', rule: 'pattern', message: /\.pdf/ },
  { name: 'document filename not ending .pdf', kind: 'document', set: { filename: 'invoice.docx' }, path: '/filename', rule: 'pattern', message: /must end in \.pdf/ },
  { name: 'image without mediaUrl', kind: 'image', unset: ['mediaUrl'], path: '/mediaUrl', rule: 'required' },
  { name: 'catalog thumbnail over http', kind: 'catalog', set: { thumbnailUrl: 'http://cdn.example.com/t.jpg' }, path: '/thumbnailUrl', rule: 'pattern' },
  // authentication
  { name: 'authentication code with a URL', kind: 'authentication', set: { code: 'https://x.io' }, path: '/code', rule: 'pattern', message: /must not contain a URL/, hidden: 'https://x.io' },
  { name: 'authentication code with an emoji', kind: 'authentication', set: { code: `${CODE}\u{1F600}` }, path: '/code', rule: 'pattern', message: /must not contain an emoji/, hidden: CODE },
  { name: 'authentication code with a space', kind: 'authentication', set: { code: 'CODE 7781' }, path: '/code', rule: 'pattern', message: /whitespace/, hidden: 'CODE 7781' },
  { name: 'authentication code over 15 characters', kind: 'authentication', set: { code: `${CODE}-1234567` }, path: '/code', rule: 'maxLength', limit: 15, hidden: CODE },
  { name: 'authentication with params', kind: 'authentication', set: { params: ['Maria'] }, path: '/params', rule: 'additionalProperties' },
  { name: 'authentication with mediaUrl', kind: 'authentication', set: { mediaUrl: PNG }, path: '/mediaUrl', rule: 'additionalProperties' },
  // carousel
  { name: 'carousel with 1 card', kind: 'carousel', set: { cards: cards(1) }, path: '/cards', rule: 'minItems', limit: 2 },
  { name: 'carousel with 11 cards', kind: 'carousel', set: { cards: cards(11) }, path: '/cards', rule: 'maxItems', limit: 10 },
  { name: 'carousel mixing image and video cards', kind: 'carousel', set: { cards: [card(PNG), card(MP4)] }, path: '/cards/1/mediaUrl', rule: 'sameMediaKind' },
  { name: 'carousel cards with different buttons', kind: 'carousel', set: { cards: [card(), card(PNG, { urlParams: ['a', 'b'] })] }, path: '/cards/1', rule: 'sameButtons' },
  { name: 'carousel card with a quick reply the others lack', kind: 'carousel', set: { cards: [card(), card(PNG, { quickReplies: [{ text: 'Buy' }] })] }, path: '/cards/1', rule: 'sameButtons' },
  { name: 'carousel card with a .pdf', kind: 'carousel', set: { cards: [card(), card(PDF)] }, path: '/cards/1/mediaUrl', rule: 'pattern' },
  // quick replies and URL buttons
  { name: 'four quick replies', kind: 'quick-reply', set: { quickReplies: [{ text: 'a' }, { text: 'b' }, { text: 'c' }, { text: 'd' }] }, path: '/quickReplies', rule: 'maxItems', limit: 3 },
  { name: 'quick reply text over 25', kind: 'quick-reply', set: { quickReplies: [{ text: 'q'.repeat(26) }] }, path: '/quickReplies/0/text', rule: 'maxLength', limit: 25 },
  { name: 'quick-reply route without quickReplies', kind: 'quick-reply', unset: ['quickReplies'], path: '/quickReplies', rule: 'required' },
  { name: 'quick reply flowId 0', kind: 'quick-reply', set: { quickReplies: [{ text: 'a', flowId: 0 }] }, path: '/quickReplies/0/flowId', rule: 'minimum', limit: 1 },
  { name: 'three urlParams', kind: 'url-button', set: { urlParams: ['a', 'b', 'c'] }, path: '/urlParams', rule: 'maxItems', limit: 2 },
  { name: 'urlParam with a space', kind: 'url-button', set: { urlParams: ['ORD 1234'] }, path: '/urlParams/0', rule: 'pattern', message: /whitespace/ },
  { name: 'empty urlParams', kind: 'url-button', set: { urlParams: [] }, path: '/urlParams', rule: 'minItems', limit: 1 },
  { name: 'three urlParams on text', kind: 'text', set: { urlParams: ['a', 'b', 'c'] }, path: '/urlParams', rule: 'maxItems', limit: 2 },
  // times
  { name: 'LTO offerExpiresAt in the past (ISO)', kind: 'limited-time-offer', set: { offerExpiresAt: PAST_ISO }, path: '/offerExpiresAt', rule: 'future', message: /future/ },
  { name: 'LTO offerExpiresAt in the past (epoch ms)', kind: 'limited-time-offer', set: { offerExpiresAt: Date.parse(PAST_ISO) }, path: '/offerExpiresAt', rule: 'future' },
  { name: 'LTO offerExpiresAt not a date', kind: 'limited-time-offer', set: { offerExpiresAt: 'next week' }, path: '/offerExpiresAt', rule: 'anyOf' },
  { name: 'LTO coupon over 15', kind: 'limited-time-offer', set: { couponCode: 'C'.repeat(16) }, path: '/couponCode', rule: 'maxLength', limit: 15 },
  { name: 'expiresAt in the past', kind: 'text', set: { expiresAt: PAST_ISO }, path: '/expiresAt', rule: 'future' },
  { name: 'expiresAt in the past (epoch ms)', kind: 'image', set: { expiresAt: 1000 }, path: '/expiresAt', rule: 'future' },
  // memory, language, botId, other common fields
  { name: 'memory with 21 keys', kind: 'text', set: { memory: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }, path: '/memory', rule: 'maxProperties', limit: 20 },
  { name: 'memory with a non-string value', kind: 'text', set: { memory: { plan: 'gold', points: 12 } }, path: '/memory/points', rule: 'type' },
  { name: 'language fr', kind: 'text', set: { language: 'fr' }, path: '/language', rule: 'enum', message: /en, es, pt/ },
  { name: 'botId with a slash', kind: 'text', set: { botId: 'bot/123' }, path: '/botId', rule: 'pattern', message: /must not contain "\.\."/ },
  { name: 'botId with ..', kind: 'text', set: { botId: 'bot..123' }, path: '/botId', rule: 'pattern' },
  { name: 'botId of only ..', kind: 'text', set: { botId: '..' }, path: '/botId', rule: 'pattern' },
  { name: 'campaignId over 128', kind: 'text', set: { campaignId: 'c'.repeat(129) }, path: '/campaignId', rule: 'maxLength', limit: 128 },
  { name: 'clientRef over 100', kind: 'text', set: { clientRef: 'r'.repeat(101) }, path: '/clientRef', rule: 'maxLength', limit: 100 },
  { name: 'flowId 1.5', kind: 'text', set: { flowId: 1.5 }, path: '/flowId', rule: 'type' },
  { name: 'country of three letters', kind: 'text', set: { country: 'ECU' }, path: '/country', rule: 'pattern' },
  { name: 'missing to', kind: 'text', unset: ['to'], path: '/to', rule: 'required' },
  { name: 'to as a number', kind: 'text', set: { to: 593987654321 }, path: '/to', rule: 'type' },
  // phone numbers (SPEC §6)
  { name: 'phone with letters', kind: 'text', set: { to: '+593 98 CALL ME' }, code: 'INVALID_PHONE', path: '/to', rule: 'NOT_A_NUMBER' },
  { name: 'phone too short', kind: 'text', set: { to: '+593 98' }, code: 'INVALID_PHONE', path: '/to', rule: 'TOO_SHORT' },
  { name: 'national phone without a country', kind: 'text', set: { to: '0987654321' }, code: 'INVALID_PHONE', path: '/to', rule: 'NEEDS_COUNTRY', hidden: '0987654321' },
  { name: 'unknown country ZZ', kind: 'text', set: { to: '0987654321', country: 'ZZ' }, code: 'INVALID_PHONE', path: '/to', rule: 'INVALID_COUNTRY', hidden: '0987654321' }
]

function bodyOf (c: Case): Record<string, unknown> {
  const body = { ...VALID[c.kind], ...c.set }
  for (const name of c.unset ?? []) Reflect.deleteProperty(body, name)
  return body
}

/** The assertions a subtest's `t` offers that the shared checks use. */
type Subtest = Pick<typeof t, 'equal' | 'match' | 'notMatch'>

interface Answer {
  status: number
  headers: Record<string, unknown>
  text: string
  body: Record<string, unknown> & { errors?: Array<Record<string, unknown>> }
}

async function inject (app: FastifyInstance, url: string, payload: string, headers: Record<string, string>): Promise<Answer> {
  const res = await app.inject({ method: 'POST', url, headers, payload })
  return { status: res.statusCode, headers: res.headers, text: res.body, body: res.json() }
}

/** The shared checks for every refusal: problem+json, no stack, nothing sent, no send line. */
function assertRefused (t: Subtest, res: Answer, ctx: { sandbox: Sandbox, logs: LogCapture, requestId: string, status: number, code: string }) {
  t.equal(res.status, ctx.status, 'status')
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.body, {
    type: `https://jelou-hsm-proxy/errors/${ctx.code.toLowerCase().replaceAll('_', '-')}`,
    title: String,
    status: ctx.status,
    code: ctx.code,
    detail: String,
    retriable: false,
    requestId: ctx.requestId
  })
  t.notMatch(res.text, /\n\s+at /, 'no stack trace lines')
  t.notMatch(res.text, /node_modules|\.ts:\d+|\.js:\d+/, 'no source locations')
  t.equal(ctx.sandbox.messages().length, 0, 'the sandbox received nothing')
  const lines = ctx.logs.lines().filter((line) => line.reqId === ctx.requestId)
  t.equal(lines.filter((line) => line.outcome !== undefined).length, 0, 'no send attempt was logged')
}

t.test('every rule of SPEC §4 and §6: 400 naming the field and the rule, nothing sent', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  let n = 0
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const requestId = `case-${++n}`
      const status = c.status ?? 400
      const code = c.code ?? 'VALIDATION_FAILED'
      const res = await inject(app, `/v1/messages/${c.kind}`, JSON.stringify(bodyOf(c)), { 'content-type': 'application/json', 'x-request-id': requestId })
      assertRefused(t, res, { sandbox, logs, requestId, status, code })
      const first = res.body.errors?.[0]
      t.match(first, { in: c.in ?? 'body', path: c.path, rule: c.rule, message: c.message ?? String }, 'errors[0] names the field and the rule')
      if (c.limit !== undefined) t.equal(first?.limit, c.limit, 'limit')
      if (c.hidden !== undefined) t.notOk(res.text.includes(c.hidden), 'the rejected value is not echoed')
      t.notOk(res.text.includes('593987654321'), 'the phone number is not echoed')
    })
  }
  t.equal(sandbox.messages().length, 0, 'nothing at all reached the sandbox')
  t.equal(logs.sends().length, 0, 'no send line at all')
})

t.test('refusals outside the schema: body parsing, media type', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const RAW: Array<{ name: string, payload: string, contentType?: string, status: number, code: string, path?: string, rule?: string, todo?: string }> = [
    { name: 'empty body', payload: '', status: 400, code: 'VALIDATION_FAILED', path: '/', rule: 'required' },
    { name: 'empty object', payload: '{}', status: 400, code: 'VALIDATION_FAILED', path: '/to', rule: 'required' },
    { name: 'JSON array', payload: '[]', status: 400, code: 'VALIDATION_FAILED', path: '/', rule: 'type' },
    { name: 'invalid JSON', payload: `{"to": "${TO}", "template": `, status: 400, code: 'VALIDATION_FAILED', path: '/', rule: 'json' },
    { name: '__proto__ key', payload: `{"to":"${TO}","template":"order_update","__proto__":{"admin":true}}`, status: 400, code: 'VALIDATION_FAILED', path: '/', rule: 'json' },
    { name: 'constructor.prototype key', payload: `{"to":"${TO}","template":"order_update","constructor":{"prototype":{"admin":true}}}`, status: 400, code: 'VALIDATION_FAILED', path: '/', rule: 'json' },
    // src/app.ts keeps Fastify's built-in text/plain parser: the body reaches the schema as a string (400 type at /).
    { name: 'text/plain', payload: JSON.stringify(VALID.text), contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'no content-type', payload: JSON.stringify(VALID.text), contentType: '', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'form-urlencoded', payload: 'to=1&template=x', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'application/xml', payload: '<to/>', contentType: 'application/xml', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }
  ]
  let n = 0
  for (const c of RAW) {
    await t.test(c.name, { todo: c.todo }, async (t) => {
      const requestId = `raw-${++n}`
      const headers: Record<string, string> = { 'x-request-id': requestId }
      if (c.contentType !== '') headers['content-type'] = c.contentType ?? 'application/json'
      const res = await inject(app, '/v1/messages/text', c.payload, headers)
      assertRefused(t, res, { sandbox, logs, requestId, status: c.status, code: c.code })
      if (c.path !== undefined) t.match(res.body.errors?.[0], { in: 'body', path: c.path, rule: c.rule })
      t.notOk(res.text.includes('593987654321'), 'the phone number is not echoed')
    })
  }
})

t.test('a body over BODY_LIMIT_BYTES is 413 PAYLOAD_TOO_LARGE', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { BODY_LIMIT_BYTES: '1024' } })
  const res = await inject(app, '/v1/messages/text', JSON.stringify({ ...VALID.text, params: ['p'.repeat(1000), 'q'.repeat(100)] }), { 'content-type': 'application/json', 'x-request-id': 'too-big' })
  assertRefused(t, res, { sandbox, logs, requestId: 'too-big', status: 413, code: 'PAYLOAD_TOO_LARGE' })

  const small = await post(app, '/v1/messages/text', VALID.text)
  t.equal(small.status, 202, 'a body under the limit still goes through')
})

t.test('missing botId when JELOU_BOT_ID is unset: 400 /botId required', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { JELOU_BOT_ID: '' } })
  const res = await inject(app, '/v1/messages/text', JSON.stringify(VALID.text), { 'content-type': 'application/json', 'x-request-id': 'no-bot' })
  assertRefused(t, res, { sandbox, logs, requestId: 'no-bot', status: 400, code: 'VALIDATION_FAILED' })
  t.match(res.body.errors?.[0], { in: 'body', path: '/botId', rule: 'required' })

  const named = await post(app, '/v1/messages/text', { ...VALID.text, botId: 'bot-9' })
  t.equal(named.status, 202, 'a botId in the body is enough')
  t.equal(sandbox.messages()[0].path, '/v2/whatsapp/bot-9/hsm')
})

t.test('a schema failure and a cross-field failure are reported together', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/carousel', { ...VALID.carousel, cards: [card(PNG), card(MP4, { extra: 1 })] })
  t.equal(res.status, 400)
  t.match(res.body.errors, [
    { path: '/cards/1/mediaUrl', rule: 'sameMediaKind' },
    { path: '/cards/1/extra', rule: 'additionalProperties' }
  ], 'both, in the order the body holds them (mediaUrl is written before extra)')
  t.equal(res.body.errors?.length, 2)
  t.equal(sandbox.messages().length, 0)
})

t.test('the authentication code is never echoed or logged, even when refused', async (t) => {
  const { app, logs } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/authentication', { ...VALID.authentication, code: `${CODE}\u{1F600}` })
  t.equal(res.status, 400)
  t.notOk(JSON.stringify(res.body).includes(CODE), 'not in the error body')
  t.notOk(logs.text().includes(CODE), 'not in the log')
  t.ok(logs.lines().some((line) => line.msg === 'request refused'), 'the refusal is logged, without values')
})

t.test('phone numbers: national numbers with a region are normalized', async (t) => {
  await t.test('country field', async (t) => {
    const { app, sandbox, logs } = await buildTestApp(t)
    const res = await post(app, '/v1/messages/text', { ...VALID.text, to: '0987654321', country: 'EC' })
    t.equal(res.status, 202)
    t.match(res.body, { to: '593987654321', phone: { input: '0987654321', normalized: '593987654321', country: 'EC' } })
    t.strictSame((sandbox.messages()[0].body as { destinations: string[] }).destinations, ['593987654321'])
    t.match(logs.sends(), [{ outcome: 'sent', to: '5939******21' }])
  })
  await t.test('lowercase country field', async (t) => {
    const { app } = await buildTestApp(t)
    const res = await post(app, '/v1/messages/text', { ...VALID.text, to: '0987654321', country: 'ec' })
    t.equal(res.status, 202)
    t.equal(res.body.to, '593987654321')
  })
  await t.test('DEFAULT_COUNTRY', async (t) => {
    const { app, sandbox } = await buildTestApp(t, { env: { DEFAULT_COUNTRY: 'EC' } })
    const res = await post(app, '/v1/messages/text', { ...VALID.text, to: '0987654321' })
    t.equal(res.status, 202)
    t.equal(res.body.to, '593987654321')
    t.strictSame((sandbox.messages()[0].body as { destinations: string[] }).destinations, ['593987654321'])
  })
  await t.test('the country field wins over DEFAULT_COUNTRY, and ZZ is refused', async (t) => {
    const { app, sandbox } = await buildTestApp(t, { env: { DEFAULT_COUNTRY: 'EC' } })
    const res = await post(app, '/v1/messages/text', { ...VALID.text, to: '0987654321', country: 'ZZ' })
    t.equal(res.status, 400)
    t.match(res.body, { code: 'INVALID_PHONE', errors: [{ path: '/to', rule: 'INVALID_COUNTRY' }] })
    t.equal(sandbox.messages().length, 0)
  })
})

t.test('positive boundaries pass: 202', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const OK = [
    { name: 'param of exactly 1024 characters', kind: 'text', set: { params: ['x'.repeat(1024)] } },
    { name: 'param with a run of four spaces', kind: 'text', set: { params: ['a    b'] } },
    { name: 'header param of exactly 60 characters', kind: 'text', set: { headerParam: 'h'.repeat(60) } },
    { name: 'header param of exactly 60 on header-parameter', kind: 'header-parameter', set: { headerParam: 'h'.repeat(60) } },
    { name: 'code of exactly 15 characters', kind: 'authentication', set: { code: 'A1B2C3D4E5F6G7H' } },
    { name: '10 cards', kind: 'carousel', set: { cards: cards(10) } },
    { name: '10 video cards', kind: 'carousel', set: { cards: Array.from({ length: 10 }, () => card(MP4)) } },
    { name: '3 quick replies', kind: 'quick-reply', set: { quickReplies: [{ text: 'a' }, { text: 'b' }, { text: 'q'.repeat(25) }] } },
    { name: '2 urlParams', kind: 'url-button', set: { urlParams: ['a', 'b'] } },
    { name: 'template of exactly 512 characters', kind: 'text', set: { template: 'a'.repeat(512) } },
    { name: 'memory with 20 keys', kind: 'text', set: { memory: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'])) } },
    { name: 'future offerExpiresAt as epoch ms', kind: 'limited-time-offer', set: { offerExpiresAt: Date.now() + 3_600_000 } },
    { name: 'future expiresAt', kind: 'text', set: { expiresAt: FUTURE_ISO } },
    { name: 'botId with + _ . -', kind: 'text', set: { botId: 'Bot+1_a.b-c' } },
    { name: 'uppercase media extension', kind: 'image', set: { mediaUrl: 'https://cdn.example.com/A.JPG?v=2' } },
    { name: 'filename ending .pdf', kind: 'document', set: { filename: 'Factura 2025.pdf' } }
  ]
  for (const c of OK) {
    await t.test(c.name, async (t) => {
      const before = sandbox.messages().length
      const res = await post(app, `/v1/messages/${c.kind}`, { ...VALID[c.kind], ...c.set })
      t.equal(res.status, 202, JSON.stringify(res.body.errors ?? ''))
      t.equal(sandbox.messages().length, before + 1, 'one upstream request')
    })
  }
  t.equal(logs.sends().length, OK.length, 'one send line per accepted request')
})

t.test('an epoch-ms time beyond the Date range is refused, not forwarded as "1e+21"', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  for (const value of [1e21, 8.64e15 + 1]) {
    const res = await post(app, '/v1/messages/text', { ...VALID.text, expiresAt: value })
    t.equal(res.status, 400, String(value))
    t.match(res.body.errors?.[0], { path: '/expiresAt' }, String(value))
  }
  t.equal(sandbox.messages().length, 0)
})

t.test('a future date-time with a leap second is refused as a format JavaScript cannot hold, not as "in the past"', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text', { ...VALID.text, expiresAt: '2030-06-30T23:59:60Z' })
  t.equal(res.status, 400)
  t.match(res.body.errors?.[0], { path: '/expiresAt', rule: 'format' })
  t.equal(sandbox.messages().length, 0)
})
