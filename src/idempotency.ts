// Idempotency-Key around one send (SPEC §9): claim the key, replay a kept answer, or run the send and keep its answer.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { KEPT_FOR_REPLAY, SAME_KEY_RETRY, isHsmError, problem, problemAnswer, validationFailed, type Answer, type HsmError } from './errors.js'
import type { Resolver, Settle } from './status/resolution.js'
import type { AttemptContext, IdempotencyStore } from './stores/types.js'

export interface IdempotencyOptions {
  store: IdempotencyStore
  /** How long a finished answer is kept for replay. */
  ttlMs: number
  /** How long an in-flight claim holds the key; it must outlive the longest possible send (see leaseMsFor). */
  leaseMs: number
  /** Called once per replayed answer, for metrics. */
  replayed?: (kind: string, code: string) => void
  /** Resolves outcome-unknown claims (src/status/resolution.ts); without it they replay like any kept answer. */
  resolution?: { resolver: Resolver, settle: Settle }
}

/** Answers after which the message may or may not exist: a same-key retry resolves them. */
const OUTCOME_UNKNOWN: ReadonlySet<string> = new Set(['UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'])

/** The attempt calls this just before Jelou, with what it is about to send. */
export type MarkAttempt = (attempt: AttemptContext) => Promise<void>

/** What the log line of a replay names. */
export interface KeyedSend {
  kind: string
  template: string | undefined
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex')

/** Same route, query and JSON value give the same fingerprint, whatever the order of body keys or query parameters. */
function fingerprintOf (request: FastifyRequest): string {
  return sha256(request.routeOptions.url ?? request.url, canonical(request.query ?? {}), canonical(request.body))
}

/** Time a key is held beyond the upstream deadline: see leaseMsFor. */
export const STORE_MARGIN_MS = 5000

/**
 * The in-flight lease: the send's hard deadline (JELOU_TIMEOUT_MS, retries included) plus 5 s
 * for what runs around it while the key is held (the recipient guard before and storing the
 * answer after, each bounded by Redis's 1 s command timeout) and for timers firing late on a
 * busy event loop. So a lease outlives every send, and a crashed replica's key frees itself
 * JELOU_TIMEOUT_MS + 5 s after its claim.
 */
export function leaseMsFor (timeoutMs: number): number {
  return timeoutMs + STORE_MARGIN_MS
}

function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** The request's Idempotency-Key, checked (1..255 printable ASCII), or undefined when it has none. */
export function idempotencyKeyOf (request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key']
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw validationFailed([{ in: 'headers', path: '/idempotency-key', rule: 'pattern', message: 'must be 1 to 255 printable ASCII characters' }])
  }
  return header
}

export function createIdempotency (options: IdempotencyOptions) {
  const { store, ttlMs, leaseMs, replayed, resolution } = options

  /** The message may be out: a store failure now must not turn a send into an error (the in-flight lease still guards it). */
  async function keep (request: FastifyRequest, key: string, fingerprint: string, answer: Answer, unresolved?: AttemptContext) {
    try {
      await store.complete(key, fingerprint, answer, ttlMs, unresolved)
    } catch (error) {
      request.log.error({ err: { code: (error as HsmError).code, message: (error as Error).message } }, 'idempotency answer not stored')
    }
  }

  /** Runs the attempt; a "may have been sent" failure is kept open with the attempt's context, so a retry resolves it. */
  async function run (request: FastifyRequest, key: string, fingerprint: string, attempt: (mark: MarkAttempt) => Promise<Answer>): Promise<Answer> {
    let marked: AttemptContext | undefined
    const mark: MarkAttempt = async (context) => {
      await store.mark(key, context, ttlMs)
      marked = context
    }
    let answer: Answer
    try {
      answer = await attempt(mark)
    } catch (error) {
      if (isHsmError(error) && KEPT_FOR_REPLAY.has(error.code)) {
        const open = resolution !== undefined && marked !== undefined && OUTCOME_UNKNOWN.has(error.code) ? marked : undefined
        if (open !== undefined) {
          if (!error.message.includes(SAME_KEY_RETRY)) error.message = `${error.message} ${SAME_KEY_RETRY}`
          error.retryAfterSeconds = resolution?.resolver.waitSeconds(open)
        }
        await keep(request, key, fingerprint, problemAnswer(error, request.id), open)
      } else {
        await store.release(key).catch(() => {})
      }
      throw error
    }
    await keep(request, key, fingerprint, answer)
    return answer
  }

  /**
   * Runs `attempt` at most once per caller and key: a repeat gets the kept answer (or 409 while
   * the first is in flight, 422 for a different request). Answers that provably sent nothing are
   * not kept, so a retry with the same key may send.
   */
  return async function keyed (request: FastifyRequest, reply: FastifyReply, header: string, send: KeyedSend, attempt: (mark: MarkAttempt) => Promise<Answer>): Promise<Answer> {
    const key = `${request.caller}\0${header}`
    const fingerprint = fingerprintOf(request)
    const claim = await store.claim(key, fingerprint, leaseMs)
    if (claim.state === 'unresolved' && resolution !== undefined) {
      const settlement = await resolution.settle(request, claim.attempt, claim.answer)
      if ('resend' in settlement) return await run(request, key, fingerprint, attempt)
      await keep(request, key, fingerprint, settlement.answer, settlement.open ? claim.attempt : undefined)
      replayed?.(send.kind, String(settlement.answer.body.code ?? 'OK'))
      reply.header('idempotent-replayed', 'true')
      return settlement.answer
    }
    if (claim.state === 'unresolved') return claim.answer ?? await run(request, key, fingerprint, attempt)
    if (claim.state !== 'claimed') {
      if (claim.fingerprint !== fingerprint) {
        throw problem('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request; use a new key for a new message.')
      }
      if (claim.state === 'in_flight') {
        throw problem('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed.', { retryAfterSeconds: 1 })
      }
      request.log.info({
        caller: request.caller,
        kind: send.kind,
        template: send.template,
        idempotencyKey: { present: true, replayed: true },
        status: claim.answer.status,
        // The replayed body keeps the id of the request that sent; this line's reqId is the replay's.
        originalRequestId: claim.answer.body.requestId,
        outcome: 'replayed'
      }, 'hsm replayed')
      replayed?.(send.kind, String(claim.answer.body.code ?? 'OK'))
      reply.header('idempotent-replayed', 'true')
      return claim.answer
    }
    return await run(request, key, fingerprint, attempt)
  }
}

export type Keyed = ReturnType<typeof createIdempotency>
