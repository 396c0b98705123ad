// The /v1 context: caller keys and the per-caller rate limit apply to the send and status routes (the events receiver has its own token, in app.ts).
import type { FastifyPluginAsync } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { problem } from '../errors.js'
import auth from '../plugins/auth.js'
import type { Sender } from '../send.js'
import { rawRoute } from './raw.js'
import { templateRoutes } from './templates.js'
import { messageRoutes } from './messages.js'
import type { createLookup } from '../status/lookup.js'
import type { MessageBase, StatusStore } from '../status/types.js'
import type { Callbacks } from '../callbacks/callbacks.js'
import { callbackRoutes } from './callbacks.js'
import { catalogueRoutes } from './catalogue.js'
import type { Catalogue } from '../catalogue/catalogue.js'
import type { RouteCache } from '../catalogue/template-route.js'

export const v1Routes: FastifyPluginAsync<{ config: Config, redis: Redis | null, send: Sender, catalogue: Catalogue, routeCache: RouteCache, status: { lookup: ReturnType<typeof createLookup>, store: StatusStore, cancel: (base: MessageBase) => Promise<boolean> }, callbacks: Callbacks }> = async (v1, { config, redis, send, catalogue, routeCache, status, callbacks }) => {
  await v1.register(auth, { apiKeys: config.apiKeys })
  await v1.register(rateLimit, {
    max: config.rateLimitPerMinute,
    timeWindow: 60000,
    keyGenerator: (request) => request.caller,
    enableDraftSpec: true,
    redis: redis ?? undefined,
    nameSpace: `${config.redis?.keyPrefix ?? ''}rl:`,
    // A dead Redis must not stop every send for a courtesy limit; the recipient guard and idempotency still fail closed.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => problem('RATE_LIMITED', `At most ${context.max} requests per minute for this caller; nothing was sent.`, {
      retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000))
    })
  })
  await v1.register(templateRoutes, { send })
  await v1.register(rawRoute, { send })
  await v1.register(messageRoutes, status)
  await v1.register(callbackRoutes, { callbacks })
  await v1.register(catalogueRoutes, { send, catalogue, routes: routeCache, defaultLanguage: config.defaultLanguage })
}
