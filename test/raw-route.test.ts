// POST /v1/messages: a full Jelou body, checked against the upstream rules, its one number normalized, forwarded unchanged.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import type { CommonBody } from '../src/templates/kind.js'
import type { Language } from '../src/config.js'
import { maskPhone } from '../src/phone.js'
import { buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'
type Body = Record<string, unknown>
const fixture = (name: string): Body => JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')).request
/** A fixture's request as a caller would write it: the number in a human format. */
const asCaller = (name: string): Body => ({ ...fixture(name), destinations: [TO] })

/** Every example of every kind, as the raw body its kind route would send (derived from the kinds table). */
const CASES = TEMPLATE_KINDS.flatMap((kind) => Object.entries(kind.examples).map(([name, example]) => {
  const value = example.value as CommonBody & { language?: Language }
  const to = value.to.replace(/\D/g, '')
  return { name: `${kind.kind}/${name}`, input: value.to, to, upstream: kind.toUpstream(value, { to, language: value.language }) }
}))

for (const c of CASES) {
  t.test(`${c.name}: 202, the sandbox receives the body unchanged but for the normalized number`, async (t) => {
    const { app, sandbox, logs } = await buildTestApp(t)
    const body = { ...c.upstream, destinations: [c.input] }
    const requestId = `raw-${c.name.replace('/', '-')}`
    const res = await post(app, '/v1/messages?botId=bot-123', body, { 'x-request-id': requestId })

    t.equal(res.status, 202)
    t.match(res.body, {
      messageId: /^[0-9a-f-]{36}$/,
      to: c.to,
      kind: 'raw',
      template: body.elementName,
      botId: 'bot-123',
      requestId,
      phone: { input: c.input, normalized: c.to, country: 'EC' },
      sandbox: true
    })

    const received = sandbox.messages()
    t.equal(received.length, 1, 'exactly one upstream request')
    t.strictSame(received[0].body, c.upstream, 'destinations normalized, everything else unchanged')
    t.equal(received[0].path, '/v2/whatsapp/bot-123/hsm')
    t.equal(received[0].requestId, requestId)

    const sends = logs.sends()
    t.equal(sends.length, 1, 'one send line')
    t.match(sends[0], { msg: 'hsm sent', outcome: 'sent', kind: 'raw', template: body.elementName, botId: 'bot-123', to: maskPhone(c.to), upstreamStatus: 200 })
  })
}

t.test('the bot comes from ?botId=, else JELOU_BOT_ID', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  t.equal((await post(app, '/v1/messages?botId=bot-raw', asCaller('text'))).status, 202)
  t.equal((await post(app, '/v1/messages', asCaller('text'))).status, 202)
  t.strictSame(sandbox.messages().map((m) => m.path), ['/v2/whatsapp/bot-123/hsm', '/v2/whatsapp/bot-raw/hsm'])
})

t.test('the raw body keeps its own language: DEFAULT_LANGUAGE is not added', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { DEFAULT_LANGUAGE: 'en' } })
  const { language, ...body } = asCaller('text')
  t.equal(language, 'es')
  t.equal((await post(app, '/v1/messages', body)).status, 202)
  t.equal((sandbox.messages()[0].body as Body).language, undefined)
})

t.test('the legacy fileName is forwarded as filename', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const { filename, ...rest } = asCaller('document')
  const res = await post(app, '/v1/messages', { ...rest, fileName: filename })
  t.equal(res.status, 202)
  t.strictSame(sandbox.messages()[0].body, fixture('document'), 'filename, and no fileName')

  const both = await post(app, '/v1/messages', { ...asCaller('document'), fileName: 'old-name.pdf' })
  t.equal(both.status, 202)
  const received = sandbox.messages()[0].body as Body
  t.equal(received.filename, filename, 'filename wins over fileName')
  t.notOk('fileName' in received)
})

t.test('national numbers need a region: ?country= or DEFAULT_COUNTRY', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const body = { ...fixture('text'), destinations: ['0987654321'] }
  const without = await post(app, '/v1/messages', body)
  t.equal(without.status, 400)
  t.match(without.body, { code: 'INVALID_PHONE', errors: [{ in: 'body', path: '/destinations/0', rule: 'NEEDS_COUNTRY' }] })
  const withCountry = await post(app, '/v1/messages?country=EC', body)
  t.equal(withCountry.status, 202)
  t.strictSame((sandbox.messages()[0].body as Body).destinations, ['593987654321'])
})

t.test('refusals: 400 naming the field and the rule, nothing sent, no send line', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const { mediaUrl: _mediaUrl, ...imageWithoutMedia } = asCaller('image')
  const { cards: _cards, ...carouselWithoutCards } = asCaller('carousel')
  const CASES = [
    { name: 'unknown top-level field', body: { ...asCaller('text'), botId: 'bot-123' }, path: '/botId', rule: 'additionalProperties' },
    { name: 'two destinations', body: { ...asCaller('text'), destinations: [TO, '+593 98 765 4322'] }, path: '/destinations', rule: 'maxItems', limit: 1 },
    { name: 'no destinations', body: { ...asCaller('text'), destinations: [] }, path: '/destinations', rule: 'minItems', limit: 1 },
    { name: 'missing elementName', body: { destinations: [TO] }, path: '/elementName', rule: 'required' },
    { name: 'elementName with uppercase', body: { ...asCaller('text'), elementName: 'Order_Update' }, path: '/elementName', rule: 'pattern' },
    { name: 'image type without mediaUrl', body: imageWithoutMedia, path: '/mediaUrl', rule: 'required' },
    { name: 'video type without mediaUrl', body: { ...asCaller('text'), type: 'video' }, path: '/mediaUrl', rule: 'required' },
    { name: 'carousel without cards', body: carouselWithoutCards, path: '/cards', rule: 'required' },
    { name: 'two header parameters', body: { ...asCaller('text'), headerParameters: ['a', 'b'] }, path: '/headerParameters', rule: 'maxItems', limit: 1 },
    { name: 'parameters as a string', body: { ...asCaller('text'), parameters: 'Maria' }, path: '/parameters', rule: 'type' },
    { name: 'bad phone in destinations', body: { ...asCaller('text'), destinations: ['+593 98 CALL ME'] }, code: 'INVALID_PHONE', path: '/destinations/0', rule: 'NOT_A_NUMBER' },
    { name: 'short phone in destinations', body: { ...asCaller('text'), destinations: ['+593 98'] }, code: 'INVALID_PHONE', path: '/destinations/0', rule: 'TOO_SHORT' }
  ]
  let n = 0
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const requestId = `refused-${++n}`
      const res = await post(app, '/v1/messages?botId=bot-123', c.body, { 'x-request-id': requestId })
      t.equal(res.status, 400)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.match(res.body, { code: c.code ?? 'VALIDATION_FAILED', status: 400, retriable: false, requestId })
      t.match(res.body.errors?.[0], { in: 'body', path: c.path, rule: c.rule, message: String })
      if (c.limit !== undefined) t.equal(res.body.errors?.[0].limit, c.limit)
      t.notMatch(JSON.stringify(res.body), /593987654321|\n\s+at |node_modules/, 'no number, no stack')
      t.equal(sandbox.messages().length, 0, 'the sandbox received nothing')
      t.equal(logs.lines().filter((line) => line.reqId === requestId && line.outcome !== undefined).length, 0, 'no send line')
    })
  }
})

t.test('query refusals', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const CASES = [
    { url: '/v1/messages?botId=a/b', path: '/botId', rule: 'pattern' },
    { url: '/v1/messages?botId=a..b', path: '/botId', rule: 'pattern' },
    { url: '/v1/messages?country=ECU', path: '/country', rule: 'pattern' },
    { url: '/v1/messages?bot=bot-123', path: '/bot', rule: 'additionalProperties' }
  ]
  for (const c of CASES) {
    const res = await post(app, c.url, asCaller('text'))
    t.equal(res.status, 400, c.url)
    t.match(res.body.errors?.[0], { in: 'querystring', path: c.path, rule: c.rule }, c.url)
  }
  t.equal(sandbox.messages().length, 0)
})

t.test('missing botId with no JELOU_BOT_ID: 400 /botId required', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { JELOU_BOT_ID: '' } })
  const res = await post(app, '/v1/messages', asCaller('text'), { 'x-request-id': 'raw-no-bot' })
  t.equal(res.status, 400)
  t.match(res.body, { code: 'VALIDATION_FAILED', errors: [{ path: '/botId', rule: 'required' }] })
  t.equal(sandbox.messages().length, 0)
  t.equal(logs.sends().length, 0)

  t.equal((await post(app, '/v1/messages?botId=bot-q', asCaller('text'))).status, 202, '?botId= is enough')
})

t.test('missing botId on the raw route is reported where the raw route takes it: the query string', async (t) => {
  const { app } = await buildTestApp(t, { env: { JELOU_BOT_ID: '' } })
  const res = await post(app, '/v1/messages', asCaller('text'))
  t.match(res.body.errors?.[0], { in: 'querystring', path: '/botId', rule: 'required' })
})
