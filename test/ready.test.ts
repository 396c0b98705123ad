// /ready: 503 naming Redis while a configured Redis is down, 200 again when it is back.
import t from 'tap'
import { once } from 'node:events'
import { buildTestApp, freePort, hasRedisServer, readyIs, redisServerSkip, startRedis } from './helper.js'

t.test('/ready follows Redis', { skip: redisServerSkip }, async (t) => {
  t.ok(hasRedisServer, 'redis-server is installed')
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  const { app } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })

  t.match(await readyIs(app, 200), { status: 'ready', checks: { config: 'ok', upstream: 'ok', redis: 'ok' } })
  redis.kill('SIGKILL')
  await once(redis, 'exit')
  t.match(await readyIs(app, 503), { status: 'not_ready', checks: { redis: 'unreachable', upstream: 'ok' } }, 'names Redis')
  const send = await app.inject({ method: 'POST', url: '/v1/messages/text', headers: { 'idempotency-key': 'k' }, payload: { to: '+593 98 765 4321', template: 'shipping_notice' } })
  t.equal(send.statusCode, 503, 'sends fail closed while the shared store is down')
  t.equal(send.json().code, 'STORE_UNAVAILABLE')
  redis = await startRedis(port)
  t.match(await readyIs(app, 200), { status: 'ready', checks: { redis: 'ok' } }, 'back to ready')
})

t.test('/ready without Redis configured reports the upstream and the catalogue', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/ready' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { status: 'ready', mode: 'sandbox', checks: { config: 'ok', upstream: 'ok', catalogue: 'ok' } })
})
