// Outcome-unknown resolution, one fixed case per way it was once fooled: a lease lapsing under a live resolver, its own message excluded, another send's message claimed, a short page, clock skew, eviction, foreign events, and the smaller ones.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../src/config.js'
import { timeOf } from '../src/status/jelou.js'
import { memoryIdempotencyStore } from '../src/stores/memory.js'
import { redisIdempotencyStore } from '../src/stores/redis.js'
import { buildLiveApp, post } from './helper.js'
import { FAST, sendsTo, standin } from './jelou-standin.js'

const TEMPLATE = 'order_update'
const body = (to = '+593 98 765 4321') => ({ to, template: TEMPLATE, params: ['Maria', 'ORD-1'] })
const OURS = '593987654321'
const OTHER = '593987650000'
const TOKEN = 'events-token-0123456789abcdef'
const REDIS_URL = process.env.REDIS_URL ?? ''
const noRedis = REDIS_URL === '' ? 'REDIS_URL is not set (CI sets it)' : false

const keyed = (app: FastifyInstance, key: string, to?: string) => post(app, '/v1/messages/text', body(to), { 'idempotency-key': key })
/** Waits out the registration window (RESOLUTION_WINDOW_SECONDS), as the 504's Retry-After asks. */
const windowPasses = () => sleep(2100)

t.test('1: a resolution longer than the lease keeps the key: a second retry meanwhile gets 409, one resend in all', async (t) => {
  // 120 notifications of other recipients, 50 a page, each page 2.5 s: the scan outlives the 5.3 s lease.
  const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }), pageDelayMs: 2500 })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.match(await keyed(app, 'k1'), { status: 504, body: { resolution: 'pending' } })
  for (let i = 0; i < 120; i++) jelou.foreign({ id: randomUUID(), destination: OTHER, elementName: TEMPLATE, createdAt: new Date(Date.now() - 200).toISOString() })
  await windowPasses()
  const first = keyed(app, 'k1')
  await sleep(5600) // past the claim's JELOU_TIMEOUT_MS + 5 s: the lease would have lapsed unrenewed
  const second = await keyed(app, 'k1')
  t.match(second, { status: 409, body: { code: 'IDEMPOTENCY_IN_PROGRESS' } }, 'the running resolution still holds the key')
  t.match(await first, { status: 202 }, 'the first retry proves absence and sends once more')
  t.equal(sendsTo(jelou, OURS), 2, 'the first attempt and one resend')
})

t.test('2: the send succeeded but its stored answer was lost: the retry finds the attempt\'s own message, no second send', { skip: noRedis }, async (t) => {
  const jelou = await standin(t, { sendDelayMs: 500 })
  const prefix = `test:${randomUUID()}:`
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, JELOU_TIMEOUT_MS: '1000', REDIS_URL, REDIS_KEY_PREFIX: prefix })
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const pending = keyed(app, 'k2')
  for (let i = 0; i < 300 && jelou.sends.length === 0; i++) await sleep(5)
  const [key] = await redis.keys(`${prefix}idem*`)
  const midSend = await redis.hgetall(key as string)
  const sent = await pending
  t.equal(sent.status, 202)
  for (let i = 0; i < 200 && (await app.inject({ url: sent.body.statusUrl as string })).statusCode !== 200; i++) await sleep(10)
  // A Redis failover lost the last write: the key's hash is back as it stood mid-send (its hold lapsed with the dead writer).
  await redis.del(key as string)
  await redis.hset(key as string, { ...midSend, lease: '0' })
  await redis.pexpire(key as string, 60000)
  await windowPasses()
  const retry = await keyed(app, 'k2')
  t.match(retry, { status: 202, body: { messageId: sent.body.messageId, resolved: true } })
  t.equal(jelou.sends.length, 1, 'Jelou received one send')
})

t.test('3a: another sender\'s message of the same template to the same number is never our answer', async (t) => {
  t.test('outside the configured skew', async (t) => {
    const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }) })
    const foreign = randomUUID()
    jelou.foreign({ id: foreign, destination: OURS, elementName: TEMPLATE, createdAt: new Date(Date.now() - 20000).toISOString() })
    const { app } = await buildLiveApp(t, jelou.url, { ...FAST, RESOLUTION_CLOCK_SKEW_SECONDS: '5', RESOLUTION_WINDOW_SECONDS: '6' })
    t.equal((await keyed(app, 'k3a')).status, 504)
    const retry = await keyed(app, 'k3a')
    t.not(retry.body.messageId, foreign, 'not the other sender\'s id')
    t.match(retry, { status: 504, body: { resolution: 'pending' } }, 'not yet: the window has not passed')
  })
  t.test('with the correlation tag, inside the window', async (t) => {
    const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }) })
    const foreign = randomUUID()
    const { app } = await buildLiveApp(t, jelou.url, { ...FAST, RESOLUTION_TAG: 'campaignId' })
    t.equal((await keyed(app, 'k3t')).status, 504)
    jelou.foreign({ id: foreign, destination: OURS, elementName: TEMPLATE, createdAt: new Date(Date.now() - 200).toISOString() })
    await windowPasses()
    const retry = await keyed(app, 'k3t')
    t.match(retry, { status: 202 })
    t.not(retry.body.messageId, foreign, 'the other sender\'s message has no tag of ours')
    t.equal(jelou.sends[1]?.campaignId, jelou.sends[0]?.campaignId === undefined ? 'never' : jelou.sends[1]?.campaignId, 'each attempt carries its own tag')
  })
})

t.test('3b: two keys to one customer and template both time out, only A exists: B is never answered with A\'s id, nobody resends', async (t) => {
  t.test('untagged: both ambiguous', async (t) => {
    const jelou = await standin(t, { send: (_b, i) => ({ create: i === 0, answer: 'hang' }) })
    const { app } = await buildLiveApp(t, jelou.url, FAST)
    t.equal((await keyed(app, 'A')).status, 504)
    t.equal((await keyed(app, 'B')).status, 504)
    await windowPasses()
    const b = await keyed(app, 'B')
    t.match(b, { status: 504, body: { resolution: 'ambiguous', candidates: 1 } })
    t.equal(b.headers['idempotent-replayed'], undefined, 'ambiguous is news, not the kept answer')
    t.match(await keyed(app, 'A'), { status: 504, body: { resolution: 'ambiguous' } })
    t.equal(jelou.sends.length, 2, 'no resend for either')
  })
  t.test('tagged: A finds its own, B provably has none and sends once', async (t) => {
    const jelou = await standin(t, { send: (_b, i) => ({ create: i !== 1, answer: i < 2 ? 'hang' : 'ok' }) })
    const { app } = await buildLiveApp(t, jelou.url, { ...FAST, RESOLUTION_TAG: 'campaignId' })
    t.equal((await keyed(app, 'A')).status, 504)
    t.equal((await keyed(app, 'B')).status, 504)
    await windowPasses()
    const b = await keyed(app, 'B')
    const a = await keyed(app, 'A')
    t.match(a, { status: 202, body: { messageId: jelou.messages[0]?.id, resolved: true } })
    t.equal(a.headers['idempotent-replayed'], undefined, 'the first resolved 202 is a new answer')
    t.match(b, { status: 202 })
    t.not(b.body.messageId, a.body.messageId)
    t.equal(jelou.messages.length, 2, 'one message each')
  })
})

t.test('4: a page shorter than asked is not the last one: the answer\'s total is read to the end', async (t) => {
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), pageSize: 5 })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'k4')).status, 504)
  // Six messages of other recipients in the window, listed before ours (one without an id, which still counts): ours is on page 2.
  const at = new Date(Date.now() - 300).toISOString()
  jelou.messages.unshift(...Array.from({ length: 6 }, (_, i) => ({ id: i === 5 ? undefined : randomUUID(), destination: OTHER, elementName: TEMPLATE, campaignId: null, createdAt: at, sentStatus: 'CREATED', from: 'foreign' as const })))
  await windowPasses()
  const retry = await keyed(app, 'k4')
  t.match(retry, { status: 202, body: { resolved: true, messageId: jelou.messages.at(-1)?.id } }, 'found on page 2')
  t.equal(jelou.sends.length, 1, 'no resend')
})

t.test('4 (more): a Jelou that serves the same page for every page number never proves absence', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: i === 0, answer: 'hang' }), ignorePage: true, pageSize: 5 })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'k4r')).status, 504)
  // Five messages of other recipients in the window, listed before ours: ours is on page 2.
  const others = Array.from({ length: 5 }, () => ({ id: randomUUID(), destination: OTHER, elementName: TEMPLATE, campaignId: null, createdAt: new Date(Date.now() - 300).toISOString(), sentStatus: 'CREATED', from: 'foreign' as const }))
  jelou.messages.unshift(...others)
  await windowPasses()
  t.match(await keyed(app, 'k4r'), { status: 504, body: { resolution: 'pending' } }, 'our message sits past page 1, never served: not yet, never "absent"')
  t.equal(jelou.sends.length, 1, 'no resend')
})

t.test('5: clock skew is a setting, and a time without a zone is UTC', async (t) => {
  t.test('Jelou\'s clock 3.5 s behind ours: found with RESOLUTION_CLOCK_SKEW_SECONDS=4, resent with 1', async (t) => {
    // Scaled down so the window passes in seconds: with a 1 s skew the window starts 2 s before the attempt and misses the message.
    for (const [skew, window, found] of [['4', '5', true], ['1', '2', false]] as const) {
      const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), clock: () => Date.now() - 3500 })
      const { app } = await buildLiveApp(t, jelou.url, { ...FAST, RESOLUTION_CLOCK_SKEW_SECONDS: skew, RESOLUTION_WINDOW_SECONDS: window })
      t.equal((await keyed(app, `k5-${skew}`)).status, 504)
      await sleep(Number(window) * 1000 + 100)
      const retry = await keyed(app, `k5-${skew}`)
      if (found) {
        t.match(retry, { status: 202, body: { resolved: true, messageId: jelou.messages[0]?.id } }, `skew ${skew} s: found`)
        t.equal(jelou.sends.length, 1)
      } else {
        t.equal(jelou.sends.length, 2, `skew ${skew} s: the message is outside the window, so it is sent again (the setting matters)`)
      }
    }
  })
  t.test('a zone-less date-time reads as UTC whatever the server\'s zone', async (t) => {
    const zone = process.env.TZ
    process.env.TZ = 'America/Guayaquil'
    t.teardown(() => { if (zone === undefined) delete process.env.TZ; else process.env.TZ = zone })
    t.equal(timeOf('2026-12-03T10:00:00'), Date.parse('2026-12-03T10:00:00Z'))
    t.equal(timeOf('2026-12-03 10:00:00.250'), Date.parse('2026-12-03T10:00:00.250Z'))
    t.equal(timeOf('2026-12-03T10:00:00-05:00'), Date.parse('2026-12-03T15:00:00Z'), 'a zone, when given, is kept')
  })
})

t.test('6: a full memory store never drops an open outcome-unknown record, and says when answers go early', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }) })
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, IDEMPOTENCY_MAX_KEYS: '10' })
  t.equal((await keyed(app, 'open-1')).status, 504)
  for (let i = 0; i < 12; i++) t.equal((await keyed(app, `fill-${i}`, '+593 98 765 00' + String(10 + i))).status, 202)
  await windowPasses()
  const retry = await keyed(app, 'open-1')
  t.match(retry, { status: 202, body: { resolved: true, messageId: jelou.messages[0]?.id } }, 'resolved, not sent blind')
  t.equal(sendsTo(jelou, OURS), 1)
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /hsm_idempotency_dropped_total [1-9]/, 'dropped answers are counted')
  const window = Number(/^hsm_idempotency_replay_window_seconds (\S+)$/m.exec(metrics)?.[1])
  t.ok(window < 86400, `the effective replay window is below IDEMPOTENCY_TTL_SECONDS (${window} s)`)
})

t.test('7: events for ids never sent stay apart and cannot push out a real record; the receiver is rate-limited', async (t) => {
  const jelou = await standin(t)
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, MESSAGE_MAX_RECORDS: '10', JELOU_EVENTS_TOKEN: TOKEN, JELOU_EVENTS_RATE_LIMIT_PER_MINUTE: '30' })
  const sent = await post(app, '/v1/messages/text', body())
  const events = Array.from({ length: 20 }, () => ({ messageId: randomUUID(), event: 'delivered_user' }))
  t.equal((await post(app, '/v1/events/jelou', events, { authorization: `Bearer ${TOKEN}` })).status, 200)
  t.equal((await app.inject({ url: sent.body.statusUrl as string })).statusCode, 200, 'our message is still there')
  let limited
  for (let i = 0; i < 40 && limited === undefined; i++) {
    const res = await post(app, '/v1/events/jelou', { messageId: randomUUID(), event: 'read' }, { authorization: `Bearer ${TOKEN}` })
    if (res.status === 429) limited = res
  }
  t.match(limited, { status: 429, body: { code: 'RATE_LIMITED' } }, 'a flood is refused')
})

t.test('7 (Redis): an event for an id never sent is a short-lived early key, not a 7-day record', { skip: noRedis }, async (t) => {
  const jelou = await standin(t)
  const prefix = `test:${randomUUID()}:`
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix, JELOU_EVENTS_TOKEN: TOKEN })
  const id = randomUUID()
  t.equal((await post(app, '/v1/events/jelou', { messageId: id, event: 'read' }, { authorization: `Bearer ${TOKEN}` })).status, 200)
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  t.equal(await redis.exists(`${prefix}msg:${id}`), 0, 'no message record')
  const ttl = await redis.pttl(`${prefix}early:${id}`)
  t.ok(ttl > 0 && ttl <= 600000, `kept apart at most 10 minutes (${ttl} ms)`)
})

t.test('8: the smaller ones', async (t) => {
  t.test('RESOLUTION_WINDOW_SECONDS below the send deadline (plus skew) is refused at start-up', async (t) => {
    t.throws(() => loadConfig({ JELOU_TIMEOUT_MS: '10000', RESOLUTION_WINDOW_SECONDS: '5' }), /RESOLUTION_WINDOW_SECONDS must be at least JELOU_TIMEOUT_MS \+ RESOLUTION_CLOCK_SKEW_SECONDS/)
    t.throws(() => loadConfig({ JELOU_TIMEOUT_MS: '10000', RESOLUTION_WINDOW_SECONDS: '30', RESOLUTION_CLOCK_SKEW_SECONDS: '25' }), /RESOLUTION_WINDOW_SECONDS/)
    const live = loadConfig({ JELOU_CLIENT_ID: 'c', JELOU_CLIENT_SECRET: 's', ALLOW_ANONYMOUS: 'true' })
    t.same([live.resolution.skewMs, live.status.windowMs], [30000, 60000], 'the live defaults pass: 60 s >= 10 s + 30 s')
    const sandbox = loadConfig({})
    t.same([sandbox.resolution.skewMs, sandbox.status.windowMs], [1000, 11000], 'the built-in sandbox shares our clock: 1 s of skew, an 11 s window')
    t.equal(loadConfig({ JELOU_TIMEOUT_MS: '2500', RESOLUTION_CLOCK_SKEW_SECONDS: '3' }).status.windowMs, 6000, 'in sandbox mode the window follows the deadline and the skew')
  })
  t.test('more than 500 notifications in the window: the scan still completes and decides', async (t) => {
    const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }) })
    const { app } = await buildLiveApp(t, jelou.url, FAST)
    t.equal((await keyed(app, 'k8')).status, 504)
    for (let i = 0; i < 600; i++) jelou.foreign({ id: randomUUID(), destination: OTHER, elementName: TEMPLATE, createdAt: new Date(Date.now() - 200).toISOString() })
    await windowPasses()
    t.match(await keyed(app, 'k8'), { status: 202 }, 'provably absent: sent once more')
    t.equal(sendsTo(jelou, OURS), 2)
  })
  t.test('a mark on a key whose hold lapsed writes nothing (the step before Jelou: nothing counted, marked or opened)', async (t) => {
    const clock = { now: 1_000_000 }
    const stores = [memoryIdempotencyStore(10, { now: () => clock.now })]
    if (REDIS_URL !== '') {
      const redis = new Redis(REDIS_URL)
      t.teardown(() => { redis.disconnect() })
      stores.push(Object.assign(redisIdempotencyStore(redis, `test:${randomUUID()}:`), { size: () => 0, dropped: () => 0, replayWindowMs: () => 0 }))
    }
    for (const store of stores) {
      const attempt = { attemptId: 'a1', number: 1, botId: 'b', template: TEMPLATE, kind: 'text', to: OURS, phone: { input: OURS, normalized: OURS, country: 'EC' }, startedAt: clock.now, firstStartedAt: clock.now, requestId: 'r' }
      t.match(await store.claim('k', 'fp', 'h1', 1), { state: 'claimed' })
      clock.now += 5
      await sleep(5)
      const send = { recipient: { to: OURS, max: 10, windowMs: 1000 }, group: 'g', open: { attemptId: 'a1', startedAt: clock.now }, ttlMs: 60000 }
      t.match(await store.begin({ ...send, key: { key: 'k', holder: 'h1', attempt } }), { state: 'lost' }, 'the hold lapsed: do not send')
      t.strictSame(await store.openAttempts('g'), [], 'nothing opened')
      t.match(await store.claim('k', 'fp', 'h2', 1000), { state: 'claimed' }, 'and no fingerprint-less record was left behind (no 422)')
    }
  })
  t.test('a 504 without an Idempotency-Key says nothing can resolve it', async (t) => {
    const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }) })
    const { app } = await buildLiveApp(t, jelou.url, FAST)
    const res = await post(app, '/v1/messages/text', body())
    t.match(res, { status: 504, body: { code: 'UPSTREAM_TIMEOUT', resolution: 'unresolvable', retry: { policy: 'new-key' } } })
    t.notMatch(res.body.detail, /same Idempotency-Key/)
    t.match(res.body.detail, /no Idempotency-Key, so its outcome cannot be resolved/)
  })
})

t.test('REDIS_WAIT_REPLICAS: a claim no replica confirmed sends nothing; an open key taken for resolution stays open', { skip: noRedis }, async (t) => {
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }) })
  const prefix = `test:${randomUUID()}:`
  const plain = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix })
  // This Redis has no replica: WAIT 1 answers 0 after its timeout.
  const waiting = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '50' })
  t.match(await keyed(waiting.app, 'w-new'), { status: 503, body: { code: 'STORE_UNAVAILABLE' } })
  t.equal(jelou.sends.length, 0, 'nothing sent')
  t.equal((await keyed(plain.app, 'w-open')).status, 504)
  t.match(await keyed(waiting.app, 'w-open'), { status: 503, body: { code: 'STORE_UNAVAILABLE' } }, 'the resolver could not make its hold durable')
  await windowPasses()
  t.match(await keyed(plain.app, 'w-open'), { status: 202, body: { resolved: true } }, 'the key stayed open and resolves')
  t.equal(jelou.sends.length, 1)
})
