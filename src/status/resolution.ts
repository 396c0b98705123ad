// Resolution of outcome-unknown sends (SPEC §18): ask Jelou's notifications whether the first attempt's message exists before sending again.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { acceptedAnswer } from '../accepted.js'
import { SAME_KEY_RETRY, problem, problemAnswer, type Answer, type Resolution as ResolutionState } from '../errors.js'
import { attemptGroup, type AttemptContext, type IdempotencyStore, type OpenAttempt } from '../stores/types.js'
import type { NotificationItem, NotificationPage, NotificationsClient } from './jelou.js'
import { timeOf } from './jelou.js'
import type { StatusStore } from './types.js'

/** How an answer was proven to be the attempt's own. */
export type Proof = 'returned' | 'tag' | 'only-candidate'

export type Resolution =
  | { outcome: 'found', messageId: string, proof: Proof }
  | { outcome: 'absent' }
  | { outcome: 'pending', retryAfterSeconds: number, reason: string }
  | { outcome: 'ambiguous', retryAfterSeconds: number, candidates: number }

export interface ResolverOptions {
  notifications: NotificationsClient
  /** Ids recorded by accepted sends belong to those sends; the one recorded for this attempt is its own. */
  status: StatusStore
  /** The open attempts of every key (and of sends without one): a candidate one of them could own is ambiguous. */
  attempts: Pick<IdempotencyStore, 'openAttempts'>
  /** How long after an attempt Jelou has surely registered its message; before that, absence proves nothing. At least the send deadline plus skewMs (config checks it). */
  windowMs: number
  /** Allowed difference between our clock and Jelou's (RESOLUTION_CLOCK_SKEW_SECONDS). */
  skewMs: number
  /** Resolution's own deadline: past it, the scan is incomplete and the answer is "not yet". */
  timeoutMs: number
  now?: () => number
}

/** Requested page size (Jelou's maximum); Jelou may answer fewer per page, and the scan follows its own count. */
const PAGE = 50
/** Pages read at most, whatever the deadline: 50 000 notifications of one template in one window. */
const MAX_PAGES = 1000
/** Jelou may stamp `createdAt` to the whole second (truncated or rounded): the window is widened by this on both ends. */
const GRAIN_MS = 1000
/** When Jelou cannot be asked, or the answer is ambiguous: ask again after this long at least. */
const RETRY_WHEN_DOWN_SECONDS = 10

const digits = (value: string) => value.replace(/\D/g, '')

interface Scan {
  complete: boolean
  reason: string
  /** Items of this template to this number in the attempt's window, with an id. */
  candidates: NotificationItem[]
  /** Such items without an id: they may be ours and can never be claimed. */
  anonymous: number
  /** Items of this template in the window, with an id, whose number cannot be read: they may be ours and can never be claimed. */
  blind: NotificationItem[]
}

/** What page 1 showed: its ids in order, and the whole of each item without one (nothing else tells those apart). */
const pageSignature = (page: NotificationPage) => JSON.stringify([page.items.map((item) => item.id), page.anonymous])

export function createResolver (options: ResolverOptions) {
  const { notifications, status, attempts, windowMs, skewMs, timeoutMs, now = Date.now } = options

  /** Seconds until Jelou has surely registered the attempt's message (at least 1). */
  function waitSeconds (attempt: Pick<AttemptContext, 'startedAt'>): number {
    return Math.max(1, Math.ceil((attempt.startedAt + windowMs - now()) / 1000))
  }

  /**
   * Could a message created at `created` (Jelou's clock) belong to an attempt started at `startedAt`
   * (ours)? From the start minus the skew, to the end of the registration window plus the skew: a
   * request Jelou received before our deadline may still be processed, and stamped, after it. Both
   * ends widened by Jelou's stamp granularity (GRAIN_MS): a stamp cut to the second is up to 1 s early.
   */
  const from = (startedAt: number) => startedAt - skewMs - GRAIN_MS
  const until = (startedAt: number) => startedAt + windowMs + skewMs + GRAIN_MS
  const within = (created: number | undefined, startedAt: number) =>
    created === undefined || (created >= from(startedAt) && created <= until(startedAt))

  /** An item whose number cannot be read may be anyone's, this attempt's included. */
  const blind = (item: { destination: string }) => digits(item.destination) === ''

  function matches (item: { destination: string, elementName?: string, campaignId?: unknown, createdAt?: string }, attempt: AttemptContext): boolean {
    if (!blind(item) && digits(item.destination) !== digits(attempt.to)) return false
    if (item.elementName !== undefined && item.elementName !== attempt.template) return false
    if (attempt.tag !== undefined) return item.campaignId === attempt.tag
    // The caller's own campaign: a message Jelou lists with another (or none) is not this attempt's.
    if (attempt.campaign !== undefined && 'campaignId' in item && item.campaignId !== attempt.campaign) return false
    return within(timeOf(item.createdAt), attempt.startedAt)
  }

  /**
   * Every page of the attempt's window, read to the end: the answer's own total or page count
   * when it gives one (whatever page size Jelou uses), else until an empty page. Items without an
   * id count towards the total. A scan of more than one page ends by reading page 1 again: if it
   * changed, items moved during the scan and one may have been skipped, so the scan is incomplete.
   * (A list whose order changes otherwise than by moving changed items to the top can still skip
   * an item unseen: no reading of pages can prove that either way.)
   */
  async function scan (attempt: AttemptContext): Promise<Scan> {
    const deadline = now() + timeoutMs
    const query = {
      elementName: attempt.template,
      campaignId: attempt.tag,
      from: new Date(from(attempt.startedAt)).toISOString(),
      to: new Date(until(attempt.startedAt)).toISOString(),
      limit: PAGE
    }
    const result: Scan = { complete: false, reason: 'the scan did not finish', candidates: [], anonymous: 0, blind: [] }
    // Every page's content: a page served again (Jelou ignoring `page`) is told apart even when it holds items without an id.
    const signatures = new Set<string>()
    // Distinct ids (and every item without one) count towards the total: a page served twice must not look like two.
    const ids = new Set<string>()
    let seen = 0
    let firstTotal: number | null | undefined
    let firstPage = ''
    for (let page = 1; page <= MAX_PAGES; page++) {
      if (now() > deadline) return { ...result, reason: 'the notifications took longer than the resolution deadline' }
      const answer = await notifications.list(attempt.botId, { ...query, page })
      if (firstTotal === undefined) firstTotal = answer.total
      else if (answer.total !== firstTotal) return { ...result, reason: 'the number of notifications changed during the scan' }
      const fresh = answer.items.filter((item) => !ids.has(item.id))
      if (answer.count > 0 && fresh.length === 0 && answer.anonymous.length === 0) return { ...result, reason: 'Jelou answered a page already read' }
      const signature = pageSignature(answer)
      if (answer.count > 0 && signatures.has(signature)) return { ...result, reason: 'Jelou answered a page already read' }
      signatures.add(signature)
      for (const item of fresh) ids.add(item.id)
      seen += fresh.length + answer.anonymous.length
      if (answer.total !== null && seen > answer.total) return { ...result, reason: 'Jelou listed more notifications than its own total' }
      for (const item of fresh) {
        if (!matches(item, attempt)) continue
        if (blind(item) && attempt.tag === undefined) result.blind.push(item)
        else result.candidates.push(item)
      }
      for (const item of answer.anonymous) if (matches(item, attempt)) result.anonymous++
      if (page === 1) firstPage = signature
      const done = answer.total !== null
        ? seen >= answer.total
        : answer.pages !== null ? page >= answer.pages : answer.count === 0
      if (done && page > 1) {
        // Jelou may list by last change: an item that changed while later pages were read moved
        // to the top, above the pages already read, and was skipped (an item read twice, even one
        // without an id, may have made up the count). Such a move changes page 1: read it again.
        if (now() > deadline) return { ...result, reason: 'the notifications took longer than the resolution deadline' }
        const again = await notifications.list(attempt.botId, { ...query, page: 1 })
        if (again.items.some((item) => !ids.has(item.id)) || pageSignature(again) !== firstPage) {
          return { ...result, reason: 'the notifications changed during the scan (page 1 differs on a second read)' }
        }
      }
      if (done) return { ...result, complete: true, reason: '' }
      if (answer.count === 0) return { ...result, reason: 'a page came back empty before the total was reached' }
    }
    return { ...result, reason: `more than ${MAX_PAGES} pages` }
  }

  async function resolve (attempt: AttemptContext, log: FastifyBaseLogger): Promise<Resolution> {
    const askedAt = now()
    let found: Scan
    try {
      found = await scan(attempt)
    } catch (error) {
      log.warn({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'resolution: Jelou notifications did not answer')
      return { outcome: 'pending', retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)), reason: 'Jelou\'s notifications did not answer' }
    }
    // The open attempts are read BEFORE the status records: a send writes its status record before
    // it leaves the open attempts, so every send is seen in one or the other. Read the other way
    // round, a send answered between the two reads would be in neither, and its message unowned.
    // The shared store failing now decides nothing: "not yet", as when Jelou does not answer (never
    // an error saying nothing was sent: the first attempt's message may exist).
    const storeDown = (error: unknown): Resolution => {
      log.warn({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'resolution: the shared store did not answer')
      return { outcome: 'pending', retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)), reason: 'the shared store did not answer' }
    }
    try {
      return await decide(attempt, found, askedAt)
    } catch (error) {
      return storeDown(error)
    }
  }

  async function decide (attempt: AttemptContext, found: Scan, askedAt: number): Promise<Resolution> {
    const open = found.candidates.length > 0 && attempt.tag === undefined
      ? await attempts.openAttempts(attemptGroup(attempt.botId, attempt.template, attempt.to))
      : []
    // Jelou returned this id to this very attempt (the answer was lost, not the record).
    const unowned: NotificationItem[] = []
    for (const item of found.candidates) {
      const owner = (await status.get(item.id))?.base
      if (owner?.attemptId !== undefined && owner.attemptId === attempt.attemptId) return { outcome: 'found', messageId: item.id, proof: 'returned' }
      // Another send's message (or one another key already resolved as its own).
      if (owner === undefined) unowned.push(item)
    }
    if (attempt.tag !== undefined && unowned.length > 0) {
      // The tag is this attempt's alone: more than one message with it would be Jelou's doing, and any of them is ours.
      return { outcome: 'found', messageId: (unowned[0] as NotificationItem).id, proof: 'tag' }
    }
    let blindUnowned = 0
    for (const item of found.blind) {
      const owner = (await status.get(item.id))?.base
      if (owner?.attemptId !== undefined && owner.attemptId === attempt.attemptId) return { outcome: 'found', messageId: item.id, proof: 'returned' }
      if (owner === undefined) blindUnowned++
    }
    const count = unowned.length + found.anonymous + blindUnowned
    if (count > 0) {
      // A send started this early could own a message in this attempt's window: if the store may
      // have dropped such a send's record (full, or past its TTL), its message looks unowned.
      const earliestOwner = from(attempt.startedAt) - windowMs - skewMs - GRAIN_MS
      const recordsLost = (status.lostUntil?.() ?? -Infinity) >= earliestOwner
      if (count === 1 && unowned.length === 1 && !recordsLost) {
        // A sole candidate proves nothing until every message of the window can be seen: a scan cut
        // short may have missed another, and before the window has passed Jelou may list another
        // sender's message while this attempt's own is not registered yet.
        if (!found.complete) return { outcome: 'pending', retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)), reason: found.reason }
        if (askedAt < attempt.startedAt + windowMs) return { outcome: 'pending', retryAfterSeconds: waitSeconds(attempt), reason: 'Jelou may not have registered every message of this window yet' }
        const created = timeOf((unowned[0] as NotificationItem).createdAt)
        const others = open.filter((other: OpenAttempt) => other.attemptId !== attempt.attemptId && within(created, other.startedAt))
        if (others.length === 0) return { outcome: 'found', messageId: (unowned[0] as NotificationItem).id, proof: 'only-candidate' }
      }
      return { outcome: 'ambiguous', candidates: count, retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)) }
    }
    if (!found.complete) return { outcome: 'pending', retryAfterSeconds: Math.max(RETRY_WHEN_DOWN_SECONDS, waitSeconds(attempt)), reason: found.reason }
    if (askedAt < attempt.startedAt + windowMs) return { outcome: 'pending', retryAfterSeconds: waitSeconds(attempt), reason: 'Jelou may not have registered the message yet' }
    return { outcome: 'absent' }
  }

  return { resolve, waitSeconds }
}

export type Resolver = ReturnType<typeof createResolver>

export type ResolutionOutcome = 'found' | 'resent' | 'unresolved' | 'ambiguous' | 'unresolvable'

export interface SettleOptions {
  resolver: Resolver
  status: StatusStore
  attempts: Pick<IdempotencyStore, 'closeAttempt'>
  sandbox: boolean
  /** IDEMPOTENCY_TTL_SECONDS: past the key's first attempt plus this, an outcome still unknown is declared unknowable. */
  ttlMs: number
  now?: () => number
  observe?: (outcome: ResolutionOutcome) => void
  /** Told once when a key's outcome is declared unknowable (its callback, SPEC §21). */
  unresolvable?: (attempt: AttemptContext, caller: string) => Promise<void>
}

/** What a same-key request does with an outcome-unknown claim: answer (and keep, open or final), or send once more. */
export type Settlement =
  | { answer: Answer, open: boolean }
  | { resend: true }

const INTERRUPTED = 'An earlier request with this Idempotency-Key was interrupted after calling Jelou; the message may have been sent.'

/** The final answer of a key whose outcome cannot be known. */
export function unresolvableAnswer (attempt: AttemptContext, requestId: string, why: string): Answer {
  const lookup = attempt.clientRef === undefined ? 'Jelou\'s own message list for this recipient and template' : `GET /v1/messages?clientRef=${encodeURIComponent(attempt.clientRef)}`
  return problemAnswer(problem('UPSTREAM_TIMEOUT',
    `Jelou did not answer in time and whether the message was sent cannot be known (${why}). Check ${lookup} before sending it again; a new Idempotency-Key sends a new message.`,
    { resolution: 'unresolvable' }), requestId)
}

/**
 * Found: 202 with the id, recorded as resolved, kept as the key's final answer. Provably absent:
 * the caller sends once more (and says so in the log). Not yet decidable, or ambiguous: the 504
 * again with `resolution` and a fresh Retry-After, and the claim stays open for the next retry;
 * past the key's TTL, a final 504 that says the outcome cannot be known.
 */
export function createSettler (options: SettleOptions) {
  const { resolver, status, attempts, sandbox, ttlMs, now = Date.now, observe, unresolvable } = options
  /** `mayResend` false: the request only settles (a given-up scheduled send); a provably absent message is said so, not "sending it once more". */
  return async function settle (request: FastifyRequest, attempt: AttemptContext, kept: Answer | null, mayResend = true): Promise<Settlement> {
    const resolution = await resolver.resolve(attempt, request.log)
    const line = { caller: request.caller, kind: attempt.kind, template: attempt.template, botId: attempt.botId, firstRequestId: attempt.requestId, attempt: attempt.number, resolution: resolution.outcome }
    const group = attemptGroup(attempt.botId, attempt.template, attempt.to)
    const open = { attemptId: attempt.attemptId, startedAt: attempt.startedAt }
    if (resolution.outcome === 'found') {
      observe?.('found')
      request.log.info({ ...line, messageId: resolution.messageId, proof: resolution.proof }, 'hsm resolved: Jelou has the message of the earlier attempt')
      status.record({
        messageId: resolution.messageId,
        attemptId: attempt.attemptId,
        caller: request.caller,
        botId: attempt.botId,
        template: attempt.template,
        kind: attempt.kind,
        to: attempt.to,
        acceptedAt: attempt.startedAt,
        requestId: attempt.requestId,
        clientRef: attempt.clientRef,
        resolved: true,
        callbackUrl: attempt.callbackUrl
      })
      // As after a send: the record's write closes the attempt (never before it is written).
      await status.flush()
      const answer = acceptedAnswer({ ...attempt, messageId: resolution.messageId, requestId: request.id, sandbox, resolved: true })
      return { answer, open: false }
    }
    if (resolution.outcome === 'absent') {
      if (mayResend) {
        observe?.('resent')
        request.log.warn(line, 'hsm resend: Jelou provably does not have the earlier attempt\'s message; sending it once more')
      } else {
        request.log.warn(line, 'hsm absent: Jelou provably does not have the earlier attempt\'s message; not sent again (settle only)')
      }
      await attempts.closeAttempt(group, open)
      // Settle only: the pipeline stops where it would call Jelou (NotSent), and the key is released.
      return { resend: true }
    }
    const why = resolution.outcome === 'ambiguous'
      ? `${resolution.candidates} messages of this template to this number could be this one, and another send of this service or another sender could own them`
      : resolution.reason
    if (now() >= attempt.firstStartedAt + ttlMs) {
      observe?.('unresolvable')
      request.log.warn({ ...line, resolution: 'unresolvable', why }, 'hsm unresolvable: the outcome of the earlier attempt cannot be known')
      // The caller has this answer in hand: a callback that cannot be stored is logged, never a failed request.
      await unresolvable?.(attempt, request.caller).catch((error: Error) => { request.log.error({ err: { message: error.message } }, 'callback of an unresolvable send not stored') })
      return { answer: unresolvableAnswer(attempt, request.id, why), open: false }
    }
    observe?.(resolution.outcome === 'ambiguous' ? 'ambiguous' : 'unresolved')
    request.log.info({ ...line, why }, 'hsm unresolved: cannot tell yet whether the earlier attempt was sent')
    const base = kept ?? problemAnswer(problem('UPSTREAM_TIMEOUT', `${INTERRUPTED} ${SAME_KEY_RETRY}`), request.id)
    const state: ResolutionState = resolution.outcome === 'ambiguous' ? 'ambiguous' : 'pending'
    const body: Record<string, unknown> = { ...base.body, resolution: state, retry: { ...(base.body.retry as object), afterSeconds: resolution.retryAfterSeconds } }
    if (resolution.outcome === 'ambiguous') body.candidates = resolution.candidates
    else delete body.candidates
    return { answer: { ...base, body, retryAfter: String(resolution.retryAfterSeconds) }, open: true }
  }
}

export type Settle = ReturnType<typeof createSettler>
