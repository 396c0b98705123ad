// SPEC §10: ?dryRun=true runs every check and answers 200 with the exact upstream request, sending nothing.
import t from 'tap'
import { demoLookup } from '../src/sandbox/demo-catalogue.js'
import { renderPreview } from '../src/preview/render.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import type { UpstreamBody } from '../src/upstream/schema.js'
import { maskPhone } from '../src/phone.js'
import { startSandbox } from '../src/sandbox/server.js'
import { CLIENT_ID, CLIENT_SECRET, buildLiveApp, buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'

const kinds = TEMPLATE_KINDS.flatMap((kind) => Object.entries(kind.examples).map(([name, example]) => ({ kind: kind.kind, name, value: example.value as Record<string, unknown> })))

for (const example of kinds) {
  t.test(`${example.kind} (${example.name}): the dry run shows exactly the body a real send delivers`, async (t) => {
    const { app, sandbox, logs } = await buildTestApp(t)
    const dry = await post(app, `/v1/messages/${example.kind}?dryRun=true`, example.value, { 'x-request-id': `dry-${example.name}` })

    t.equal(dry.status, 200)
    t.match(dry.headers['content-type'], /^application\/json/)
    t.equal(dry.headers['x-request-id'], `dry-${example.name}`)
    t.strictSame(Object.keys(dry.body).sort(), ['dryRun', 'kind', 'phone', 'preview', 'requestId', 'sandbox', 'upstream'])
    t.match(dry.body, {
      dryRun: true,
      kind: example.kind,
      requestId: `dry-${example.name}`,
      phone: { input: example.value.to, normalized: String(example.value.to).replace(/\D/g, ''), country: 'EC' },
      sandbox: true,
      upstream: { method: 'POST', path: '/v2/whatsapp/bot-123/hsm', body: Object }
    })
    t.strictSame(Object.keys(dry.body.upstream as object).sort(), ['body', 'method', 'path'])
    // The preview beside it: the demo template's text filled from that very body (pinned in preview-render.test.ts).
    const upstreamBody = (dry.body.upstream as { body: UpstreamBody }).body
    t.strictSame(dry.body.preview, renderPreview(demoLookup('bot-123', upstreamBody.elementName), upstreamBody), 'the preview renders the exact upstream body')
    t.match(dry.body.preview, { template: example.value.template, known: true, body: String })
    t.notMatch((dry.body.preview as { body: string }).body, /\{\{/, 'every body placeholder is filled')
    t.notMatch(JSON.stringify(dry.body), /authorization|basic /i, 'no Authorization anywhere in the answer')
    t.equal(sandbox.messages().length, 0, 'the sandbox received nothing')

    const sends = logs.sends()
    t.equal(sends.length, 1, 'one send line')
    t.match(sends[0], { msg: 'hsm dry run', outcome: 'dry_run', reqId: `dry-${example.name}`, kind: example.kind, botId: 'bot-123', to: maskPhone(String(example.value.to)), durationMs: Number })
    t.equal(sends[0].upstreamStatus, undefined, 'no upstream status: nothing was sent')

    // The same input sent for real: the sandbox receives exactly the dry run's body.
    const real = await post(app, `/v1/messages/${example.kind}`, example.value)
    t.equal(real.status, 202)
    const received = sandbox.messages()
    t.equal(received.length, 1)
    t.strictSame(received[0].body, (dry.body.upstream as { body: unknown }).body, 'dry-run body === delivered body')
    t.equal(received[0].path, (dry.body.upstream as { path: string }).path, 'dry-run path === delivered path')
  })
}

t.test('the raw route dry-runs too; a variable count the catalogue contradicts is refused in the dry run as in a send', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const body = { elementName: 'order_update', destinations: [TO], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1'] }
  const dry = await post(app, '/v1/messages?botId=bot-123&dryRun=true', body)
  t.equal(dry.status, 200)
  t.match(dry.body, { dryRun: true, kind: 'raw', sandbox: true, upstream: { method: 'POST', path: '/v2/whatsapp/bot-123/hsm' } })
  t.strictSame((dry.body.upstream as { body: unknown }).body, { ...body, destinations: ['593987654321'] })
  t.strictSame(dry.body.preview, {
    template: 'order_update',
    language: 'es',
    known: true,
    body: 'Hola Maria, tu pedido ORD-1 está en camino.',
    values: ['Maria', 'ORD-1'],
    buttons: [],
    cards: [],
    problems: []
  }, 'the raw route previews from the catalogue too')

  const short = await post(app, '/v1/messages?botId=bot-123&dryRun=true', { ...body, parameters: ['Maria'] })
  t.equal(short.status, 422)
  t.match(short.body, { code: 'TEMPLATE_VARIABLE_COUNT' })
  t.equal(sandbox.messages().length, 0)
  t.match(logs.sends(), [{ outcome: 'dry_run', kind: 'raw' }], 'one send line, the dry run\'s')
  t.match(logs.lines().filter((l) => l.msg === 'request refused'), [{ kind: 'raw', template: 'order_update', code: 'TEMPLATE_VARIABLE_COUNT' }], 'the refusal has its own line')
})

t.test('every per-template route dry-runs with the preview of its demo template, named variables filled in position', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, { post?: { requestBody: { content: { 'application/json': { examples: Record<string, { value: Record<string, unknown> }> } } } } }> }
  const routes = Object.entries(doc.paths).filter(([path, item]) => /^\/v1\/templates\/[a-z_]+$/.test(path) && item.post !== undefined)
  t.equal(routes.length, 12)
  for (const [path, item] of routes) {
    const name = path.split('/').pop() as string
    const [example] = Object.values(item.post?.requestBody.content['application/json'].examples ?? {})
    const dry = await post(app, `${path}?dryRun=true`, example.value)
    t.equal(dry.status, 200, name)
    const upstreamBody = (dry.body.upstream as { body: UpstreamBody }).body
    t.strictSame(dry.body.preview, renderPreview(demoLookup('bot-123', name), upstreamBody), `${name}: the preview renders the exact upstream body`)
    t.match(dry.body.preview, { template: name, known: true, problems: [] }, `${name}: known, nothing missing`)
  }
  const order = await post(app, '/v1/templates/order_update?dryRun=true', { to: TO, variables: { orderId: 'ORD-9', customerName: 'Ana' } })
  t.equal((order.body.preview as { body: string }).body, 'Hola Ana, tu pedido ORD-9 está en camino.', 'variables land in their positions whatever their order in the request')
  t.equal(sandbox.messages().length, 0, 'nothing sent')
})

t.test('a template the catalogue does not know is previewed as unknown, values listed', async (t) => {
  const { app } = await buildTestApp(t)
  const dry = await post(app, '/v1/messages/text?dryRun=true', { to: TO, template: 'not_in_catalogue', params: ['<b>x</b>'] })
  t.equal(dry.status, 200)
  t.match(dry.body.preview, { template: 'not_in_catalogue', known: false, body: null, values: ['<b>x</b>'], problems: [{ code: 'UNKNOWN_TEMPLATE', path: '/elementName' }] })
})

t.test('live mode previews from the bot\'s own list at Jelou (a sandbox on 127.0.0.1); a bot whose list never loaded previews as unknown', async (t) => {
  const jelou = await startSandbox({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
  t.teardown(() => jelou.close())
  jelou.templates.set('bot-123', [{ elementName: 'order_update', template: 'Buenas {{1}}, el pedido {{2}} salió hoy.', params: [{ label: 'nombre', param: '1' }, { label: 'pedido', param: '2' }], paramsNumber: 2, language: 'ES', status: 'APPROVED' }])
  const { app } = await buildLiveApp(t, jelou.url)
  const dry = await post(app, '/v1/messages/text?dryRun=true', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'] })
  t.equal(dry.status, 200)
  t.match(dry.body, { sandbox: false, preview: { known: true, body: 'Buenas Maria, el pedido ORD-1 salió hoy.', problems: [] } })
  t.equal(jelou.messages().length, 0, 'a dry run sends nothing')

  const { app: cut } = await buildLiveApp(t, 'http://127.0.0.1:9')
  const unknown = await post(cut, '/v1/messages/text?dryRun=true', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'] })
  t.match(unknown.body, { sandbox: false, preview: { known: false, problems: [{ code: 'UNKNOWN_TEMPLATE' }] } })
})

t.test('a real send answers without a preview', async (t) => {
  const { app } = await buildTestApp(t)
  const real = await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'ORD-1'] })
  t.equal(real.status, 202)
  t.equal(real.body.preview, undefined)
})

t.test('the bot id is URL-encoded in the dry-run path like in the real one', async (t) => {
  const { app } = await buildTestApp(t)
  const dry = await post(app, '/v1/messages/text?dryRun=true', { to: TO, template: 'shipping_notice', botId: 'bot+1' })
  t.equal(dry.status, 200)
  t.equal((dry.body.upstream as { path: string }).path, '/v2/whatsapp/bot%2B1/hsm')
})

t.test('dryRun=false sends for real', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text?dryRun=false', { to: TO, template: 'shipping_notice' })
  t.equal(res.status, 202)
  t.equal(sandbox.messages().length, 1)
  t.match(logs.sends(), [{ outcome: 'sent' }])
})

t.test('a dry run still validates: bad input is 400 and nothing is logged as a send', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const BAD = [
    { name: 'schema', body: { to: TO, template: 'Order-Update' }, code: 'VALIDATION_FAILED', path: '/template', rule: 'pattern' },
    { name: 'cross-field', body: { to: TO, template: 'shipping_notice', expiresAt: '2020-01-01T00:00:00Z' }, code: 'VALIDATION_FAILED', path: '/expiresAt', rule: 'future' },
    { name: 'phone', body: { to: '0987654321', template: 'shipping_notice' }, code: 'INVALID_PHONE', path: '/to', rule: 'NEEDS_COUNTRY' }
  ]
  for (const c of BAD) {
    const res = await post(app, '/v1/messages/text?dryRun=true', c.body)
    t.equal(res.status, 400, c.name)
    t.match(res.body, { code: c.code, errors: [{ in: 'body', path: c.path, rule: c.rule }] }, c.name)
    t.equal(res.body.dryRun, undefined, `${c.name}: not a dry-run answer`)
  }
  t.equal(sandbox.messages().length, 0)
  t.equal(logs.sends().length, 0, 'no outcome line for refused dry runs')
})

t.test('the dryRun query parameter is validated', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const body = { to: TO, template: 'shipping_notice' }

  const yes = await post(app, '/v1/messages/text?dryRun=yes', body)
  t.equal(yes.status, 400)
  t.match(yes.headers['content-type'], /^application\/problem\+json/)
  t.match(yes.body, { code: 'VALIDATION_FAILED', errors: [{ in: 'querystring', path: '/dryRun', rule: 'enum', message: 'must be one of true, false, 1, 0' }] })

  const unknown = await post(app, '/v1/messages/text?dryrun=true', body)
  t.equal(unknown.status, 400)
  t.match(unknown.body, { code: 'VALIDATION_FAILED', errors: [{ in: 'querystring', path: '/dryrun', rule: 'additionalProperties' }] })

  const other = await post(app, '/v1/messages/image?debug=1', { ...body, mediaUrl: 'https://cdn.example.com/a.png' })
  t.equal(other.status, 400)
  t.match(other.body, { errors: [{ in: 'querystring', path: '/debug', rule: 'additionalProperties' }] })

  const rawYes = await post(app, '/v1/messages?dryRun=yes', { elementName: 'shipping_notice', destinations: [TO] })
  t.equal(rawYes.status, 400)
  t.match(rawYes.body, { errors: [{ in: 'querystring', path: '/dryRun', rule: 'enum' }] })

  t.equal(sandbox.messages().length, 0, 'nothing sent')
  t.equal(logs.sends().length, 0, 'no send line')
})
