// Bad-input fuzz: generated malformed bodies all get a 4xx problem body, the process stays up, nothing is sent.
import t from 'tap'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { buildTestApp } from './helper.js'

const COUNT = 600
let state = 20261125
const random = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]

const valid = { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'], botId: 'bot-123' }
const WEIRD_VALUES: unknown[] = [null, true, 0, -1, 1e308, '', 'x'.repeat(70000), [], {}, [[[]]], { a: { b: { c: {} } } }, '\u0000', '\ud800', 'DROP TABLE', '{{7*7}}', '<script>', NaN]
const KEYS = ['to', 'template', 'params', 'botId', 'language', 'mediaUrl', 'cards', 'code', 'memory', 'quickReplies', 'expiresAt', 'flowId', 'urlParams', '__proto__', 'constructor', 'prototype', '']
const ROUTES = TEMPLATE_KINDS.map((kind) => kind.kind)

function nested (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

/** One malformed body as raw bytes, from one of several families. */
function malformed (): { payload: Buffer, contentType: string } {
  const json = 'application/json'
  switch (Math.floor(random() * 9)) {
    case 0: { // a field with a wrong or weird value
      const body: Record<string, unknown> = { ...valid, [pick(KEYS)]: pick(WEIRD_VALUES) }
      if (JSON.stringify(body) === JSON.stringify(valid)) body.to = 12
      return { payload: Buffer.from(JSON.stringify(body)), contentType: json }
    }
    case 1: // prototype pollution keys
      return {
        payload: Buffer.from(pick([
          '{"__proto__":{"isAdmin":true},"to":"+593987654321","template":"a"}',
          '{"constructor":{"prototype":{"polluted":1}},"to":"+593987654321","template":"a"}',
          '{"to":"+593987654321","template":"a","params":["x"],"memory":{"__proto__":{"x":"1"}}}'
        ])),
        contentType: json
      }
    case 2: // deep nesting
      return { payload: Buffer.from(`{"to":"+593987654321","template":"a","params":${nested(1 + Math.floor(random() * 30000))}}`), contentType: json }
    case 3: { // invalid UTF-8 inside a string
      const bytes = Buffer.from(JSON.stringify({ ...valid, params: ['@@@@'] }))
      const at = bytes.indexOf('@@@@')
      bytes.set(pick([[0xff, 0xfe, 0xfd, 0xfc], [0xc3, 0x28, 0xa0, 0xa1], [0xed, 0xa0, 0x80, 0x41]]), at)
      return { payload: bytes, contentType: json }
    }
    case 4: // truncated or broken JSON
      return { payload: Buffer.from(JSON.stringify(valid).slice(0, Math.floor(random() * 60))), contentType: json }
    case 5: // huge strings in a valid shape
      return { payload: Buffer.from(JSON.stringify({ ...valid, [pick(['to', 'template', 'botId'])]: 'x'.repeat(1000 + Math.floor(random() * 80000)) })), contentType: json }
    case 6: // not an object
      return { payload: Buffer.from(pick(['[]', '"x"', '1', 'null', 'true', '[{"to":"+593987654321"}]'])), contentType: json }
    case 7: // wrong content type
      return { payload: Buffer.from(JSON.stringify(valid)), contentType: pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) }
    default: { // random bytes
      const bytes = Buffer.alloc(1 + Math.floor(random() * 300))
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
      return { payload: bytes, contentType: json }
    }
  }
}

t.test(`${COUNT} malformed bodies: every answer is a 4xx problem, the process stays up, nothing is sent`, async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '100000' } })
  const statuses: Record<number, number> = {}
  for (let i = 0; i < COUNT; i++) {
    const { payload, contentType } = malformed()
    const res = await app.inject({ method: 'POST', url: `/v1/messages/${pick(ROUTES)}`, headers: { 'content-type': contentType }, payload })
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    if (res.statusCode < 400 || res.statusCode >= 500) {
      t.fail(`case ${i}: ${res.statusCode} for ${payload.subarray(0, 120).toString('latin1')}`)
      continue
    }
    if (!String(res.headers['content-type']).startsWith('application/problem+json')) t.fail(`case ${i}: not a problem body`)
    const body = res.json() as { code?: string, status?: number }
    if (typeof body.code !== 'string' || body.status !== res.statusCode) t.fail(`case ${i}: problem body without code/status`)
    if (/node_modules|\n\s+at /.test(res.body)) t.fail(`case ${i}: stack trace in the answer`)
  }
  t.comment(`statuses: ${JSON.stringify(statuses)}`)
  t.equal(Object.values(statuses).reduce((a, b) => a + b, 0), COUNT)
  t.equal(sandbox.messages().length, 0, 'nothing reached the upstream')
  t.equal(({} as Record<string, unknown>).isAdmin, undefined, 'Object.prototype not polluted')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200, 'still up')
  const good = await app.inject({ method: 'POST', url: '/v1/messages/text', payload: valid })
  t.equal(good.statusCode, 202, 'and still sending')
})
