// Configuration: read once from the environment, validated, typed and frozen.
import { parseAllowList, refusal, type AllowRule } from './callbacks/allow.js'
import { isSupportedCountry } from 'libphonenumber-js/max'

export const LANGUAGES: ['en', 'es', 'pt'] = ['en', 'es', 'pt']
export type Language = typeof LANGUAGES[number]
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Every variable the service reads; docs/configuration.md's table and `.env.example` list the same. */
export const ENV_VARIABLES = [
  'PORT', 'HOST', 'JELOU_BASE_URL', 'JELOU_CLIENT_ID', 'JELOU_CLIENT_SECRET', 'JELOU_BOT_ID',
  'JELOU_TIMEOUT_MS', 'JELOU_CONNECT_TIMEOUT_MS', 'JELOU_CONNECTIONS', 'DEFAULT_COUNTRY',
  'DEFAULT_LANGUAGE', 'LOG_LEVEL', 'BODY_LIMIT_BYTES', 'API_KEYS', 'ALLOW_ANONYMOUS',
  'QUEUE_LOCK_SECONDS', 'SCHEDULE_MIN_AHEAD_SECONDS', 'SCHEDULE_MAX_AHEAD_DAYS', 'SCHEDULE_MAX_LATENESS_SECONDS',
  'CALLBACK_URL_ALLOW', 'CALLBACK_URL', 'CALLBACK_SECRET', 'CALLBACK_TIMEOUT_MS', 'CALLBACK_RETRY_HOURS', 'JELOU_EVENTS_SECRET',
  'RATE_LIMIT_PER_MINUTE', 'RECIPIENT_LIMIT', 'IDEMPOTENCY_TTL_SECONDS', 'IDEMPOTENCY_MAX_KEYS',
  'REDIS_URL', 'REDIS_KEY_PREFIX', 'JELOU_QUEUE_LIMIT', 'MAX_EVENT_LOOP_DELAY_MS', 'SHUTDOWN_TIMEOUT_MS',
  'MESSAGE_TTL_SECONDS', 'MESSAGE_MAX_RECORDS', 'MESSAGE_STATUS_FRESH_SECONDS', 'MESSAGE_STATUS_TIMEOUT_MS',
  'JELOU_EVENTS_TOKEN', 'JELOU_EVENTS_RATE_LIMIT_PER_MINUTE', 'RESOLUTION_WINDOW_SECONDS', 'RESOLUTION_CLOCK_SKEW_SECONDS',
  'RESOLUTION_TIMEOUT_SECONDS', 'RESOLUTION_TAG', 'REDIS_WAIT_REPLICAS', 'REDIS_WAIT_TIMEOUT_MS', 'SANDBOX_DELIVERY_STEP_MS',
  'SHUTDOWN_DRAIN_MS', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_SERVICE_NAME', 'JELOU_SEND_TRACEPARENT',
  'TEMPLATES_FILE', 'TEMPLATES_BOT_IDS', 'TEMPLATES_REFRESH_SECONDS', 'TEMPLATES_STRICT',
  'QUEUE_MAX_JOBS', 'QUEUE_CONCURRENCY', 'QUEUE_RETRY_HOURS', 'QUEUE_MAX_STALLS'
] as const
type EnvName = typeof ENV_VARIABLES[number]

export interface Config {
  /** `live` sends to Jelou; `sandbox` starts the built-in look-alike and sends there. */
  mode: 'live' | 'sandbox'
  port: number
  host: string
  jelou: {
    baseUrl: string
    clientId: string
    clientSecret: string
    botId: string | null
    timeoutMs: number
    connectTimeoutMs: number
    connections: number
  }
  defaultCountry: string | null
  defaultLanguage: Language | null
  logLevel: typeof LOG_LEVELS[number]
  bodyLimitBytes: number
  /** Named caller keys; empty means anonymous callers (sandbox, or live with ALLOW_ANONYMOUS). */
  apiKeys: ReadonlyArray<ApiKey>
  rateLimitPerMinute: number
  recipientLimit: { max: number, windowMs: number }
  idempotency: { ttlMs: number, maxKeys: number }
  redis: {
    url: string
    keyPrefix: string
    /** Replicas that must have each claim and mark (Redis WAIT) before a send; 0 = off. */
    waitReplicas: number
    waitTimeoutMs: number
  } | null
  /** Sends allowed to wait for an upstream connection before new ones are shed with 503 OVERLOADED. */
  queueLimit: number
  maxEventLoopDelayMs: number
  /** After SIGTERM: /ready answers 503 while requests are still served this long, so load balancers stop sending first. */
  shutdownDrainMs: number
  /** From SIGTERM to a forced exit 1: the drain, then in-flight sends. */
  shutdownTimeoutMs: number
  /** Message status (SPEC §18). */
  status: {
    ttlMs: number
    /** Bound of the memory store (without Redis). */
    maxRecords: number
    /** A status checked this recently is answered without asking Jelou. */
    freshMs: number
    /** Deadline of one call to Jelou's notifications endpoint. */
    timeoutMs: number
    /** HMAC secret of Jelou's X-Jelou-Signature: when set, every event must carry a valid signature. */
    eventsSecret: string | null
    /** Token of POST /v1/events/jelou; null turns the receiver off (404), except in sandbox mode where the app makes one up. */
    eventsToken: string | null
    /** How long after an attempt Jelou has surely registered its message (resolution waits this long before resending). */
    windowMs: number
    /** Events accepted per minute by POST /v1/events/jelou (per client address). */
    eventsPerMinute: number
  }
  /** Resolution of outcome-unknown sends (SPEC §18). */
  resolution: {
    /** Largest difference between our clock and Jelou's that resolution allows for. */
    skewMs: number
    /** Resolution's own deadline (reading every page of Jelou's notifications). */
    timeoutMs: number
    /** The correlation tag sent with each send and matched exactly by resolution; null = off. */
    tag: 'campaignId' | null
  }
  /** Built-in sandbox: time between two delivery states of an accepted message. */
  sandboxDeliveryStepMs: number
  /** The template catalogue (SPEC §17). */
  templates: {
    /** Path of the catalogue file (JSON or YAML); read at start-up. */
    file: string | null
    /** Bots whose Jelou list is loaded: JELOU_BOT_ID, TEMPLATES_BOT_IDS, and in sandbox mode the examples' bot. */
    botIds: readonly string[]
    refreshMs: number
    /** Refuse sends to templates the catalogue does not know. */
    strict: boolean
  }
  /** OpenTelemetry tracing, or null when the OTEL_* variables do not ask for it (nothing of it is loaded then). */
  tracing: TracingConfig | null
  /** The job queue (docs/queue.md): waiting jobs per type, jobs run at once per type, retries' total time. */
  queue: { maxJobs: number, concurrency: number, retryMs: number, lockMs: number, maxStalls: number }
  /** Scheduled sends (docs/scheduling.md): how far ahead sendAt may be, and how late a due send may still go out. */
  schedule: { minAheadMs: number, maxAheadMs: number, maxLatenessMs: number }
  /** Callbacks to the calling services (docs/callbacks.md). */
  callbacks: {
    allow: AllowRule[]
    /** Default URL and signing secret of callers that name none of their own (and of the anonymous caller). */
    url: string | null
    secret: string | null
    timeoutMs: number
    retryMs: number
  }
}

/** A caller: its name, its key, and optionally its callbacks' default URL and signing secret. */
export interface ApiKey {
  name: string
  key: string
  callbackUrl?: string
  callbackSecret?: string
}

/** The built-in sandbox's signing secret when CALLBACK_SECRET is unset: documented, so the catcher page (and anyone trying it) can verify. */
export const SANDBOX_CALLBACK_SECRET = 'whsec_c2FuZGJveC1jYWxsYmFjay1zZWNyZXQtMzItYnl0ZXM='
/** Standard Webhooks secrets: `whsec_` and base64 of 24 to 64 random bytes. */
const SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/

export interface TracingConfig {
  /** Where spans go over OTLP/HTTP, already resolved the way the OTLP spec says (…/v1/traces). */
  endpoint: string
  protocol: 'http/protobuf' | 'http/json'
  serviceName: string
  /** Send traceparent/tracestate to Jelou (a third party); off unless JELOU_SEND_TRACEPARENT=true. */
  sendTraceparent: boolean
}

/** The service name in traces when OTEL_SERVICE_NAME is unset: the package name. */
export const SERVICE_NAME = 'jelou-hsm-proxy'

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

export const BOT_ID_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9+_.-]{1,128}$'
export const SANDBOX_CREDENTIALS = { clientId: 'sandbox', clientSecret: 'sandbox' }
/** The bot every OpenAPI example uses; in sandbox mode the demo catalogue belongs to it. */
export const SANDBOX_BOT_ID = 'bot-123'

/** Pure: the same environment always gives the same Config, or one ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = []
  const read = (name: EnvName): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }
  const int = (name: EnvName, fallback: number, min: number, max: number): number => {
    const raw = read(name)
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
      return fallback
    }
    return Number(raw)
  }
  const decimal = (name: EnvName, fallback: number, min: number, max: number): number => {
    const raw = read(name)
    if (raw === undefined) return fallback
    if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a number from ${min} to ${max} (got "${raw}")`)
      return fallback
    }
    return Number(raw)
  }
  const oneOf = <T extends string>(name: EnvName, values: readonly T[]): T | undefined => {
    const raw = read(name)
    if (raw === undefined) return undefined
    if (!(values as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${values.join(', ')} (got "${raw}")`)
      return undefined
    }
    return raw as T
  }

  const port = int('PORT', 3000, 0, 65535)
  const timeoutMs = int('JELOU_TIMEOUT_MS', 10000, 1, 600000)
  const connectTimeoutMs = int('JELOU_CONNECT_TIMEOUT_MS', 3000, 1, 600000)
  const connections = int('JELOU_CONNECTIONS', 64, 1, 4096)
  const bodyLimitBytes = int('BODY_LIMIT_BYTES', 65536, 1024, 10485760)
  const defaultLanguage = oneOf('DEFAULT_LANGUAGE', LANGUAGES) ?? null
  const logLevel = oneOf('LOG_LEVEL', LOG_LEVELS) ?? 'info'

  const clientId = read('JELOU_CLIENT_ID')
  const clientSecret = read('JELOU_CLIENT_SECRET')
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    const missing = clientId === undefined ? 'JELOU_CLIENT_ID' : 'JELOU_CLIENT_SECRET'
    problems.push(`${missing} must be set together with ${missing === 'JELOU_CLIENT_ID' ? 'JELOU_CLIENT_SECRET' : 'JELOU_CLIENT_ID'} (set both for live mode, neither for sandbox mode)`)
  }
  const mode = clientId !== undefined && clientSecret !== undefined ? 'live' : 'sandbox'

  const rawBaseUrl = read('JELOU_BASE_URL')
  let baseUrl = 'https://api.jelou.ai'
  if (rawBaseUrl !== undefined) {
    const url = URL.canParse(rawBaseUrl) ? new URL(rawBaseUrl) : null
    if (url === null || !['http:', 'https:'].includes(url.protocol) || url.username !== '' || url.password !== '' ||
        (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
      problems.push('JELOU_BASE_URL must be an http(s) origin such as https://api.jelou.ai, with no path, query or credentials')
    } else {
      baseUrl = url.origin
    }
    if (mode === 'sandbox' && clientId === undefined && clientSecret === undefined) {
      problems.push('JELOU_BASE_URL is set without JELOU_CLIENT_ID/JELOU_CLIENT_SECRET: set the credentials (sandbox/sandbox for a standalone sandbox) or unset JELOU_BASE_URL to use the built-in sandbox')
    }
  }

  const botId = read('JELOU_BOT_ID') ?? null
  if (botId !== null && !new RegExp(BOT_ID_PATTERN).test(botId)) {
    problems.push(`JELOU_BOT_ID must match ${BOT_ID_PATTERN} (letters, digits, + _ . -, at most 128, no "..")`)
  }

  const apiKeys: ApiKey[] = []
  for (const entry of (read('API_KEYS') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const [pair, ...options] = entry.split(';')
    const match = /^([A-Za-z0-9_.-]{1,64}):([\x21-\x7e]{16,256})$/.exec(pair as string)
    if (match === null) {
      problems.push('API_KEYS must be comma-separated name:key pairs; names are 1 to 64 of A-Za-z0-9_.- and keys 16 to 256 printable characters without spaces (an entry does not fit; its value is not shown)')
      break
    }
    if (apiKeys.some((k) => k.name === match[1] || k.key === match[2])) {
      problems.push(`API_KEYS names and keys must be unique (the name "${match[1]}" or its key repeats)`)
      break
    }
    const apiKey: ApiKey = { name: match[1] as string, key: match[2] as string }
    for (const option of options) {
      const eq = option.indexOf('=')
      const [name, value] = [option.slice(0, eq).trim(), option.slice(eq + 1).trim()]
      if (name === 'callbackUrl' && eq > 0) apiKey.callbackUrl = value
      else if (name === 'callbackSecret' && SECRET.test(value)) apiKey.callbackSecret = value
      else problems.push(`API_KEYS: after a caller's name:key come only ;callbackUrl=<url> and ;callbackSecret=whsec_<base64 of 24 to 64 bytes> (caller "${apiKey.name}"; the value is not shown)`)
    }
    apiKeys.push(apiKey)
  }
  const allowAnonymous = oneOf('ALLOW_ANONYMOUS', ['true', 'false'] as const) === 'true'
  if (mode === 'live' && apiKeys.length === 0 && !allowAnonymous) {
    problems.push('API_KEYS is required in live mode (so nobody on the network can spend paid sends); set ALLOW_ANONYMOUS=true to run without caller keys on purpose')
  }

  const rateLimitPerMinute = int('RATE_LIMIT_PER_MINUTE', 600, 1, 100000000)
  let recipientLimit = { max: 10, windowMs: 60000 }
  const rawRecipient = read('RECIPIENT_LIMIT')
  if (rawRecipient !== undefined) {
    const match = /^(\d{1,9})\/(\d{1,7})(ms|s|m|h)$/.exec(rawRecipient)
    const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }
    if (match === null || Number(match[1]) < 1 || Number(match[2]) < 1) {
      problems.push(`RECIPIENT_LIMIT must look like 10/60s: sends per window, the window in ms, s, m or h (got "${rawRecipient}")`)
    } else {
      recipientLimit = { max: Number(match[1]), windowMs: Number(match[2]) * unit[match[3] as keyof typeof unit] }
    }
  }
  const idempotency = {
    ttlMs: int('IDEMPOTENCY_TTL_SECONDS', 86400, 1, 2592000) * 1000,
    maxKeys: int('IDEMPOTENCY_MAX_KEYS', 50000, 10, 10000000)
  }
  const rawRedis = read('REDIS_URL')
  let redis: Config['redis'] = null
  if (rawRedis !== undefined) {
    if (!URL.canParse(rawRedis) || !['redis:', 'rediss:'].includes(new URL(rawRedis).protocol)) {
      problems.push('REDIS_URL must be a redis:// or rediss:// URL (its value is not shown: it may hold a password)')
    } else {
      redis = {
        url: rawRedis,
        keyPrefix: read('REDIS_KEY_PREFIX') ?? 'hsm:',
        waitReplicas: int('REDIS_WAIT_REPLICAS', 0, 0, 16),
        waitTimeoutMs: int('REDIS_WAIT_TIMEOUT_MS', 500, 1, 60000)
      }
    }
  }
  const queueLimit = int('JELOU_QUEUE_LIMIT', 1000, 0, 1000000)
  const maxEventLoopDelayMs = int('MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60000)
  const shutdownDrainMs = int('SHUTDOWN_DRAIN_MS', 0, 0, 300000)
  const shutdownTimeoutMs = int('SHUTDOWN_TIMEOUT_MS', shutdownDrainMs + timeoutMs + 5000, 1000, 900000)
  if (read('SHUTDOWN_TIMEOUT_MS') !== undefined && shutdownTimeoutMs <= shutdownDrainMs) {
    problems.push(`SHUTDOWN_TIMEOUT_MS must be greater than SHUTDOWN_DRAIN_MS: it counts from SIGTERM and covers the drain, then the in-flight sends (got ${shutdownTimeoutMs} <= ${shutdownDrainMs}); leave it unset for SHUTDOWN_DRAIN_MS + JELOU_TIMEOUT_MS + 5000`)
  }
  const tracing = tracingConfig(read, problems)

  const rawToken = read('JELOU_EVENTS_TOKEN')
  if (rawToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(rawToken)) {
    problems.push('JELOU_EVENTS_TOKEN must be 16 to 256 printable characters without spaces (its value is not shown)')
  }
  const rawSecret = read('JELOU_EVENTS_SECRET')
  if (rawSecret !== undefined && !/^[\x21-\x7e]{16,256}$/.test(rawSecret)) {
    problems.push('JELOU_EVENTS_SECRET must be 16 to 256 printable characters without spaces (its value is not shown)')
  }
  // The built-in sandbox shares this process's clock: there the skew defaults to 1 s and the
  // window to the send deadline plus the skew, so a same-key retry resolves in seconds, not a minute.
  const skewMs = int('RESOLUTION_CLOCK_SKEW_SECONDS', mode === 'sandbox' ? 1 : 30, 1, 3600) * 1000
  const status = {
    ttlMs: int('MESSAGE_TTL_SECONDS', 604800, 60, 31536000) * 1000,
    maxRecords: int('MESSAGE_MAX_RECORDS', 100000, 10, 10000000),
    freshMs: int('MESSAGE_STATUS_FRESH_SECONDS', 30, 0, 86400) * 1000,
    timeoutMs: int('MESSAGE_STATUS_TIMEOUT_MS', 3000, 1, 60000),
    eventsToken: rawToken ?? null,
    eventsSecret: rawSecret ?? null,
    windowMs: int('RESOLUTION_WINDOW_SECONDS', mode === 'sandbox' ? Math.ceil((timeoutMs + skewMs) / 1000) : 60, 1, 86400) * 1000,
    eventsPerMinute: int('JELOU_EVENTS_RATE_LIMIT_PER_MINUTE', 6000, 1, 1000000)
  }
  const resolution = {
    skewMs,
    timeoutMs: int('RESOLUTION_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
    tag: oneOf('RESOLUTION_TAG', ['off', 'campaignId'] as const) === 'campaignId' ? 'campaignId' as const : null
  }
  // Absence proves nothing before Jelou has had the whole send deadline, plus the clocks' difference, to register the message.
  if (status.windowMs < timeoutMs + resolution.skewMs) {
    problems.push(`RESOLUTION_WINDOW_SECONDS must be at least JELOU_TIMEOUT_MS + RESOLUTION_CLOCK_SKEW_SECONDS (got ${status.windowMs / 1000} s < ${timeoutMs / 1000} s + ${resolution.skewMs / 1000} s): before then, Jelou not listing a message proves nothing`)
  }
  // An outcome-unknown key is resolved for up to twice its TTL (its record is kept that long); the
  // status records that tell another send's message from this key's must outlive that, or the
  // answer can only be "ambiguous".
  if (status.ttlMs < 2 * idempotency.ttlMs) {
    problems.push(`MESSAGE_TTL_SECONDS must be at least twice IDEMPOTENCY_TTL_SECONDS (got ${status.ttlMs / 1000} s < 2 × ${idempotency.ttlMs / 1000} s): a key still resolving must be able to tell another send's message from its own`)
  }
  const sandboxDeliveryStepMs = int('SANDBOX_DELIVERY_STEP_MS', 1500, 1, 600000)
  const queue = {
    maxJobs: int('QUEUE_MAX_JOBS', 10000, 10, 10000000),
    concurrency: int('QUEUE_CONCURRENCY', 4, 1, 256),
    retryMs: int('QUEUE_RETRY_HOURS', 24, 1, 720) * 3600000,
    lockMs: int('QUEUE_LOCK_SECONDS', 30, 1, 600) * 1000,
    maxStalls: int('QUEUE_MAX_STALLS', 20, 1, 1000)
  }
  // Callbacks: in sandbox mode any loopback port (the service's own catcher, /sandbox/callbacks, wherever it listens) is allowed and the documented secret signs.
  const allowed = parseAllowList(read('CALLBACK_URL_ALLOW') ?? (mode === 'sandbox' ? 'http://127.0.0.1:*, http://localhost:*' : ''))
  problems.push(...allowed.problems)
  const callbackSecret = read('CALLBACK_SECRET') ?? (mode === 'sandbox' ? SANDBOX_CALLBACK_SECRET : null)
  if (callbackSecret !== null && !SECRET.test(callbackSecret)) problems.push('CALLBACK_SECRET must be whsec_ and the base64 of 24 to 64 random bytes (its value is not shown)')
  const callbackUrl = read('CALLBACK_URL') ?? null
  for (const [who, url] of [['CALLBACK_URL', callbackUrl], ...apiKeys.map((k) => [`API_KEYS callbackUrl of "${k.name}"`, k.callbackUrl ?? null])] as Array<[string, string | null]>) {
    const why = url === null ? undefined : refusal(url, allowed.rules)
    if (why !== undefined) problems.push(`${who} ${why}`)
  }
  const callbacks = {
    allow: allowed.rules,
    url: callbackUrl,
    secret: callbackSecret,
    timeoutMs: int('CALLBACK_TIMEOUT_MS', 5000, 100, 60000),
    // Hours, fractions allowed (0.01 is 36 s: a test, or a receiver that must be told fast that it is down).
    retryMs: Math.round(decimal('CALLBACK_RETRY_HOURS', 24, 0.001, 720) * 3600000)
  }
  const schedule = {
    minAheadMs: int('SCHEDULE_MIN_AHEAD_SECONDS', 60, 1, 86400) * 1000,
    maxAheadMs: int('SCHEDULE_MAX_AHEAD_DAYS', 35, 1, 365) * 86400000,
    maxLatenessMs: int('SCHEDULE_MAX_LATENESS_SECONDS', 900, 0, 604800) * 1000
  }
  const templateBots = new Set<string>()
  if (botId !== null) templateBots.add(botId)
  for (const id of (read('TEMPLATES_BOT_IDS') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    if (new RegExp(BOT_ID_PATTERN).test(id)) templateBots.add(id)
    else problems.push(`TEMPLATES_BOT_IDS must be comma-separated bot ids matching ${BOT_ID_PATTERN} (got "${id}")`)
  }
  if (mode === 'sandbox') templateBots.add(SANDBOX_BOT_ID)
  const templates = {
    file: read('TEMPLATES_FILE') ?? null,
    botIds: [...templateBots],
    refreshMs: int('TEMPLATES_REFRESH_SECONDS', 300, 10, 86400) * 1000,
    strict: oneOf('TEMPLATES_STRICT', ['true', 'false'] as const) === 'true'
  }

  const rawCountry = read('DEFAULT_COUNTRY')
  let defaultCountry: string | null = null
  if (rawCountry !== undefined) {
    if (/^[A-Za-z]{2}$/.test(rawCountry) && isSupportedCountry(rawCountry.toUpperCase())) {
      defaultCountry = rawCountry.toUpperCase()
    } else {
      problems.push(`DEFAULT_COUNTRY must be an ISO 3166 alpha-2 region with a phone numbering plan, such as EC or MX (got "${rawCountry}")`)
    }
  }

  if (problems.length > 0) throw new ConfigError(problems)

  const credentials = mode === 'live' ? { clientId: clientId as string, clientSecret: clientSecret as string } : SANDBOX_CREDENTIALS
  return deepFreeze({
    mode,
    port,
    host: read('HOST') ?? '127.0.0.1',
    jelou: { baseUrl, ...credentials, botId, timeoutMs, connectTimeoutMs, connections },
    defaultCountry,
    defaultLanguage,
    logLevel,
    bodyLimitBytes,
    apiKeys,
    rateLimitPerMinute,
    recipientLimit,
    idempotency,
    redis,
    queueLimit,
    maxEventLoopDelayMs,
    shutdownDrainMs,
    shutdownTimeoutMs,
    tracing,
    status,
    resolution,
    sandboxDeliveryStepMs,
    templates,
    queue,
    schedule,
    callbacks
  })
}

/**
 * Tracing is on when OTEL_TRACES_EXPORTER=otlp, or when an OTLP endpoint is set and
 * OTEL_TRACES_EXPORTER is unset; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turn it off.
 * (The OTel spec defaults the exporter to otlp; a proxy that nobody asked to trace must not
 * try to reach localhost:4318, so here nothing set means off.)
 */
function tracingConfig (read: (name: EnvName) => string | undefined, problems: string[]): TracingConfig | null {
  const exporter = read('OTEL_TRACES_EXPORTER')
  const general = read('OTEL_EXPORTER_OTLP_ENDPOINT')
  const traces = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const sendTraceparent = read('JELOU_SEND_TRACEPARENT')
  if (sendTraceparent !== undefined && sendTraceparent !== 'true' && sendTraceparent !== 'false') {
    problems.push(`JELOU_SEND_TRACEPARENT must be true or false (got "${sendTraceparent}")`)
  }
  const disabled = read('OTEL_SDK_DISABLED')
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    problems.push(`OTEL_SDK_DISABLED must be true or false (got "${disabled}")`)
  }
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    problems.push(`OTEL_TRACES_EXPORTER must be otlp or none (got "${exporter}"): this service exports traces over OTLP/HTTP only`)
    return null
  }
  if (disabled === 'true' || exporter === 'none' || (exporter === undefined && general === undefined && traces === undefined)) return null

  const protocol = read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? read('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf'
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL (or _TRACES_PROTOCOL) must be http/protobuf or http/json (got "${protocol}"): grpc is not supported`)
  }
  // The signal-specific URL is used as given; the general one gets /v1/traces appended (OTLP exporter spec).
  const endpoint = traces ?? `${(general ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`
  const name = traces === undefined ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  if (!URL.canParse(endpoint) || !['http:', 'https:'].includes(new URL(endpoint).protocol)) {
    problems.push(`${name} must be an http(s) URL such as http://otel-collector:4318 (its value is not shown: it may hold a token)`)
  }
  return {
    endpoint,
    protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf',
    serviceName: read('OTEL_SERVICE_NAME') ?? SERVICE_NAME,
    sendTraceparent: sendTraceparent === 'true'
  }
}

function deepFreeze<T extends object> (value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) deepFreeze(inner)
  }
  return Object.freeze(value)
}
