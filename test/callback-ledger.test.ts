// The callback ledger's contract, the same for memory and Redis: one event per type, in order, one delivery chain at a time, no event left unseen.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { memoryLedger, redisLedger, type CallbackLedger } from '../src/callbacks/ledger.js'

const REDIS_URL = process.env.REDIS_URL ?? ''
const variants: Array<[string, () => CallbackLedger]> = [['memory', () => memoryLedger(3, 60000)]]
if (REDIS_URL !== '') {
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  variants.push(['redis', () => redisLedger(redis, `test:${randomUUID()}:`, 60000)])
} else {
  t.comment('SKIPPED the Redis variant: REDIS_URL is not set (npm test sets it when redis-server is installed)')
}

const ev = (type: string) => ({ type, at: 1, data: { type } })

for (const [name, make] of variants) {
  t.test(`${name}: append, next, ack`, async (t) => {
    const ledger = make()
    t.same(await ledger.append('m1', ev('message.accepted')), { seq: 1, start: true }, 'the first event starts a chain')
    t.same(await ledger.append('m1', ev('message.read')), { seq: 2, start: false }, 'the next joins the running chain')
    t.equal(await ledger.append('m1', ev('message.read')), null, 'a type already told is not told again')
    t.equal(await ledger.waiting('m1'), 2)
    t.match(await ledger.next('m1'), { seq: 1, event: { type: 'message.accepted' } })
    t.match(await ledger.next('m1'), { seq: 1 }, 'unacknowledged, the same one again (a retry)')
    await ledger.ack('m1', 2)
    t.equal(await ledger.waiting('m1'), 2, 'out-of-order acks are ignored')
    await ledger.ack('m1', 1)
    t.match(await ledger.next('m1'), { seq: 2, event: { type: 'message.read' } })
    await ledger.ack('m1', 2)
    t.equal(await ledger.next('m1'), null, 'nothing left: the chain ends')
    t.same(await ledger.append('m1', ev('message.replied')), { seq: 3, start: true }, 'and the next event starts a new one')
    await ledger.abandon('m1')
    t.same(await ledger.append('m1', ev('message.failed')), { seq: 4, start: true }, 'an abandoned chain is started again by the next event')
    t.match(await ledger.next('m1'), { seq: 3 }, 'from the first undelivered one')
    t.equal(await ledger.waiting('other'), 0)
    await t.rejects(ledger.next('other'), { name: 'LedgerGone' }, 'a chain not stored (expired): said, never taken for an empty one')
  })
}

t.test('memory: bounded, the oldest chain goes first, and a chain expires', async (t) => {
  let now = 0
  const ledger = memoryLedger(2, 1000, () => now)
  await ledger.append('a', ev('x'))
  await ledger.append('b', ev('x'))
  await ledger.append('c', ev('x'))
  t.equal(await ledger.waiting('a'), 0, 'dropped for room')
  t.equal(await ledger.waiting('c'), 1)
  now = 1001
  t.equal(await ledger.waiting('c'), 0, 'expired')
  await ledger.ack('c', 1)
  await ledger.abandon('c')
})
