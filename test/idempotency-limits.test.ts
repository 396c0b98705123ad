// Idempotency limits: a store full of sends in flight (memory) and a crashed replica's lease (Redis).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { assertRedisReachable, buildLiveApp, gatedUpstream, post } from './helper.js'

const body = { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1234'] }

t.test('a store full of sends in flight refuses a new key with 503 OVERLOADED, sends without a key go on', async (t) => {
  const upstream = await gatedUpstream(t)
  const { app } = await buildLiveApp(t, upstream.url, { IDEMPOTENCY_MAX_KEYS: '10' })
  // Sent and answered one at a time, so held-0's answer is provably the oldest kept one.
  const held: Array<ReturnType<typeof post>> = []
  for (let i = 0; i < 10; i++) {
    held.push(post(app, '/v1/messages/text', body, { 'idempotency-key': `held-${i}` }))
    await upstream.arrived(i + 1)
  }
  const full = await post(app, '/v1/messages/text', body, { 'idempotency-key': 'one-more' })
  t.match(full, { status: 503, headers: { 'retry-after': '1' }, body: { code: 'OVERLOADED', retriable: true, detail: /nothing was sent/ } })
  t.equal(upstream.received(), 10, 'the refused send never reached Jelou')
  t.match(await app.inject({ url: '/metrics' }), { body: /\nhsm_idempotency_keys 10\n/ })
  const keyless = post(app, '/v1/messages/text', body)
  await upstream.arrived(11)
  const statuses = []
  for (const send of held) {
    upstream.answerOldest()
    statuses.push((await send).status)
  }
  upstream.open()
  statuses.push((await keyless).status)
  t.strictSame(statuses, Array(11).fill(202))
  t.equal((await post(app, '/v1/messages/text', body, { 'idempotency-key': 'one-more' })).status, 202, 'once the sends finish, the oldest kept answer makes room')
  t.equal((await post(app, '/v1/messages/text', body, { 'idempotency-key': 'held-0' })).headers['idempotent-replayed'], undefined, 'held-0 was the one dropped')
  t.equal((await post(app, '/v1/messages/text', body, { 'idempotency-key': 'held-9' })).headers['idempotent-replayed'], 'true')
  t.match(await app.inject({ url: '/metrics' }), { body: /\nhsm_idempotency_keys 10\n/ })
})

const REDIS_URL = process.env.REDIS_URL ?? ''
t.test('Redis', { skip: REDIS_URL === '' ? 'REDIS_URL is not set (npm test sets it when redis-server is installed)' : false }, async (t) => {
  await assertRedisReachable(REDIS_URL)
  const store = { env: { REDIS_URL } }
  t.test('a crashed replica\'s lease frees its key JELOU_TIMEOUT_MS + 5 s after the claim', async (t) => {
    const upstream = await gatedUpstream(t)
    const env = { ...store.env, JELOU_TIMEOUT_MS: '1000' }
    const one = await buildLiveApp(t, upstream.url, env)
    const held = post(one.app, '/v1/messages/text', body, { 'idempotency-key': 'crash-1' })
    await upstream.arrived(1)
    const redis = new Redis(store.env.REDIS_URL)
    t.teardown(() => { redis.disconnect() })
    const prefix = one.config.redis?.keyPrefix ?? ''
    const [lease] = await redis.keys(`${prefix}idem3:*`)
    const record = await redis.hgetall(lease)
    const leftMs = Number(record.lease) - Date.now()
    t.ok(leftMs > 6000 - 1000 && leftMs <= 6000, `the hold is JELOU_TIMEOUT_MS + 5 s from its claim or last renewal (${leftMs} ms left)`)
    t.ok(record.attempt, 'the claim was marked before Jelou was called (a later request resolves such a claim: test/resolution)')
    // Replica one's claim as it stood before it called Jelou (no attempt yet), under replica two's
    // prefix: the claim of a replica that died before sending, which must free itself.
    const twoPrefix = `test:${randomUUID()}:`
    const orphan = lease.replace(prefix, twoPrefix)
    await redis.hset(orphan, 'fp', record.fp as string, 'lease', record.lease as string)
    await redis.pexpire(orphan, Math.max(1, leftMs))
    upstream.open()
    t.equal((await held).status, 202)
    const two = await buildLiveApp(t, upstream.url, { ...env, REDIS_KEY_PREFIX: twoPrefix })
    t.match(await post(two.app, '/v1/messages/text', body, { 'idempotency-key': 'crash-1' }), { status: 409, body: { code: 'IDEMPOTENCY_IN_PROGRESS' } })
    while (await redis.exists(orphan) === 1) await new Promise((resolve) => setTimeout(resolve, 100))
    const freed = await post(two.app, '/v1/messages/text', body, { 'idempotency-key': 'crash-1' })
    t.equal(freed.status, 202, 'the key is free once the lease ends')
    t.equal(freed.headers['idempotent-replayed'], undefined)
    t.equal(upstream.received(), 2)
  })
})
