// Model-checked resolution: generated scenarios of replicas, keys, crashes, lost answers, slow or paged notifications and clock skew, driven through the real idempotency, resolution and stores against the Jelou stand-in; the three invariants checked after each.
import t from 'tap'
import fc from 'fast-check'
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { loadConfig, type Config } from '../src/config.js'
import { sendAnswer } from '../src/errors.js'
import errorHandler from '../src/plugins/error-handler.js'
import { createMetrics } from '../src/plugins/metrics.js'
import upstreamPlugin from '../src/plugins/upstream.js'
import { createSender } from '../src/send.js'
import { createNotificationsClient } from '../src/status/jelou.js'
import { memoryStatusStore } from '../src/status/memory.js'
import { redisStatusStore } from '../src/status/redis.js'
import { createResolver, createSettler } from '../src/status/resolution.js'
import type { StatusStore } from '../src/status/types.js'
import { memoryIdempotencyStore } from '../src/stores/memory.js'
import { redisIdempotencyStore } from '../src/stores/redis.js'
import type { IdempotencyStore } from '../src/stores/types.js'
import { leaseMsFor } from '../src/idempotency.js'
import { startStandin, type Standin } from './jelou-standin.js'

/** Scenarios per store (memory, and Redis when REDIS_URL is set). CI sets 1000 or more. */
const RUNS = Number(process.env.RESOLUTION_PROPERTY_RUNS ?? 60)
const SEED = process.env.RESOLUTION_PROPERTY_SEED === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(process.env.RESOLUTION_PROPERTY_SEED)
/** Replays one case of a failed run (fast-check prints its path with the seed). */
const PATH = process.env.RESOLUTION_PROPERTY_PATH
const REDIS_URL = process.env.REDIS_URL ?? ''

// Real time only where the network is the subject (a send's deadline); everything else on the injected clock.
const TIMEOUT_MS = 40
const SKEW_S = 30
const WINDOW_S = 60
const TTL_S = 3600
const LEASE_MS = leaseMsFor(TIMEOUT_MS)

const SCRIPTS = ['answered', 'created-then-timeout', 'not-created-timeout', 'crash-after-create', 'crash-before-create', 'answer-lost'] as const
type Script = typeof SCRIPTS[number]
/** What Jelou does with the send; the crashes and the lost answer also lose the key's last write. */
const JELOU: Record<Script, { create: boolean, answer: 'ok' | 'hang' }> = {
  answered: { create: true, answer: 'ok' },
  'created-then-timeout': { create: true, answer: 'hang' },
  'not-created-timeout': { create: false, answer: 'hang' },
  'crash-after-create': { create: true, answer: 'hang' },
  'crash-before-create': { create: false, answer: 'hang' },
  'answer-lost': { create: true, answer: 'ok' }
}
const LOSES_WRITE = new Set<Script>(['crash-after-create', 'crash-before-create', 'answer-lost'])
const CRASHES = new Set<Script>(['crash-after-create', 'crash-before-create'])

interface Send { key: number, replica: number, script: Script }
type Step =
  | { t: 'send', send: Send }
  | { t: 'concurrent', sends: Send[] }
  | { t: 'advance', ms: number }
  | { t: 'jelou', down: boolean }

interface Scenario {
  tag: boolean
  replicas: number
  keys: Array<{ recipient: number, template: number }>
  pageSize: number
  pagination: 'total' | 'pages' | 'none'
  pageDelayMs: number
  skewMs: number
  lagMs: number
  foreign: Array<{ recipient: number, template: number, offsetMs: number, withId: boolean }>
  steps: Step[]
}

const sendArb = (keys: number, replicas: number) => fc.record({ key: fc.nat(keys - 1), replica: fc.nat(replicas - 1), script: fc.constantFrom(...SCRIPTS) })
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  tag: fc.boolean(),
  replicas: fc.integer({ min: 1, max: 3 }),
  keys: fc.array(fc.record({ recipient: fc.nat(1), template: fc.nat(1) }), { minLength: 1, maxLength: 8 })
}).chain(({ tag, replicas, keys }) => fc.record({
  tag: fc.constant(tag),
  replicas: fc.constant(replicas),
  keys: fc.constant(keys),
  pageSize: fc.integer({ min: 5, max: 50 }),
  pagination: fc.constantFrom('total' as const, 'pages' as const, 'none' as const),
  pageDelayMs: fc.constantFrom(0, 0, 2),
  skewMs: fc.integer({ min: -SKEW_S * 1000, max: SKEW_S * 1000 }),
  lagMs: fc.integer({ min: 0, max: 20000 }),
  foreign: fc.array(fc.record({ recipient: fc.nat(2), template: fc.nat(2), offsetMs: fc.integer({ min: -90000, max: 90000 }), withId: fc.boolean() }), { maxLength: 8 }),
  steps: fc.array(fc.oneof(
    { weight: 5, arbitrary: sendArb(keys.length, replicas).map((send): Step => ({ t: 'send', send })) },
    { weight: 2, arbitrary: fc.array(sendArb(keys.length, replicas), { minLength: 2, maxLength: 3 }).map((sends): Step => ({ t: 'concurrent', sends })) },
    { weight: 3, arbitrary: fc.constantFrom(1000, LEASE_MS + 1, WINDOW_S * 500, WINDOW_S * 1000 + 1, 2 * WINDOW_S * 1000).map((ms): Step => ({ t: 'advance', ms })) },
    { weight: 1, arbitrary: fc.boolean().map((down): Step => ({ t: 'jelou', down })) }
  ), { minLength: 1, maxLength: 12 })
}))

interface Answer { status: number, body: Record<string, unknown>, retryAfter?: string }

/** One store deployment (memory, or Redis shared by every replica) with three replicas per tag setting. */
async function world (t: Tap, variant: 'memory' | 'redis') {
  const clock = { now: Date.UTC(2026, 11, 3, 12) }
  const now = () => clock.now
  const skew = { ms: 0 }
  const down = { on: false }
  const jelou: Standin = await startStandin({ clock: () => clock.now + skew.ms, failing: () => down.on })
  t.teardown(() => jelou.close())
  const scripts = new AsyncLocalStorage<Script>()
  jelou.behaviour.send = (body) => JELOU[(body.parameters as string[])[1] as Script]
  // Jelou creates the message when the send reaches it, within the send's deadline: stamped with the
  // injected time the service sent it at, so a loaded machine delivering a request late cannot move it.
  jelou.behaviour.createdAt = (body) => Number((body.parameters as string[])[2]) + skew.ms
  let redis: Redis | undefined
  if (variant === 'redis') {
    redis = new Redis(REDIS_URL)
    t.teardown(() => { redis?.disconnect() })
  }
  const prefix = `test:${randomUUID()}:`
  const store: IdempotencyStore = redis === undefined ? memoryIdempotencyStore(100000, { now }) : redisIdempotencyStore(redis, prefix, { now })
  // A crash or a lost write: the key's last write (its answer) never lands.
  const faulty: IdempotencyStore = {
    ...store,
    complete: async (...args) => LOSES_WRITE.has(scripts.getStore() as Script) ? true : await store.complete(...args)
  }
  const status: StatusStore = redis === undefined
    ? memoryStatusStore(100000, TTL_S * 1000, now, store)
    : redisStatusStore(redis, prefix, { ttlMs: TTL_S * 1000, writeFailed: (error) => { throw error }, now })
  const apps = new Map<string, FastifyInstance>()
  for (const tag of [false, true]) {
    const config: Config = loadConfig({
      JELOU_BASE_URL: jelou.url,
      JELOU_CLIENT_ID: 'c',
      JELOU_CLIENT_SECRET: 's',
      JELOU_BOT_ID: 'bot-1',
      ALLOW_ANONYMOUS: 'true',
      JELOU_TIMEOUT_MS: String(TIMEOUT_MS),
      RESOLUTION_CLOCK_SKEW_SECONDS: String(SKEW_S),
      RESOLUTION_WINDOW_SECONDS: String(WINDOW_S),
      IDEMPOTENCY_TTL_SECONDS: String(TTL_S),
      // Not what this checks; and on Redis the recipient counter expires in real time, not on the scenario's clock.
      RECIPIENT_LIMIT: '1000000/1s',
      RESOLUTION_TAG: tag ? 'campaignId' : 'off'
    })
    for (let replica = 0; replica < 3; replica++) {
      const app = Fastify()
      app.decorateRequest('caller', 'anonymous')
      app.decorate('metrics', createMetrics())
      await app.register(errorHandler)
      await app.register(upstreamPlugin, { origin: jelou.url, clientId: 'c', clientSecret: 's', timeoutMs: TIMEOUT_MS, connectTimeoutMs: 1000, connections: 8 })
      const notifications = createNotificationsClient({ dispatcher: app.upstream.pool, clientId: 'c', clientSecret: 's', timeoutMs: 5000 })
      const resolver = createResolver({ notifications, status, attempts: store, windowMs: WINDOW_S * 1000, skewMs: SKEW_S * 1000, timeoutMs: 30000, now })
      const settle = createSettler({ resolver, status, attempts: store, sandbox: false, ttlMs: TTL_S * 1000, now })
      const send = createSender({ config, upstream: app.upstream, idempotency: faulty, status, resolution: { resolver, settle }, now })
      app.post<{ Body: { key: string, to: string, template: string } }>('/send', async (request, reply) => {
        const { key, to, template } = request.body
        const script = request.headers['x-script'] as Script
        return await scripts.run(script, async () => sendAnswer(reply, await send(request, reply, {
          kind: 'text',
          template,
          body: request.body,
          to,
          toPath: '/to',
          botIdIn: 'body',
          country: 'EC',
          botId: 'bot-1',
          language: 'es',
          clientRef: key,
          dryRun: false,
          fieldErrors: [],
          build: (ctx) => ({ destinations: [ctx.to], elementName: template, language: 'es', type: 'text', parameters: [key, script, String(clock.now)] } as never)
        })))
      })
      await app.ready()
      t.teardown(() => app.close())
      apps.set(`${tag}/${replica}`, app)
    }
  }
  return { clock, skew, down, jelou, apps }
}

type Tap = { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }

async function check (w: Awaited<ReturnType<typeof world>>, s: Scenario, run: number): Promise<void> {
  const { clock, jelou, apps } = w
  const start = clock.now
  w.skew.ms = s.skewMs
  w.down.on = false
  Object.assign(jelou.behaviour, { pageSize: s.pageSize, total: s.pagination === 'total', pages: s.pagination === 'pages', pageDelayMs: s.pageDelayMs, lagMs: s.lagMs })
  const template = (i: number) => `t${run}_${i}`
  const recipient = (i: number) => `59398765430${i}`
  for (const f of s.foreign) {
    jelou.foreign({ id: f.withId ? `foreign-${randomUUID()}` : undefined, destination: recipient(f.recipient), elementName: template(f.template), createdAt: new Date(start + s.skewMs + f.offsetMs).toISOString() })
  }
  const keyName = (k: number) => `s${run}-k${k}`
  const firstAt = new Map<number, number>()
  const answers: Array<{ key: number, script: Script, answer: Answer }> = []
  const trace: string[] = []

  async function send (x: Send): Promise<Answer> {
    if (!firstAt.has(x.key)) firstAt.set(x.key, clock.now)
    const k = s.keys[x.key] as Scenario['keys'][number]
    const res = await (apps.get(`${s.tag}/${x.replica}`) as FastifyInstance).inject({
      method: 'POST',
      url: '/send',
      headers: { 'idempotency-key': keyName(x.key), 'x-script': x.script },
      payload: { key: keyName(x.key), to: recipient(k.recipient), template: template(k.template) }
    })
    const answer: Answer = { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] as string | undefined }
    if (!CRASHES.has(x.script)) answers.push({ key: x.key, script: x.script, answer })
    trace.push(`+${(clock.now - start) / 1000}s k${x.key}@${x.replica} ${x.script}: ${answer.status} ${String(answer.body.resolution ?? answer.body.messageId ?? answer.body.code ?? '')}`)
    return answer
  }

  for (const step of s.steps) {
    if (step.t === 'send') await send(step.send)
    else if (step.t === 'concurrent') await Promise.all(step.sends.map(send))
    else if (step.t === 'advance') clock.now += step.ms
    else w.down.on = step.down
  }

  // Settle every key: Jelou up, sends answered, retries as Retry-After says; then past the TTL.
  w.down.on = false
  clock.now += WINDOW_S * 1000 + 1
  const final = new Map<number, Answer>()
  const open = () => s.keys.map((_, i) => i).filter((i) => final.get(i)?.status !== 202 && final.get(i)?.body.resolution !== 'unresolvable')
  for (let round = 0; round < 4 && open().length > 0; round++) {
    let wait = LEASE_MS + 1
    for (const key of open()) {
      const answer = await send({ key, replica: round % s.replicas, script: 'answered' })
      final.set(key, answer)
      if (answer.retryAfter !== undefined) wait = Math.max(wait, Number(answer.retryAfter) * 1000)
    }
    clock.now += wait
  }
  clock.now = Math.max(clock.now, Math.max(...firstAt.values()) + TTL_S * 1000 + 1)
  for (let round = 0; round < 3 && open().length > 0; round++) {
    for (const key of open()) final.set(key, await send({ key, replica: 0, script: 'answered' }))
    clock.now += LEASE_MS + 1
  }

  try {
    invariants()
  } catch (error) {
    const messages = jelou.messages.filter((m) => m.elementName.startsWith(`t${run}_`)).map((m) => `${m.param ?? m.from} ${m.id ?? '(no id)'} ${m.destination} ${m.elementName} ${m.createdAt}`)
    throw new Error(`${(error as Error).message}\n  answers:\n    ${trace.join('\n    ')}\n  at Jelou:\n    ${messages.join('\n    ')}`)
  }
  function invariants () {
  // 1. At most one message per key at Jelou (a resend happens only once the first is provably absent).
    const byKey = new Map<string, number>()
    for (const m of jelou.messages) if (m.from === 'service' && m.param?.startsWith(`s${run}-`) === true) byKey.set(m.param, (byKey.get(m.param) ?? 0) + 1)
    for (const [key, count] of byKey) if (count > 1) throw new Error(`key ${key}: ${count} messages at Jelou`)
    // 2. No key answered with an id created for another key (or, with the tag, for another sender).
    const owner = new Map(jelou.messages.filter((m) => m.id !== undefined).map((m) => [m.id as string, m]))
    for (const { key, answer } of answers) {
      if (answer.status !== 202) continue
      const message = owner.get(answer.body.messageId as string)
      if (message === undefined) throw new Error(`key ${keyName(key)} answered 202 with ${String(answer.body.messageId)}, which Jelou does not have`)
      if (message.from === 'service' && message.param !== keyName(key)) throw new Error(`key ${keyName(key)} answered with ${message.param ?? '?'}'s message`)
      if (message.from === 'foreign' && s.tag) throw new Error(`key ${keyName(key)} answered with another sender's message although tagged`)
    }
    // 3. Every answer is honest, and every key ends found, sent, or "cannot be known".
    for (const { key, answer } of answers) {
      const { status, body } = answer
      const honest = status === 202 ||
      (status === 409 && body.code === 'IDEMPOTENCY_IN_PROGRESS') ||
      ((status === 504 || status === 502) && ['pending', 'ambiguous'].includes(body.resolution as string) && answer.retryAfter !== undefined) ||
      (status === 504 && body.resolution === 'unresolvable')
      if (!honest) throw new Error(`key ${keyName(key)}: dishonest answer ${status} ${JSON.stringify(body)}`)
    }
    for (const [key, answer] of final) {
      if (answer.status !== 202 && answer.body.resolution !== 'unresolvable') throw new Error(`key ${keyName(key)} never settled: ${answer.status} ${JSON.stringify(answer.body)}`)
    }
  }
}

const variants: Array<'memory' | 'redis'> = REDIS_URL === '' ? ['memory'] : ['memory', 'redis']
// The file's time grows with RESOLUTION_PROPERTY_RUNS: tell tap (its per-file limit is in .taprc) so CI's 1000 runs fit.
t.setTimeout(Math.max(180_000, 60_000 + RUNS * variants.length * 500))
if (REDIS_URL === '') t.comment('SKIPPED the Redis variant: REDIS_URL is not set (CI sets it; see docs/tests.md)')

for (const variant of variants) {
  t.test(`${variant} store: ${RUNS} scenarios (RESOLUTION_PROPERTY_RUNS), seed ${SEED} (RESOLUTION_PROPERTY_SEED)`, async (t) => {
    const w = await world(t, variant)
    let run = 0
    const started = Date.now()
    const result = await fc.check(fc.asyncProperty(scenarioArb, async (scenario) => { await check(w, scenario, run++) }), { numRuns: RUNS, seed: SEED, path: PATH })
    t.comment(`${variant}: ${result.numRuns} scenarios in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${SEED}`)
    if (result.failed) t.fail(`${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)}\n${fc.defaultReportMessage(result) ?? ''}`)
    else t.pass(`the three invariants held over ${result.numRuns} scenarios`)
  })
}
