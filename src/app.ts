// buildApp(config, options): the whole service as a Fastify instance, not listening. Tests build the same app.
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import { SANDBOX_BOT_ID, type Config } from './config.js'
import { createCatalogue, type Catalogue } from './catalogue/catalogue.js'
import { loadTemplatesFile } from './catalogue/file.js'
import { createListClient } from './catalogue/jelou.js'
import { createRouteCache, templateSharedSchemas } from './catalogue/template-route.js'
import { demoCatalogueFile } from './sandbox/demo-catalogue.js'
import { createLogger } from './logger.js'
import { validatorCompiler } from './schemas/ajv.js'
import { SHARED_SCHEMAS } from './schemas/routes.js'
import underPressure from '@fastify/under-pressure'
import errorHandler from './plugins/error-handler.js'
import http from './plugins/http.js'
import redisPlugin from './plugins/redis.js'
import metricsPlugin, { createMetrics } from './plugins/metrics.js'
import queuePlugin from './plugins/queue.js'
import { problem } from './errors.js'
import { memoryCounterStore, memoryIdempotencyStore } from './stores/memory.js'
import { redisCounterStore, redisIdempotencyStore } from './stores/redis.js'
import { CALLER_SPACE, type CounterStore } from './stores/types.js'
import swagger from './plugins/swagger.js'
import { createCatalogueDocument } from './plugins/openapi-catalogue.js'
import type { OpenApiDocument } from './plugins/openapi-answers.js'
import type { ServedDocument } from './plugins/openapi-catalogue.js'
import { MAX_PARAM_LENGTH, clientErrorHandler, frameworkErrors } from './plugins/framework-errors.js'
import upstream from './plugins/upstream.js'
import { requestIdFor } from './request-id.js'
import { createSender } from './send.js'
import { Agent } from 'undici'
import { createCallbacks } from './callbacks/callbacks.js'
import { memoryLedger, redisLedger } from './callbacks/ledger.js'
import { createScheduler } from './schedule/scheduler.js'
import { v1Routes } from './routes/v1.js'
import { healthRoutes } from './routes/health.js'
import { sandboxRoutes } from './routes/sandbox.js'
import { inboxRoutes } from './routes/inbox.js'
import { sandboxCallbackRoutes } from './routes/sandbox-callbacks.js'
import { sandboxReplyRoutes } from './routes/sandbox-reply.js'
import { startSandbox, type Sandbox } from './sandbox/server.js'
import { eventRoutes } from './routes/events.js'
import { createNotificationsClient } from './status/jelou.js'
import { createLookup } from './status/lookup.js'
import { memoryStatusStore } from './status/memory.js'
import { observedStatusStore } from './status/observed.js'
import { redisStatusStore } from './status/redis.js'
import { createResolver, createSettler } from './status/resolution.js'
import type { Tracing } from './tracing.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The template catalogue (tests refresh it on demand). */
    catalogue: Catalogue
    /** Start draining (SIGTERM): /ready answers 503 and every answer closes its connection; the routes keep serving. */
    drain: () => void
  }
}

export interface AppOptions {
  /** A pino logger; tests pass one that writes to a capture stream. */
  logger?: Logger
  /** Sandbox mode: use this running sandbox instead of starting one (the caller closes it). */
  sandbox?: Sandbox
  /** OpenTelemetry, started by server.ts only when config.tracing asks for it (see src/tracing.ts). */
  tracing?: Tracing
  /** The clock the served document's scheduled example reads (default Date.now); tests fix it. */
  exampleClock?: () => number
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

type SerializerBuilder = ReturnType<typeof SerializerSelector>

/**
 * Fastify's own serializer builder, but one fast-json-stringify function per distinct response
 * schema instead of one per route and status: the 12 send routes share the same 11 answers, so
 * this builds 13 functions instead of 132 (about 3 MB of heap and a faster start).
 */
const sharedSerializers: SerializerBuilder = (externalSchemas, serializerOptions) => {
  const build = SerializerSelector()(externalSchemas, serializerOptions)
  const built = new Map<string, ReturnType<typeof build>>()
  return (route) => {
    const key = JSON.stringify(route.schema)
    let serializer = built.get(key)
    if (serializer === undefined) {
      serializer = build(route)
      built.set(key, serializer)
    }
    return serializer
  }
}

export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  // A bad catalogue file stops start-up before anything else starts (CatalogueFileError names each problem).
  const templatesBot = config.jelou.botId ?? (config.mode === 'sandbox' ? SANDBOX_BOT_ID : null)
  const fileTemplates = config.templates.file !== null
    ? loadTemplatesFile(config.templates.file, templatesBot)
    : config.mode === 'sandbox' ? demoCatalogueFile() : []

  const fastifyOptions: FastifyServerOptions = {
    loggerInstance: options.logger ?? createLogger(config, undefined, options.tracing?.logMixin),
    // Each send writes its own line; per-request access lines would double the log volume.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    bodyLimit: config.bodyLimitBytes,
    schemaController: { compilersFactory: { buildSerializer: sharedSerializers } },
    // While closing, our own hook answers 503 as problem+json (Fastify's own 503 is plain JSON).
    return503OnClosing: false,
    // Path parameters as long as the document allows (a template name: 512); past that, 400 as problem+json.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    clientErrorHandler,
    // Explicit server timeouts: a request may take the whole upstream deadline; idle keep-alive
    // connections outlive a typical load balancer's 60 s so it never reuses one we just closed.
    requestTimeout: config.jelou.timeoutMs + config.resolution.timeoutMs + 10000,
    keepAliveTimeout: 72000,
    connectionTimeout: config.jelou.timeoutMs + config.resolution.timeoutMs + 15000
  }
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>()
  // First, so @fastify/otel sees every route and its request span is open before any other hook.
  if (options.tracing !== undefined) await app.register(options.tracing.plugin)
  app.setValidatorCompiler(validatorCompiler)
  for (const schema of [...SHARED_SCHEMAS, ...templateSharedSchemas()]) app.addSchema(schema)

  let sandbox = options.sandbox
  if (config.mode === 'sandbox' && sandbox === undefined) {
    const own = await startSandbox({ host: '127.0.0.1', port: 0, deliveryStepMs: config.sandboxDeliveryStepMs })
    sandbox = own
    app.addHook('onClose', async () => { await own.close() })
    app.log.warn({ mode: 'sandbox', upstream: own.url }, 'SANDBOX MODE: no Jelou credentials set, messages go to the built-in sandbox and are never delivered')
  }
  if (config.mode === 'live' && config.defaultCountry === null) {
    // SPEC §6: without a region, formatted national numbers are refused (NEEDS_COUNTRY), never guessed.
    app.log.warn({ defaultCountry: null }, 'DEFAULT_COUNTRY is not set: national-format numbers without a country field are refused with INVALID_PHONE NEEDS_COUNTRY; only +, 00 or unformatted country-code-first digits are read')
  }
  const origin = config.mode === 'sandbox' ? (sandbox as Sandbox).url : config.jelou.baseUrl

  const metrics = createMetrics()
  // Sandbox mode receives its own sandbox's events, with a made-up token when none is set (given to Swagger UI).
  const eventsToken = config.status.eventsToken ?? (config.mode === 'sandbox' ? randomBytes(24).toString('base64url') : null)
  const catalogueDocument: { current: ((base: OpenApiDocument) => ServedDocument) | null } = { current: null }
  // First, so its onRoute hook sees every route (/metrics included).
  await app.register(swagger, {
    version,
    anonymous: config.apiKeys.length === 0,
    sandboxEventsToken: config.mode === 'sandbox' && config.status.eventsToken === null && eventsToken !== null ? eventsToken : undefined,
    catalogue: catalogueDocument,
    scheduleMinAheadMs: config.schedule.minAheadMs,
    exampleClock: options.exampleClock
  })
  await app.register(http)
  await app.register(metricsPlugin, { metrics })
  await app.register(errorHandler)
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    // Shed only sends; health, docs and metrics keep answering so the orchestrator sees why.
    pressureHandler: (request) => request.url.startsWith('/v1/')
      ? Promise.reject(problem('OVERLOADED', 'The service is overloaded; nothing was sent.', { retryAfterSeconds: 1 }))
      : undefined
  })
  await app.register(redisPlugin, { url: config.redis?.url ?? null })
  // Callbacks to the calling services: their own connections, never the Jelou pool's. Its hook
  // comes before the queue's, so it runs after it (Fastify closes in reverse): running deliveries finish first.
  const callbackAgent = new Agent({ connect: { timeout: config.callbacks.timeoutMs }, connections: 16 })
  app.addHook('onClose', async () => { await callbackAgent.close() })
  await app.register(queuePlugin, { config })
  await app.register(upstream, { ...config.jelou, origin, tracer: options.tracing?.attempts })

  const listClient = createListClient({
    origin,
    clientId: config.jelou.clientId,
    clientSecret: config.jelou.clientSecret,
    timeoutMs: config.jelou.timeoutMs,
    connectTimeoutMs: config.jelou.connectTimeoutMs,
    // One bot's whole list, every page: long enough for thousands of templates, short enough that a slow drip cannot stall refreshes or shutdown.
    deadlineMs: Math.max(30000, config.jelou.timeoutMs * 3)
  })
  app.addHook('onClose', async () => { await listClient.close() })
  if (config.templates.botIds.length === 0) {
    app.log.warn({ bots: [] }, 'no bot configured (JELOU_BOT_ID, TEMPLATES_BOT_IDS): no Jelou template list is read; the catalogue holds only TEMPLATES_FILE entries with a bot, and /ready and GET /v1/templates say so')
  }
  const catalogue = createCatalogue({
    botIds: config.templates.botIds,
    file: fileTemplates,
    defaultBot: templatesBot,
    list: listClient.list,
    refreshMs: config.templates.refreshMs,
    strict: config.templates.strict,
    log: app.log,
    observer: metrics
  })
  // Stopped first on close, so no refresh starts against a closing pool.
  app.addHook('preClose', async () => { await catalogue.stop() })
  await catalogue.start()
  metrics.watchCatalogue(() => {
    const templates = new Map<string, number>(config.templates.botIds.map((id) => [id, 0]))
    for (const t of catalogue.all()) templates.set(t.botId, (templates.get(t.botId) ?? 0) + 1)
    return { templates, loadedAt: new Map(catalogue.states().map((s) => [s.botId, s.loadedAt])) }
  })
  app.decorate('catalogue', catalogue)

  const prefix = config.redis?.keyPrefix ?? ''
  /** A fixed-window counter store: in memory, or in Redis under `<prefix><space>:`, shared by every replica. */
  const counterStore = (space: string) => app.redis === null ? memoryCounterStore() : redisCounterStore(app.redis, prefix, space)
  // Previews read the catalogue: in sandbox mode the demo one, live the bots' own lists (and the file).
  const lookupTemplate = catalogue.find
  const { ttlMs, maxRecords, freshMs, timeoutMs, windowMs } = config.status
  let idempotency
  // The per-caller limit's counters: a send's store step counts its caller there too (in Redis, inside its script).
  let callerCounters: CounterStore
  if (app.redis === null) {
    const callers = memoryCounterStore()
    callerCounters = callers
    const memory = memoryIdempotencyStore(config.idempotency.maxKeys, { onDrop: metrics.idempotencyDropped(app.log), callers })
    metrics.idempotencyKeys(memory.size, () => memory.replayWindowMs(config.idempotency.ttlMs))
    idempotency = memory
  } else {
    callerCounters = counterStore(CALLER_SPACE)
    idempotency = redisIdempotencyStore(app.redis, prefix, config.redis ?? {})
  }
  // A send's status record closes its open attempt when it is written (in Redis, in the record's own script).
  const storedStatus = app.redis === null
    ? memoryStatusStore(maxRecords, ttlMs, Date.now, idempotency)
    : redisStatusStore(app.redis, prefix, {
      ttlMs,
      writeFailed: (error, count) => { app.log.error({ err: { message: error.message }, count }, 'message status records not stored (the sends stand; their status lookups will 404)') }
    })
  const callbacks = createCallbacks({
    config,
    // A chain outlives its delivery's retries (CALLBACK_RETRY_HOURS) by the records' own TTL, so a failed one can still be replayed.
    ledger: app.redis === null ? memoryLedger(maxRecords, ttlMs + config.callbacks.retryMs) : redisLedger(app.redis, prefix, ttlMs + config.callbacks.retryMs),
    queue: app.queue,
    status: storedStatus,
    dispatcher: callbackAgent,
    log: app.log,
    observe: metrics.callbacks
  })
  const statusStore = observedStatusStore(callbacks.wrap(storedStatus), metrics.messageStatus)
  // Records queued for Redis are written before the connection closes.
  app.addHook('preClose', async () => { await statusStore.flush() })
  const notifications = createNotificationsClient({ dispatcher: app.upstream.pool, clientId: config.jelou.clientId, clientSecret: config.jelou.clientSecret, timeoutMs })
  const resolver = createResolver({ notifications, status: statusStore, attempts: idempotency, windowMs, ...config.resolution })
  const settle = createSettler({ resolver, status: statusStore, attempts: idempotency, sandbox: config.mode === 'sandbox', ttlMs: config.idempotency.ttlMs, observe: metrics.resolution, unresolvable: callbacks.unresolvable })
  // Sandbox mode: the scheduler remembers the latest schedules it took, for the inbox page.
  const scheduler = createScheduler({ config, queue: app.queue, status: statusStore, log: app.log, observe: metrics.scheduled, remember: config.mode === 'sandbox' ? 100 : 0 })
  const send = createSender({
    config,
    upstream: app.upstream,
    idempotency,
    observer: metrics,
    lookupTemplate,
    status: statusStore,
    resolution: { resolver, settle },
    catalogue: catalogue.guard,
    callbacks: callbacks.policy,
    schedule: scheduler.schedule
  })
  scheduler.use(send)
  const lookup = createLookup({ store: statusStore, notifications, freshMs, observe: metrics.statusLookup })
  // Per-template routes and document entries: built from the catalogue of the moment, cached per template version.
  const routeCache = createRouteCache()
  catalogueDocument.current = createCatalogueDocument(catalogue, routeCache).current
  await app.register(v1Routes, { config, counters: callerCounters, send, catalogue, routeCache, status: { lookup, store: statusStore, cancel: scheduler.cancel }, callbacks })
  if (eventsToken !== null || config.status.eventsSecret !== null) {
    await app.register(eventRoutes, { token: eventsToken, secret: config.status.eventsSecret, store: statusStore, perMinute: config.status.eventsPerMinute, counters: counterStore('rl-events'), observe: metrics.statusEvents })
  }
  if (sandbox !== undefined && options.sandbox === undefined && eventsToken !== null) {
    const own = sandbox
    app.addHook('onListen', async () => {
      const address = app.server.address() as AddressInfo
      const host = address.family === 'IPv6' ? '[::1]' : '127.0.0.1'
      own.sendEventsTo(`http://${host}:${address.port}/v1/events/jelou`, eventsToken)
    })
  }
  const lifecycle = { draining: false }
  app.decorate('drain', () => {
    if (lifecycle.draining) return
    lifecycle.draining = true
    // Keep-alive callers (and load balancers' pooled connections) reconnect, so they land on
    // another replica; before Fastify's own listener, while the headers are still unsent.
    app.server.prependListener('request', (_req, res) => { res.setHeader('connection', 'close') })
  })
  await app.register(healthRoutes, { mode: config.mode, lifecycle, catalogue })
  if (sandbox !== undefined) {
    await app.register(sandboxRoutes, { sandbox })
    await app.register(inboxRoutes, { sandbox, lookupTemplate, schedules: { recent: scheduler.recent, store: statusStore, cancel: scheduler.cancel, lookup } })
    await app.register(sandboxReplyRoutes, { sandbox, lookupTemplate })
    const secrets = config.apiKeys.filter((k) => k.callbackSecret !== undefined).map((k) => ({ caller: k.name, secret: k.callbackSecret as string }))
    if (config.callbacks.secret !== null) secrets.push({ caller: config.apiKeys.length === 0 ? 'anonymous' : 'CALLBACK_SECRET', secret: config.callbacks.secret })
    await app.register(sandboxCallbackRoutes, { secrets })
  }

  return app
}
