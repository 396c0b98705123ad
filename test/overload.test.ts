// Load shedding: a full upstream queue or a saturated event loop answers 503 OVERLOADED before anything is sent.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { buildTestApp, post } from './helper.js'

const body = { to: '+593 98 765 4321', template: 'sandbox_slow', params: ['Maria'] }

t.test('when JELOU_QUEUE_LIMIT sends already wait for a connection, the next is shed with 503 OVERLOADED', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { JELOU_CONNECTIONS: '1', JELOU_QUEUE_LIMIT: '1' }, sandbox: { slowMs: 2000 } })
  const first = post(app, '/v1/messages/text', body)
  while (sandbox.messages().length < 1) await sleep(10)
  const second = post(app, '/v1/messages/text', body)
  // The second send is waiting for the one connection once the pool has it queued.
  while ((app.upstream.pool as Pool).stats.pending < 1) await sleep(10)
  const third = await post(app, '/v1/messages/text', body)
  t.equal(third.status, 503)
  t.match(third.body, { code: 'OVERLOADED', retriable: true, detail: /nothing was sent/ })
  t.equal(third.headers['retry-after'], '1')
  t.strictSame([(await first).status, (await second).status], [202, 202], 'the accepted ones still complete')
  t.equal(sandbox.messages().length, 2, 'the shed one never reached Jelou')
  t.equal(logs.lines().filter((l) => l.code === 'OVERLOADED').length, 1, 'the refusal has its line')
})

t.test('a saturated event loop sheds sends, while /health still answers', async (t) => {
  const { app, sandbox } = await buildTestApp(t, { env: { MAX_EVENT_LOOP_DELAY_MS: '100' } })
  // Keep the loop blocked in 150 ms slices for 2 s, so under-pressure's one-second samples see it.
  const until = Date.now() + 2000
  while (Date.now() < until) {
    const slice = Date.now() + 150
    while (Date.now() < slice) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const shed = await post(app, '/v1/messages/text', { ...body, template: 'shipping_notice' })
  t.equal(shed.status, 503)
  t.equal(shed.body.code, 'OVERLOADED')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)
  t.equal(sandbox.messages().length, 0)
  // Recovery is under-pressure's next sample after the loop frees up: wait for it, not for a guessed time.
  while (app.isUnderPressure()) await sleep(50)
  t.equal((await post(app, '/v1/messages/text', { ...body, template: 'shipping_notice' })).status, 202, 'and recovers')
})
