// SPEC §10: a dry run runs every check a real send does (the Idempotency-Key header too); ?dryRun=1/0 are accepted.
import t from 'tap'
import { buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'

t.test('a dry run checks the Idempotency-Key header as a real send does', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const body = { to: TO, template: 'shipping_notice' }
  for (const key of ['', 'x'.repeat(256), 'caf\u00e9']) {
    const res = await app.inject({ method: 'POST', url: '/v1/messages/text?dryRun=1', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: JSON.stringify(body) })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ in: 'headers', path: '/idempotency-key', rule: 'pattern' }] })
  }
  const ok = await post(app, '/v1/messages/text?dryRun=1', body, { 'idempotency-key': 'fine-key' })
  t.equal(ok.status, 200, 'a well-formed key passes')
  t.equal(sandbox.messages().length, 0)
})

t.test('?dryRun=1 is a dry run and ?dryRun=0 a real send', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const body = { to: TO, template: 'shipping_notice' }
  const one = await post(app, '/v1/messages/text?dryRun=1', body)
  t.equal(one.status, 200)
  t.equal(one.body.dryRun, true)
  const rawOne = await post(app, '/v1/messages?dryRun=1', { elementName: 'shipping_notice', destinations: [TO] })
  t.equal(rawOne.status, 200, 'raw route too')
  t.equal(sandbox.messages().length, 0)
  const zero = await post(app, '/v1/messages/text?dryRun=0', body)
  t.equal(zero.status, 202)
  t.equal(sandbox.messages().length, 1)
})
