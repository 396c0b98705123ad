// The job queue's contract, run against the in-process queue (on a hand-moved clock) and, with REDIS_URL, BullMQ on a real Redis.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { bullQueue } from '../src/queue/bullmq.js'
import { memoryQueue, type QueueClock } from '../src/queue/memory.js'
import { QueueError, retryDelays, type JobQueue, type QueueSettings } from '../src/queue/queue.js'
import { assertRedisReachable, buildTestApp, freePort, redisServerSkip, startRedis } from './helper.js'

/** A clock that moves only when told: to the next timer, or by a number of ms. */
function manualClock () {
  let now = 1_700_000_000_000
  let timers: Array<{ at: number, fn: () => void, id: number }> = []
  let ids = 0
  const clock: QueueClock & { advance: (ms: number) => void, next: () => boolean } = {
    now: () => now,
    setTimeout: (fn, ms) => { timers.push({ at: now + ms, fn, id: ++ids }); return ids },
    clearTimeout: (id) => { timers = timers.filter((x) => x.id !== id) },
    advance (ms) {
      const until = now + ms
      for (;;) {
        const due = timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0]
        if (due === undefined) break
        timers = timers.filter((x) => x !== due)
        now = due.at
        due.fn()
      }
      now = until
    },
    /** Move to the earliest timer and fire it; false when none is set. */
    next () {
      const first = [...timers].sort((a, b) => a.at - b.at || a.id - b.id)[0]
      if (first === undefined) return false
      clock.advance(first.at - now)
      return true
    }
  }
  return clock
}

interface Variant {
  name: string
  /** A queue with these settings; BullMQ ones share `space` (a key prefix) when given, so two are replicas. */
  make: (t: Test, settings?: Partial<QueueSettings>, space?: string) => JobQueue
  /** Let time pass: the in-process queue's clock jumps to its next timer; BullMQ sleeps a little. */
  tick: () => Promise<void>
  /** Let this many ms pass. */
  pass: (ms: number) => Promise<void>
  now: () => number
  space: () => string
}

const SETTINGS: QueueSettings = { maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 100, maxDelayMs: 400, totalMs: 700 }, doneTtlMs: 3600000 }

function variants (): Variant[] {
  const clock = manualClock()
  const list: Variant[] = [{
    name: 'memory',
    make: (t, settings) => {
      const queue = memoryQueue({ ...SETTINGS, ...settings }, clock)
      t.teardown(() => queue.close())
      return queue
    },
    tick: async () => { if (!clock.next()) await sleep(1) },
    pass: async (ms) => { clock.advance(ms) },
    now: clock.now,
    space: () => ''
  }]
  const url = process.env.REDIS_URL
  if (url === undefined) {
    t.comment('SKIPPED the BullMQ variant: REDIS_URL is not set (npm test sets it when redis-server is installed; see docs/tests.md)')
    return list
  }
  list.push({
    name: 'bullmq',
    make: (t, settings, space) => {
      const queue = bullQueue({ ...SETTINGS, ...settings, url, keyPrefix: space ?? newSpace() })
      t.teardown(() => queue.close())
      return queue
    },
    tick: async () => { await sleep(20) },
    pass: async (ms) => { await sleep(ms) },
    now: Date.now,
    space: newSpace
  })
  return list
}

/** The key prefixes the BullMQ variant used, removed at the end. */
const spaces: string[] = []
function newSpace (): string {
  const space = `test:${randomUUID()}:`
  spaces.push(space)
  return space
}

/** Let time pass until `done()` holds; fails after a bounded number of steps (never on a duration). */
async function until (variant: Variant, done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await done()) return
    await variant.tick()
  }
  throw new Error(`never happened: ${what}`)
}

t.before(async () => {
  if (process.env.REDIS_URL !== undefined) await assertRedisReachable(process.env.REDIS_URL)
})

t.after(async () => {
  // Only this file's prefixes: other files run at the same time on the same Redis.
  if (process.env.REDIS_URL === undefined || spaces.length === 0) return
  const redis = new Redis(process.env.REDIS_URL)
  for (const space of spaces) {
    const keys = await redis.keys(`${space}bull:*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  redis.disconnect()
})

t.test('retryDelays: doubling, capped, within the total', async (t) => {
  t.strictSame(retryDelays({ firstDelayMs: 100, maxDelayMs: 400, totalMs: 700 }), [100, 200, 400])
  t.strictSame(retryDelays({ firstDelayMs: 1000, maxDelayMs: 3000, totalMs: 10000 }), [1000, 2000, 3000, 3000])
  t.strictSame(retryDelays({ firstDelayMs: 1000, maxDelayMs: 3000, totalMs: 500 }), [])
  // 24 h: 1 s doubling is 12 retries in the first 68 minutes, then 22 hourly ones.
  t.equal(retryDelays({ firstDelayMs: 1000, maxDelayMs: 3600000, totalMs: 86400000 }).length, 34)
})

for (const variant of variants()) {
  t.test(`${variant.name}: the contract`, async (t) => {
    t.test('a job runs once; its id added again, waiting or done, adds nothing', async (t) => {
      const queue = variant.make(t)
      const ran: string[] = []
      queue.handle<{ n: number }>('note', async (job) => { ran.push(`${job.id}:${job.payload.n}:${job.attempt}`) })
      t.strictSame(await queue.add('note', 'm1.accepted', { n: 1 }, { delayMs: 200 }), { id: 'm1.accepted', added: true })
      t.strictSame(await queue.add('note', 'm1.accepted', { n: 2 }), { id: 'm1.accepted', added: false }, 'waiting: not added')
      await until(variant, () => ran.length === 1, 'the job ran')
      t.strictSame(await queue.add('note', 'm1.accepted', { n: 3 }), { id: 'm1.accepted', added: false }, 'done: not added')
      await queue.add('note', 'after', { n: 4 })
      await until(variant, () => ran.length === 2, 'the next job ran')
      t.strictSame(ran, ['m1.accepted:1:1', 'after:4:1'], 'the first payload, once')
    })

    t.test('a delayed job and a job with runAt run at their time, not before', async (t) => {
      const queue = variant.make(t, { concurrency: 2 })
      const ran = new Map<string, number>()
      queue.handle('later', async (job) => { ran.set(job.id, variant.now()) })
      const start = variant.now()
      await queue.add('later', 'by-delay', {}, { delayMs: 300 })
      await queue.add('later', 'by-time', {}, { runAt: start + 400 })
      await until(variant, () => ran.size === 2, 'both ran')
      t.ok((ran.get('by-delay') as number) >= start + 300, 'delay kept')
      t.ok((ran.get('by-time') as number) >= start + 400, 'runAt kept')
      if (variant.name === 'memory') t.strictSame([...ran.values()], [start + 300, start + 400], 'on the injected clock: exactly at their time')
    })

    t.test('cancel: a job not started yet is removed and never runs; a running or finished one is not', async (t) => {
      const queue = variant.make(t, { concurrency: 1 })
      const ran: string[] = []
      let unblock = () => {}
      queue.handle('cancel', async (job) => {
        ran.push(job.id)
        if (job.id === 'running') await new Promise<void>((resolve) => { unblock = resolve })
      })
      await queue.add('cancel', 'later', {}, { delayMs: 300 })
      t.equal(await queue.cancel('cancel', 'later'), true, 'a delayed job is cancelled')
      t.equal(await queue.cancel('cancel', 'later'), false, 'once')
      await queue.add('cancel', 'running', {})
      await until(variant, () => ran.includes('running'), 'it started')
      t.equal(await queue.cancel('cancel', 'running'), false, 'a running job is not')
      unblock()
      await queue.add('cancel', 'after', {})
      await until(variant, () => ran.includes('after'), 'the next ran')
      t.equal(await queue.cancel('cancel', 'after'), false, 'nor a finished one')
      t.equal(await queue.cancel('cancel', 'unknown'), false, 'nor an unknown one')
      await variant.pass(400)
      await variant.tick()
      t.notOk(ran.includes('later'), 'the cancelled job never ran')
    })

    t.test('a failing handler is retried with growing delays, ends failed, is listed, and retry runs it', async (t) => {
      const queue = variant.make(t)
      const attempts: Array<{ attempt: number, at: number }> = []
      let healthy = false
      queue.handle('flaky', async (job) => {
        attempts.push({ attempt: job.attempt, at: variant.now() })
        if (!healthy) throw new Error(`receiver down (attempt ${job.attempt})`)
      })
      await queue.add('flaky', 'm2.read', { to: 'x' })
      await until(variant, () => attempts.length === 4, 'four attempts')
      t.strictSame(attempts.map((a) => a.attempt), [1, 2, 3, 4], 'one attempt plus one per delay of 100, 200, 400 ms')
      const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i].at)
      t.ok(gaps.every((gap, i) => gap >= [100, 200, 400][i]), `gaps grow: ${gaps.join(', ')}`)
      if (variant.name === 'memory') t.strictSame(gaps, [100, 200, 400], 'on the injected clock: exactly')
      let failed = await queue.failed('flaky')
      await until(variant, async () => (failed = await queue.failed('flaky')).length === 1, 'listed as failed')
      t.match(failed[0], { type: 'flaky', id: 'm2.read', payload: { to: 'x' }, attempts: 4, error: 'receiver down (attempt 4)' })
      t.equal(attempts.length, 4, 'no attempt after the last')
      t.equal((await queue.counts()).get('flaky')?.failed, 1)
      t.equal(await queue.retry('flaky', 'nope'), false, 'no such failed job')
      healthy = true
      t.equal(await queue.retry('flaky', 'm2.read'), true)
      await until(variant, () => attempts.length === 5, 'the retried job ran')
      t.equal(attempts[4].attempt, 1, 'from its first attempt again')
      t.equal(await queue.retry('flaky', 'm2.read'), false, 'no longer failed')
      t.strictSame(await queue.failed('flaky'), [])
    })

    t.test('jobs added in order run in that order (one at a time per type)', async (t) => {
      const queue = variant.make(t, { concurrency: 1 })
      const ran: string[] = []
      queue.handle('ordered', async (job) => { ran.push(job.id) })
      const ids = ['m3.accepted', 'm3.delivered_channel', 'm3.delivered_user', 'm3.read', 'm3.replied']
      for (const id of ids) await queue.add('ordered', id, {})
      await until(variant, () => ran.length === ids.length, 'all ran')
      t.strictSame(ran, ids)
    })

    t.test('a full queue refuses with QUEUE_FULL; other types keep their own room', async (t) => {
      const queue = variant.make(t, { maxJobs: 3 })
      queue.handle('full', async () => {})
      queue.handle('other', async () => {})
      for (const id of ['a', 'b', 'c']) await queue.add('full', id, {}, { delayMs: 3600000 })
      await t.rejects(queue.add('full', 'd', {}), { name: 'QueueError', code: 'QUEUE_FULL', message: /3 waiting full jobs, its limit \(QUEUE_MAX_JOBS\)/ })
      t.strictSame(await queue.add('other', 'a', {}, { delayMs: 3600000 }), { id: 'a', added: true })
      t.match((await queue.counts()).get('full'), { waiting: 3, running: 0, failed: 0 })
      await t.rejects(queue.add('nobody', 'a', {}), { code: 'QUEUE_UNKNOWN_TYPE' })
      await t.rejects(queue.add('full', 'has:colon', {}), { code: 'QUEUE_BAD_ID' })
      t.throws(() => { queue.handle('full', async () => {}) }, /already has a handler/)
      t.throws(() => { queue.handle('Bad Type', async () => {}) }, QueueError)
    })

    t.test('counts: waiting, running and the age of the oldest due job', async (t) => {
      const queue = variant.make(t, { concurrency: 1 })
      let release = (): void => {}
      const gate = new Promise<void>((resolve) => { release = resolve })
      const started: string[] = []
      queue.handle('held', async (job) => { started.push(job.id); await gate })
      await queue.add('held', 'first', {})
      await until(variant, () => started.length === 1, 'first started')
      await queue.add('held', 'second', {})
      await variant.pass(60)
      await queue.add('held', 'third', {})
      await queue.add('held', 'later', {}, { delayMs: 3600000 })
      await variant.pass(60)
      const counts = (await queue.counts()).get('held')
      t.match(counts, { waiting: 3, running: 1 })
      t.ok((counts?.oldestWaitingMs ?? 0) >= 120, `the oldest due job (second) has waited ${counts?.oldestWaitingMs} ms`)
      if (variant.name === 'memory') t.equal(counts?.oldestWaitingMs, 120, 'on the injected clock: exactly')
      release()
      await until(variant, () => started.includes('third'), 'second and third ran')
      t.strictSame(started.slice(0, 3), ['first', 'second', 'third'])
    })

    t.test('close: the running job finishes, no waiting job starts, adding is refused', async (t) => {
      const queue = variant.make(t, { concurrency: 1 })
      let release = (): void => {}
      const gate = new Promise<void>((resolve) => { release = resolve })
      const started: string[] = []
      const finished: string[] = []
      queue.handle('drain', async (job) => { started.push(job.id); await gate; finished.push(job.id) })
      await queue.add('drain', 'first', {})
      await queue.add('drain', 'second', {})
      await until(variant, () => started.length === 1, 'first started')
      const closed = queue.close()
      await t.rejects(queue.add('drain', 'third', {}), { code: 'QUEUE_CLOSED' })
      release()
      await closed
      t.strictSame(finished, ['first'], 'the running job finished')
      t.strictSame(started, ['first'], 'the waiting one never started')
      await queue.close()
    })
  })
}

if (process.env.REDIS_URL !== undefined) {
  const variant = variants()[1]
  t.test('bullmq: two replicas on one Redis run each job once', async (t) => {
    const space = variant.space()
    const ran: string[] = []
    const replicas = [variant.make(t, { concurrency: 4 }, space), variant.make(t, { concurrency: 4 }, space)]
    for (const queue of replicas) queue.handle('shared', async (job) => { ran.push(job.id) })
    const both = await Promise.all(replicas.map(async (queue) => await queue.add('shared', 'same', {})))
    t.equal(both.filter((r) => r.added).length, 1, 'one add stored it, the other was told')
    for (let i = 0; i < 20; i++) await replicas[i % 2].add('shared', `job-${i}`, {})
    await until(variant, () => ran.length >= 21, 'all ran')
    t.equal(ran.length, 21)
    t.equal(new Set(ran).size, 21, 'no job ran twice')
  })

  t.test('bullmq: a delayed job survives a restart', async (t) => {
    const space = variant.space()
    const before = variant.make(t, {}, space)
    const ran: string[] = []
    before.handle('reminder', async (job) => { ran.push(`before:${job.id}`) })
    await before.add('reminder', 'm4.at-nine', { text: 'see you' }, { delayMs: 400 })
    await before.close()
    const after = variant.make(t, {}, space)
    after.handle<{ text: string }>('reminder', async (job) => { ran.push(`after:${job.id}:${job.payload.text}`) })
    await until(variant, () => ran.length === 1, 'the job ran after the restart')
    t.strictSame(ran, ['after:m4.at-nine:see you'])
  })
}

t.test('bullmq: a queue started while Redis is unreachable takes and runs jobs once Redis is up', { skip: redisServerSkip }, async (t) => {
  // A replica that starts during a Redis restart, or whose first connection times out on a busy
  // machine, must not be left with a queue that refuses every job until the process restarts.
  const port = await freePort()
  const queue = bullQueue({ ...SETTINGS, url: `redis://127.0.0.1:${port}`, keyPrefix: `test:${randomUUID()}:` })
  t.teardown(() => queue.close())
  const ran: string[] = []
  queue.handle('late', async (job) => { ran.push(job.id) })
  // Long enough for the first connection attempts to be refused.
  await sleep(1500)
  const redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  t.same(await queue.add('late', 'after-redis-came-up', {}), { id: 'after-redis-came-up', added: true })
  for (let i = 0; i < 400 && ran.length === 0; i++) await sleep(25)
  t.same(ran, ['after-redis-came-up'], 'the worker runs it')
  // Closed while Redis is still up (teardowns run last first, and a worker waits through outages).
  await queue.close()
})

t.test('bullmq: closing while Redis is unreachable does not wait for it (shutdown during a Redis outage)', async (t) => {
  const queue = bullQueue({ ...SETTINGS, url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: `test:${randomUUID()}:` })
  queue.handle('stranded', async () => {})
  await sleep(300)
  const closed = await Promise.race([queue.close().then(() => true), sleep(20_000).then(() => false)])
  t.ok(closed, 'closed (bounded wait: 20 s)')
})

t.test('memory: failed jobs kept and finished ids remembered within their bounds', async (t) => {
  const clock = manualClock()
  const queue = memoryQueue({ ...SETTINGS, maxJobs: 2, doneTtlMs: 1000, retry: { firstDelayMs: 1, maxDelayMs: 1, totalMs: 0 } }, clock)
  t.teardown(() => queue.close())
  let ran = 0
  queue.handle('once', async (job) => { ran++; if (job.id.startsWith('bad')) throw new Error('no') })
  /** Handlers run on promises, not on the clock: a few turns of the event loop, bounded. */
  const soon = async (done: () => boolean | Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 200; i++) if (await done()) return; else await sleep(1)
    throw new Error('never happened')
  }
  for (const [n, id] of ['bad-1', 'bad-2', 'bad-3'].entries()) {
    await queue.add('once', id, {})
    await soon(() => ran === n + 1)
  }
  await soon(async () => (await queue.failed('once')).length === 2)
  t.strictSame((await queue.failed('once')).map((f) => f.id), ['bad-3', 'bad-2'], 'the oldest failed job went first')
  t.strictSame(await queue.add('once', 'bad-1', {}), { id: 'bad-1', added: true }, 'forgotten, so added again')
  await queue.add('once', 'good', {})
  await soon(async () => ran === 5 && (await queue.counts()).get('once')?.running === 0)
  t.strictSame(await queue.add('once', 'good', {}), { id: 'good', added: false })
  clock.advance(1001)
  t.strictSame(await queue.add('once', 'good', {}), { id: 'good', added: true }, 'remembered for doneTtlMs only')
})

const pluginModes = [{ kind: 'memory', env: {}, line: 'not durable: jobs (callbacks, scheduled sends) are lost on restart' }]
if (process.env.REDIS_URL !== undefined) pluginModes.push({ kind: 'bullmq', env: { REDIS_URL: process.env.REDIS_URL }, line: 'durable, shared by every replica' })
for (const expected of pluginModes) {
  t.test(`the plugin (${expected.kind}): app.queue, one start-up line, metrics, closed with the app`, async (t) => {
    const { app, logs } = await buildTestApp(t, { env: expected.env })
    t.equal(app.queue.kind, expected.kind)
    t.equal(logs.lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('job queue')).length, 1, 'one line')
    t.match(logs.text(), expected.line)
    const done: string[] = []
    app.queue.handle('probe', async (job) => { done.push(job.id) })
    let broken = 0
    app.queue.handle('broken', async () => { broken++; throw new Error('down') }, { retry: { firstDelayMs: 1, maxDelayMs: 1, totalMs: 2 } })
    await app.queue.add('broken', 'b1', {})
    await app.queue.add('probe', 'p1', {})
    await app.queue.add('probe', 'p1', {})
    await app.queue.add('probe', 'p2', {}, { delayMs: 3600000 })
    for (let i = 0; i < 500 && (done.length < 1 || (await app.queue.failed('broken')).length < 1); i++) await sleep(10)
    t.equal(broken, 3, 'one attempt and two retries')
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    t.match(text, 'hsm_queue_depth{type="probe"} 1')
    t.match(text, 'hsm_queue_oldest_waiting_seconds{type="probe"} 0')
    t.match(text, 'hsm_queue_jobs_total{type="probe",outcome="added"} 2')
    t.match(text, 'hsm_queue_jobs_total{type="probe",outcome="duplicate"} 1')
    t.match(text, 'hsm_queue_jobs_total{type="probe",outcome="completed"} 1')
    t.match(text, 'hsm_queue_jobs_total{type="broken",outcome="retried"} 2')
    t.match(text, 'hsm_queue_jobs_total{type="broken",outcome="failed"} 1')
    await app.close()
    if (expected.kind === 'memory') t.match(logs.text(), 'job queue closed with 1 jobs waiting: lost (the in-process queue is not durable)')
    await t.rejects(app.queue.add('probe', 'p3', {}), { code: 'QUEUE_CLOSED' })
  })
}
