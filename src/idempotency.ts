// Idempotency-Key around one send (SPEC §9): claim the key, replay a kept answer, or run the send and keep its answer.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { KEPT_FOR_REPLAY, isHsmError, problem, problemAnswer, validationFailed, type Answer, type HsmError } from './errors.js'
import type { IdempotencyStore } from './stores/types.js'

export interface IdempotencyOptions {
  store: IdempotencyStore
  /** How long a finished answer is kept for replay. */
  ttlMs: number
  /** How long an in-flight claim holds the key; it must outlive the longest possible send. */
  leaseMs: number
  /** Called once per replayed answer, for metrics. */
  replayed?: (kind: string, code: string) => void
}

/** What the log line of a replay names. */
export interface KeyedSend {
  kind: string
  template: string | undefined
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex')

/** Same route, query and JSON value give the same fingerprint, whatever the key order. */
function fingerprintOf (request: FastifyRequest): string {
  return sha256(request.routeOptions.url ?? request.url, JSON.stringify(request.query ?? {}), canonical(request.body))
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
  const { store, ttlMs, leaseMs, replayed } = options

  /** The message may be out: a store failure now must not turn a send into an error (the in-flight lease still guards it). */
  async function keep (request: FastifyRequest, key: string, fingerprint: string, answer: Answer) {
    try {
      await store.complete(key, fingerprint, answer, ttlMs)
    } catch (error) {
      request.log.error({ err: { code: (error as HsmError).code, message: (error as Error).message } }, 'idempotency answer not stored')
    }
  }

  /**
   * Runs `attempt` at most once per caller and key: a repeat gets the kept answer (or 409 while
   * the first is in flight, 422 for a different request). Answers that provably sent nothing are
   * not kept, so a retry with the same key may send.
   */
  return async function keyed (request: FastifyRequest, reply: FastifyReply, header: string, send: KeyedSend, attempt: () => Promise<Answer>): Promise<Answer> {
    const key = `${request.caller}\0${header}`
    const fingerprint = fingerprintOf(request)
    const claim = await store.claim(key, fingerprint, leaseMs)
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

    let answer: Answer
    try {
      answer = await attempt()
    } catch (error) {
      if (isHsmError(error) && KEPT_FOR_REPLAY.has(error.code)) {
        await keep(request, key, fingerprint, problemAnswer(error, request.id))
      } else {
        await store.release(key).catch(() => {})
      }
      throw error
    }
    await keep(request, key, fingerprint, answer)
    return answer
  }
}

export type Keyed = ReturnType<typeof createIdempotency>
