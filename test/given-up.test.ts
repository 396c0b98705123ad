// A scheduled send whose job is given up after QUEUE_MAX_STALLS stalls (each replica running it died mid-run) ends, settled without sending again (docs/scheduling.md, docs/queue.md).
// Failed when written: the job was failed by BullMQ without its handler seeing a last attempt, and the schedule stayed "sending" forever.
import t, { type Test } from 'tap'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import pino from 'pino'
import { Redis } from 'ioredis'
import { bullQueue } from '../src/queue/bullmq.js'
import type { JobQueue } from '../src/queue/queue.js'
import { createScheduler } from '../src/schedule/scheduler.js'
import type { Sender } from '../src/send.js'
import { redisStatusStore } from '../src/status/redis.js'
import { buildLiveApp, freePort, post, startRedis, redisServerSkip } from './helper.js'
import { standin } from './jelou-standin.js'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const DAY = 86400000
const LOCK_MS = 1000
/** What a user sees at GET /v1/messages/{id} once a scheduled send ended (sent: its message's status). */
const ENDED = ['accepted', 'delivered_channel', 'delivered_user', 'read', 'replied', 'failed', 'expired', 'cancelled']

async function ownRedis (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, server: ChildProcess }> {
  const port = await freePort()
  const server = await startRedis(port)
  t.teardown(() => { server.kill('SIGKILL') })
  return { url: `redis://127.0.0.1:${port}`, server }
}

/** As in adversarial-round3.test.ts: bare replicas' queues on one Redis; `hang()` is a handler call that never ends by itself (a replica that died in it). */
function replicas (t: { teardown: (fn: () => unknown) => void }, url: string, keyPrefix: string, maxStalls: number) {
  const queues: JobQueue[] = []
  const hung: Array<() => void> = []
  t.teardown(async () => {
    for (const release of hung) release()
    for (const q of queues) await q.close().catch(() => {})
  })
  return {
    queue (): JobQueue {
      const queue = bullQueue({ url, keyPrefix, maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 200, maxDelayMs: 1000, totalMs: 60000 }, lockMs: LOCK_MS, maxStalls, doneTtlMs: DAY })
      queues.push(queue)
      return queue
    },
    hang: async (): Promise<void> => { await new Promise<void>((resolve) => { hung.push(resolve) }) }
  }
}

/** Polls `check` every 50 ms for at most `ms`. */
async function waitFor (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (await check()) return true
    await sleep(50)
  }
  return await check()
}

/**
 * Replica a sends it to Jelou, which never answers (and creates the message, or not), and a's
 * worker stops mid-run; replica b takes the job up and dies in its run too: two stalls, past
 * QUEUE_MAX_STALLS=1. Replica c, started then, is what settles it. Answers c and Jelou.
 */
async function reachedJelouThenGivenUp (t: Test, create: boolean, prefix: string) {
  const { url } = await ownRedis(t)
  const jelou = await standin(t, { send: () => ({ create, answer: 'hang' }) })
  const env = { REDIS_URL: url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_PER_MINUTE: '100000', SCHEDULE_MIN_AHEAD_SECONDS: '1', QUEUE_LOCK_SECONDS: '1', QUEUE_MAX_STALLS: '1', JELOU_TIMEOUT_MS: '2000', RESOLUTION_CLOCK_SKEW_SECONDS: '1', RESOLUTION_WINDOW_SECONDS: '3' }
  const a = await buildLiveApp(t, jelou.url, env)
  const res = await post(a.app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], botId: 'bot-1', sendAt: new Date(Date.now() + 3000).toISOString() })
  t.equal(res.status, 202, `scheduled (${String(res.body.detail ?? '')})`)
  const id = res.body.messageId as string
  t.ok(await waitFor(() => jelou.sends.length === 1, 20000), 'replica a sent it to Jelou, which has not answered')
  // a's worker stops mid-run (its Jelou call goes on to its deadline, and leaves the key's outcome unknown): stall 1.
  await a.app.queue.close()
  // b takes the job up again and dies in its run too: stall 2, past QUEUE_MAX_STALLS=1.
  const r = replicas(t, url, prefix, 1)
  const b = r.queue()
  let bRan = false
  b.handle('scheduled-send', async () => { bRan = true; await r.hang() })
  t.ok(await waitFor(() => bRan, 20000), 'replica b took the job up once a\'s lock lapsed')
  await b.close()
  const c = await buildLiveApp(t, jelou.url, env)
  const statusOf = async () => (await c.app.inject({ url: `/v1/messages/${id}` })).json() as Record<string, unknown>
  const ended = await waitFor(async () => ENDED.includes(String((await statusOf()).status)), 40000)
  const last = await statusOf()
  t.ok(ended, `the scheduled send ends, visible at GET (it is "${String(last.status)}")`)
  return { jelou, c, last }
}

t.test('a scheduled send that reached Jelou, then stalled past QUEUE_MAX_STALLS (two replicas died running it): the next replica settles it through its Idempotency-Key, GET shows Jelou\'s message, sent once (was: given up unrun, "sending" forever)', { skip: redisServerSkip, timeout: 90000 }, async (t) => {
  const { jelou, c, last } = await reachedJelouThenGivenUp(t, true, 'gu1:')
  // (A message found by resolution carries no scheduleId, after a give-up as after any re-run: its attempt's context does not hold it.)
  t.match(last, { status: 'accepted', messageId: jelou.messages[0]?.id }, `resolved: Jelou's message, found through the schedule's Idempotency-Key (${JSON.stringify(last)})`)
  t.equal(jelou.sends.length, 1, 'never sent twice')
  t.ok(c.logs.lines().some((line) => line.msg === 'scheduled send sent: its job was given up after 2 stalls, and settled without sending again'), 'one line says it was given up and settled')
  t.match((await c.app.inject({ url: '/metrics' })).body, 'hsm_queue_jobs_total{type="scheduled-send",outcome="given_up"} 1')
})

t.test('a scheduled send Jelou received but never created, then stalled past QUEUE_MAX_STALLS: resolution proves it absent, and the given-up send ends failed SCHEDULE_GIVEN_UP, not sent again (a re-run would resend; a given-up one never does)', { skip: redisServerSkip, timeout: 90000 }, async (t) => {
  const { jelou, c, last } = await reachedJelouThenGivenUp(t, false, 'gu4:')
  t.match(last, { status: 'failed', failure: { code: 'SCHEDULE_GIVEN_UP', message: /given up after 2 stalls.*Jelou provably does not have its message: not sent/ } }, JSON.stringify(last))
  t.equal(jelou.sends.length, 1, 'not sent again')
  t.equal(jelou.messages.length, 0)
  t.ok(c.logs.lines().some((line) => String(line.msg).startsWith('hsm absent: ')), 'resolution says absent, not "sending it once more"')
  t.notOk(c.logs.lines().some((line) => String(line.msg).startsWith('hsm resend')))
})

t.test('a scheduled send whose runs all stopped before reaching Jelou (moved to sending, then two replicas died): given up past QUEUE_MAX_STALLS, it ends failed SCHEDULE_GIVEN_UP, not sent, at GET and as its callback', { skip: redisServerSkip, timeout: 90000 }, async (t) => {
  const { url } = await ownRedis(t)
  const jelou = await standin(t)
  // The caller's callback receiver.
  const got: Array<Record<string, unknown>> = []
  const receiver = createServer((req, res) => { let b = ''; req.on('data', (c) => { b += String(c) }); req.on('end', () => { got.push(JSON.parse(b) as Record<string, unknown>); res.writeHead(204).end() }) })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise((resolve) => receiver.close(resolve)))
  const port = (receiver.address() as { port: number }).port
  const SECRET = `whsec_${Buffer.from('shop-callback-secret-of-32-bytes').toString('base64')}`
  const KEY = 'shop-key-0123456789abcdef'
  const shop = { 'x-api-key': KEY }
  const prefix = 'gu2:'
  const env = { REDIS_URL: url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_PER_MINUTE: '100000', SCHEDULE_MIN_AHEAD_SECONDS: '1', QUEUE_LOCK_SECONDS: '1', QUEUE_MAX_STALLS: '1', API_KEYS: `shop:${KEY};callbackSecret=${SECRET};callbackUrl=http://127.0.0.1:${port}/h`, CALLBACK_URL_ALLOW: `http://127.0.0.1:${port}` }
  // Scheduled through one replica, which then stops (its job stays in Redis).
  const s = await buildLiveApp(t, jelou.url, env)
  const res = await post(s.app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], botId: 'bot-1', sendAt: new Date(Date.now() + 3000).toISOString() }, shop)
  t.equal(res.status, 202, `scheduled (${String(res.body.detail ?? '')})`)
  const id = res.body.messageId as string
  await s.app.close()
  // a: a replica that moves it to sending, then dies before its pipeline calls Jelou (its call never returns): stall 1.
  const redis = new Redis(url)
  t.teardown(() => { redis.disconnect() })
  const status = redisStatusStore(redis, prefix, { ttlMs: DAY, writeFailed: () => {} })
  const r = replicas(t, url, prefix, 1)
  const a = r.queue()
  let aRan = false
  const scheduler = createScheduler({ config: { schedule: { minAheadMs: 0, maxAheadMs: 35 * DAY, maxLatenessMs: DAY }, queue: { maxJobs: 100, concurrency: 1, retryMs: 60000, lockMs: LOCK_MS, maxStalls: 1 } }, queue: a, status, log: pino({ level: 'silent' }) })
  scheduler.use((async () => { aRan = true; await r.hang() }) as unknown as Sender)
  t.ok(await waitFor(() => aRan, 20000), 'replica a runs it')
  t.equal((await status.get(id))?.base?.schedule?.state, 'sending')
  await a.close()
  // b takes it up and dies in its run too: stall 2, past QUEUE_MAX_STALLS=1.
  const b = r.queue()
  let bRan = false
  b.handle('scheduled-send', async () => { bRan = true; await r.hang() })
  t.ok(await waitFor(() => bRan, 20000), 'replica b took the job up once a\'s lock lapsed')
  await b.close()
  const c = await buildLiveApp(t, jelou.url, env)
  const statusOf = async () => (await c.app.inject({ url: `/v1/messages/${id}`, headers: shop })).json() as Record<string, unknown>
  const ended = await waitFor(async () => ENDED.includes(String((await statusOf()).status)), 40000)
  const last = await statusOf()
  t.ok(ended, `the scheduled send ends, visible at GET (it is "${String(last.status)}")`)
  t.match(last, { status: 'failed', failure: { code: 'SCHEDULE_GIVEN_UP', message: /given up after 2 stalls.*not sent/ } }, JSON.stringify(last))
  t.ok(await waitFor(() => got.some((event) => event.type === 'message.failed'), 15000), 'its callback is posted')
  t.match(got.find((event) => event.type === 'message.failed'), { data: { status: 'failed', scheduleId: id, failure: { code: 'SCHEDULE_GIVEN_UP' } } })
  t.equal(jelou.sends.length, 0, 'nothing sent')
})

t.test('the queue: a job type without a given-up handler (callbacks) keeps a job given up past QUEUE_MAX_STALLS as failed, listed with why; a retry runs it again by its handler, its stalls counted afresh', { skip: redisServerSkip, timeout: 60000 }, async (t) => {
  const { url } = await ownRedis(t)
  const r = replicas(t, url, 'gu3:', 1)
  const runs: string[] = []
  const replica = (name: string, hang: boolean) => {
    const queue = r.queue()
    queue.handle('callback', async () => { runs.push(name); if (hang) await r.hang() })
    return queue
  }
  const a = replica('a', true)
  await a.add('callback', 'cb-1', { n: 1 })
  t.ok(await waitFor(() => runs.length === 1, 10000), 'a runs it')
  await a.close()
  const b = replica('b', true)
  t.ok(await waitFor(() => runs.length === 2, 15000), 'b runs it again after a stall')
  await b.close()
  const c = replica('c', false)
  t.ok(await waitFor(async () => (await c.failed('callback')).length === 1, 15000), 'given up after its second stall: failed')
  const [failed] = await c.failed('callback')
  t.match(failed, { id: 'cb-1', error: /^job given up after 2 stalls, more than QUEUE_MAX_STALLS \(1\).*failed without a last attempt$/ })
  t.same(runs, ['a', 'b'], 'its handler did not run a third time')
  t.equal(await c.retry('callback', 'cb-1'), true)
  t.ok(await waitFor(() => runs.length === 3, 10000), `the retry runs it by its handler (runs: ${runs.join(',')})`)
  t.same(await c.failed('callback'), [], 'and it completed')
})
