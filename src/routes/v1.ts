// The /v1 context: caller keys and the per-caller rate limit (src/plugins/rate-limit.ts) apply to the send and status routes (the events receiver has its own token, in app.ts).
import type { FastifyPluginAsync } from 'fastify'
import type { Config } from '../config.js'
import auth from '../plugins/auth.js'
import rateLimit from '../plugins/rate-limit.js'
import type { CounterStore } from '../stores/types.js'
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

export const v1Routes: FastifyPluginAsync<{ config: Config, counters: CounterStore, send: Sender, catalogue: Catalogue, routeCache: RouteCache, status: { lookup: ReturnType<typeof createLookup>, store: StatusStore, cancel: (base: MessageBase) => Promise<boolean> }, callbacks: Callbacks }> = async (v1, { config, counters, send, catalogue, routeCache, status, callbacks }) => {
  await v1.register(auth, { apiKeys: config.apiKeys })
  await v1.register(rateLimit, {
    max: config.rateLimitPerMinute,
    windowMs: 60000,
    counters,
    keyOf: (request) => request.caller,
    refusal: `At most ${config.rateLimitPerMinute} requests per minute for this caller; nothing was sent.`
  })
  await v1.register(templateRoutes, { send })
  await v1.register(rawRoute, { send })
  await v1.register(messageRoutes, status)
  await v1.register(callbackRoutes, { callbacks })
  await v1.register(catalogueRoutes, { send, catalogue, routes: routeCache, defaultLanguage: config.defaultLanguage })
}
