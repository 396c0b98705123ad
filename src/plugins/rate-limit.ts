// Fixed-window request limits (SPEC §12): per caller on /v1, per address on the events receiver.
// One counter hit per request, on the same counter store as the recipient guard (memory, or Redis
// shared by every replica), with the draft-standard RateLimit-* headers on every answer.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { problem } from '../errors.js'
import type { CounterStore } from '../stores/types.js'

export interface RateLimitOptions {
  max: number
  windowMs: number
  counters: CounterStore
  /** Whom a request counts against. */
  keyOf: (request: FastifyRequest) => string
  /** The 429's detail: what was refused and what to do. */
  refusal: string
}

const rateLimit: FastifyPluginAsync<RateLimitOptions> = async (app, { max, windowMs, counters, keyOf, refusal }) => {
  const limit = String(max)
  app.addHook('onRequest', async (request, reply) => {
    let window
    try {
      window = await counters.hit(keyOf(request), windowMs)
    } catch {
      // A courtesy limit: a store that does not answer must not stop every request (the recipient
      // guard and idempotency fail closed on their own).
      return
    }
    const resetSeconds = Math.max(1, Math.ceil(window.resetMs / 1000))
    reply.header('ratelimit-limit', limit)
    reply.header('ratelimit-remaining', String(Math.max(0, max - window.count)))
    reply.header('ratelimit-reset', String(resetSeconds))
    if (window.count > max) throw problem('RATE_LIMITED', refusal, { retryAfterSeconds: resetSeconds })
  })
}

export default fp(rateLimit, { name: 'rate-limit', fastify: '5.x' })
