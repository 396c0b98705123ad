// Rate limits (SPEC §12): per caller with RateLimit-* headers, and the per-recipient guard, in memory and in Redis.
import t from 'tap'
import { assertRedisReachable, buildTestApp, post, storeVariants } from './helper.js'

const body = (to: string) => ({ to, template: 'shipping_notice', params: ['Maria'] })

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
