// The memory stores on an injected clock: mixed lifetimes, eviction order, a store full of sends in flight, window ends.
import t from 'tap'
import type { Answer } from '../src/errors.js'
import { memoryCounterStore, memoryIdempotencyStore } from '../src/stores/memory.js'

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
