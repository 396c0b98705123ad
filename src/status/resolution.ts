// Resolution of outcome-unknown sends (SPEC §18): ask Jelou's notifications whether the first attempt's message exists before sending again.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { acceptedAnswer } from '../accepted.js'
import { SAME_KEY_RETRY, problem, problemAnswer, type Answer } from '../errors.js'
import type { AttemptContext } from '../stores/types.js'
import type { NotificationItem, NotificationsClient } from './jelou.js'
import { timeOf } from './jelou.js'
import type { StatusStore } from './types.js'

export type Resolution =
  | { outcome: 'found', messageId: string }
  | { outcome: 'absent' }
  | { outcome: 'unresolved', retryAfterSeconds: number }

export interface ResolverOptions {
  notifications: NotificationsClient
  /** Ids recorded by accepted sends belong to those sends, never to an outcome-unknown one. */
  status: StatusStore
  /** How long after an attempt Jelou has surely registered its message; before that, absence proves nothing. */
  windowMs: number
  /** The send's own deadline: Jelou creates the message within it. */
  sendTimeoutMs: number
  /** Allowed difference between our clock and Jelou's. */
  skewMs?: number
  now?: () => number
}

/** Pages read per resolution at most (50 items each): beyond that, absence cannot be proven. */
const MAX_PAGES = 10
const PAGE = 50
/** When Jelou cannot be asked: ask again after this long. */
const RETRY_WHEN_DOWN_SECONDS = 10

const INTERRUPTED = 'An earlier request with this Idempotency-Key was interrupted after calling Jelou; the message may have been sent.'

const digits = (value: string) => value.replace(/\D/g, '')

export function createResolver (options: ResolverOptions) {
  const { notifications, status, windowMs, sendTimeoutMs, skewMs = 30000, now = Date.now } = options

  /** Seconds until Jelou has surely registered the attempt's message (at least 1). */
  function waitSeconds (attempt: AttemptContext): number {
    return Math.max(1, Math.ceil((attempt.startedAt + windowMs - now()) / 1000))
  }

  async function isOurs (item: NotificationItem, attempt: AttemptContext, earliest: number, latest: number): Promise<boolean> {
    if (digits(item.destination) !== digits(attempt.to)) return false
    if (item.elementName !== undefined && item.elementName !== attempt.template) return false
    const created = timeOf(item.createdAt)
    if (created !== undefined && (created < earliest || created > latest)) return false
    return (await status.get(item.id))?.base === undefined
  }

  async function resolve (attempt: AttemptContext, log: FastifyBaseLogger): Promise<Resolution> {
    const earliest = attempt.startedAt - skewMs
    const latest = attempt.startedAt + sendTimeoutMs + skewMs
    const query = { elementName: attempt.template, from: new Date(earliest).toISOString(), to: new Date(latest).toISOString(), limit: PAGE }
    const askedAt = now()
    const found: NotificationItem[] = []
    let complete = false
    try {
      for (let page = 1; page <= MAX_PAGES && !complete; page++) {
        const answer = await notifications.list(attempt.botId, { ...query, page })
        for (const item of answer.items) if (await isOurs(item, attempt, earliest, latest)) found.push(item)
        complete = answer.items.length < PAGE || (answer.total !== null && page * PAGE >= answer.total)
      }
    } catch (error) {
      log.warn({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'resolution: Jelou notifications did not answer')
      return { outcome: 'unresolved', retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)) }
    }
    if (found.length > 0) {
      // Two candidates means two sends of this template to this number in the window: take the one created closest to the attempt.
      const distance = (item: NotificationItem) => Math.abs((timeOf(item.createdAt) ?? attempt.startedAt) - attempt.startedAt)
      found.sort((a, b) => distance(a) - distance(b))
      return { outcome: 'found', messageId: (found[0] as NotificationItem).id }
    }
    if (complete && askedAt >= attempt.startedAt + windowMs) return { outcome: 'absent' }
    return { outcome: 'unresolved', retryAfterSeconds: waitSeconds(attempt) }
  }

  return { resolve, waitSeconds }
}

export type Resolver = ReturnType<typeof createResolver>

export type ResolutionOutcome = 'found' | 'resent' | 'unresolved'

export interface SettleOptions {
  resolver: Resolver
  status: StatusStore
  sandbox: boolean
  observe?: (outcome: ResolutionOutcome) => void
}

/** What a same-key request does with an outcome-unknown claim: answer (and keep, open or final), or send once more. */
export type Settlement =
  | { answer: Answer, open: boolean }
  | { resend: true }

/**
 * Found: 202 with the id, recorded as resolved, kept as the key's final answer. Provably absent:
 * the caller sends once more (and says so in the log). Otherwise: the 504 again, with a fresh
 * Retry-After, and the claim stays open for the next retry.
 */
export function createSettler (options: SettleOptions) {
  const { resolver, status, sandbox, observe } = options
  return async function settle (request: FastifyRequest, attempt: AttemptContext, kept: Answer | null): Promise<Settlement> {
    const resolution = await resolver.resolve(attempt, request.log)
    const line = { caller: request.caller, kind: attempt.kind, template: attempt.template, botId: attempt.botId, firstRequestId: attempt.requestId, resolution: resolution.outcome }
    if (resolution.outcome === 'found') {
      observe?.('found')
      request.log.info({ ...line, messageId: resolution.messageId }, 'hsm resolved: Jelou has the message of the earlier attempt')
      status.record({
        messageId: resolution.messageId,
        caller: request.caller,
        botId: attempt.botId,
        template: attempt.template,
        kind: attempt.kind,
        to: attempt.to,
        acceptedAt: attempt.startedAt,
        requestId: attempt.requestId,
        clientRef: attempt.clientRef,
        resolved: true
      })
      const answer = acceptedAnswer({ ...attempt, messageId: resolution.messageId, requestId: request.id, sandbox, resolved: true })
      return { answer, open: false }
    }
    if (resolution.outcome === 'absent') {
      observe?.('resent')
      request.log.warn(line, 'hsm resend: Jelou provably does not have the earlier attempt\'s message; sending it once more')
      return { resend: true }
    }
    observe?.('unresolved')
    request.log.info(line, 'hsm unresolved: cannot tell yet whether the earlier attempt was sent')
    const answer = kept ?? problemAnswer(problem('UPSTREAM_TIMEOUT', `${INTERRUPTED} ${SAME_KEY_RETRY}`), request.id)
    return { answer: { ...answer, retryAfter: String(resolution.retryAfterSeconds) }, open: true }
  }
}

export type Settle = ReturnType<typeof createSettler>
