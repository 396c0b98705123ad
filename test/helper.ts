// Test helper: the real app with a captured log, a real sandbox on 127.0.0.1, and a log-leak guard on every test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { startSandbox, type Sandbox, type SandboxOptions } from '../src/sandbox/server.js'

export interface LogLine {
  level: number
  msg: string
  reqId?: string
  outcome?: string
  [key: string]: unknown
}

interface TapLike {
  teardown: (fn: () => unknown) => void
}

export const CLIENT_SECRET = 'live-secret-Zx81'
export const CLIENT_ID = 'live-client'
export const LIVE_BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`
export const SANDBOX_BASIC = `Basic ${Buffer.from('sandbox:sandbox').toString('base64')}`

/**
 * Strings that must never reach a log line in any test: credentials, the Basic headers,
 * every test phone number unmasked, and the authentication codes the tests send.
 */
export const NEVER_LOGGED = [
  CLIENT_SECRET,
  LIVE_BASIC.slice(6),
  SANDBOX_BASIC.slice(6),
  '593987654321', '987654321', '0987654321', '5215512345678', '12025550123', '2025550123',
  '483920', 'CODE-7781'
]

export interface LogCapture {
  lines: () => LogLine[]
  /** The one line per send attempt: those with an `outcome`. */
  sends: () => LogLine[]
  text: () => string
}

/** A pino destination that keeps every line and refuses, at teardown, any line holding a forbidden value. */
export function captureLogs (t: TapLike, forbidden: readonly string[] = NEVER_LOGGED): { stream: { write: (line: string) => void }, capture: LogCapture } {
  const raw: string[] = []
  t.teardown(() => {
    const leaks = raw.flatMap((line) => forbidden.filter((value) => line.includes(value)).map((value) => `${value} in ${line}`))
    if (leaks.length > 0) throw new Error(`log leak: ${leaks.join('\n')}`)
  })
  const lines = (): LogLine[] => raw.map((line) => JSON.parse(line) as LogLine)
  return {
    stream: { write: (line: string) => { raw.push(line) } },
    capture: { lines, sends: () => lines().filter((line) => line.outcome !== undefined), text: () => raw.join('') }
  }
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  sandbox: Sandbox
  logs: LogCapture
}

/** The app in sandbox mode against its own sandbox on a random loopback port. */
export async function buildTestApp (t: TapLike, options: { env?: Record<string, string>, sandbox?: SandboxOptions | Sandbox, exampleClock?: () => number } = {}): Promise<TestApp> {
  const sandbox = options.sandbox !== undefined && 'url' in options.sandbox ? options.sandbox : await startSandbox({ port: 0, ...options.sandbox })
  t.teardown(() => sandbox.close())
  // Tests send many messages to the same few numbers; the recipient guard has its own tests.
  // Load shedding is off unless a test turns it on: a busy CI machine (tap runs files in
  // parallel, each loading the TypeScript sources) would otherwise shed ordinary test requests.
  const env: Record<string, string> = { JELOU_BOT_ID: 'bot-123', RECIPIENT_LIMIT: '1000/60s', MAX_EVENT_LOOP_DELAY_MS: '0', ...options.env }
  // Each app gets its own Redis keys unless the test shares a prefix on purpose (replicas).
  if (env.REDIS_URL !== undefined && env.REDIS_KEY_PREFIX === undefined) env.REDIS_KEY_PREFIX = `test:${randomUUID()}:`
  const config = loadConfig(env)
  const { app, logs } = await buildLoggedApp(t, config, { sandbox, exampleClock: options.exampleClock })
  return { app, config, sandbox, logs }
}

/** The app in live mode against any base URL (the sandbox with live credentials, or a raw socket server). */
export async function buildLiveApp (t: TapLike, baseUrl: string, env: Record<string, string> = {}, options: Pick<AppOptions, 'exampleClock'> = {}): Promise<{ app: FastifyInstance, config: Config, logs: LogCapture }> {
  if (env.REDIS_URL !== undefined && env.REDIS_KEY_PREFIX === undefined) env = { ...env, REDIS_KEY_PREFIX: `test:${randomUUID()}:` }
  const config = loadConfig({
    JELOU_CLIENT_ID: CLIENT_ID,
    JELOU_CLIENT_SECRET: CLIENT_SECRET,
    JELOU_BASE_URL: baseUrl,
    JELOU_BOT_ID: 'bot-123',
    ALLOW_ANONYMOUS: 'true',
    RECIPIENT_LIMIT: '1000/60s',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  })
  return { ...(await buildLoggedApp(t, config, options)), config }
}

async function buildLoggedApp (t: TapLike, config: Config, options: Pick<AppOptions, 'sandbox' | 'exampleClock'>) {
  const { stream, capture } = captureLogs(t)
  const app = await buildApp(config, { ...options, logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.ready()
  return { app, logs: capture }
}

/** POST a JSON body through the front door. */
export async function post (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) })
  return { status: response.statusCode, headers: response.headers, body: response.json() as Record<string, unknown> & { errors?: Array<Record<string, unknown>> } }
}

export interface StoreVariant {
  name: 'memory' | 'redis'
  env: Record<string, string>
}

/**
 * The stores to run a behaviour against: memory always; Redis when REDIS_URL is set (CI sets
 * it). `buildTestApp` gives each app its own key prefix, so tests never share keys by accident.
 */
export function storeVariants (t: { comment: (...args: unknown[]) => void }): StoreVariant[] {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') {
    t.comment('SKIPPED the Redis variants: REDIS_URL is not set (npm test sets it when redis-server is installed; see docs/tests.md)')
    return [{ name: 'memory', env: {} }]
  }
  return [
    { name: 'memory', env: {} },
    { name: 'redis', env: { REDIS_URL: url } }
  ]
}

/** With REDIS_URL set, an unreachable Redis is a failure, never a silent skip. */
export async function assertRedisReachable (url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    throw new Error(`REDIS_URL is set but Redis at that address cannot be reached: ${(error as Error).message}`)
  } finally {
    redis.disconnect()
  }
}

export interface GatedUpstream {
  url: string
  /** Requests received so far. */
  received: () => number
  /** Resolves once `count` requests have arrived (an event, not a sleep). */
  arrived: (count: number) => Promise<void>
  /** Answer every held request, and every later one at once, 200 with a message id. */
  open: () => void
  /** Answer only the oldest held request, 200 with a message id: the test decides the order answers arrive in. */
  answerOldest: () => void
}

/**
 * A Jelou stand-in on 127.0.0.1 that holds every request until the test releases it, so a test
 * knows a send is in flight because the upstream has it, not because some time has passed.
 */
export async function gatedUpstream (t: TapLike): Promise<GatedUpstream> {
  const events = new EventEmitter()
  const held: http.ServerResponse[] = []
  let received = 0
  let opened = false
  const server = http.createServer((req, res) => {
    // The template list the service loads at start-up is not this stub's subject: an empty one, answered at once.
    if (req.method === 'GET' && req.url?.startsWith('/v1/bots/') === true) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}')
    req.resume()
    req.on('end', () => {
      received++
      held.push(res)
      events.emit('request')
      if (opened) open()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const answer = (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(`[{"id":"m-${received}","destination":"593987654321"}]`)
  }
  const open = () => {
    opened = true
    for (const res of held.splice(0)) answer(res)
  }
  t.teardown(() => {
    open()
    server.closeAllConnections()
    server.close()
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    arrived: async (count) => {
      for (let seen = received; seen < count; seen = received) await once(events, 'request')
    },
    open,
    answerOldest: () => {
      const res = held.shift()
      if (res !== undefined) answer(res)
    }
  }
}

/** CI is on when the variable is set to anything but "" or "false"; every test reads it here. */
export const CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0

/** Skip reason for tests that start their own redis-server: never skipped in CI, where a missing tool fails. */
export const redisServerSkip = !hasRedisServer && !CI ? 'redis-server is not installed (apt-get install redis-server; CI installs it)' : false

export async function freePort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A redis-server of the test's own on 127.0.0.1:port, persistence off; resolves once it accepts connections. */
export async function startRedis (port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) return child
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not start')
}

/** Poll /ready until it answers `status` (Redis reconnects on its own schedule), at most 10 s. */
export async function readyIs (app: FastifyInstance, status: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const res = await app.inject({ url: '/ready' })
    if (res.statusCode === status) return res.json()
    await sleep(100)
  }
  return (await app.inject({ url: '/ready' })).json()
}
