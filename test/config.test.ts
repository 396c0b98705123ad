// SPEC §2: loadConfig(env) is pure; an invalid environment is one ConfigError naming every bad variable.
import t from 'tap'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError, ENV_VARIABLES, SANDBOX_CREDENTIALS, loadConfig } from '../src/config.js'
import { loadEnvFile } from '../src/env-file.js'

const CREDENTIALS = { JELOU_CLIENT_ID: 'live-client', JELOU_CLIENT_SECRET: 'live-secret-Zx81' }
/** Live mode without caller keys needs ALLOW_ANONYMOUS (SPEC §11); these tests are about the other variables. */
const LIVE = { ...CREDENTIALS, ALLOW_ANONYMOUS: 'true' }

/** The ConfigError loadConfig throws for `env`; fails the test when it does not throw one. */
function configError (t: { fail: (message: string) => void }, env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  t.fail(`loadConfig(${JSON.stringify(env)}) did not throw`)
  return new ConfigError([])
}

t.test('defaults: an empty environment is sandbox mode with the documented defaults', async (t) => {
  const config = loadConfig({})
  // t.match: other sections (callers, limits, idempotency) add their own fields.
  t.match(config, {
    mode: 'sandbox',
    port: 3000,
    host: '127.0.0.1',
    jelou: {
      baseUrl: 'https://api.jelou.ai',
      clientId: SANDBOX_CREDENTIALS.clientId,
      clientSecret: SANDBOX_CREDENTIALS.clientSecret,
      botId: null,
      timeoutMs: 10000,
      connectTimeoutMs: 3000,
      connections: 64
    },
    defaultCountry: null,
    defaultLanguage: null,
    logLevel: 'info',
    bodyLimitBytes: 65536
  })
  t.strictSame(config.jelou, {
    baseUrl: 'https://api.jelou.ai',
    clientId: 'sandbox',
    clientSecret: 'sandbox',
    botId: null,
    timeoutMs: 10000,
    connectTimeoutMs: 3000,
    connections: 64
  })
  t.strictSame(SANDBOX_CREDENTIALS, { clientId: 'sandbox', clientSecret: 'sandbox' })
})

t.test('empty and blank values count as unset', async (t) => {
  const config = loadConfig({ PORT: '', JELOU_CLIENT_ID: '  ', JELOU_CLIENT_SECRET: '', JELOU_BOT_ID: '', DEFAULT_COUNTRY: ' ', LOG_LEVEL: '' })
  t.equal(config.mode, 'sandbox')
  t.equal(config.port, 3000)
  t.equal(config.jelou.botId, null)
  t.equal(config.defaultCountry, null)
  t.equal(config.logLevel, 'info')
})

t.test('live when both credentials are set', async (t) => {
  const config = loadConfig({ ...LIVE, JELOU_BOT_ID: 'bot-123' })
  t.equal(config.mode, 'live')
  t.equal(config.jelou.clientId, 'live-client')
  t.equal(config.jelou.clientSecret, 'live-secret-Zx81')
  t.equal(config.jelou.baseUrl, 'https://api.jelou.ai')
  t.equal(config.jelou.botId, 'bot-123')
})

t.test('every variable is read', async (t) => {
  const config = loadConfig({
    ...LIVE,
    PORT: '8080',
    HOST: '0.0.0.0',
    JELOU_BASE_URL: 'http://127.0.0.1:4010/',
    JELOU_BOT_ID: 'Bot+1_a.b-c',
    JELOU_TIMEOUT_MS: '2500',
    JELOU_CONNECT_TIMEOUT_MS: '500',
    JELOU_CONNECTIONS: '8',
    DEFAULT_COUNTRY: 'ec',
    DEFAULT_LANGUAGE: 'pt',
    LOG_LEVEL: 'debug',
    BODY_LIMIT_BYTES: '1024'
  })
  t.match(config, {
    mode: 'live',
    port: 8080,
    host: '0.0.0.0',
    jelou: { baseUrl: 'http://127.0.0.1:4010', botId: 'Bot+1_a.b-c', timeoutMs: 2500, connectTimeoutMs: 500, connections: 8 },
    defaultCountry: 'EC',
    defaultLanguage: 'pt',
    logLevel: 'debug',
    bodyLimitBytes: 1024
  })
})

t.test('ENV_VARIABLES lists exactly what loadConfig reads, plus the OTEL_* tracing variables', async (t) => {
  const read = new Set<string>()
  // REDIS_KEY_PREFIX is read only when REDIS_URL is set.
  const env = new Proxy({}, {
    get: (_target, name) => {
      read.add(String(name))
      return name === 'REDIS_URL' ? 'redis://127.0.0.1:6379' : undefined
    }
  }) as Record<string, string | undefined>
  loadConfig(env)
  // Every variable read is listed; of the OTEL_* ones some are read by the tracing setup instead.
  t.strictSame([...read].filter((name) => !(ENV_VARIABLES as readonly string[]).includes(name)), [], 'nothing read is unlisted')
  t.strictSame(ENV_VARIABLES.filter((name) => !name.startsWith('OTEL_') && !read.has(name)), [], 'nothing listed is unread')
})

t.test('the same environment gives the same config', async (t) => {
  const env = { ...LIVE, PORT: '4000', DEFAULT_LANGUAGE: 'es' }
  t.strictSame(loadConfig(env), loadConfig(env))
  t.strictSame(env, { ...LIVE, PORT: '4000', DEFAULT_LANGUAGE: 'es' }, 'the environment is not changed')
})

t.test('live mode without API_KEYS needs ALLOW_ANONYMOUS=true', async (t) => {
  const error = configError(t, { ...CREDENTIALS })
  t.equal(error.problems.length, 1)
  t.match(error.problems[0], /^API_KEYS /)
  t.equal(loadConfig({ ...CREDENTIALS, ALLOW_ANONYMOUS: 'true' }).mode, 'live')
})

t.test('only one credential set: ConfigError naming the missing one', async (t) => {
  const onlyId = configError(t, { JELOU_CLIENT_ID: 'live-client' })
  t.equal(onlyId.name, 'ConfigError')
  t.equal(onlyId.problems.length, 1)
  t.match(onlyId.problems[0], /^JELOU_CLIENT_SECRET /)
  t.match(onlyId.message, /JELOU_CLIENT_SECRET/)

  const onlySecret = configError(t, { JELOU_CLIENT_SECRET: 'live-secret-Zx81' })
  t.equal(onlySecret.problems.length, 1)
  t.match(onlySecret.problems[0], /^JELOU_CLIENT_ID /)
  t.notOk(onlySecret.message.includes('live-secret-Zx81'), 'the secret is not echoed')
})

const INVALID: Array<{ env: Record<string, string>, variable: string }> = [
  { env: { PORT: 'abc' }, variable: 'PORT' },
  { env: { PORT: '70000' }, variable: 'PORT' },
  { env: { PORT: '-1' }, variable: 'PORT' },
  { env: { PORT: '80.5' }, variable: 'PORT' },
  { env: { JELOU_TIMEOUT_MS: '0' }, variable: 'JELOU_TIMEOUT_MS' },
  { env: { JELOU_CONNECT_TIMEOUT_MS: 'soon' }, variable: 'JELOU_CONNECT_TIMEOUT_MS' },
  { env: { JELOU_CONNECTIONS: '0' }, variable: 'JELOU_CONNECTIONS' },
  { env: { BODY_LIMIT_BYTES: '10' }, variable: 'BODY_LIMIT_BYTES' },
  { env: { DEFAULT_LANGUAGE: 'fr' }, variable: 'DEFAULT_LANGUAGE' },
  { env: { DEFAULT_COUNTRY: 'XX' }, variable: 'DEFAULT_COUNTRY' },
  { env: { DEFAULT_COUNTRY: 'ECU' }, variable: 'DEFAULT_COUNTRY' },
  { env: { LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL' },
  { env: { ...LIVE, JELOU_BASE_URL: 'ftp://x' }, variable: 'JELOU_BASE_URL' },
  { env: { ...LIVE, JELOU_BASE_URL: 'https://api.jelou.ai/v2' }, variable: 'JELOU_BASE_URL' },
  { env: { ...LIVE, JELOU_BASE_URL: 'https://api.jelou.ai?x=1' }, variable: 'JELOU_BASE_URL' },
  { env: { ...LIVE, JELOU_BASE_URL: 'https://user:pass@api.jelou.ai' }, variable: 'JELOU_BASE_URL' },
  { env: { ...LIVE, JELOU_BASE_URL: 'not a url' }, variable: 'JELOU_BASE_URL' },
  { env: { JELOU_BASE_URL: 'https://api.jelou.ai' }, variable: 'JELOU_BASE_URL' },
  { env: { JELOU_BOT_ID: 'a/b' }, variable: 'JELOU_BOT_ID' },
  { env: { JELOU_BOT_ID: 'a..b' }, variable: 'JELOU_BOT_ID' },
  { env: { JELOU_BOT_ID: 'b'.repeat(129) }, variable: 'JELOU_BOT_ID' }
]

for (const c of INVALID) {
  t.test(`invalid ${c.variable}: ${JSON.stringify(c.env[c.variable])}`, async (t) => {
    const error = configError(t, c.env)
    t.equal(error.problems.length, 1, 'one problem')
    t.match(error.problems[0], new RegExp(`^${c.variable} `), 'names the variable first')
    t.match(error.message, c.variable, 'the message names it')
    t.match(error.message, /^invalid configuration:/)
  })
}

t.test('several bad variables at once: one error naming every one', async (t) => {
  const error = configError(t, {
    PORT: 'abc',
    JELOU_TIMEOUT_MS: '0',
    DEFAULT_LANGUAGE: 'fr',
    DEFAULT_COUNTRY: 'XX',
    LOG_LEVEL: 'loud',
    JELOU_BOT_ID: 'a/b',
    JELOU_CLIENT_ID: 'live-client'
  })
  t.equal(error.problems.length, 7)
  for (const name of ['PORT', 'JELOU_TIMEOUT_MS', 'DEFAULT_LANGUAGE', 'DEFAULT_COUNTRY', 'LOG_LEVEL', 'JELOU_BOT_ID', 'JELOU_CLIENT_SECRET']) {
    t.ok(error.problems.some((problem) => problem.startsWith(`${name} `)), `names ${name}`)
    t.match(error.message, name)
  }
  t.equal(error.message.split('\n').length, 8, 'one line per problem after the heading')
})

t.test('the returned config is deeply frozen', async (t) => {
  const config = loadConfig({ ...LIVE })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.jelou))
  t.throws(() => { (config as { port: number }).port = 1 }, TypeError)
  t.throws(() => { (config.jelou as { clientSecret: string }).clientSecret = 'x' }, TypeError)
  t.equal(config.port, 3000)
  t.equal(config.jelou.clientSecret, 'live-secret-Zx81')
})

t.test('.env.example and docs/configuration.md list every variable the service reads', async (t) => {
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
  const reference = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8')
  for (const name of ENV_VARIABLES) {
    t.match(example, new RegExp(`^(# )?${name}=`, 'm'), `.env.example has ${name}`)
    t.match(reference, new RegExp(`\\| [^\\n]*\`${name}\``), `docs/configuration.md table has ${name}`)
  }
})

t.test('.env.example as shipped is a sandbox configuration, with the live settings commented out', async (t) => {
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
  const config = loadConfig(parseEnv(example) as Record<string, string>)
  t.equal(config.mode, 'sandbox')
  for (const name of ['JELOU_BASE_URL', 'JELOU_CLIENT_ID', 'JELOU_CLIENT_SECRET', 'API_KEYS']) t.match(example, new RegExp(`^# ${name}=`, 'm'), `${name} is commented out`)
})

t.test('loadEnvFile reads .env from the working directory, and the environment wins over the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hsm-env-'))
  const saved = { cwd: process.cwd(), env: { ...process.env } }
  t.teardown(() => {
    process.chdir(saved.cwd)
    for (const name of Object.keys(process.env)) if (!(name in saved.env)) Reflect.deleteProperty(process.env, name)
    Object.assign(process.env, saved.env)
    rmSync(dir, { recursive: true, force: true })
  })
  process.chdir(dir)
  t.equal(loadEnvFile(), null, 'no .env: nothing read')
  copyFileSync(new URL('../.env.example', import.meta.url), join(dir, '.env'))
  process.env.PORT = '0'
  Reflect.deleteProperty(process.env, 'RECIPIENT_LIMIT')
  t.equal(loadEnvFile(), join(dir, '.env'), 'names the file it read (server.ts logs it at start-up)')
  t.equal(process.env.RECIPIENT_LIMIT, '10/60s', 'a value from the file')
  t.equal(process.env.PORT, '0', 'the environment won over the file')
  t.equal(loadConfig(process.env).mode, 'sandbox', 'a copy of .env.example starts in sandbox mode')
})

t.test('the job queue: defaults, and each bound refused naming its variable', async (t) => {
  t.strictSame(loadConfig({}).queue, { maxJobs: 10000, concurrency: 4, retryMs: 86400000, lockMs: 30000, maxStalls: 20 })
  t.strictSame(loadConfig({ QUEUE_MAX_JOBS: '50', QUEUE_CONCURRENCY: '1', QUEUE_RETRY_HOURS: '2', QUEUE_LOCK_SECONDS: '5', QUEUE_MAX_STALLS: '3' }).queue, { maxJobs: 50, concurrency: 1, retryMs: 7200000, lockMs: 5000, maxStalls: 3 })
  for (const [variable, value] of [['QUEUE_MAX_JOBS', '9'], ['QUEUE_CONCURRENCY', '0'], ['QUEUE_CONCURRENCY', 'many'], ['QUEUE_RETRY_HOURS', '721'], ['QUEUE_LOCK_SECONDS', '0'], ['QUEUE_MAX_STALLS', '0']]) {
    const error = configError(t, { [variable]: value })
    t.match(error.problems, [new RegExp(`^${variable} must be an integer from`)], `${variable}=${value}`)
  }
})

t.test('resolution bounds: RESOLUTION_CLOCK_SKEW_SECONDS at least 1; MESSAGE_TTL_SECONDS at least twice IDEMPOTENCY_TTL_SECONDS', async (t) => {
  t.match(configError(t, { RESOLUTION_CLOCK_SKEW_SECONDS: '0' }).problems, [/^RESOLUTION_CLOCK_SKEW_SECONDS must be an integer from 1/])
  const error = configError(t, { IDEMPOTENCY_TTL_SECONDS: '2592000', MESSAGE_TTL_SECONDS: '60' })
  t.equal(error.problems.length, 1)
  t.match(error.problems[0], /^MESSAGE_TTL_SECONDS must be at least twice IDEMPOTENCY_TTL_SECONDS/)
  t.match(error.problems[0], 'IDEMPOTENCY_TTL_SECONDS')
  t.equal(loadConfig({ IDEMPOTENCY_TTL_SECONDS: '30', MESSAGE_TTL_SECONDS: '60' }).status.ttlMs, 60000, 'exactly twice is accepted')
})
