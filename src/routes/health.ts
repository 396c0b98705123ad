// Liveness and readiness: /health answers while the process runs, /ready while it can send and is not draining.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Redis } from 'ioredis'
import { OPEN_ROUTE, openResponses } from '../schemas/routes.js'
import type { Catalogue } from '../catalogue/catalogue.js'

const HealthSchema = Type.Object({ status: Type.Literal('ok') })
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready'), Type.Literal('draining')], {
    description: 'draining: SIGTERM arrived; requests are still served for SHUTDOWN_DRAIN_MS so load balancers can stop sending here first.'
  }),
  mode: Type.Union([Type.Literal('live'), Type.Literal('sandbox')]),
  checks: Type.Object({
    config: Type.String({ description: 'Always ok: the service does not start with an invalid configuration.' }),
    upstream: Type.String({ description: 'ok while the connection pool to Jelou is open.' }),
    redis: Type.Optional(Type.String({ description: 'With REDIS_URL: ok when Redis answers PING, else unreachable.' })),
    catalogue: Type.String({ description: 'ok when every bot\'s Jelou template list loaded whole at the last try; otherwise says which did not (or was cut short by the page cap) and what stays in force; `empty: …` when no bot is configured, so no list is read. Never makes the service not ready: sends go on with the last good catalogue and the kind routes.' })
  })
})

async function pingRedis (redis: Redis): Promise<string> {
  if (redis.status !== 'ready') return 'unreachable'
  try {
    return await redis.ping() === 'PONG' ? 'ok' : 'unreachable'
  } catch {
    return 'unreachable'
  }
}

/** The catalogue's state in one line; an outage is reported, not counted against readiness. */
function catalogueCheck (catalogue: Catalogue): string {
  const states = catalogue.states()
  if (states.length === 0) return 'empty: no bot is configured (JELOU_BOT_ID, TEMPLATES_BOT_IDS), so no Jelou template list is read; only TEMPLATES_FILE entries with a bot are served'
  const failing = states.filter((s) => s.failures > 0 || s.truncated)
  if (failing.length === 0) return 'ok'
  return failing.map((s) => s.failures === 0
    ? `degraded: Jelou's template list for ${s.botId} was cut short at ${s.pages} pages (the page cap); templates past it are missing`
    : s.loadedAt === null
      ? `degraded: Jelou's template list for ${s.botId} has not loaded (${s.failures} tries); the catalogue file alone is in force`
      : `degraded: Jelou's template list for ${s.botId} failed ${s.failures} times; the list from ${new Date(s.loadedAt).toISOString()} stays in force`).join('; ')
}

export interface HealthOptions {
  mode: 'live' | 'sandbox'
  /** Set by the shutdown path (server.ts): from then on /ready answers 503 draining. */
  lifecycle: { draining: boolean }
  catalogue: Catalogue
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { mode, lifecycle, catalogue }) => {
  app.get('/health', {
    schema: { tags: ['health'], operationId: 'health', summary: 'Liveness', description: 'Answers 200 while the process is running.', response: { 200: HealthSchema, ...openResponses }, 'x-answers': OPEN_ROUTE }
  }, async (request, reply) => {
    reply.header('x-request-id', request.id)
    return { status: 'ok' as const }
  })

  app.get('/ready', {
    schema: {
      tags: ['health'],
      operationId: 'ready',
      summary: 'Readiness',
      description: 'Answers 200 when the service can send, 503 naming the failing part when it cannot: the upstream pool, or Redis when REDIS_URL is set. After SIGTERM it answers 503 draining at once, while other routes keep serving for SHUTDOWN_DRAIN_MS. A template catalogue outage is reported in checks.catalogue but keeps 200: sends go on with the last good catalogue.',
      response: { 200: ReadySchema, 503: ReadySchema, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    reply.header('x-request-id', request.id)
    const pool = app.upstream.pool as { closed?: boolean, destroyed?: boolean }
    const checks: { config: string, upstream: string, redis?: string, catalogue: string } = {
      config: 'ok',
      upstream: pool.closed === true || pool.destroyed === true ? 'closed' : 'ok',
      catalogue: catalogueCheck(catalogue)
    }
    if (lifecycle.draining) return await reply.code(503).send({ status: 'draining', mode, checks })
    if (app.redis !== null) checks.redis = await pingRedis(app.redis)
    const ready = checks.upstream === 'ok' && (checks.redis ?? 'ok') === 'ok'
    return await reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', mode, checks })
  })
}
