// Idempotency-Key (SPEC §9), against the memory store and, with REDIS_URL, the Redis store.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startSandbox } from '../src/sandbox/server.js'
import { assertRedisReachable, buildLiveApp, buildTestApp, gatedUpstream, post, storeVariants } from './helper.js'

const body = { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'] }

for (const store of storeVariants(t)) {
  t.test(`${store.name} store`, async (t) => {
    if (store.name === 'redis') await assertRedisReachable(store.env.REDIS_URL)

    t.test('the same key and body twice: one upstream request, two identical answers, the second marked replayed', async (t) => {
      const { app, sandbox, logs } = await buildTestApp(t, { env: store.env })
      const first = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'order-1234-shipped' })
      const second = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'order-1234-shipped' })
      t.equal(first.status, 202)
      t.equal(second.status, 202)
      t.strictSame(second.body, first.body, 'identical answer, same messageId')
      t.equal(first.headers['idempotent-replayed'], undefined)
      t.equal(second.headers['idempotent-replayed'], 'true')
      t.equal(sandbox.messages().length, 1, 'Jelou was called once')
      t.match(logs.sends(), [
        { outcome: 'sent', idempotencyKey: { present: true, replayed: false } },
        { outcome: 'replayed', idempotencyKey: { present: true, replayed: true }, status: 202 }
      ])
    })

    t.test('the same body in another key order is the same request', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      await post(app, '/v1/messages/text', body, { 'idempotency-key': 'k-order' })
      const reordered = await post(app, '/v1/messages/text', { params: body.params, template: body.template, to: body.to }, { 'idempotency-key': 'k-order' })
      t.equal(reordered.headers['idempotent-replayed'], 'true')
      t.equal(sandbox.messages().length, 1)
    })

    t.test('the same raw request with its query parameters in another order is the same request', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      const raw = { elementName: 'order_update', destinations: ['98 765 4321'], type: 'text', language: 'es', parameters: ['Maria'] }
      t.equal((await post(app, '/v1/messages?botId=b1&country=EC', raw, { 'idempotency-key': 'k-query' })).status, 202)
      const reordered = await post(app, '/v1/messages?country=EC&botId=b1', raw, { 'idempotency-key': 'k-query' })
      t.equal(reordered.status, 202)
      t.equal(reordered.headers['idempotent-replayed'], 'true')
      t.equal(sandbox.messages().length, 1)
    })

    t.test('20 concurrent requests with one key: one upstream request, one 202, 409 for the rest', async (t) => {
      const upstream = await gatedUpstream(t)
      const { app, logs } = await buildLiveApp(t, upstream.url, store.env)
      // The upstream holds the one send until the other 19 have their answer: no clock decides who is in flight.
      let refused = 0
      let allRefused: () => void = () => {}
      const nineteen = new Promise<void>((resolve) => { allRefused = resolve })
      const pending = Array.from({ length: 20 }, () => post(app, '/v1/messages/text', body, { 'idempotency-key': 'burst-1' }).then((answer) => {
        if (answer.status === 409 && ++refused === 19) allRefused()
        return answer
      }))
      await upstream.arrived(1)
      await nineteen
      upstream.open()
      const answers = await Promise.all(pending)
      const statuses = answers.map((a) => a.status).sort()
      t.strictSame(statuses, [202, ...Array(19).fill(409)])
      for (const a of answers.filter((a) => a.status === 409)) {
        t.match(a.body, { code: 'IDEMPOTENCY_IN_PROGRESS', retriable: true })
        t.equal(a.headers['retry-after'], '1')
      }
      t.equal(upstream.received(), 1)
      t.equal(logs.sends().length, 1, 'one send line; the 409s are refusals')
      t.equal(logs.lines().filter((l) => l.code === 'IDEMPOTENCY_IN_PROGRESS').length, 19)
    })

    t.test('the same key with a different body: 422, nothing sent', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      await post(app, '/v1/messages/text', body, { 'idempotency-key': 'k-1' })
      const other = await post(app, '/v1/messages/text', { ...body, params: ['Maria', 'ORD-9999'] }, { 'idempotency-key': 'k-1' })
      t.equal(other.status, 422)
      t.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED')
      const otherRoute = await post(app, '/v1/messages/url-button', { ...body, urlParams: ['x'] }, { 'idempotency-key': 'k-1' })
      t.equal(otherRoute.body.code, 'IDEMPOTENCY_KEY_REUSED', 'another route is another request')
      t.equal(sandbox.messages().length, 1)
    })

    t.test('a timed-out send replays its 504 instead of sending again', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: { ...store.env, JELOU_TIMEOUT_MS: '1000' }, sandbox: { slowMs: 4000 } })
      const slow = { ...body, template: 'sandbox_slow' }
      const first = await post(app, '/v1/messages/text', slow, { 'idempotency-key': 'k-timeout' })
      t.equal(first.status, 504)
      const retry = await post(app, '/v1/messages/text', slow, { 'idempotency-key': 'k-timeout' })
      t.equal(retry.status, 504)
      t.equal(retry.headers['idempotent-replayed'], 'true', 'still pending: the kept answer again')
      t.match(first.body, { resolution: 'pending' })
      const { retry: _a, ...again } = retry.body
      const { retry: _b, ...kept } = first.body
      t.strictSame(again, kept, 'the same answer; only the wait (retry.afterSeconds, Retry-After) is fresh')
      t.equal(retry.headers['retry-after'], String((retry.body.retry as { afterSeconds: number }).afterSeconds))
      t.equal(sandbox.messages().length, 1, 'the retry did not reach Jelou')
    })

    t.test('a rejection is kept; failures that provably sent nothing are not', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      const rejected = { ...body, template: 'sandbox_rejected' }
      await post(app, '/v1/messages/text', rejected, { 'idempotency-key': 'k-rejected' })
      const again = await post(app, '/v1/messages/text', rejected, { 'idempotency-key': 'k-rejected' })
      t.equal(again.status, 422)
      t.equal(again.headers['idempotent-replayed'], 'true')
      const auth = { ...body, template: 'sandbox_unauthorized' }
      await post(app, '/v1/messages/text', auth, { 'idempotency-key': 'k-auth' })
      const authAgain = await post(app, '/v1/messages/text', auth, { 'idempotency-key': 'k-auth' })
      t.equal(authAgain.status, 502)
      t.equal(authAgain.headers['idempotent-replayed'], undefined, '401 from Jelou sent nothing: tried again')
      t.equal(sandbox.messages().length, 3)
    })

    t.test('a validation failure is not stored: the corrected request with the same key goes through', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      const bad = await post(app, '/v1/messages/text', { ...body, to: '12' }, { 'idempotency-key': 'k-fix' })
      t.equal(bad.status, 400)
      const good = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'k-fix' })
      t.equal(good.status, 202)
      t.equal(good.headers['idempotent-replayed'], undefined)
      t.equal(sandbox.messages().length, 1)
    })

    t.test('keys are scoped per caller', async (t) => {
      const env = { ...store.env, API_KEYS: 'billing:billing-key-0123456789,orders:orders-key-0123456789' }
      const { app, sandbox } = await buildTestApp(t, { env })
      const a = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'shared', authorization: 'Bearer billing-key-0123456789' })
      const b = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'shared', 'x-api-key': 'orders-key-0123456789' })
      t.equal(a.status, 202)
      t.equal(b.status, 202)
      t.equal(b.headers['idempotent-replayed'], undefined)
      t.equal(sandbox.messages().length, 2)
    })

    t.test('a key that is not 1 to 255 printable ASCII characters is refused', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: store.env })
      for (const key of ['x'.repeat(256), 'caf\u00e9']) {
        const res = await post(app, '/v1/messages/text', body, { 'idempotency-key': key })
        t.equal(res.status, 400)
        t.match(res.body.errors?.[0], { in: 'headers', path: '/idempotency-key', rule: 'pattern' })
      }
      t.equal(sandbox.messages().length, 0)
    })

    if (store.name === 'redis') {
      t.test('two app instances sharing one Redis send once', async (t) => {
        const sandbox = await startSandbox({ port: 0, slowMs: 1000 })
        t.teardown(() => sandbox.close())
        const shared = { ...store.env, REDIS_KEY_PREFIX: `test:${randomUUID()}:` }
        const one = await buildTestApp(t, { env: shared, sandbox })
        const two = await buildTestApp(t, { env: shared, sandbox })
        const slow = { ...body, template: 'sandbox_slow' }
        const answers = await Promise.all([
          ...Array.from({ length: 5 }, () => post(one.app, '/v1/messages/text', slow, { 'idempotency-key': 'replicas' })),
          ...Array.from({ length: 5 }, () => post(two.app, '/v1/messages/text', slow, { 'idempotency-key': 'replicas' }))
        ])
        t.equal(answers.filter((a) => a.status === 202).length, 1)
        t.equal(answers.filter((a) => a.status === 409).length, 9)
        const later = await post(two.app, '/v1/messages/text', slow, { 'idempotency-key': 'replicas' })
        t.equal(later.headers['idempotent-replayed'], 'true', 'the other replica replays the answer')
        t.equal(sandbox.messages().length, 1)
      })
    }
  })
}
