// The twelve cases of the upstream page, each sent from its OpenAPI example through the real forwarding path.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { createRequire } from 'node:module'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { maskPhone } from '../src/phone.js'
import { SANDBOX_BASIC, buildTestApp, post } from './helper.js'

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')).request
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv2020) => Ajv2020
const upstreamSchema = addFormats(new Ajv2020({ strict: false })).compile(JSON.parse(readFileSync(new URL('./fixtures/jelou-hsm-request.schema.json', import.meta.url), 'utf8')))

const CASES = [
  { name: 'text', kind: 'text', example: 'text', fixture: 'text' },
  { name: 'image', kind: 'image', example: 'image', fixture: 'image' },
  { name: 'video', kind: 'video', example: 'video', fixture: 'video' },
  { name: 'document', kind: 'document', example: 'document', fixture: 'document' },
  { name: 'static URL buttons', kind: 'text', example: 'staticUrlButtons', fixture: 'url-buttons-static' },
  { name: 'dynamic URL buttons', kind: 'url-button', example: 'dynamicUrlButtons', fixture: 'url-buttons-dynamic' },
  { name: 'quick reply', kind: 'quick-reply', example: 'quickReply', fixture: 'quick-reply' },
  { name: 'header parameters', kind: 'header-parameter', example: 'headerParameters', fixture: 'header-parameters' },
  { name: 'full catalog', kind: 'catalog', example: 'catalog', fixture: 'catalog' },
  // The upstream example's expiry (2026-01-01) is past; ours is 2030-01-01, so the expected body carries that.
  { name: 'LTO with copy code', kind: 'limited-time-offer', example: 'ltoCopyCode', fixture: 'lto', patch: { ltoParams: { expirationTime: Date.parse('2030-01-01T00:00:00Z') } } },
  { name: 'authentication', kind: 'authentication', example: 'authentication', fixture: 'authentication' },
  { name: 'carousel with 2 cards', kind: 'carousel', example: 'carousel', fixture: 'carousel' }
]

t.test('every case of the upstream page is a named example on the route that serves it', async (t) => {
  for (const c of CASES) {
    const kind = TEMPLATE_KINDS.find((k) => k.kind === c.kind)
    t.ok(kind?.examples[c.example], `${c.name}: example ${c.example} on /v1/messages/${c.kind}`)
  }
})

for (const c of CASES) {
  t.test(`${c.name}: 202, the exact upstream body reaches Jelou, one "sent" log line`, async (t) => {
    const { app, sandbox, logs } = await buildTestApp(t)
    const example = TEMPLATE_KINDS.find((k) => k.kind === c.kind)?.examples[c.example]?.value as Record<string, unknown>
    const res = await post(app, `/v1/messages/${c.kind}`, example, { 'x-request-id': `case-${c.example}` })
    // Each example has its own recipient (so running them all stays under RECIPIENT_LIMIT), all Ecuadorian mobiles.
    const to = String(example.to).replace(/\D/g, '')

    t.equal(res.status, 202)
    t.equal(res.headers['x-request-id'], `case-${c.example}`)
    t.match(res.body, {
      messageId: /^[0-9a-f-]{36}$/,
      to,
      kind: c.kind,
      template: example.template,
      botId: 'bot-123',
      requestId: `case-${c.example}`,
      phone: { input: example.to, normalized: to, country: 'EC' },
      sandbox: true
    })

    const received = sandbox.messages()
    t.equal(received.length, 1, 'exactly one upstream request')
    const expected = { ...fixture(c.fixture), destinations: [to], ...c.patch }
    t.strictSame(received[0].body, expected, 'upstream body is exactly the documented one')
    t.ok(upstreamSchema(received[0].body), 'and valid against Jelou\'s JSON Schema')
    t.equal(received[0].path, '/v2/whatsapp/bot-123/hsm')
    t.equal(received[0].authorization, SANDBOX_BASIC)
    t.equal(received[0].contentType, 'application/json')
    t.equal(received[0].requestId, `case-${c.example}`)

    const sends = logs.sends()
    t.equal(sends.length, 1, 'one send line')
    t.match(sends[0], {
      msg: 'hsm sent',
      outcome: 'sent',
      reqId: `case-${c.example}`,
      kind: c.kind,
      template: example.template,
      botId: 'bot-123',
      to: maskPhone(to),
      upstreamStatus: 200,
      attempts: 1,
      messageId: res.body.messageId,
      durationMs: Number
    })
    t.equal(typeof sends[0].paramCount, 'number')
  })
}
