// Adversarial review (review19): attempts to break the three resolution promises of docs/message-status.md.
// Each subtest asserts a promise against one attack. Those that first failed (the review's
// counterexamples) now hold after the fixes and are kept as regressions.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { buildLiveApp, freePort, post, redisServerSkip, startRedis } from './helper.js'
import { loadConfig } from '../src/config.js'
import { memoryStatusStore } from '../src/status/memory.js'
import { memoryIdempotencyStore } from '../src/stores/memory.js'
import { createResolver } from '../src/status/resolution.js'
import { attemptGroup, type AttemptContext, type IdempotencyStore, type OpenAttempt } from '../src/stores/types.js'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'

const REDIS_URL = process.env.REDIS_URL ?? ''
/** An attempt opened as a send without a key opens it (its step before Jelou). */
const openAttempt = async (store: IdempotencyStore, group: string, open: OpenAttempt, ttlMs: number) => await store.begin({ recipient: { to: 'any', max: 1000, windowMs: 1000 }, group, open, ttlMs })
const noRedis = REDIS_URL === '' ? 'REDIS_URL is not set' : false

/**
 * Tests that make Redis refuse writes (maxmemory 1) would break every other test file using the
 * run's shared Redis at that moment: each starts a redis-server of its own.
 */
async function ownRedis (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(() => { server.kill('SIGKILL') })
  return `redis://127.0.0.1:${port}`
}
import { FAST, sendsTo, standin, type Standin, type StandinMessage } from './jelou-standin.js'

const TEMPLATE = 'order_update'
const body = (to = '+593 98 765 4321') => ({ to, template: TEMPLATE, params: ['Maria', 'ORD-1'] })
const OURS = '593987654321'
const OTHER = '593987650000'

const keyed = (app: FastifyInstance, key: string, to?: string) => post(app, '/v1/messages/text', body(to), { 'idempotency-key': key })
const windowPasses = () => sleep(2100)
const other = (id: string | undefined, at: string): StandinMessage => ({ id, destination: OTHER, elementName: TEMPLATE, campaignId: null, createdAt: at, sentStatus: 'CREATED', from: 'foreign' })

t.test('holds: another send\'s message whose status record was evicted (MESSAGE_MAX_RECORDS) is not claimed: ambiguous', async (t) => {
  // Key A's first attempt never reaches Jelou's list (hang, nothing created). A send to the same
  // customer and template (no key, or another key) is answered 202 with id B: its status record
  // is written and its open attempt closed. Ten more sends to other customers push B's record out.
  const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }) })
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, MESSAGE_MAX_RECORDS: '10' })
  t.match(await keyed(app, 'A'), { status: 504, body: { resolution: 'pending' } })
  const b = await post(app, '/v1/messages/text', body())
  t.equal(b.status, 202)
  await sleep(50)
  for (let i = 0; i < 10; i++) t.equal((await post(app, '/v1/messages/text', body('+593 98 765 00' + String(10 + i)))).status, 202)
  await windowPasses()
  const retry = await keyed(app, 'A')
  t.equal(sendsTo(jelou, OURS), 2, 'Jelou: A\'s lost attempt and B\'s send')
  t.not(retry.body.messageId, b.body.messageId, 'A must never be answered with B\'s id')
  t.match(retry, { status: 504, body: { resolution: 'ambiguous' } }, 'B\'s message could be A\'s: ambiguous')
})

/** Jelou lists by last change: OURS changes (delivered) after page 1 was read and moves to the top. */
function moveOursToTopOnPage (jelou: Standin, page: number) {
  let calls = 0
  jelou.behaviour.failing = () => {
    calls++
    if (calls === page) {
      const i = jelou.messages.findIndex((m) => m.from === 'service')
      const [ours] = jelou.messages.splice(i, 1)
      jelou.messages.unshift(ours as StandinMessage)
    }
    return false
  }
}

t.test('holds: items shift between pages (list ordered by last change), pagination gives pages: page 1 read again differs, pending, no second send', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }), pageSize: 2, total: false, pages: true })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'shift-pages')).status, 504)
  const at = new Date(Date.now() - 100).toISOString()
  jelou.messages.unshift(other(randomUUID(), at), other(randomUUID(), at), other(randomUUID(), at))
  await windowPasses()
  moveOursToTopOnPage(jelou, 2)
  const retry = await keyed(app, 'shift-pages')
  t.equal(sendsTo(jelou, OURS), 1, 'no second send: the first message exists')
  t.not(retry.status, 202, `answered ${retry.status} ${String(retry.body.messageId)} while the first message ${String(jelou.messages.find((m) => m.from === 'service')?.id)} exists`)
})

t.test('holds: items shift between pages, no pagination at all (read until an empty page): pending, no second send', async (t) => {
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), pageSize: 2, total: false, pages: false })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'shift-none')).status, 504)
  const at = new Date(Date.now() - 100).toISOString()
  jelou.messages.unshift(other(randomUUID(), at), other(randomUUID(), at), other(randomUUID(), at))
  await windowPasses()
  moveOursToTopOnPage(jelou, 2)
  await keyed(app, 'shift-none')
  t.equal(sendsTo(jelou, OURS), 1, 'no second send: the first message exists')
})

t.test('holds: with pagination.total, an item without an id seen twice (items shift) does not complete the scan: pending, no second send', async (t) => {
  // Page size 2, total 3: [Y, X(no id), OURS]. After page 1 (Y, X), OURS moves to the top: page 2 is [X] again.
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), pageSize: 2, total: true })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'shift-anon')).status, 504)
  const at = new Date(Date.now() - 100).toISOString()
  jelou.messages.unshift(other(randomUUID(), at), other(undefined, at))
  await windowPasses()
  moveOursToTopOnPage(jelou, 2)
  await keyed(app, 'shift-anon')
  t.equal(sendsTo(jelou, OURS), 1, 'no second send: the first message exists')
})

t.test('holds: with pagination.total and ids only, items shifting between pages leave the scan incomplete (pending, no resend)', async (t) => {
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), pageSize: 2, total: true })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'shift-total')).status, 504)
  const at = new Date(Date.now() - 100).toISOString()
  jelou.messages.unshift(other(randomUUID(), at), other(randomUUID(), at), other(randomUUID(), at))
  await windowPasses()
  moveOursToTopOnPage(jelou, 2)
  t.match(await keyed(app, 'shift-total'), { status: 504, body: { resolution: 'pending' } })
  t.equal(sendsTo(jelou, OURS), 1)
})

t.test('holds: a retry after the key\'s TTL (the open record is kept twice that) still resolves the first attempt (found), not a fresh send', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }) })
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, IDEMPOTENCY_TTL_SECONDS: '3' })
  t.match(await keyed(app, 'ttl'), { status: 504, body: { resolution: 'pending' } })
  await sleep(3500)
  const retry = await keyed(app, 'ttl')
  t.equal(sendsTo(jelou, OURS), 1, 'no second send: the first message exists')
  t.match(retry, { status: 202, body: { resolved: true, messageId: jelou.messages[0]?.id } }, 'past the TTL the open key is still there: its message found')
})

t.test('holds: an unkeyed send answered while the resolver reads the status records is not claimed (open attempts are read first)', async (t) => {
  // Real memory stores; the status read takes one I/O turn (as a Redis round trip does). In that
  // turn, send U (same bot, template, number, started inside A's window) gets Jelou's answer: its
  // status record is written and its open attempt closed, exactly as src/send.ts does. A's own
  // first attempt never reached Jelou. The resolver saw U's id unowned, then no open attempt: "ours".
  const base = 1_700_000_000_000
  const clock = { now: base }
  const now = () => clock.now
  const status = memoryStatusStore(1000, 3_600_000, now)
  const idem = memoryIdempotencyStore(1000, { now })
  const group = attemptGroup('bot-123', TEMPLATE, OURS)
  const a: AttemptContext = { attemptId: 'attempt-A', number: 1, botId: 'bot-123', template: TEMPLATE, kind: 'text', to: OURS, phone: { input: OURS, normalized: OURS, country: 'EC' }, startedAt: base, firstStartedAt: base, requestId: 'req-A' }
  await openAttempt(idem, group, { attemptId: a.attemptId, startedAt: a.startedAt }, 3_600_000)
  const u = { attemptId: 'attempt-U', startedAt: base + 100 }
  await openAttempt(idem, group, u, 3_600_000)
  const idU = randomUUID()
  let answered = false
  const racingStatus = {
    ...status,
    async get (id: string) {
      const seen = await status.get(id)
      await new Promise((resolve) => setImmediate(resolve))
      if (!answered) {
        answered = true
        // U's 202: record, flush, close (src/send.ts after a 2xx).
        status.record({ messageId: idU, attemptId: u.attemptId, caller: 'anonymous', botId: 'bot-123', template: TEMPLATE, kind: 'text', to: OURS, acceptedAt: u.startedAt, requestId: 'req-U' })
        await status.flush()
        await idem.closeAttempt(group, u)
      }
      return seen
    }
  }
  const notifications = {
    async list () {
      return { items: [{ id: idU, destination: OURS, elementName: TEMPLATE, createdAt: new Date(u.startedAt + 50).toISOString() }], anonymous: [], count: 1, total: 1, pages: null }
    }
  }
  clock.now = base + 10_000
  const resolver = createResolver({ notifications, status: racingStatus, attempts: idem, windowMs: 2000, skewMs: 1000, timeoutMs: 30000, now })
  const log = { warn () {}, info () {}, error () {}, debug () {} } as unknown as FastifyBaseLogger
  const outcome = await resolver.resolve(a, log)
  t.ok(answered, 'U was answered during the resolution')
  t.equal((await status.get(idU))?.base?.attemptId, 'attempt-U', 'the service recorded U\'s id as U\'s')
  t.notMatch(outcome, { outcome: 'found', messageId: idU }, `A must not be answered with U's id (got ${JSON.stringify(outcome)})`)
})

t.test('holds: Jelou behind by exactly RESOLUTION_CLOCK_SKEW_SECONDS and stamping whole seconds: the window allows 1 s of stamp granularity, found, no resend', async (t) => {
  // Skew within the configured bound (exactly 1 s); Jelou prints createdAt to the second, as many APIs do.
  const jelou = await standin(t, {
    send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }),
    clock: () => Date.now() - 1000,
    createdAt: () => Math.floor((Date.now() - 1000) / 1000) * 1000
  })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  // Start just after a second boundary so the truncation is close to a full second.
  while (Date.now() % 1000 > 50) await sleep(5)
  t.equal((await keyed(app, 'skew')).status, 504)
  await windowPasses()
  const retry = await keyed(app, 'skew')
  t.equal(sendsTo(jelou, OURS), 1, `no second send: the first message exists (stamped ${String(jelou.messages[0]?.createdAt)}); caller got ${retry.status}`)
})

t.test('holds: a Jelou clock behind by exactly the configured skew (millisecond stamps) is still found', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }), clock: () => Date.now() - 1000 })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await keyed(app, 'skew-ms')).status, 504)
  await windowPasses()
  t.match(await keyed(app, 'skew-ms'), { status: 202, body: { resolved: true, messageId: jelou.messages[0]?.id } })
  t.equal(sendsTo(jelou, OURS), 1)
})

t.test('holds (Redis): a status record the store failed to write (Redis refusing writes: OOM) leaves the open attempt; another key does not claim that message', { skip: redisServerSkip }, async (t) => {
  const REDIS_URL = await ownRedis(t)
  // src/send.ts closes an answered send's open attempt after status.flush(); the Redis status store's
  // flush resolves even when the write failed (writeFailed only logs), and ZREM is allowed under OOM.
  const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }), sendDelayMs: 400 })
  const prefix = `test:${randomUUID()}:`
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, JELOU_TIMEOUT_MS: '1000', REDIS_URL, REDIS_KEY_PREFIX: prefix })
  const redis = new Redis(REDIS_URL)
  t.teardown(async () => { await redis.config('SET', 'maxmemory', '0'); redis.disconnect() })
  t.match(await keyed(app, 'A-oom'), { status: 504, body: { resolution: 'pending' } })
  const pending = post(app, '/v1/messages/text', body())
  for (let i = 0; i < 200 && jelou.sends.length < 2; i++) await sleep(5)
  await redis.config('SET', 'maxmemory', '1') // Redis full (noeviction) while Jelou answers B
  const b = await pending
  t.equal(b.status, 202, 'B was sent and answered')
  await sleep(300)
  await redis.config('SET', 'maxmemory', '0')
  t.equal(await redis.exists(`${prefix}msg:${String(b.body.messageId)}`), 0, 'B\'s status record was not written')
  await windowPasses()
  const retry = await keyed(app, 'A-oom')
  t.equal(sendsTo(jelou, OURS), 2, 'Jelou: A\'s lost attempt and B')
  t.not(retry.body.messageId, b.body.messageId, `A must never be answered with B's id (answered ${retry.status})`)
})

t.test('holds (Redis): a retry after the key\'s TTL is the final "unresolvable", not a fresh send', { skip: noRedis }, async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }) })
  const { app } = await buildLiveApp(t, jelou.url, { ...FAST, IDEMPOTENCY_TTL_SECONDS: '3', REDIS_URL })
  t.match(await keyed(app, 'ttl-r'), { status: 504, body: { resolution: 'pending' } })
  await sleep(3500)
  const retry = await keyed(app, 'ttl-r')
  t.equal(sendsTo(jelou, OURS), 1, `no second send: the first message exists (caller got ${retry.status})`)
})

t.test('holds (Redis): two replicas, the same key retried on both at once: one resolves, the other gets 409, one message', { skip: noRedis }, async (t) => {
  const jelou = await standin(t, { send: () => ({ create: true, answer: 'hang' }), pageDelayMs: 300 })
  const prefix = `test:${randomUUID()}:`
  const one = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix })
  const two = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix })
  t.equal((await keyed(one.app, 'two-rep')).status, 504)
  await windowPasses()
  const [x, y] = await Promise.all([keyed(one.app, 'two-rep'), keyed(two.app, 'two-rep')])
  t.same([x.status, y.status].sort(), [202, 409])
  t.equal(sendsTo(jelou, OURS), 1)
})

t.test('holds: RESOLUTION_CLOCK_SKEW_SECONDS=0 is refused at start-up (a message Jelou stamps after our deadline would fall outside the window); with 1 s it is found', async (t) => {
  // The code's own comment: "a request Jelou received before our deadline may still be processed, and stamped, after it";
  // only the skew covers that, and config lets it be 0 with RESOLUTION_WINDOW_SECONDS = JELOU_TIMEOUT_MS.
  const jelou = await standin(t, { send: (_b, i) => ({ create: true, answer: i === 0 ? 'hang' : 'ok' }), createdAt: () => Date.now() + 1200 })
  t.throws(() => loadConfig({ RESOLUTION_CLOCK_SKEW_SECONDS: '0' }), /RESOLUTION_CLOCK_SKEW_SECONDS must be an integer from 1/, 'start-up refuses a skew of 0')
  const { app } = await buildLiveApp(t, jelou.url, { JELOU_TIMEOUT_MS: '1000', RESOLUTION_CLOCK_SKEW_SECONDS: '1', RESOLUTION_WINDOW_SECONDS: '2', MESSAGE_STATUS_TIMEOUT_MS: '5000' })
  t.equal((await keyed(app, 'skew0')).status, 504)
  await sleep(2100)
  const retry = await keyed(app, 'skew0')
  t.equal(sendsTo(jelou, OURS), 1, `no second send: the first message exists (created ${String(jelou.messages[0]?.createdAt)}); caller got ${retry.status}`)
})

t.test('holds (Redis): the replica holding a key dies mid-resend (its hold lapses); the next replica resolves the resend\'s attempt, not the first: found, no third send', { skip: noRedis }, async (t) => {
  // Send 0 hangs without creating; the resend (send 1) creates then hangs while its replica "dies" (app closed).
  const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i <= 1 ? 'hang' : 'ok' }) })
  const prefix = `test:${randomUUID()}:`
  const env = { ...FAST, JELOU_TIMEOUT_MS: '1000', REDIS_URL, REDIS_KEY_PREFIX: prefix }
  const dying = await buildLiveApp(t, jelou.url, env)
  const survivor = await buildLiveApp(t, jelou.url, env)
  t.equal((await keyed(dying.app, 'crash')).status, 504)
  await windowPasses()
  const resend = keyed(dying.app, 'crash').catch(() => undefined)
  for (let i = 0; i < 400 && jelou.sends.length < 2; i++) await sleep(5)
  t.equal(jelou.sends.length, 2, 'the resend reached Jelou')
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  // Crash: the answer is never stored and the hold is never renewed again.
  const [key] = await redis.keys(`${prefix}idem*`)
  const mid = await redis.hgetall(key as string)
  await resend
  await redis.del(key as string)
  await redis.hset(key as string, { ...mid, lease: '0' })
  await redis.pexpire(key as string, 60000)
  let last = await keyed(survivor.app, 'crash')
  if (last.status === 504) {
    t.match(last, { body: { resolution: 'pending' } }, 'the resend\'s window has not passed: pending')
    await windowPasses()
    last = await keyed(survivor.app, 'crash')
  }
  t.match(last, { status: 202, body: { resolved: true, messageId: jelou.messages[0]?.id } })
  t.equal(sendsTo(jelou, OURS), 2, 'first attempt and one resend, no third')
})

t.test('holds: IDEMPOTENCY_TTL_SECONDS over half MESSAGE_TTL_SECONDS is refused; and once another send\'s status record expires, a key still resolving does not claim its message', async (t) => {
  t.throws(() => loadConfig({ IDEMPOTENCY_TTL_SECONDS: '2592000', MESSAGE_TTL_SECONDS: '60' }), /MESSAGE_TTL_SECONDS must be at least twice IDEMPOTENCY_TTL_SECONDS/, 'start-up refuses a key TTL of 30 days over a status TTL of 60 s')
  // And should the stores disagree anyway, the resolver itself knows the status records may be gone.
  const base = 1_700_000_000_000
  const clock = { now: base }
  const now = () => clock.now
  const status = memoryStatusStore(1000, 60_000, now)
  const idem = memoryIdempotencyStore(1000, { now })
  const group = attemptGroup('bot-123', TEMPLATE, OURS)
  // A: first attempt lost (never reached Jelou), its key open for up to 30 days.
  const a: AttemptContext = { attemptId: 'attempt-A', number: 1, botId: 'bot-123', template: TEMPLATE, kind: 'text', to: OURS, phone: { input: OURS, normalized: OURS, country: 'EC' }, startedAt: base, firstStartedAt: base, requestId: 'req-A' }
  await openAttempt(idem, group, { attemptId: a.attemptId, startedAt: a.startedAt }, 2 * 2_592_000_000)
  // B: answered 202 inside A's window: recorded, then its open attempt closed (src/send.ts).
  const idB = randomUUID()
  const b = { attemptId: 'attempt-B', startedAt: base + 100 }
  await openAttempt(idem, group, b, 2 * 2_592_000_000)
  status.record({ messageId: idB, attemptId: b.attemptId, caller: 'anonymous', botId: 'bot-123', template: TEMPLATE, kind: 'text', to: OURS, acceptedAt: b.startedAt, requestId: 'req-B' })
  await idem.closeAttempt(group, b)
  const notifications = {
    async list () {
      return { items: [{ id: idB, destination: OURS, elementName: TEMPLATE, createdAt: new Date(b.startedAt + 50).toISOString() }], anonymous: [], count: 1, total: 1, pages: null }
    }
  }
  const resolver = createResolver({ notifications, status, attempts: idem, windowMs: 60_000, skewMs: 30_000, timeoutMs: 30000, now })
  const log = { warn () {}, info () {}, error () {}, debug () {} } as unknown as FastifyBaseLogger
  clock.now = base + 30_000
  t.match(await resolver.resolve(a, log), { outcome: 'pending' }, 'within the status TTL: B\'s id is B\'s, A is not yet decidable')
  clock.now = base + 61_000 // A's retry a minute later (well inside its 30-day key)
  const outcome = await resolver.resolve(a, log)
  t.notMatch(outcome, { outcome: 'found', messageId: idB }, `A must not be answered with B's id (got ${JSON.stringify(outcome)})`)
})

t.test('holds: two keys with different bodies to the same customer and template, only B\'s attempt created a message: neither claims it, nobody resends', async (t) => {
  const jelou = await standin(t, { send: (_b, i) => ({ create: i === 1, answer: 'hang' }) })
  const { app } = await buildLiveApp(t, jelou.url, FAST)
  t.equal((await post(app, '/v1/messages/text', { ...body(), params: ['Ana', 'X'] }, { 'idempotency-key': 'dA' })).status, 504)
  t.equal((await post(app, '/v1/messages/text', { ...body(), params: ['Luis', 'Y'] }, { 'idempotency-key': 'dB' })).status, 504)
  await windowPasses()
  t.match(await post(app, '/v1/messages/text', { ...body(), params: ['Ana', 'X'] }, { 'idempotency-key': 'dA' }), { status: 504, body: { resolution: 'ambiguous' } })
  t.match(await post(app, '/v1/messages/text', { ...body(), params: ['Luis', 'Y'] }, { 'idempotency-key': 'dB' }), { status: 504, body: { resolution: 'ambiguous' } })
  t.equal(sendsTo(jelou, OURS), 2)
})

t.test('holds (Redis): renewals fail (Redis refusing writes) until the resolver\'s hold lapses; a second replica takes the key mid-resolution: the fence lets one resend only', { skip: redisServerSkip }, async (t) => {
  const REDIS_URL = await ownRedis(t)
  const jelou = await standin(t, { send: (_b, i) => ({ create: i > 0, answer: i === 0 ? 'hang' : 'ok' }), pageDelayMs: 2500 })
  const prefix = `test:${randomUUID()}:`
  const one = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix })
  const two = await buildLiveApp(t, jelou.url, { ...FAST, REDIS_URL, REDIS_KEY_PREFIX: prefix })
  const redis = new Redis(REDIS_URL)
  t.teardown(async () => { await redis.config('SET', 'maxmemory', '0'); redis.disconnect() })
  t.match(await keyed(one.app, 'renew'), { status: 504, body: { resolution: 'pending' } })
  for (let i = 0; i < 120; i++) jelou.foreign({ id: randomUUID(), destination: OTHER, elementName: TEMPLATE, createdAt: new Date(Date.now() - 200).toISOString() })
  await windowPasses()
  const first = keyed(one.app, 'renew')
  await sleep(100)
  await redis.config('SET', 'maxmemory', '1') // every renewal of replica one fails
  await sleep(5600) // past JELOU_TIMEOUT_MS + 5 s since the claim
  await redis.config('SET', 'maxmemory', '0')
  const second = await keyed(two.app, 'renew')
  const firstAnswer = await first
  t.same([firstAnswer.status, second.status].sort(), [202, 409], `one resends, the other is fenced (got ${firstAnswer.status} and ${second.status})`)
  t.equal(sendsTo(jelou, OURS), 2, 'the lost first attempt and exactly one resend')
})
