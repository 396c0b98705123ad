// SPEC §7 wording: what each refusal tells the caller (JSON position, body limit, wrong method, dates, query-string fields).
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'

t.test('invalid JSON names where parsing stopped, never the text around it', async (t) => {
  const { app } = await buildTestApp(t)
  const CASES = [
    { payload: `{"to": "${TO}", "template": `, message: /^is not valid JSON: the JSON ends early at line 1, column \d+ \(offset \d+\)$/ },
    { payload: `{"to": "${TO}"\n "template": "x"}`, message: /^is not valid JSON: expected ',' or '}' after property value at line 2, column 2 \(offset 27\)$/ },
    { payload: '{"to": "+593 98 765 4321" x}', message: /^is not valid JSON: .* at line 1, column 27 \(offset 26\)$/ }
  ]
  for (const c of CASES) {
    const res = await app.inject({ method: 'POST', url: '/v1/messages/text', headers: { 'content-type': 'application/json' }, payload: c.payload })
    t.equal(res.statusCode, 400)
    const body = res.json()
    t.match(body.errors, [{ in: 'body', path: '/', rule: 'json', message: c.message }], JSON.stringify(c.payload))
    t.notOk(res.body.includes('593 98'), 'no input echoed')
  }
  const proto = await app.inject({ method: 'POST', url: '/v1/messages/text', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"a":1}}' })
  t.match(proto.json().errors, [{ rule: 'json', message: 'holds a forbidden key (__proto__ or constructor.prototype)' }])
})

t.test('413 states the limit in bytes', async (t) => {
  const { app } = await buildTestApp(t, { env: { BODY_LIMIT_BYTES: '1024' } })
  const res = await post(app, '/v1/messages/text', { to: TO, template: 'x', params: ['p'.repeat(1100)] })
  t.equal(res.status, 413)
  t.equal(res.body.detail, 'The request body is larger than 1024 bytes, the limit BODY_LIMIT_BYTES sets.')
})

t.test('a known path with the wrong method is 405 with Allow; an unknown path stays 404', async (t) => {
  const { app } = await buildTestApp(t)
  // A send route's path is not a message id: the status lookup GET /v1/messages/{messageId} does not shadow it.
  const put = await app.inject({ method: 'PUT', url: '/v1/messages/text' })
  t.equal(put.statusCode, 405)
  t.equal(put.headers.allow, 'POST')
  t.match(put.json(), { code: 'METHOD_NOT_ALLOWED', status: 405, retriable: false, detail: '/v1/messages/text does not accept PUT; it accepts POST.' })
  for (const method of ['GET', 'HEAD'] as const) {
    const get = await app.inject({ method, url: '/v1/messages/text?x=1' })
    t.equal(get.statusCode, 405, `${method} /v1/messages/text`)
    t.equal(get.headers.allow, 'POST', `${method} /v1/messages/text`)
  }
  t.match((await app.inject({ url: '/v1/messages/text' })).json(), { code: 'METHOD_NOT_ALLOWED', detail: /does not accept GET; it accepts POST/ })
  t.match((await app.inject({ url: '/v1/messages/some-id' })).json(), { code: 'NOT_FOUND', detail: /No message with this id/ }, 'a message id is still looked up')
  const del = await app.inject({ method: 'DELETE', url: '/health' })
  t.equal(del.statusCode, 405)
  t.equal(del.headers.allow, 'GET, HEAD')
  const missing = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers.allow, undefined)
})

t.test('an unknown method such as QUERY is 405 on a known path, not a body error (real socket)', async (t) => {
  const { app } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const [url, allow] of [['/health', 'GET, HEAD'], ['/v1/messages/text', 'POST'], ['/v1/messages/some-id', 'DELETE, GET, HEAD']]) {
    const res = await fetch(`http://127.0.0.1:${port}${url}`, { method: 'QUERY' })
    t.equal(res.status, 405, url)
    t.equal(res.headers.get('allow'), allow, url)
    t.match(await res.json(), { code: 'METHOD_NOT_ALLOWED' }, url)
  }
})

t.test('expiresAt names the accepted forms and hints at milliseconds for epoch seconds', async (t) => {
  const { app } = await buildTestApp(t)
  const notADate = await post(app, '/v1/messages/text', { to: TO, template: 'x', expiresAt: 'tomorrow' })
  t.match(notADate.body.errors, [{ path: '/expiresAt', rule: 'anyOf', message: /ISO 8601 date-time with an offset \(2030-01-01T00:00:00Z\) or epoch milliseconds/ }])
  const seconds = await post(app, '/v1/messages/text', { to: TO, template: 'x', expiresAt: 1893456000 })
  t.match(seconds.body.errors, [{ path: '/expiresAt', rule: 'future', message: 'must be in the future (1893456000 looks like epoch seconds; send milliseconds: 1893456000000)' }])
  const lto = await post(app, '/v1/messages/limited-time-offer', { to: TO, template: 'x', offerExpiresAt: 1893456000 })
  t.match(lto.body.errors, [{ path: '/offerExpiresAt', rule: 'future', message: /looks like epoch seconds/ }])
  const pastMs = await post(app, '/v1/messages/text', { to: TO, template: 'x', expiresAt: 1000 * 1000 * 1000 * 1000 })
  t.match(pastMs.body.errors, [{ path: '/expiresAt', rule: 'future', message: 'must be in the future' }], 'no hint for a real millisecond value')
})

t.test('details read as sentences', async (t) => {
  const { app } = await buildTestApp(t)
  const one = await post(app, '/v1/messages/text', { to: TO })
  t.equal(one.body.detail, 'Body field /template is required.')
  const query = await post(app, '/v1/messages/text?dryRun=yes', { to: TO, template: 'x' })
  t.equal(query.body.detail, 'Query parameter dryRun must be one of true, false, 1, 0.')
  const phone = await post(app, '/v1/messages/text', { to: '+593 98', template: 'x' })
  t.equal(phone.body.detail, 'The phone number in `to` has too few digits.')
  const raw = await post(app, '/v1/messages', { elementName: 'x', destinations: ['+593 98'] })
  t.equal(raw.body.detail, 'The phone number in `destinations.0` has too few digits.')
})
