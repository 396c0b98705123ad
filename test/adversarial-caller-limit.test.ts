// The per-caller limit counted in the send's own store step (begin) on send routes, attacked: every way out of a
// send route counts its caller exactly once (the store step counting it and then failing included: a store full of
// keys, replicas that did not confirm, a reply that came too late), an over-limit caller is never sent for and never
// claims or releases a key, and a burst admits exactly the limit. Written by an adversarial review; the store-failure
// cases failed then (the error path counted the caller a second time).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { assertRedisReachable, buildLiveApp, buildTestApp, freePort, gatedUpstream, post, redisServerSkip, startRedis, storeVariants } from './helper.js'
import { FAST, standin, sendsTo } from './jelou-standin.js'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const body = (to: string) => ({ to, template: 'order_update', params: ['Maria', 'ORD-1234'] })
const TO = '+593 98 765 4321'
const remaining = (answer: { headers: Record<string, unknown> }) => answer.headers['ratelimit-remaining']

// ---------------------------------------------------------------------------------------------
/** Ten keyed sends held in flight by the upstream: a memory store of IDEMPOTENCY_MAX_KEYS=10 is full. */
async function fill (app: Parameters<typeof post>[0], upstream: Awaited<ReturnType<typeof gatedUpstream>>) {
  const held: Array<ReturnType<typeof post>> = []
  for (let i = 0; i < 10; i++) {
    held.push(post(app, '/v1/messages/text', body(TO), { 'idempotency-key': `held-${i}` }))
    await upstream.arrived(i + 1)
  }
  return held
}

// Promise 2 (store failure): memory store, begin counts the caller, then its claim throws OVERLOADED.
t.test('memory: a keyed send refused 503 OVERLOADED (store full) counts its caller once, not twice', async (t) => {
  const upstream = await gatedUpstream(t)
  const { app } = await buildLiveApp(t, upstream.url, { IDEMPOTENCY_MAX_KEYS: '10', RATE_LIMIT_PER_MINUTE: '20' })
  const held = await fill(app, upstream)
  const full = await post(app, '/v1/messages/text', body(TO), { 'idempotency-key': 'one-more' })
  t.equal(full.status, 503, 'the store is full: 503 OVERLOADED')
  t.equal(remaining(full), '9', '11th request of the window: RateLimit-Remaining 9')
  const next = await post(app, '/v1/messages/text?dryRun=true', body(TO))
  t.equal(remaining(next), '8', '12th request of the window: RateLimit-Remaining 8')
  upstream.open()
  for (const h of held) t.equal((await h).status, 202)
})

t.test('memory: at the last request of its budget, a store-full refusal is 503, never a 429 the caller did not earn', async (t) => {
  const upstream = await gatedUpstream(t)
  const { app } = await buildLiveApp(t, upstream.url, { IDEMPOTENCY_MAX_KEYS: '10', RATE_LIMIT_PER_MINUTE: '11' })
  const held = await fill(app, upstream)
  const full = await post(app, '/v1/messages/text', body(TO), { 'idempotency-key': 'one-more' })
  t.match({ status: full.status, code: full.body.code }, { status: 503, code: 'OVERLOADED' }, 'the caller made 11 requests with a limit of 11')
  upstream.open()
  for (const h of held) t.equal((await h).status, 202)
})

// ---------------------------------------------------------------------------------------------
// Promise 2 (store failure): Redis, the BEGIN script counted the caller, then WAIT for replicas fails.
const REDIS_URL = process.env.REDIS_URL ?? ''
t.test('redis: a keyed send refused 503 STORE_UNAVAILABLE (replicas did not confirm) counts its caller once', { skip: REDIS_URL === '' ? 'no REDIS_URL' : false }, async (t) => {
  await assertRedisReachable(REDIS_URL)
  const jelou = await standin(t)
  const { app } = await buildLiveApp(t, jelou.url, { REDIS_URL, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '20', RATE_LIMIT_PER_MINUTE: '10' })
  const refused = await post(app, '/v1/messages/text', body(TO), { 'idempotency-key': 'wait-1' })
  t.equal(refused.status, 503)
  t.equal(refused.body.code, 'STORE_UNAVAILABLE')
  t.equal(remaining(refused), '9', 'first request: RateLimit-Remaining 9')
  const next = await post(app, '/v1/messages/text?dryRun=true', body(TO))
  t.equal(remaining(next), '8', 'second request: RateLimit-Remaining 8')
  t.equal(jelou.sends.length, 0)
})

// ---------------------------------------------------------------------------------------------
// Promise 2 (store failure): the BEGIN script runs but its answer is late (Redis paused past the 1 s command timeout).
t.test('redis: a send whose store step timed out (ran late) counts its caller once', { skip: redisServerSkip, timeout: 30000 }, async (t) => {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(() => { server.kill('SIGKILL') })
  const url = `redis://127.0.0.1:${port}`
  const jelou = await standin(t)
  const { app, config } = await buildLiveApp(t, jelou.url, { REDIS_URL: url, RATE_LIMIT_PER_MINUTE: '10' })
  t.equal((await post(app, '/v1/messages/text', body(TO))).status, 202, 'warm up (BEGIN loaded in Redis)')
  const admin = new Redis(url)
  t.teardown(() => { admin.disconnect() })
  await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE')
  const slow = await post(app, '/v1/messages/text', body(TO))
  t.equal(slow.status, 503, 'the store step timed out: 503')
  await sleep(1200)
  const counter = await admin.keys(`${config.redis?.keyPrefix ?? ''}rl:*`)
  t.equal(counter.length, 1)
  // Whether the step ran is unknown when its answer is late: the answer carries no RateLimit-* headers, and the
  // request is never counted a second time.
  t.strictSame({ status: slow.status, code: slow.body.code, remaining: remaining(slow), count: await admin.get(counter[0] as string) }, { status: 503, code: 'STORE_UNAVAILABLE', remaining: undefined, count: '2' }, 'two requests of this caller so far (a send and the timed-out send)')
  t.equal(remaining(await post(app, '/v1/messages/text?dryRun=true', body(TO))), '7', 'the next request is the third')
})

// ---------------------------------------------------------------------------------------------
// Promise 2: every way out of a send route counts once (live, upstream failures, 409, 422, resolution).
for (const store of storeVariants(t)) {
  t.test(`${store.name}: every way out counts the caller exactly once`, { timeout: 60000 }, async (t) => {
    if (store.name === 'redis') await assertRedisReachable(store.env.REDIS_URL as string)
    const script: Record<string, { create: boolean, answer: 'ok' | 'hang' | 'error' }> = {}
    const jelou = await standin(t, { send: (b) => script[(b.parameters as string[])[1] as string] ?? { create: true, answer: 'ok' } })
    const { app } = await buildLiveApp(t, jelou.url, { ...store.env, ...FAST, RATE_LIMIT_PER_MINUTE: '100', RECIPIENT_LIMIT: '2/60s' })
    let n = 0
    const seen: Array<[string, number, unknown, unknown]> = []
    const check = (what: string, answer: { status: number, headers: Record<string, unknown>, body: Record<string, unknown> }) => {
      n++
      seen.push([what, answer.status, answer.body.code, remaining(answer)])
      t.equal(remaining(answer), String(100 - n), `${what} (${answer.status} ${String(answer.body.code ?? '')}): RateLimit-Remaining ${100 - n}`)
    }
    const b = (ref: string, to = '+593 98 765 4300') => ({ to, template: 'order_update', params: ['Maria', ref] })
    check('keyed send', await post(app, '/v1/messages/text', b('ok-1', '+593 98 765 4301'), { 'idempotency-key': 'k-ok' }))
    check('replay', await post(app, '/v1/messages/text', b('ok-1', '+593 98 765 4301'), { 'idempotency-key': 'k-ok' }))
    check('key reused', await post(app, '/v1/messages/text', b('ok-2', '+593 98 765 4301'), { 'idempotency-key': 'k-ok' }))
    check('recipient 2', await post(app, '/v1/messages/text', b('ok-3', '+593 98 765 4301')))
    check('recipient limited', await post(app, '/v1/messages/text', b('ok-4', '+593 98 765 4301')))
    check('recipient limited, keyed', await post(app, '/v1/messages/text', b('ok-5', '+593 98 765 4301'), { 'idempotency-key': 'k-rl' }))
    script['err-1'] = { create: false, answer: 'error' }
    check('upstream 5xx, unkeyed', await post(app, '/v1/messages/text', b('err-1', '+593 98 765 4302')))
    script['err-2'] = { create: false, answer: 'error' }
    check('upstream 5xx, keyed', await post(app, '/v1/messages/text', b('err-2', '+593 98 765 4303'), { 'idempotency-key': 'k-err' }))
    check('upstream 5xx, keyed, retried', await post(app, '/v1/messages/text', b('err-2', '+593 98 765 4303'), { 'idempotency-key': 'k-err' }))
    script['hang-1'] = { create: true, answer: 'hang' }
    check('timeout, unkeyed', await post(app, '/v1/messages/text', b('hang-1', '+593 98 765 4304')))
    // Outcome unknown, keyed: created (resolved as sent) and not created (resend).
    script['hang-2'] = { create: true, answer: 'hang' }
    script['hang-3'] = { create: false, answer: 'hang' }
    const inFlight = post(app, '/v1/messages/text', b('hang-2', '+593 98 765 4305'), { 'idempotency-key': 'k-h2' })
    for (let i = 0; i < 40 && sendsTo(jelou, '593987654305') === 0; i++) await sleep(10)
    const dup = await post(app, '/v1/messages/text', b('hang-2', '+593 98 765 4305'), { 'idempotency-key': 'k-h2' })
    n++
    t.equal(dup.status, 409, 'in flight: 409')
    const first = await inFlight
    n++
    t.equal(first.status, 504)
    t.equal(remaining(dup) === String(100 - n + 1) || remaining(dup) === String(100 - n), true, 'the 409 and the 504 each counted once')
    check('timeout, keyed hang-3', await post(app, '/v1/messages/text', b('hang-3', '+593 98 765 4306'), { 'idempotency-key': 'k-h3' }))
    check('same-key retry while pending', await post(app, '/v1/messages/text', b('hang-2', '+593 98 765 4305'), { 'idempotency-key': 'k-h2' }))
    await sleep(3500)
    script['hang-3'] = { create: true, answer: 'ok' }
    check('same-key retry resolved (sent)', await post(app, '/v1/messages/text', b('hang-2', '+593 98 765 4305'), { 'idempotency-key': 'k-h2' }))
    check('same-key retry resolved (absent: resend)', await post(app, '/v1/messages/text', b('hang-3', '+593 98 765 4306'), { 'idempotency-key': 'k-h3' }))
    check('after resend, replay', await post(app, '/v1/messages/text', b('hang-3', '+593 98 765 4306'), { 'idempotency-key': 'k-h3' }))
    check('unknown template (per-template route)', await post(app, '/v1/templates/no_such_template', { to: TO, variables: {} }))
    check('bad key header', await post(app, '/v1/messages/text', b('x'), { 'idempotency-key': 'é' }))
    check('bad json', await app.inject({ method: 'POST', url: '/v1/messages/text', headers: { 'content-type': 'application/json' }, payload: '{' }).then((r) => ({ status: r.statusCode, headers: r.headers, body: r.json() as Record<string, unknown> })))
    check('scheduled, keyed', await post(app, '/v1/messages/text', { ...b('sch'), sendAt: new Date(Date.now() + 3600_000).toISOString() }, { 'idempotency-key': 'k-sch' }))
    check('scheduled, keyed, replay', await post(app, '/v1/messages/text', { ...b('sch'), sendAt: new Date(Date.now() + 3600_000).toISOString() }, { 'idempotency-key': 'k-sch' }))
    check('dry run, keyed', await post(app, '/v1/messages/text?dryRun=true', b('dry'), { 'idempotency-key': 'k-dry' }))
    t.equal(sendsTo(jelou, '593987654305'), 1, 'k-h2 sent once')
    t.equal(sendsTo(jelou, '593987654306'), 2, 'k-h3 sent twice (the first provably absent)')
    t.comment(JSON.stringify(seen))
  })
}

// ---------------------------------------------------------------------------------------------
// Promise 3: a mixed burst, limit N: exactly N admitted, nothing sent twice for a key.
for (const store of storeVariants(t)) {
  t.test(`${store.name}: a mixed burst of N+k admits exactly N`, { timeout: 60000 }, async (t) => {
    if (store.name === 'redis') await assertRedisReachable(store.env.REDIS_URL as string)
    for (let round = 0; round < 3; round++) {
      const N = 6
      const { app, sandbox } = await buildTestApp(t, { env: { ...store.env, RATE_LIMIT_PER_MINUTE: String(N) } })
      const requests: Array<Promise<{ status: number, body: Record<string, unknown> }>> = []
      for (let i = 0; i < 16; i++) {
        const to = `+593 98 765 43${String(i).padStart(2, '0')}`
        const kind = i % 4
        if (kind === 0) requests.push(post(app, '/v1/messages/text', body(to)))
        else if (kind === 1) requests.push(post(app, '/v1/messages/text', body(TO), { 'idempotency-key': 'same' }))
        else if (kind === 2) requests.push(post(app, '/v1/messages/text', body(to), { 'idempotency-key': `k-${i}` }))
        else requests.push(post(app, '/v1/messages/text?dryRun=true', body(to), { 'idempotency-key': `d-${i}` }))
      }
      const answers = await Promise.all(requests)
      const admitted = answers.filter((a) => a.status !== 429)
      t.equal(admitted.length, N, `round ${round}: exactly ${N} admitted (${answers.map((a) => a.status).join(',')})`)
      const shared = sandbox.messages().filter((m) => ((m.body as { destinations?: string[] } | null)?.destinations ?? []).includes('593987654321')).length
      t.equal(shared, answers.some((a, i) => i % 4 === 1 && a.status === 202) ? 1 : 0, 'the shared key sent once when one of its requests was admitted, else never')
      await app.close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Promises 1 and 4: an over-limit caller retrying an outcome-unknown key: nothing sent, the key stays unresolved.
t.test('redis: over the limit, a same-key retry of an outcome-unknown send neither sends nor frees the key; a replica with budget resolves it later', { skip: REDIS_URL === '' ? 'no REDIS_URL' : false, timeout: 30000 }, async (t) => {
  await assertRedisReachable(REDIS_URL)
  const prefix = `test:${randomUUID()}:`
  let hang = true
  const jelou = await standin(t, { send: () => ({ create: !hang, answer: hang ? 'hang' : 'ok' }) })
  const one = await buildLiveApp(t, jelou.url, { REDIS_URL, REDIS_KEY_PREFIX: prefix, ...FAST, RATE_LIMIT_PER_MINUTE: '1' })
  const first = await post(one.app, '/v1/messages/text', body(TO), { 'idempotency-key': 'u-1' })
  t.equal(first.status, 504)
  await sleep(3500)
  hang = false
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const [k] = await redis.keys(`${prefix}idem3:*`)
  const before = await redis.hgetall(k as string)
  const refused = await post(one.app, '/v1/messages/text', body(TO), { 'idempotency-key': 'u-1' })
  t.match({ status: refused.status, code: refused.body.code }, { status: 429, code: 'RATE_LIMITED' })
  t.ok(refused.headers['retry-after'])
  t.equal(jelou.sends.length, 1, 'nothing sent by the refused retry')
  t.strictSame(await redis.hgetall(k as string), before, 'the key untouched (held, open, attempt kept)')
  const two = await buildLiveApp(t, jelou.url, { REDIS_URL, REDIS_KEY_PREFIX: prefix, ...FAST, RATE_LIMIT_PER_MINUTE: '100' })
  const resolved = await post(two.app, '/v1/messages/text', body(TO), { 'idempotency-key': 'u-1' })
  t.equal(resolved.status, 202, 'resolved: the first message was absent, a resend')
  t.equal(jelou.sends.length, 2)
  const again = await post(two.app, '/v1/messages/text', body(TO), { 'idempotency-key': 'u-1' })
  t.equal(again.status, 202)
  t.equal(jelou.sends.length, 2, 'never a third')
})

// Promise 5: the 429 body and headers on each send route.
for (const store of storeVariants(t)) {
  t.test(`${store.name}: a 429 on a send route has RateLimit-*, Retry-After and a problem body, no stack`, async (t) => {
    if (store.name === 'redis') await assertRedisReachable(store.env.REDIS_URL as string)
    const { app } = await buildTestApp(t, { env: { ...store.env, RATE_LIMIT_PER_MINUTE: '1' } })
    t.equal((await post(app, '/v1/messages/text?dryRun=true', body(TO))).status, 200)
    const urls: Array<[string, unknown, Record<string, string>]> = [
      ['/v1/messages/text', body(TO), {}],
      ['/v1/messages/text', body(TO), { 'idempotency-key': 'k429' }],
      ['/v1/messages', { botId: 'bot-123', type: 'text', elementName: 'shipping_notice', language: 'es', destinations: ['593987654321'], parameters: ['Maria'] }, {}],
      ['/v1/templates/order_update', { to: TO, variables: { customerName: 'Maria', orderId: 'ORD-1' } }, { 'idempotency-key': 'k429b' }],
      ['/v1/messages/text', { to: 'nope' }, {}]
    ]
    for (const [url, payload, headers] of urls) {
      const r = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload) })
      t.equal(r.statusCode, 429, url)
      t.match(r.headers['content-type'], /application\/problem\+json/)
      t.ok(r.headers['retry-after'] !== undefined && r.headers['ratelimit-limit'] === '1' && r.headers['ratelimit-remaining'] === '0' && r.headers['ratelimit-reset'] !== undefined, 'headers')
      t.notMatch(r.body, /at .*\.(ts|js):\d+|stack/i, 'no stack')
    }
  })
}
