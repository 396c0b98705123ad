// The Redis connection when REDIS_URL is set: one client for idempotency and both rate limits, closed on shutdown.
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | null
  }
}

export default fp<{ url: string | null }>(async (app, { url }) => {
  if (url === null) {
    app.decorate('redis', null)
    return
  }
  // Loaded only when configured: ioredis costs about 12 MB of memory a process without Redis does not need.
  const { Redis: RedisClient } = await import('ioredis')
  const redis = new RedisClient(url, {
    // Fail fast instead of queueing sends behind a dead connection; the caller gets 503 STORE_UNAVAILABLE.
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    lazyConnect: true
  })
  redis.on('error', (err: Error & { code?: string }) => { app.log.warn({ err: { code: err.code, message: err.message } }, 'redis error') })
  // Start even when Redis is down: /ready says so and sends answer 503 STORE_UNAVAILABLE until it is back.
  redis.connect().catch(() => {})
  app.decorate('redis', redis)
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'redis', fastify: '5.x' })
