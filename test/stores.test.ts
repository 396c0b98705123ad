// The memory stores on an injected clock: mixed lifetimes, eviction order, a store full of sends in flight, window ends.
import t from 'tap'
import type { Answer } from '../src/errors.js'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { memoryCounterStore, memoryIdempotencyStore } from '../src/stores/memory.js'
import { redisIdempotencyStore } from '../src/stores/redis.js'
import type { AttemptContext, BeginSend, IdempotencyStore } from '../src/stores/types.js'
import { memoryStatusStore } from '../src/status/memory.js'
import { EARLY_EVENTS_MAX, EARLY_EVENTS_TTL_MS } from '../src/status/types.js'

const LEASE = 25_000
const TTL = 86_400_000
const answer = (id: string): Answer => ({ status: 202, contentType: 'application/json; charset=utf-8', body: { messageId: id } })

function clockedStore (maxKeys: number) {
  const clock = { now: 1_000_000 }
  return { clock, store: memoryIdempotencyStore(maxKeys, { now: () => clock.now }) }
}

t.test('a crashed send\'s lease expires on time even behind an older 24 h answer, so it never evicts that answer', async (t) => {
  const { clock, store } = clockedStore(2)
  t.match(await store.claim('a', 'fa', 'h-a', LEASE), { state: 'claimed' })
  await store.complete('a', 'h-a', 'fa', answer('m-a'), TTL)
  t.match(await store.claim('b', 'fb', 'h-b', LEASE), { state: 'claimed' }, 'b is claimed and its sender crashes')
  clock.now += LEASE + 1
  t.match(await store.claim('c', 'fc', 'h-c', LEASE), { state: 'claimed' })
  t.match(await store.claim('a', 'fa', 'h-a', LEASE), { state: 'done', answer: answer('m-a') }, 'the expired lease made room, not the live answer')
  t.equal(store.size(), 2)
})

t.test('a kept answer replays until its TTL, then the key is free', async (t) => {
  const { clock, store } = clockedStore(10)
  await store.claim('k', 'f', 'h-k', LEASE)
  await store.complete('k', 'h-k', 'f', answer('m-1'), TTL)
  clock.now += TTL - 1
  t.match(await store.claim('k', 'f', 'h-k', LEASE), { state: 'done', fingerprint: 'f', answer: answer('m-1') })
  clock.now += 1
  t.match(await store.claim('k', 'f', 'h-k', LEASE), { state: 'claimed' })
})

t.test('full: the oldest finished key goes first, never one in flight', async (t) => {
  const { store } = clockedStore(3)
  await store.claim('in-flight', 'fx', 'h-in-flight', LEASE)
  for (const key of ['old', 'newer']) {
    await store.claim(key, key, `h-${key}`, LEASE)
    await store.complete(key, `h-${key}`, key, answer(key), TTL)
  }
  t.match(await store.claim('new', 'fn', 'h-new', LEASE), { state: 'claimed' })
  t.match(await store.claim('in-flight', 'fx', 'h-in-flight', LEASE), { state: 'in_flight', fingerprint: 'fx' })
  t.match(await store.claim('newer', 'newer', 'h-newer', LEASE), { state: 'done' })
  t.equal(store.size(), 3)
  t.match(await store.claim('new', 'fn', 'h-new', LEASE), { state: 'in_flight' })
  t.match(await store.claim('old', 'old', 'h-old', LEASE), { state: 'claimed' }, 'the oldest answer was the one dropped (this claim dropped "newer")')
})

t.test('full of sends in flight: a new key is refused with 503 OVERLOADED until a lease ends', async (t) => {
  const { clock, store } = clockedStore(2)
  await store.claim('x', 'fx', 'h-x', LEASE)
  await store.claim('y', 'fy', 'h-y', LEASE)
  await t.rejects(store.claim('z', 'fz', 'h-z', LEASE), { code: 'OVERLOADED', statusCode: 503, retryAfterSeconds: 1 })
  t.match(await store.claim('x', 'fx', 'h-x', LEASE), { state: 'in_flight' }, 'the leases held')
  await store.release('x', 'h-x')
  t.match(await store.claim('z', 'fz', 'h-z', LEASE), { state: 'claimed' }, 'a released lease makes room')
  await t.rejects(store.claim('w', 'fw', 'h-w', LEASE), { code: 'OVERLOADED' })
  clock.now += LEASE
  t.match(await store.claim('w', 'fw', 'h-w', LEASE), { state: 'claimed' }, 'expired leases make room')
})

t.test('a recipient window counts until its end and not a millisecond after', async (t) => {
  const clock = { now: 5_000 }
  const counter = memoryCounterStore(() => clock.now)
  t.strictSame(await counter.hit('n', 300), { count: 1, resetMs: 300 })
  clock.now += 299
  t.strictSame(await counter.hit('n', 300), { count: 2, resetMs: 1 })
  clock.now += 1
  t.strictSame(await counter.hit('n', 300), { count: 1, resetMs: 300 }, 'a new window')
})

t.test('holds: renewed by their holder only, and every write fenced by it (memory; Redis with REDIS_URL)', async (t) => {
  const clock = { now: 1_000_000 }
  const stores: Array<[string, IdempotencyStore]> = [['memory', memoryIdempotencyStore(10, { now: () => clock.now })]]
  if ((process.env.REDIS_URL ?? '') !== '') {
    const redis = new Redis(process.env.REDIS_URL as string)
    t.teardown(() => { redis.disconnect() })
    stores.push(['redis', redisIdempotencyStore(redis, `test:${randomUUID()}:`, { now: () => clock.now })])
  }
  const attempt = (attemptId: string): AttemptContext => ({ attemptId, number: 1, botId: 'b', template: 't', kind: 'text', to: '1', phone: { input: '1', normalized: '1', country: null }, startedAt: clock.now, firstStartedAt: clock.now, requestId: 'r' })
  const recipient = { to: '1', max: 100, windowMs: 60_000 }
  /** The step before Jelou on the held key 'k': counted, marked (fenced on the holder and the earlier attempt), opened. */
  const step = (attemptId: string, holder: string, previous?: string): BeginSend => ({ recipient, group: 'g', open: { attemptId, startedAt: clock.now }, ttlMs: TTL, key: { key: 'k', holder, attempt: attempt(attemptId), previous } })
  for (const [name, store] of stores) {
    t.test(name, async (t) => {
      t.match(await store.claim('k', 'f', 'h1', LEASE), { state: 'claimed' })
      t.equal(await store.renew('k', 'h2', LEASE), false, 'another request cannot renew it')
      clock.now += LEASE - 1
      t.equal(await store.renew('k', 'h1', LEASE), true, 'the holder renews it before it lapses')
      clock.now += LEASE - 1
      t.match(await store.claim('k', 'f', 'h2', LEASE), { state: 'in_flight' }, 'renewed: still held past the first lease')
      t.match(await store.begin(step('a1', 'h2')), { state: 'lost' }, 'a non-holder cannot mark')
      t.match(await store.begin(step('a1', 'h1')), { state: 'started' })
      t.equal(await store.renew('k', 'h1', LEASE), true, 'a marked key is renewed too')
      await store.release('k', 'h2')
      t.match(await store.claim('k', 'f', 'h2', LEASE), { state: 'in_flight' }, 'a non-holder cannot release it')
      t.equal(await store.complete('k', 'h1', 'f', answer('open'), TTL, attempt('a1')), true)
      clock.now += 1
      t.match(await store.claim('k', 'f', 'h2', LEASE), { state: 'unresolved', attempt: { attemptId: 'a1' } }, 'open: the next request takes it')
      t.equal(await store.complete('k', 'h1', 'f', answer('late'), TTL), false, 'the old holder can no longer write')
      t.match(await store.begin(step('a2', 'h2', 'other')), { state: 'lost' }, 'a resend is a compare-and-set on the earlier attempt')
      t.match(await store.begin(step('a2', 'h2', 'a1')), { state: 'started' })
      t.strictSame((await store.openAttempts('g')).map((a) => a.attemptId).sort(), ['a1', 'a2'], 'each mark opened its attempt')
      await store.closeAttempt('g', { attemptId: 'a1', startedAt: clock.now - 1 })
      t.strictSame((await store.openAttempts('g')).map((a) => a.attemptId), ['a2'])
      await store.closeAttempt('g', { attemptId: 'a2', startedAt: clock.now })
      await store.begin({ recipient, group: 'g', open: { attemptId: 'x', startedAt: clock.now }, ttlMs: 1000 })
      await store.begin({ recipient, group: 'g', open: { attemptId: 'y', startedAt: clock.now }, ttlMs: 1000 })
      await store.closeAttempt('g', { attemptId: 'y', startedAt: clock.now })
      t.strictSame((await store.openAttempts('g')).map((a) => a.attemptId), ['x'])
      clock.now += 1000
      t.strictSame(await store.openAttempts('g'), [], 'open attempts are forgotten after their time')
    })
  }
})

t.test('begin, the one step before Jelou: claims, counts, marks and opens; over the limit it frees the key it claimed; a taken key counts nothing (memory; Redis with REDIS_URL)', async (t) => {
  const clock = { now: 1_000_000 }
  const stores: Array<[string, IdempotencyStore]> = [['memory', memoryIdempotencyStore(10, { now: () => clock.now })]]
  if ((process.env.REDIS_URL ?? '') !== '') {
    const redis = new Redis(process.env.REDIS_URL as string)
    t.teardown(() => { redis.disconnect() })
    stores.push(['redis', redisIdempotencyStore(redis, `test:${randomUUID()}:`, { now: () => clock.now })])
  }
  const attempt = (attemptId: string): AttemptContext => ({ attemptId, number: 1, botId: 'b', template: 't', kind: 'text', to: 'n', phone: { input: 'n', normalized: 'n', country: null }, startedAt: clock.now, firstStartedAt: clock.now, requestId: 'r' })
  const step = (attemptId: string, key?: string, holder = `h-${attemptId}`): BeginSend => ({
    recipient: { to: 'n', max: 2, windowMs: 60_000 },
    group: 'g',
    open: { attemptId, startedAt: clock.now },
    ttlMs: TTL,
    key: key === undefined ? undefined : { key, holder, attempt: attempt(attemptId), claim: { fingerprint: 'f', leaseMs: LEASE } }
  })
  const opened = async (store: IdempotencyStore) => (await store.openAttempts('g')).map((a) => a.attemptId).sort()
  for (const [name, store] of stores) {
    t.test(name, async (t) => {
      t.match(await store.begin(step('a1', 'k1')), { state: 'started' }, 'a free key: claimed, counted (1 of 2), marked, opened')
      t.match(await store.claim('k1', 'f', 'h-other', LEASE), { state: 'in_flight', fingerprint: 'f' }, 'held by the step')
      t.strictSame(await opened(store), ['a1'])
      t.equal(await store.complete('k1', 'h-a1', 'f', answer('m1'), TTL), true, 'its holder keeps the answer')
      t.match(await store.begin(step('a2', 'k1')), { state: 'claim', claim: { state: 'done', fingerprint: 'f', answer: answer('m1') } }, 'a kept answer: what claim finds, nothing counted or opened')
      t.match(await store.begin(step('a3')), { state: 'started' }, 'without a key: counted (2 of 2, the replay was not), opened')
      const limited = await store.begin(step('a4', 'k4'))
      t.match(limited, { state: 'limited' }, 'over the limit')
      t.ok(limited.state === 'limited' && limited.resetMs > 0 && limited.resetMs <= 60_000, 'with the time until the window ends')
      t.match(await store.claim('k4', 'f', 'h-later', LEASE), { state: 'claimed' }, 'the key the step claimed is free again')
      t.strictSame(await opened(store), ['a1', 'a3'], 'nothing opened over the limit')
    })
  }
})

t.test('the early-events area of the memory status store is bounded and short-lived', async (t) => {
  const clock = { now: 1_000_000 }
  const store = memoryStatusStore(10, 60_000, () => clock.now)
  for (let i = 0; i < EARLY_EVENTS_MAX + 5; i++) await store.apply(`foreign-${i}`, { steps: { read: clock.now }, source: 'event', at: clock.now })
  await store.apply('ours', { steps: { delivered_user: clock.now }, source: 'event', at: clock.now })
  store.record({ messageId: 'ours', caller: 'c', botId: 'b', template: 't', kind: 'text', to: '1', acceptedAt: clock.now, requestId: 'r' })
  t.match(await store.get('ours'), { steps: { delivered_user: clock.now } }, 'an early event of ours is merged when the send is recorded')
  clock.now += EARLY_EVENTS_TTL_MS
  await store.apply('late', { steps: { read: clock.now }, source: 'event', at: clock.now })
  store.record({ messageId: 'foreign-9999', caller: 'c', botId: 'b', template: 't', kind: 'text', to: '1', acceptedAt: clock.now, requestId: 'r' })
  t.match(await store.get('foreign-9999'), { steps: { read: undefined } }, 'expired early events are gone')
})
