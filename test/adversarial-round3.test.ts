// Adversarial review, round 3: the job queue's close and stalls against scheduled sends (each test states a promise of docs/scheduling.md and docs/queue.md).
import t from 'tap'
import pino from 'pino'
import type { ChildProcess } from 'node:child_process'
import { bullQueue } from '../src/queue/bullmq.js'
import { createScheduler } from '../src/schedule/scheduler.js'
import { memoryStatusStore } from '../src/status/memory.js'
import type { ScheduledSend, Sender } from '../src/send.js'
import type { JobQueue } from '../src/queue/queue.js'
import { freePort, startRedis, redisServerSkip } from './helper.js'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const DAY = 86400000
const LOCK_MS = 1000

async function ownRedis (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, server: ChildProcess }> {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(() => { server.kill('SIGKILL') })
  return { url: `redis://127.0.0.1:${port}`, server }
}

/** Polls `check` every 50 ms for at most `ms`. */
async function waitFor (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (await check()) return true
    await sleep(50)
  }
  return await check()
}

t.test('two replicas each closed (SIGTERM, rolling restart) while running the same scheduled send: the third replica never runs it; the schedule stays "sending" forever', { skip: redisServerSkip, timeout: 60000 }, async (t) => {
  const { url } = await ownRedis(t)
  // One store every replica shares (the app's status store on Redis).
  const status = memoryStatusStore(1000, DAY)
  const queues: JobQueue[] = []
  t.teardown(async () => { for (const q of queues) await q.close().catch(() => {}) })
  const calls: string[] = []
  // Hung Jelou calls end at teardown (else their workers keep the test process alive).
  const hung: Array<() => void> = []
  t.teardown(() => { for (const release of hung) release() })
  /** A replica: its own queue on the shared Redis and its own scheduler; `hang` makes its Jelou call never answer (a slow upstream). */
  const replica = (name: string, hang: boolean) => {
    const queue = bullQueue({ url, keyPrefix: 'r3a:', maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 200, maxDelayMs: 1000, totalMs: 60000 }, lockMs: LOCK_MS, doneTtlMs: DAY })
    queues.push(queue)
    const scheduler = createScheduler({ config: { schedule: { minAheadMs: 0, maxAheadMs: 35 * DAY, maxLatenessMs: DAY }, queue: { maxJobs: 100, concurrency: 1, retryMs: 60000, lockMs: LOCK_MS } }, queue, status, log: pino({ level: 'silent' }) })
    scheduler.use((async () => {
      calls.push(name)
      if (hang) await new Promise<void>((resolve) => { hung.push(resolve) })
      return { status: 202, contentType: 'application/json', body: { messageId: `jelou-${name}` } }
    }) as unknown as Sender)
    return { queue, scheduler }
  }
  const a = replica('a', true)
  const send: ScheduledSend = { id: 'sch-r3-1', caller: 'anonymous', kind: 'text', template: 'order_update', botId: 'bot-1', to: '593987654321', body: {} as never, requestId: 'r1', sendAt: Date.now() + 300, scheduledAt: Date.now() }
  await a.scheduler.schedule(send)
  t.ok(await waitFor(() => calls.length === 1, 10000), 'replica a runs it')
  await a.queue.close() // SIGTERM on a: the run is cut short (graceful for at most the lock)
  const b = replica('b', true)
  t.ok(await waitFor(() => calls.length === 2, 15000), `replica b takes it up once a's lock lapsed (calls: ${calls.join(',')})`)
  await b.queue.close() // SIGTERM on b too (the next step of the rolling restart)
  const c = replica('c', false)
  const ended = await waitFor(async () => ['sent', 'failed', 'expired', 'cancelled'].includes(String((await status.get(send.id))?.base?.schedule?.state)), 15000)
  const state = String((await status.get(send.id))?.base?.schedule?.state)
  t.ok(ended, `the scheduled send ends (sent, failed, expired or cancelled), visible at GET: it is "${state}"; Jelou calls: ${calls.join(',')}`)
  const failed = await c.queue.failed('scheduled-send')
  t.same(failed.map((job) => job.error), [], 'the queue did not give the job up without running it (BullMQ: "job stalled more than allowable limit")')
})
