// SPEC §13 log details: a refusal names kind, template and masked recipient; an authentication code counts once; replay ids.
import t from 'tap'
import { buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'

t.test('a refusal that reached the pipeline names kind, template and the masked recipient', async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { RECIPIENT_LIMIT: '1/60s' } })
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'shipping_notice' })).status, 202)
  const limited = await post(app, '/v1/messages/text', { to: TO, template: 'shipping_notice' }, { 'x-request-id': 'limited' })
  t.equal(limited.status, 429)
  t.match(logs.lines().find((line) => line.reqId === 'limited' && line.msg === 'request refused'), {
    kind: 'text', template: 'shipping_notice', to: '5939******21', code: 'RECIPIENT_RATE_LIMITED'
  })

  await post(app, '/v1/messages/image', { to: '0987654321', template: 'promo_banner', mediaUrl: 'https://cdn.example.com/a.png' }, { 'x-request-id': 'phone' })
  t.match(logs.lines().find((line) => line.reqId === 'phone' && line.msg === 'request refused'), {
    kind: 'image', template: 'promo_banner', to: '0987****21', code: 'INVALID_PHONE'
  }, 'an unreadable number is logged masked as sent')

  await post(app, '/v1/messages/text', { to: TO, template: 'Bad-Name', colour: 1 }, { 'x-request-id': 'schema' })
  const schema = logs.lines().find((line) => line.reqId === 'schema' && line.msg === 'request refused')
  t.match(schema, { kind: 'text', to: '5939******21', code: 'VALIDATION_FAILED' })
  t.equal(schema?.template, undefined, 'an invalid template name is not logged')
})

t.test('paramCount counts an authentication code once', async (t) => {
  const { app, logs } = await buildTestApp(t)
  t.equal((await post(app, '/v1/messages/authentication', { to: TO, template: 'login_code', code: '483920' })).status, 202)
  t.match(logs.sends(), [{ kind: 'authentication', paramCount: 1 }])
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['a', 'b'], urlParams: ['x'] })).status, 202)
  t.match(logs.sends()[1], { kind: 'text', paramCount: 3 }, 'other kinds still count every value')
})

t.test('a replayed answer: the body keeps the original requestId, X-Request-Id is the new request\'s', async (t) => {
  const { app, logs } = await buildTestApp(t)
  const body = { to: TO, template: 'shipping_notice' }
  const first = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'k-1', 'x-request-id': 'first' })
  t.equal(first.body.requestId, 'first')
  const again = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'k-1', 'x-request-id': 'second' })
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body.requestId, 'first', 'the stored answer, byte for byte: the request that sent')
  t.equal(again.headers['x-request-id'], 'second', 'the header names this request')
  t.match(logs.lines().find((line) => line.reqId === 'second'), { outcome: 'replayed', originalRequestId: 'first' })
})
