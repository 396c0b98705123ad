// Adversarial review of scheduled sends and callbacks: each case failed before its fix (far timers, given-up retries, a retried scheduling, lost records, racing cancels, a stalled run, an expired ledger).
import t from 'tap'
import pino from 'pino'
import { memoryQueue, type QueueClock } from '../src/queue/memory.js'
import { createScheduler } from '../src/schedule/scheduler.js'
import { memoryStatusStore } from '../src/status/memory.js'
import { problem } from '../src/errors.js'
import type { ScheduledSend, Sender } from '../src/send.js'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const DAY = 86400000

/** A hand-moved clock whose timers fire when it passes them. */
function manualClock () {
  let now = 1_800_000_000_000
  const timers = new Set<{ at: number, fn: () => void }>()
  const clock: QueueClock = {
    now: () => now,
    setTimeout: (fn, ms) => { const timer = { at: now + ms, fn }; timers.add(timer); return timer },
    clearTimeout: (timer) => { timers.delete(timer as { at: number, fn: () => void }) }
  }
  const advance = async (ms: number) => {
    const end = now + ms
    for (;;) {
      let next: { at: number, fn: () => void } | undefined
      for (const timer of timers) if (timer.at <= end && (next === undefined || timer.at < next.at)) next = timer
      if (next === undefined) break
      timers.delete(next)
      now = Math.max(now, next.at)
      next.fn()
      for (let i = 0; i < 20; i++) await Promise.resolve()
      await sleep(1)
    }
    now = end
  }
  return { clock, advance, now: () => now }
}

t.test('memory queue: a job due more than 2^31-1 ms ahead (SCHEDULE_MAX_AHEAD_DAYS is 35) never runs at its time', async (t) => {
  // The hand-moved clock, with Node's own rule for timers: a delay over 2^31-1 ms (or under 1) is 1 ms
  // (Node prints TimeoutOverflowWarning and fires at once).
  const manual = manualClock()
  const requested: number[] = []
  const clock: QueueClock = { ...manual.clock, setTimeout: (fn, ms) => { requested.push(ms); return manual.clock.setTimeout(fn, ms > 2147483647 || ms < 1 ? 1 : ms) } }
  const queue = memoryQueue({ maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 1000, maxDelayMs: 3600000, totalMs: 3600000 }, doneTtlMs: DAY }, clock)
  t.teardown(async () => { await queue.close() })
  const ran: Array<[string, number]> = []
  queue.handle('scheduled-send', async (job) => { ran.push([job.id, clock.now()]) })
  const due = clock.now() + 30 * DAY
  await queue.add('scheduled-send', 'sch-far', {}, { runAt: due })
  await manual.advance(1000)
  t.same(ran, [], 'not run early')
  await manual.advance(30 * DAY)
  t.ok(requested.every((ms) => ms <= 2147483647), `no timer longer than Node takes (asked for ${Math.max(...requested)} ms)`)
  t.same(ran.map(([id]) => id), ['sch-far'], 'run once it is due (the timer overflowed to 1 ms, fired at once, found nothing due and was never set again: the send is lost, its record says scheduled)')
  t.ok(ran.every(([, at]) => at >= due), 'never before its time')
})

t.test('scheduler: a send whose answer is "try again" until the queue gives up stays "sending" forever: no final state, no callback', async (t) => {
  const { clock, advance } = manualClock()
  const queue = memoryQueue({ maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 1000, maxDelayMs: 3600000, totalMs: 3 * 3600000 }, doneTtlMs: DAY }, clock)
  t.teardown(async () => { await queue.close() })
  const status = memoryStatusStore(1000, DAY, clock.now)
  const scheduler = createScheduler({ config: { schedule: { minAheadMs: 1000, maxAheadMs: 35 * DAY, maxLatenessMs: 900000 }, queue: { maxJobs: 100, concurrency: 1, retryMs: 3 * 3600000, lockMs: 30000, maxStalls: 20 } }, queue, status, log: pino({ level: 'silent' }), now: clock.now })
  let calls = 0
  const sender: Sender = (async () => { calls++; throw problem('UPSTREAM_UNAVAILABLE', 'Jelou is down') }) as unknown as Sender
  scheduler.use(sender)
  const send: ScheduledSend = { id: 'sch-1', caller: 'anonymous', kind: 'text', template: 'order_update', botId: 'bot-1', to: '593987654321', body: {} as never, requestId: 'r1', sendAt: clock.now() + 60000, scheduledAt: clock.now() }
  await scheduler.schedule(send)
  await advance(60000 + 6 * 3600000)
  t.ok(calls > 1, `tried ${calls} times`)
  t.equal((await queue.counts()).get('scheduled-send')?.waiting, 0, 'the queue is done with it (out of retries)')
  const state = (await status.get('sch-1'))?.base?.schedule?.state
  t.equal(state, 'failed', `the schedule ends (it is "${String(state)}" forever; GET says sending, DELETE says 409, no message.failed callback)`)
})

t.test('cancel: two DELETEs of one waiting scheduled send at once: one answers 409 "being sent" though nothing is or will be sent', async (t) => {
  const { buildTestApp, post } = await import('./helper.js')
  const { app, sandbox } = await buildTestApp(t, { env: { SCHEDULE_MIN_AHEAD_SECONDS: '1' } })
  const res = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], sendAt: new Date(Date.now() + 1500).toISOString() })
  const id = res.body.messageId as string
  const [a, b] = await Promise.all([
    app.inject({ method: 'DELETE', url: `/v1/messages/${id}` }),
    app.inject({ method: 'DELETE', url: `/v1/messages/${id}` })
  ])
  await sleep(2500)
  t.equal(sandbox.messages().length, 0, 'never sent')
  t.same([a.statusCode, b.statusCode], [200, 200], `both cancels answer 200 (got ${a.statusCode}/${b.statusCode}: ${[a, b].find((r) => r.statusCode === 409)?.json().detail as string})`)
})

t.test('Idempotency-Key on a scheduling request, two replicas on Redis: replica one dies after scheduling, before its 202 is stored; the client retries on replica two', async (t) => {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') { t.comment('SKIPPED: no REDIS_URL'); return }
  const { buildTestApp, post } = await import('./helper.js')
  const { Redis } = await import('ioredis')
  const { randomUUID } = await import('node:crypto')
  const env = { REDIS_URL: url, REDIS_KEY_PREFIX: `adv2:${randomUUID()}:`, SCHEDULE_MIN_AHEAD_SECONDS: '1' }
  const one = await buildTestApp(t, { env })
  const two = await buildTestApp(t, { env, sandbox: one.sandbox })
  const body = { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-42'], sendAt: new Date(Date.now() + 2500).toISOString() }
  const first = await post(one.app, '/v1/messages/text', body, { 'idempotency-key': 'reminder-42' })
  t.equal(first.status, 202)
  // Replica one died between scheduling and storing the key's answer: its hold lapses, the key is free again.
  const redis = new Redis(url)
  t.teardown(() => { redis.disconnect() })
  const keys = await redis.keys(`${env.REDIS_KEY_PREFIX}idem3:*`)
  t.equal(keys.length, 1)
  await redis.del(...keys)
  const second = await post(two.app, '/v1/messages/text', body, { 'idempotency-key': 'reminder-42' })
  t.equal(second.status, 202)
  t.equal(second.body.messageId, first.body.messageId, 'the same schedule answers')
  await sleep(5000)
  const sent = one.sandbox.messages().filter((m) => (m.body as { elementName?: string } | null)?.elementName === 'order_update').length
  t.equal(sent, 1, `sent once (sent ${sent} times, schedules ${String(first.body.messageId)} and ${String(second.body.messageId)})`)
})

for (const variant of ['memory', 'redis'] as const) {
  t.test(`${variant}: a waiting scheduled send whose record is gone (MESSAGE_TTL_SECONDS 7 d < SCHEDULE_MAX_AHEAD_DAYS 35 d, or MESSAGE_MAX_RECORDS) cannot be cancelled (404) and is sent anyway`, async (t) => {
    const url = process.env.REDIS_URL
    if (variant === 'redis' && (url === undefined || url === '')) { t.comment('SKIPPED: no REDIS_URL'); return }
    const { buildTestApp, post } = await import('./helper.js')
    const { randomUUID } = await import('node:crypto')
    const prefix = `adv2:${randomUUID()}:`
    const env: Record<string, string> = variant === 'redis' ? { REDIS_URL: url as string, REDIS_KEY_PREFIX: prefix, SCHEDULE_MIN_AHEAD_SECONDS: '1' } : { MESSAGE_MAX_RECORDS: '10', SCHEDULE_MIN_AHEAD_SECONDS: '1' }
    const { app, sandbox } = await buildTestApp(t, { env })
    const res = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'], sendAt: new Date(Date.now() + 3000).toISOString() })
    const id = res.body.messageId as string
    if (variant === 'memory') {
      // A busy service: newer messages push the schedule's record out.
      for (let i = 0; i < 12; i++) await post(app, '/v1/messages/text', { to: `+593 98 765 43${String(10 + i)}`, template: 'order_update', params: ['A', `X-${i}`] })
    } else {
      // What 7 days of MESSAGE_TTL_SECONDS do to a schedule 30 days ahead.
      const { Redis } = await import('ioredis')
      const redis = new Redis(url as string)
      await redis.del(`${prefix}msg:${id}`)
      redis.disconnect()
    }
    const before = sandbox.messages().length
    const cancel = await app.inject({ method: 'DELETE', url: `/v1/messages/${id}` })
    await sleep(4500)
    const after = sandbox.messages().length - before
    t.ok(cancel.statusCode === 200 ? after === 0 : after === 0, `the caller could not cancel it (DELETE ${cancel.statusCode}) and it was sent ${after} time(s): a waiting send must stay cancellable, or never be sent unseen`)
  })
}

t.test('redis: a failed delivery retried once its ledger has expired (MESSAGE_TTL_SECONDS 7 d; CALLBACK_RETRY_HOURS may be 720) answers 202, "completes", and delivers nothing, silently', async (t) => {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') { t.comment('SKIPPED: no REDIS_URL'); return }
  const { buildTestApp, post } = await import('./helper.js')
  const { createServer } = await import('node:http')
  const { randomUUID } = await import('node:crypto')
  const { Redis } = await import('ioredis')
  let up = false
  const got: string[] = []
  const server = createServer((req, res) => { let b = ''; req.on('data', (c) => { b += String(c) }); req.on('end', () => { if (up) got.push(b); res.writeHead(up ? 204 : 503).end() }) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as { port: number }).port
  const SECRET = `whsec_${Buffer.from('shop-callback-secret-of-32-bytes').toString('base64')}`
  const KEY = 'shop-key-0123456789abcdef'
  const prefix = `adv2:${randomUUID()}:`
  const { app } = await buildTestApp(t, { env: { REDIS_URL: url, REDIS_KEY_PREFIX: prefix, API_KEYS: `shop:${KEY};callbackSecret=${SECRET};callbackUrl=http://127.0.0.1:${port}/h`, CALLBACK_URL_ALLOW: `http://127.0.0.1:${port}`, CALLBACK_RETRY_HOURS: '0.001' } })
  const shop = { 'x-api-key': KEY }
  const sent = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: ['Maria', 'ORD-1'] }, shop)
  const failed = async () => (await app.inject({ url: '/v1/callbacks?state=failed', headers: shop })).json().callbacks as Array<{ id: string, waiting: number }>
  const end = Date.now() + 15000
  while ((await failed()).length === 0 && Date.now() < end) await sleep(100)
  const [item] = await failed()
  t.match(item, { waiting: 1 }, 'failed, message.accepted waiting')
  // A week later: the chain's ledger (kept MESSAGE_TTL_SECONDS from its last append) is gone; the failed job is still listed.
  const redis = new Redis(url)
  await redis.del(`${prefix}cb:m:${String(sent.body.messageId)}`)
  redis.disconnect()
  t.match(await failed(), [{ id: item?.id }], 'still listed as failed, to be retried')
  up = true
  const retry = await app.inject({ method: 'POST', url: `/v1/callbacks/${item?.id as string}/retry`, headers: shop })
  t.equal(retry.statusCode, 202, 'the retry is taken')
  await sleep(5000) // its retries (0, 1, 3 s) run out
  const after = await failed() as Array<{ id: string, error?: string }>
  t.ok(got.length === 1 || after.some((f) => /no longer stored/.test(f.error ?? '')), `delivered, or still failed saying it is lost (${got.length} delivered, ${after.length} failed listed: the job "completed" with nothing to post, and nothing says the callback was lost)`)
})

t.test('scheduler: a run that read "scheduled", then lost its job (BullMQ lock lapsed: stalled replica), still sends after a DELETE answered 200', async (t) => {
  const { clock, advance } = manualClock()
  const inner = memoryQueue({ maxJobs: 100, concurrency: 1, retry: { firstDelayMs: 1000, maxDelayMs: 3600000, totalMs: 3600000 }, doneTtlMs: DAY }, clock)
  t.teardown(async () => { await inner.close() })
  // BullMQ after a lapsed lock: the job is back in "wait", so job.remove() succeeds while the first run goes on.
  const queue = { ...inner, cancel: async () => true }
  const store = memoryStatusStore(1000, DAY, clock.now)
  let stalled: (() => void) | undefined
  const cancel: { answered?: boolean } = {}
  const status = {
    ...store,
    async get (id: string) {
      const state = await store.get(id)
      if (stalled === undefined && state?.base?.schedule?.state === 'scheduled' && cancel.answered === undefined) {
        // The run stalls here (its lock lapses); meanwhile the caller's DELETE goes through on another replica.
        await new Promise<void>((resolve) => { stalled = resolve })
      }
      return state
    }
  }
  const scheduler = createScheduler({ config: { schedule: { minAheadMs: 1000, maxAheadMs: 35 * DAY, maxLatenessMs: 900000 }, queue: { maxJobs: 100, concurrency: 1, retryMs: 3600000, lockMs: 30000, maxStalls: 20 } }, queue, status, log: pino({ level: 'silent' }), now: clock.now })
  let sends = 0
  scheduler.use((async () => { sends++; return { status: 202, contentType: 'application/json', body: { messageId: 'jelou-1' } } }) as unknown as Sender)
  const send: ScheduledSend = { id: 'sch-2', caller: 'anonymous', kind: 'text', template: 'order_update', botId: 'bot-1', to: '593987654321', body: {} as never, requestId: 'r2', sendAt: clock.now() + 60000, scheduledAt: clock.now() }
  await scheduler.schedule(send)
  await advance(60000)
  t.ok(stalled !== undefined, 'the run is stalled after reading "scheduled"')
  const base = (await store.get('sch-2'))?.base
  cancel.answered = await scheduler.cancel(base as NonNullable<typeof base>)
  t.equal(cancel.answered, true, 'DELETE answers 200')
  stalled?.()
  await sleep(50)
  await advance(1000)
  t.equal(sends, 0, `nothing is ever sent after a 200 cancel (sent ${sends} time(s); the record says ${String((await store.get('sch-2'))?.base?.schedule?.state)})`)
})
