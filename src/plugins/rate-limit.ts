// Fixed-window request limits (SPEC §12): per caller on /v1, per address on the events receiver.
// One counter hit per request, on the same counter store as the recipient guard (memory, or Redis
// shared by every replica), with the draft-standard RateLimit-* headers on every answer.
//
// A send route's caller is counted in the send's own store step (begin), which refuses the send
// when the caller is over the limit: on Redis one round trip before Jelou instead of two. Every
// other way out of a send route (an answer without a send, an error, a replay found first)
// counts it there, before answering, and answers 429 when over, as every other route does first.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { problem, type HsmError } from '../errors.js'
import type { Began, CounterStore } from '../stores/types.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A send route: the caller is counted in the send's own store step (see above). */
    callerLimitAtSend?: boolean
  }
}

export interface RateLimitOptions {
  max: number
  windowMs: number
  counters: CounterStore
  /** Whom a request counts against. */
  keyOf: (request: FastifyRequest) => string
  /** The 429's detail: what was refused and what to do. */
  refusal: string
}

/** A send route's caller, not counted yet. */
export interface CallerCount {
  key: string
  max: number
  windowMs: number
  /**
   * The send's store step counted it: sets the headers, and `refusal` when over. Without a window,
   * the step failed where it may have counted it (a reply that never came): never counted again,
   * and no headers.
   */
  counted: (window?: { count: number, resetMs: number }) => void
  /** The 429, once counted over the limit. */
  refusal?: HsmError
  /** Counts it on the counter store (every way out but the store step). */
  count: () => Promise<HsmError | undefined>
}

const PENDING = Symbol('caller not counted yet')
type WithPending = FastifyRequest & { [PENDING]?: CallerCount }

/** The caller a send's store step must count (BeginSend.caller): undefined once counted, and off a send route. */
export function callerToCount (request: FastifyRequest): CallerCount | undefined {
  return (request as WithPending)[PENDING]
}

/**
 * A send's store step, given its caller to count: the caller is counted once whatever happens (a
 * step that fails may have counted it: never counted again), and the 429 is thrown when the step
 * found it over the limit.
 */
export async function countedBegin (caller: CallerCount | undefined, begin: () => Promise<Began>): Promise<Began> {
  let step
  try {
    step = await begin()
  } catch (error) {
    caller?.counted()
    throw error
  }
  if (step.state === 'caller_limited') throw caller?.refusal ?? problem('RATE_LIMITED', 'Over this caller\'s request limit; nothing was sent.', { retryAfterSeconds: 1 })
  return step
}

/** Counts a send route's caller, unless counted already (once per request): the 429 when over the limit. */
export async function callerLimitRefusal (request: FastifyRequest): Promise<HsmError | undefined> {
  const pending = (request as WithPending)[PENDING]
  return pending === undefined ? undefined : await pending.count()
}

/** callerLimitRefusal, thrown. */
export async function settleCallerLimit (request: FastifyRequest): Promise<void> {
  const refused = await callerLimitRefusal(request)
  if (refused !== undefined) throw refused
}

const rateLimit: FastifyPluginAsync<RateLimitOptions> = async (app, { max, windowMs, counters, keyOf, refusal }) => {
  const limit = String(max)
  /** Headers on every answer; the 429 when over. */
  const apply = (reply: FastifyReply, window: { count: number, resetMs: number }) => {
    const resetSeconds = Math.max(1, Math.ceil(window.resetMs / 1000))
    reply.header('ratelimit-limit', limit)
    reply.header('ratelimit-remaining', String(Math.max(0, max - window.count)))
    reply.header('ratelimit-reset', String(resetSeconds))
    return window.count > max ? problem('RATE_LIMITED', refusal, { retryAfterSeconds: resetSeconds }) : undefined
  }
  const count = async (key: string, reply: FastifyReply) => {
    let window
    try {
      window = await counters.hit(key, windowMs)
    } catch {
      // A courtesy limit: a store that does not answer must not stop every request (the recipient
      // guard and idempotency fail closed on their own).
      return undefined
    }
    return apply(reply, window)
  }
  app.addHook('onRequest', async (request, reply) => {
    const key = keyOf(request)
    if (request.routeOptions.config.callerLimitAtSend === true) {
      const caller: CallerCount = {
        key,
        max,
        windowMs,
        counted: (window) => {
          (request as WithPending)[PENDING] = undefined
          if (window !== undefined) caller.refusal = apply(reply, window)
        },
        count: async () => {
          (request as WithPending)[PENDING] = undefined
          return await count(key, reply)
        }
      }
      ;(request as WithPending)[PENDING] = caller
      return
    }
    const refused = await count(key, reply)
    if (refused !== undefined) throw refused
  })
}

export default fp(rateLimit, { name: 'rate-limit', fastify: '5.x' })
