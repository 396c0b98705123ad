// Redis reconnect warnings: at most one line per interval, with a count, not one per retry.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { createThrottle } from '../src/plugins/redis.js'
import { buildTestApp } from './helper.js'

t.test('the throttle lets one event through per interval and counts the rest', async (t) => {
  let now = 1000
  const throttle = createThrottle(60_000, () => now)
  t.equal(throttle.hit(), 1, 'the first is reported at once')
  for (let i = 0; i < 5; i++) t.equal(throttle.hit(), null, 'later ones within the interval are counted')
  now += 59_999
  t.equal(throttle.hit(), null)
  now += 1
  t.equal(throttle.hit(), 7, 'after the interval: one report with the count since the last one')
  t.equal(throttle.hit(), null)
  t.equal(throttle.reset(), 1, 'reset returns what was not reported')
  t.equal(throttle.hit(), 1, 'after a reset the next one is reported at once')
})

t.test('a Redis that refuses connections: many retries, one warning line with a count', async (t) => {
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  const { app, logs } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
  const redis = app.redis
  if (redis === null) throw new Error('redis expected')
  // Wait for several refused attempts (ioredis retries after 50, 100, 150 ms …).
  let seen = 0
  await new Promise<void>((resolve) => {
    const onError = () => { if (++seen >= 4) { redis.off('error', onError); resolve() } }
    redis.on('error', onError)
  })
  const lines = logs.lines().filter((line) => line.msg === 'redis error')
  t.equal(lines.length, 1, `one line for ${seen}+ errors`)
  t.match(lines[0], { level: 40, count: 1, intervalSeconds: 60, err: { code: String } })
})
