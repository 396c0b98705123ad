// A real Redis stopped mid-test and started again: the recipient guard fails closed, the caller limit lets requests through.
import t from 'tap'
import { once } from 'node:events'
import { buildTestApp, freePort, hasRedisServer, post, readyIs, redisServerSkip, startRedis } from './helper.js'

const body = { to: '+593 98 765 4321', template: 'shipping_notice', params: ['Maria'] }

t.test('Redis down, no Idempotency-Key: 503 STORE_UNAVAILABLE and nothing sent; the caller limit does not block; all back when Redis is', { skip: redisServerSkip }, async (t) => {
  t.ok(hasRedisServer, 'redis-server is installed')
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  const { app, sandbox, logs } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_PER_MINUTE: '2' } })
  t.match(await readyIs(app, 200), { checks: { redis: 'ok' } })

  redis.kill('SIGKILL')
  await once(redis, 'exit')
  t.match(await readyIs(app, 503), { checks: { redis: 'unreachable' } })
  const down = await post(app, '/v1/messages/text', body)
  t.match(down, { status: 503, headers: { 'retry-after': '5' }, body: { code: 'STORE_UNAVAILABLE', retriable: true, retry: { policy: 'same-key', afterSeconds: 5 }, detail: /nothing was sent/ } })
  t.equal(sandbox.messages().length, 0, 'the recipient guard failed closed: Jelou never saw the send')
  t.notMatch(JSON.stringify(down.body), /593987654321|987654321|Maria|stack/)
  // Three requests against a limit of two: dry runs skip the recipient guard, so only the caller limit could refuse them.
  const dryRuns = []
  for (let i = 0; i < 3; i++) dryRuns.push((await post(app, '/v1/messages/text?dryRun=true', body)).status)
  t.strictSame(dryRuns, [200, 200, 200], 'the caller limit lets requests through while it cannot count')

  redis = await startRedis(port)
  t.match(await readyIs(app, 200), { checks: { redis: 'ok' } })
  t.equal((await post(app, '/v1/messages/text', body)).status, 202, 'sends again once Redis is back')
  // A hit ioredis queued while Redis was down may be counted once it is back, so this one may already be refused.
  t.ok([200, 429].includes((await post(app, '/v1/messages/text?dryRun=true', body)).status), 'a dry run is answered')
  t.equal((await post(app, '/v1/messages/text?dryRun=true', body)).body.code, 'RATE_LIMITED', 'and the caller limit counts again')
  t.equal(sandbox.messages().length, 1)
  t.equal(logs.lines().filter((line) => line.code === 'STORE_UNAVAILABLE').length, 1, 'the refusal has its line')
})
