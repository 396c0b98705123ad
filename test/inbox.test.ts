// The sandbox inbox (SPEC §20) through the front door: page, assets, data, headers, and its absence in live mode.
import t from 'tap'
import { demoLookup } from '../src/sandbox/demo-catalogue.js'
import { inboxEntry } from '../src/preview/inbox.js'
import type { SandboxRecord } from '../src/sandbox/server.js'
import { buildLiveApp, buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

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
  t.strictSame(empty.json(), { messages: [] })

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
  for (const url of ['/sandbox', '/sandbox/inbox.json', '/sandbox/inbox.js', '/sandbox/inbox.css', '/sandbox/inbox.svg']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, url)
    t.notMatch(res.body, /Sandbox inbox/, url)
  }
})
