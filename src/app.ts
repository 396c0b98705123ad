// buildApp(config, options): the whole service as a Fastify instance, not listening. Tests build the same app.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { Config } from './config.js'
import { createLogger } from './logger.js'
import { validatorCompiler } from './schemas/ajv.js'
import { SHARED_SCHEMAS } from './schemas/routes.js'
import underPressure from '@fastify/under-pressure'
import rateLimit from '@fastify/rate-limit'
import errorHandler from './plugins/error-handler.js'
import auth from './plugins/auth.js'
import redisPlugin from './plugins/redis.js'
import metricsPlugin, { createMetrics } from './plugins/metrics.js'
import { problem, validationFailed } from './errors.js'
import { memoryCounterStore, memoryIdempotencyStore } from './stores/memory.js'
import { redisCounterStore, redisIdempotencyStore } from './stores/redis.js'
import swagger from './plugins/swagger.js'
import upstream from './plugins/upstream.js'
import { createSender } from './send.js'
import { templateRoutes } from './routes/templates.js'
import { rawRoute } from './routes/raw.js'
import { healthRoutes } from './routes/health.js'
import { sandboxRoutes } from './routes/sandbox.js'
import { startSandbox, type Sandbox } from './sandbox/server.js'

export interface AppOptions {
  /** A pino logger; tests pass one that writes to a capture stream. */
  logger?: Logger
  /** Replaces the undici Pool (the app then leaves closing it to the caller). */
  dispatcher?: Dispatcher
  /** Sandbox mode: use this running sandbox instead of starting one (the caller closes it). */
  sandbox?: Sandbox
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const fastifyOptions: FastifyServerOptions = {
    loggerInstance: options.logger ?? createLogger(config),
    // Each send writes its own line; per-request access lines would double the log volume.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    // Keep a caller's X-Request-Id only when it is short and plain, so it cannot inject into logs.
    genReqId: (req) => {
      const id = req.headers['x-request-id']
      return typeof id === 'string' && REQUEST_ID.test(id) ? id : randomUUID()
    },
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    // Explicit server timeouts: a request may take the whole upstream deadline; idle keep-alive
    // connections outlive a typical load balancer's 60 s so it never reuses one we just closed.
    requestTimeout: config.jelou.timeoutMs + 10000,
    keepAliveTimeout: 72000,
    connectionTimeout: config.jelou.timeoutMs + 15000
  }
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  // JSON only: a text/plain body is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain')
  // Strict UTF-8: Fastify's parser would turn invalid bytes into U+FFFD and send them to a customer.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch {
      done(validationFailed([{ in: 'body', path: '/', rule: 'encoding', message: 'is not valid UTF-8' }]), undefined)
      return
    }
    parseJson(request, text, done)
  })
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)

  let sandbox = options.sandbox
  if (config.mode === 'sandbox' && sandbox === undefined) {
    const own = await startSandbox({ host: '127.0.0.1', port: 0 })
    sandbox = own
    app.addHook('onClose', async () => { await own.close() })
    app.log.warn({ mode: 'sandbox', upstream: own.url }, 'SANDBOX MODE: no Jelou credentials set, messages go to the built-in sandbox and are never delivered')
  }
  const origin = config.mode === 'sandbox' ? (sandbox as Sandbox).url : config.jelou.baseUrl

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // While closing, answers in flight tell keep-alive clients to hang up, so close() does not
  // wait for their idle sockets to time out.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })

  const metrics = createMetrics()
  await app.register(metricsPlugin, { metrics })
  await app.register(errorHandler)
  await app.register(underPressure, {
    maxEventLoopDelay: config.maxEventLoopDelayMs,
    // Shed only sends; health, docs and metrics keep answering so the orchestrator sees why.
    pressureHandler: (request) => request.url.startsWith('/v1/')
      ? Promise.reject(problem('OVERLOADED', 'The service is overloaded; nothing was sent. Retry shortly.', { retryAfterSeconds: 1 }))
      : undefined
  })
  await app.register(swagger, { version })
  await app.register(redisPlugin, { url: config.redis?.url ?? null })
  await app.register(upstream, { ...config.jelou, origin, dispatcher: options.dispatcher })

  const prefix = config.redis?.keyPrefix ?? ''
  const send = createSender({
    config,
    upstream: app.upstream,
    queued: () => (app.upstream.pool as { stats?: { queued?: number } }).stats?.queued ?? 0,
    idempotency: app.redis === null ? memoryIdempotencyStore(config.idempotency.maxKeys) : redisIdempotencyStore(app.redis, prefix),
    recipients: app.redis === null ? memoryCounterStore() : redisCounterStore(app.redis, prefix),
    observer: metrics
  })
  await app.register(async (v1) => {
    await v1.register(auth, { apiKeys: config.apiKeys })
    await v1.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60000,
      keyGenerator: (request) => request.caller,
      enableDraftSpec: true,
      redis: app.redis ?? undefined,
      nameSpace: `${prefix}rl:`,
      // A dead Redis must not stop every send for the caller limit; the recipient guard and idempotency still fail closed.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => problem('RATE_LIMITED', `At most ${context.max} requests per minute for this caller; nothing was sent.`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000))
      })
    })
    await v1.register(templateRoutes, { send })
    await v1.register(rawRoute, { send })
  })
  await app.register(healthRoutes, { mode: config.mode })
  if (sandbox !== undefined) await app.register(sandboxRoutes, { sandbox })

  return app
}
