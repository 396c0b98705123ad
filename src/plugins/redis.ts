// The Redis connection when REDIS_URL is set: one client for idempotency and both rate limits, closed on shutdown.
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | null
  }
}

/** While Redis is down ioredis retries every few hundred ms; one warning per this interval is enough. */
export const REDIS_WARN_INTERVAL_MS = 60_000

/**
 * Counts events and lets one through per interval: the first at once, later ones when the interval
 * has passed, each with how many happened since the last one let through.
 */
export function createThrottle (intervalMs: number, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY
  let count = 0
  return {
    /** The number of events since the last report when this one should be reported, else null. */
    hit (): number | null {
      count++
      const t = now()
      if (t - last < intervalMs) return null
      last = t
      const reported = count
      count = 0
      return reported
    },
    /** Events not reported yet, and a fresh start (after a reconnect). */
    reset (): number {
      const pending = count
      count = 0
      last = Number.NEGATIVE_INFINITY
      return pending
    }
  }
}

export default fp<{ url: string | null, warnIntervalMs?: number }>(async (app, { url, warnIntervalMs = REDIS_WARN_INTERVAL_MS }) => {
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
  const errors = createThrottle(warnIntervalMs)
  let down = false
  redis.on('error', (err: Error & { code?: string }) => {
    down = true
    const count = errors.hit()
    if (count !== null) app.log.warn({ err: { code: err.code, message: err.message }, count, intervalSeconds: warnIntervalMs / 1000 }, 'redis error')
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    app.log.info({ unreported: errors.reset() }, 'redis reconnected')
  })
  // Start even when Redis is down: /ready says so and sends answer 503 STORE_UNAVAILABLE until it is back.
  redis.connect().catch(() => {})
  app.decorate('redis', redis)
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'redis', fastify: '5.x' })
