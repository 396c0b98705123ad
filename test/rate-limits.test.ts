// Rate limits (SPEC §12): per caller with RateLimit-* headers, and the per-recipient guard, in memory and in Redis.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { assertRedisReachable, buildTestApp, post, storeVariants, type StoreVariant } from './helper.js'

const body = (to: string) => ({ to, template: 'shipping_notice', params: ['Maria'] })

/** Idempotency keys held: the memory store's gauge, or the Redis keys under the app's prefix. */
async function idempotencyKeys (app: FastifyInstance, store: StoreVariant, prefix = ''): Promise<number | string[]> {
  if (store.name === 'memory') return Number(/^hsm_idempotency_keys (\d+)$/m.exec((await app.inject({ url: '/metrics' })).body)?.[1])
  const redis = new Redis(store.env.REDIS_URL as string)
  try {
    return (await redis.keys(`${prefix}idem3:*`)).sort()
  } finally {
    redis.disconnect()
  }
}

for (const store of storeVariants(t)) {
  t.test(`${store.name} store`, async (t) => {
    if (store.name === 'redis') await assertRedisReachable(store.env.REDIS_URL)

    t.test('the per-caller limit answers 429 RATE_LIMITED with RateLimit-* and Retry-After, nothing sent', async (t) => {
      const env = { ...store.env, RATE_LIMIT_PER_MINUTE: '3', API_KEYS: 'billing:billing-key-0123456789,orders:orders-key-0123456789' }
      const { app, sandbox, logs } = await buildTestApp(t, { env })
      const billing = { authorization: 'Bearer billing-key-0123456789' }
      const answers = []
      for (let i = 0; i < 4; i++) answers.push(await post(app, '/v1/messages/text', body('+593 98 765 4321'), billing))
      t.strictSame(answers.map((a) => a.status), [202, 202, 202, 429])
      t.equal(answers[0].headers['ratelimit-limit'], '3')
      t.equal(answers[0].headers['ratelimit-remaining'], '2')
      const refused = answers[3]
      t.match(refused.body, { code: 'RATE_LIMITED', status: 429, retriable: true })
      t.equal(refused.headers['ratelimit-remaining'], '0')
      t.ok(Number(refused.headers['retry-after']) >= 1 && Number(refused.headers['retry-after']) <= 60, 'Retry-After in seconds')
      t.ok(Number(refused.headers['ratelimit-reset']) >= 1)
      t.equal(sandbox.messages().length, 3)
      t.equal(logs.lines().filter((l) => l.code === 'RATE_LIMITED').length, 1, 'the refusal has its line')
      const other = await post(app, '/v1/messages/text', body('+593 98 765 4321'), { 'x-api-key': 'orders-key-0123456789' })
      t.equal(other.status, 202, 'another caller has its own budget')
    })

    t.test('a caller over its limit hears 429 on every way out of a send route, and nothing is claimed, counted or sent', async (t) => {
      const env = { ...store.env, RATE_LIMIT_PER_MINUTE: '2', RECIPIENT_LIMIT: '3/60s', API_KEYS: 'billing:billing-key-0123456789,orders:orders-key-0123456789' }
      const { app, config, sandbox, logs } = await buildTestApp(t, { env })
      const billing = { authorization: 'Bearer billing-key-0123456789' }
      const TO = '+593 98 765 4321'
      for (let i = 0; i < 2; i++) t.equal((await post(app, '/v1/messages/text', body(TO), billing)).status, 202)
      const keysBefore = await idempotencyKeys(app, store, config.redis?.keyPrefix)
      const inAnHour = new Date(Date.now() + 3600_000).toISOString()
      const ways: Array<[string, string, unknown, Record<string, string>]> = [
        ['a send', '/v1/messages/text', body(TO), {}],
        ['a keyed send', '/v1/messages/text', body(TO), { 'idempotency-key': 'k-over' }],
        ['the same key again', '/v1/messages/text', body(TO), { 'idempotency-key': 'k-over' }],
        ['a per-template send', '/v1/templates/order_update', { to: TO, variables: { customerName: 'Maria', orderId: 'ORD-1' } }, {}],
        ['a raw send', '/v1/messages', { botId: 'bot-123', type: 'text', elementName: 'shipping_notice', language: 'es', destinations: ['593987654321'], parameters: ['Maria'] }, {}],
        ['a dry run', '/v1/messages/text?dryRun=true', body(TO), {}],
        ['a scheduled send', '/v1/messages/text', { ...body(TO), sendAt: inAnHour }, {}],
        ['a keyed scheduled send', '/v1/messages/text', { ...body(TO), sendAt: inAnHour }, { 'idempotency-key': 'k-later' }],
        ['a body that breaks a rule', '/v1/messages/text', { to: TO, template: 'shipping_notice', params: 'Maria' }, {}],
        ['an unknown template', '/v1/templates/no_such_template', { to: TO, variables: {} }, {}]
      ]
      for (const [what, url, payload, headers] of ways) {
        const answer = await post(app, url, payload, { ...billing, ...headers })
        t.match({ status: answer.status, code: answer.body.code }, { status: 429, code: 'RATE_LIMITED' }, what)
        t.equal(answer.headers['ratelimit-remaining'], '0', `${what}: RateLimit-Remaining 0`)
      }
      t.equal(sandbox.messages().length, 2, 'nothing reached Jelou')
      t.equal(logs.sends().length, 2, 'no send line, scheduled or dry-run line for a refusal')
      t.equal(logs.lines().filter((l) => l.code === 'RATE_LIMITED').length, ways.length, 'each refusal has its line')
      t.strictSame(await idempotencyKeys(app, store, config.redis?.keyPrefix), keysBefore, 'no Idempotency-Key claimed or kept')
      const orders = { 'x-api-key': 'orders-key-0123456789' }
      t.equal((await post(app, '/v1/messages/text', body(TO), orders)).status, 202, 'the recipient counted only the two sends: a third is allowed')
      t.match((await post(app, '/v1/messages/text', body(TO), orders)).body, { code: 'RECIPIENT_RATE_LIMITED' }, 'and a fourth is not')
    })

    t.test('each request to a send route counts once against its caller, whichever way it ends', async (t) => {
      const { app } = await buildTestApp(t, { env: { ...store.env, RATE_LIMIT_PER_MINUTE: '7' } })
      const remaining = []
      const answers = [
        await post(app, '/v1/messages/text', body('+593 98 765 4321')),
        await post(app, '/v1/messages/text?dryRun=true', body('+593 98 765 4321')),
        await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'shipping_notice', params: 'Maria' }),
        await post(app, '/v1/messages/text', body('+593 98 765 4322'), { 'idempotency-key': 'k-once' }),
        await post(app, '/v1/messages/text', body('+593 98 765 4322'), { 'idempotency-key': 'k-once' }),
        await post(app, '/v1/templates/order_update', { to: '+593 98 765 4321', variables: { customerName: 'Maria', orderId: 'ORD-1' } }),
        await post(app, '/v1/messages/text', { ...body('+593 98 765 4321'), sendAt: new Date(Date.now() + 3600_000).toISOString() })
      ]
      for (const answer of answers) remaining.push(answer.headers['ratelimit-remaining'])
      t.strictSame(answers.map((a) => a.status), [202, 200, 400, 202, 202, 202, 202], 'a send, a dry run, a refusal, a keyed send, its replay, a per-template send, a scheduled send')
      t.strictSame(remaining, ['6', '5', '4', '3', '2', '1', '0'])
      t.equal((await post(app, '/v1/messages/text?dryRun=true', body('+593 98 765 4321'))).status, 429)
    })

    t.test('a burst past the limit: exactly the limit is sent', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: { ...store.env, RATE_LIMIT_PER_MINUTE: '5' } })
      const answers = await Promise.all(Array.from({ length: 9 }, async (_, i) => await post(app, '/v1/messages/text', body(`+593 98 765 43${String(i).padStart(2, '0')}`))))
      t.strictSame(answers.map((a) => a.status).sort(), [...Array(5).fill(202), ...Array(4).fill(429)])
      t.equal(sandbox.messages().length, 5)
    })

    t.test('the recipient guard stops the eleventh send to one number in the window; another number goes through', async (t) => {
      const { app, sandbox, logs } = await buildTestApp(t, { env: { ...store.env, RECIPIENT_LIMIT: '10/60s' } })
      const statuses = []
      // The same recipient written three ways: the guard counts the normalized number.
      const forms = ['+593 98 765 4321', '00593987654321', '593987654321']
      for (let i = 0; i < 11; i++) statuses.push((await post(app, '/v1/messages/text', body(forms[i % 3]))).status)
      t.strictSame(statuses, [...Array(10).fill(202), 429])
      t.equal(sandbox.messages().length, 10, 'the eleventh never reached Jelou')
      const refused = await post(app, '/v1/messages/text', body('+593 98 765 4321'))
      t.match(refused.body, { code: 'RECIPIENT_RATE_LIMITED', retriable: true, detail: /nothing was sent/ })
      t.ok(Number(refused.headers['retry-after']) >= 1 && Number(refused.headers['retry-after']) <= 60)
      t.notMatch(JSON.stringify(refused.body), /593987654321|987654321/, 'the number is not echoed')
      const other = await post(app, '/v1/messages/text', body('+1 202 555 0123'))
      t.equal(other.status, 202)
      t.equal(sandbox.messages().length, 11)
      t.equal(logs.sends().length, 11, 'refusals are not send attempts')
    })

    t.test('the recipient window ends when Retry-After says', async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: { ...store.env, RECIPIENT_LIMIT: '1/1s' } })
      t.equal((await post(app, '/v1/messages/text', body('+593 98 765 4321'))).status, 202)
      const refused = await post(app, '/v1/messages/text', body('+593 98 765 4321'))
      t.equal(refused.status, 429)
      // Wait exactly as a well-behaved caller would: the answer's Retry-After (whole seconds, rounded up).
      const retryAfter = Number(refused.headers['retry-after'])
      t.equal(retryAfter, 1)
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000))
      t.equal((await post(app, '/v1/messages/text', body('+593 98 765 4321'))).status, 202, 'the caller that waited as told is served')
      t.equal(sandbox.messages().length, 2)
    })

    t.test('a dry run does not count against the recipient', async (t) => {
      const { app } = await buildTestApp(t, { env: { ...store.env, RECIPIENT_LIMIT: '1/60s' } })
      for (let i = 0; i < 3; i++) t.equal((await post(app, '/v1/messages/text?dryRun=true', body('+593 98 765 4321'))).status, 200)
      t.equal((await post(app, '/v1/messages/text', body('+593 98 765 4321'))).status, 202)
    })
  })
}
