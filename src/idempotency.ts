// Idempotency-Key around one send (SPEC §9): claim the key, replay a kept answer, or run the send and keep its answer.
import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { KEPT_FOR_REPLAY, OUTCOME_UNKNOWN, SAME_KEY_RETRY, isHsmError, problem, problemAnswer, recipientRateLimited, validationFailed, type Answer, type HsmError } from './errors.js'
import type { Resolver, Settle } from './status/resolution.js'
import type { AttemptContext, Began, BeginSend, Claim, IdempotencyStore } from './stores/types.js'
import { countedBegin, settleCallerLimit, type CallerCount } from './plugins/rate-limit.js'

export interface IdempotencyOptions {
  store: IdempotencyStore
  /** How long a finished answer is kept for replay. */
  ttlMs: number
  /** How long a hold on a key lasts without renewal: the holder renews it every third of that while it works (see leaseMsFor). */
  leaseMs: number
  /** Called once per replayed answer, for metrics. */
  replayed?: (kind: string, code: string) => void
  /** Resolves outcome-unknown claims (src/status/resolution.ts); without it they replay like any kept answer. */
  resolution?: { resolver: Resolver, settle: Settle }
}

/** What the attempt knows just before Jelou; the key adds its attempt number and first start. */
export type AttemptStart = Omit<AttemptContext, 'number' | 'firstStartedAt'>

/**
 * The attempt calls this just before Jelou, with what it is about to send and the store step that
 * starts it (the recipient guard and the open attempt; the key adds its claim or fence and the
 * mark): one call to the store. It throws, nothing sent, over the recipient limit or when the key
 * was taken meanwhile. Resolves to the attempt's number (2 and up: a resend).
 */
export type BeginAttempt = (attempt: AttemptStart, send: Omit<BeginSend, 'key' | 'caller'> & { caller?: CallerCount }) => Promise<number>

/** What the log line of a replay names. */
export interface KeyedSend {
  kind: string
  template: string | undefined
  /** A settle-only send (a given-up scheduled send): resolution proving the earlier message absent does not lead to a resend. */
  settleOnly?: boolean
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
 * The hold on a key: the send's hard deadline (JELOU_TIMEOUT_MS, retries included) plus 5 s
 * for what runs around it (the recipient guard before and storing the answer after, each bounded
 * by Redis's 1 s command timeout) and for timers firing late on a busy event loop. The holder
 * renews it every third of that for as long as it works (resolution and a resend included), so
 * no hold lapses under a live worker, and a crashed replica's key frees itself at most
 * JELOU_TIMEOUT_MS + 5 s after its last renewal.
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

  /** Renews the hold every third of the lease until stopped; a lost hold is found by the next fenced write. */
  function hold (key: string, holder: string) {
    const timer = setInterval(() => { store.renew(key, holder, leaseMs).catch(() => {}) }, Math.max(1, Math.floor(leaseMs / 3)))
    timer.unref()
    return () => clearInterval(timer)
  }

  /**
   * How long a record whose outcome is not known yet (an attempt marked before Jelou, or an open
   * outcome-unknown answer) is kept: twice the TTL. The key's outcome is declared unknowable from
   * its first attempt plus the TTL; the record must outlive that, so that a retry then gets the
   * final `unresolvable` answer (kept a further TTL) rather than finding the key gone and sending
   * a second message.
   */
  const openTtlMs = 2 * ttlMs

  /** The message may be out: a store failure now must not turn a send into an error (the hold still guards the key until it lapses). */
  async function keep (request: FastifyRequest, key: string, holder: string, fingerprint: string, answer: Answer, unresolved?: AttemptContext) {
    try {
      if (!await store.complete(key, holder, fingerprint, answer, unresolved === undefined ? ttlMs : openTtlMs, unresolved)) {
        request.log.warn({ caller: request.caller }, 'idempotency answer not stored: another request holds the key')
      }
    } catch (error) {
      request.log.error({ err: { code: (error as HsmError).code, message: (error as Error).message } }, 'idempotency answer not stored')
    }
  }

  /**
   * Runs the attempt; a "may have been sent" failure is kept open with the attempt's context, so a
   * retry resolves it. The attempt's begin writes the mark: with `claim`, the key is not held yet
   * and that same store step claims it (a key found taken, or an attempt that fails before its
   * begin, comes back as `{ claim }` or `{ notBegun }`, and the caller claims it on its own);
   * else this request holds it and the mark is a compare-and-set on `previous`, the attempt a
   * resend replaces, so only one worker can ever send again for one earlier attempt.
   */
  async function run (request: FastifyRequest, key: string, holder: string, fingerprint: string, attempt: (begin: BeginAttempt) => Promise<Answer>, from: { claim: true } | { previous?: AttemptContext }): Promise<{ answer: Answer } | { claim: Exclude<Claim, { state: 'claimed' }> } | { notBegun: true }> {
    const previous = 'previous' in from ? from.previous : undefined
    let began = false
    let found: Exclude<Claim, { state: 'claimed' }> | undefined
    let marked: AttemptContext | undefined
    let release: (() => void) | undefined
    // Nothing for this run to release: the step freed the key itself, or may have taken an open key.
    let freed = false
    const begin: BeginAttempt = async (start, send) => {
      began = true
      const context: AttemptContext = { ...start, number: (previous?.number ?? 0) + 1, firstStartedAt: previous?.firstStartedAt ?? start.startedAt }
      let step: Began
      // Only a first step counts the caller (it holds nothing yet: over the limit, it claims nothing); a later one finds it counted.
      const caller = 'claim' in from ? send.caller : undefined
      try {
        step = await countedBegin(caller, async () => await store.begin({ ...send, caller, key: { key, holder, attempt: context, ...('claim' in from ? { claim: { fingerprint, leaseMs } } : { previous: previous?.attemptId }) } }))
      } catch (error) {
        // As when a claim fails: this request may hold nothing, or an open key it must not forget
        // (the store undid what it could: a claim no replica confirmed is released, an open key let go).
        if ('claim' in from) freed = true
        throw error
      }
      if (step.state === 'claim') {
        found = step.claim
        throw new Error('the key is taken')
      }
      if (step.state === 'limited') {
        // A key this step claimed is free again already; one held before is released below.
        if ('claim' in from) freed = true
        throw recipientRateLimited(send.recipient, step.resetMs)
      }
      if (step.state === 'lost') {
        throw problem('IDEMPOTENCY_IN_PROGRESS', 'Another request took this Idempotency-Key while this one was working; nothing was sent by this one.', { retryAfterSeconds: 1 })
      }
      // Claimed by this step: held (and renewed) from now on, as after a claim.
      if ('claim' in from) release = hold(key, holder)
      marked = context
      return context.number
    }
    try {
      let answer: Answer
      try {
        answer = await attempt(begin)
      } catch (error) {
        if (found !== undefined) return { claim: found }
        if ('claim' in from && !began) return { notBegun: true }
        if (isHsmError(error) && KEPT_FOR_REPLAY.has(error.code) && marked !== undefined) {
          const open = resolution !== undefined && OUTCOME_UNKNOWN.has(error.code) ? marked : undefined
          if (open !== undefined) {
            if (!error.message.includes(SAME_KEY_RETRY)) error.message = `${error.message} ${SAME_KEY_RETRY}`
            error.retryAfterSeconds = resolution?.resolver.waitSeconds(open)
            error.resolution = 'pending'
          }
          await keep(request, key, holder, fingerprint, problemAnswer(error, request.id), open)
        } else if (!freed) {
          await store.release(key, holder).catch(() => {})
        }
        throw error
      }
      // An answer that never began (a scheduled send: the sender claims its key first) is kept only under a key claimed first.
      if ('claim' in from && !began) return { notBegun: true }
      await keep(request, key, holder, fingerprint, answer)
      return { answer }
    } finally {
      release?.()
    }
  }

  /**
   * Runs `attempt` at most once per caller and key: a repeat gets the kept answer (or 409 while
   * the first is in flight or being resolved, 422 for a different request). Answers that provably
   * sent nothing are not kept, so a retry with the same key may send. An outcome-unknown answer is
   * resolved by the next same-key request; what resolution answers is a new answer (no
   * Idempotent-Replayed), and once final it replays like any other.
   */
  return async function keyed (request: FastifyRequest, reply: FastifyReply, header: string, send: KeyedSend, attempt: (begin: BeginAttempt) => Promise<Answer>, claimFirst = false): Promise<Answer> {
    const key = `${request.caller}\0${header}`
    const fingerprint = fingerprintOf(request)
    const holder = randomUUID()
    let claim: Claim | undefined
    if (!claimFirst) {
      // The usual case: the attempt's one store step before Jelou claims the key too.
      const ran = await run(request, key, holder, fingerprint, attempt, { claim: true })
      if ('answer' in ran) return ran.answer
      // Taken: what the claim would have found. Failed before its begin (a request invalid now, an
      // overloaded service): claimed first as before, so a kept answer is replayed, never a 400 or a 503.
      if ('claim' in ran) claim = ran.claim
    }
    // Claimed on its own (a scheduled send, or an attempt that failed before its begin): a caller over its limit hears 429 first.
    await settleCallerLimit(request)
    claim ??= await store.claim(key, fingerprint, holder, leaseMs)
    if (claim.state === 'claimed' || claim.state === 'unresolved') {
      const release = hold(key, holder)
      try {
        if (claim.state === 'claimed') return await answerOf(run(request, key, holder, fingerprint, attempt, {}))
        if (resolution === undefined) {
          if (claim.answer === null) return await answerOf(run(request, key, holder, fingerprint, attempt, { previous: claim.attempt }))
          await keep(request, key, holder, fingerprint, claim.answer, claim.attempt)
          return claim.answer
        }
        const settlement = await resolution.settle(request, claim.attempt, claim.answer, send.settleOnly !== true)
        if ('resend' in settlement) return await answerOf(run(request, key, holder, fingerprint, attempt, { previous: claim.attempt }))
        await keep(request, key, holder, fingerprint, settlement.answer, settlement.open ? claim.attempt : undefined)
        // Still where it stood (pending again, or ambiguous again): the kept answer, replayed with a fresh wait. Anything else is news.
        if (claim.answer !== null && claim.answer.status === settlement.answer.status && claim.answer.body.resolution === settlement.answer.body.resolution) {
          replayed?.(send.kind, String(settlement.answer.body.code ?? 'OK'))
          reply.header('idempotent-replayed', 'true')
        }
        return settlement.answer
      } finally {
        release()
      }
    }
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
}

export type Keyed = ReturnType<typeof createIdempotency>

/** A run under a key this request holds always ends with an answer or an error. */
async function answerOf (ran: Promise<{ answer: Answer } | object>): Promise<Answer> {
  const result = await ran
  if ('answer' in result) return result.answer as Answer
  /* c8 ignore next */
  throw new Error('a run under a held key came back without an answer')
}
