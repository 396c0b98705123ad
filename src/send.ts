// The one send pipeline every route uses: idempotency, checks, phone, recipient guard, forward (or dry run), one log line.
import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config, Language } from './config.js'
import { NO_KEY, OUTCOME_UNKNOWN, SAME_KEY_RETRY, isHsmError, problem, recipientRateLimited, validationFailed, type Answer, type FieldError, type HsmError, type ProblemCode } from './errors.js'
import { acceptedAnswer } from './accepted.js'
import { createIdempotency, idempotencyKeyOf, leaseMsFor, type BeginAttempt, type IdempotencyOptions } from './idempotency.js'
import { normalizePhone, type NormalizedPhone } from './phone.js'
import type { SendGuard } from './catalogue/catalogue.js'
import { MAX_FIELD_ERRORS, inDocumentOrder } from './schemas/field-errors.js'
import { renderPreview, type TemplateLookup } from './preview/render.js'
import type { BuildContext } from './templates/kind.js'
import { upstreamPath, type UpstreamClient } from './upstream/client.js'
import type { UpstreamBody } from './upstream/schema.js'
import { attemptGroup, type IdempotencyStore } from './stores/types.js'
import type { StatusStore } from './status/types.js'
import { statusUrlOf } from './status/lookup.js'
import { callerToCount, countedBegin, settleCallerLimit } from './plugins/rate-limit.js'

/** What a route hands to the pipeline once its schema has passed. */
export interface SendRequest {
  kind: string
  /** The template name, when the schema found it valid (it is logged). */
  template: string | undefined
  /** The parsed body as the caller wrote it, to list problems in document order. */
  body: unknown
  /** The phone field, when its value (and `country`) passed the schema; else the schema error names it. */
  to: string | undefined
  /** JSON pointer of the phone field, for INVALID_PHONE. */
  toPath: string
  /** Where the caller names the bot: the body on kind routes, the query string on the raw route. */
  botIdIn: 'body' | 'querystring'
  country: string | undefined
  botId: string | undefined
  language: Language | undefined
  clientRef: string | undefined
  /** The callbackUrl the caller gave (checked against CALLBACK_URL_ALLOW here); else the caller's default applies. */
  callbackUrl?: string
  /** Where the caller gives it: the body, or the query string (raw route). */
  callbackUrlIn?: 'body' | 'querystring'
  /** Send later (SPEC §21): the instant the caller gave, checked here; where it was given. */
  sendAt?: string
  sendAtIn?: 'body' | 'querystring'
  /** Set when a scheduled send runs at its sendAt: its record links to the message. */
  scheduleId?: string
  /**
   * Settle, never send (a scheduled send whose job was given up): the Idempotency-Key's kept
   * answer is replayed, and an earlier attempt whose outcome is unknown is resolved as on any
   * same-key retry; where the pipeline would call Jelou (the key was free, or resolution proved
   * the earlier attempt's message absent) it throws NotSent instead, and the key is released.
   */
  settleOnly?: boolean
  dryRun: boolean
  /** Values the caller filled, when the kind knows better than counting Jelou's body. */
  paramCount?: number
  /** Schema and cross-field rule failures the route found; any of them stops the send. */
  fieldErrors: FieldError[]
  build: (ctx: BuildContext) => UpstreamBody
}

export type Outcome = 'sent' | 'rejected' | 'failed' | 'timeout' | 'replayed' | 'dry_run' | 'scheduled'

/** A send that waits for its sendAt: everything the pipeline decided, to run it again then (src/schedule). */
export interface ScheduledSend {
  /** This service's id of the message until it is sent: `sch-` and a UUID. */
  id: string
  caller: string
  kind: string
  template: string
  botId: string
  /** The normalized number. */
  to: string
  /** Jelou's body as it would be sent now (its destination is read again at sendAt). */
  body: UpstreamBody
  clientRef?: string
  callbackUrl?: string
  requestId: string
  /** Epoch ms. */
  sendAt: number
  scheduledAt: number
}

/** What a refused request was about, for the error handler's log line: the recipient is masked by the logger. */
export interface Refusal {
  kind: string
  template: string | undefined
  /** The normalized number once read, else what the caller sent. */
  to: string | undefined
}

/** Carries a Refusal on an error thrown by the pipeline. */
export const REFUSAL = Symbol('refusal')

/** Marks an error whose send line is already written, so the error handler does not log it again. */
export const SEND_LOGGED = Symbol('sendLogged')

/**
 * A settle-only send (SendRequest.settleOnly) reached the point where it would call Jelou: no
 * attempt of its key is in doubt (none was made, or resolution proved the last one's message
 * absent), nothing was sent, and nothing is. (Resolution is always configured in the app: without
 * it an unknown earlier attempt would be taken for absent.)
 */
export class NotSent extends Error {
  constructor () {
    super('settle only: nothing was sent under this Idempotency-Key, and nothing is')
    this.name = 'NotSent'
  }
}

/** What the pipeline reports for metrics; one call per request that reached it. */
export interface SendObserver {
  outcome: (kind: string, outcome: Outcome, code: string) => void
  upstreamSeconds: (seconds: number) => void
}

export interface SenderOptions {
  config: Config
  upstream: UpstreamClient
  /** Idempotency keys, open attempts and the recipient guard's counters: one store step before Jelou. */
  idempotency: IdempotencyStore
  observer?: SendObserver
  /** The catalogue a dry run's preview reads; without it every preview reports the template unknown. */
  lookupTemplate?: TemplateLookup
  /** Where accepted sends are recorded for status lookup (SPEC §18). */
  status?: StatusStore
  /** Resolution of outcome-unknown sends on a same-key retry. */
  resolution?: IdempotencyOptions['resolution']
  /** The template catalogue's checks (SPEC §17): a map lookup per send. */
  catalogue?: SendGuard
  /** The callbackUrl check and each caller's default (SPEC §21). */
  callbacks?: CallbackPolicy
  /** Takes a send for later (src/schedule); without it, sendAt is refused. */
  schedule?: (send: ScheduledSend) => Promise<void>
  /** The clock an attempt's start is read from (tests inject one). */
  now?: () => number
}

export interface CallbackPolicy {
  /** Why a callbackUrl is refused for this caller (allow-list, no secret), or undefined. */
  refusal: (url: string, caller: string) => string | undefined
  defaultUrl: (caller: string) => string | undefined
}

/** A UUID-shaped id derived from a value (the caller and its Idempotency-Key). */
const uuidOf = (value: string): string => {
  const h = createHash('sha256').update(value).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

export function createSender (options: SenderOptions) {
  const { config, upstream, idempotency, observer, status, resolution, catalogue, callbacks, schedule, now = Date.now } = options
  const lookupTemplate = options.lookupTemplate ?? (() => undefined)
  const sandbox = config.mode === 'sandbox'
  const keyed = createIdempotency({
    store: idempotency,
    ttlMs: config.idempotency.ttlMs,
    leaseMs: leaseMsFor(config.jelou.timeoutMs),
    replayed: (kind, code) => observer?.outcome(kind, 'replayed', code),
    resolution
  })
  // Sends between "about to call Jelou" and its answer. Beyond the pool's connections they wait
  // in its queue; past JELOU_QUEUE_LIMIT waiting, new sends are shed (a counter, because
  // undici's pool.stats walks every connection on each read).
  let inFlight = 0
  const maxInFlight = config.jelou.connections + config.queueLimit

  /** A send without a key: the recipient guard and the open attempt, in one store step. */
  const unkeyed: BeginAttempt = async (_start, send) => {
    const step = await countedBegin(send.caller, async () => await idempotency.begin(send))
    if (step.state === 'limited') throw recipientRateLimited(send.recipient, step.resetMs)
    return 1
  }

  /**
   * One attempt: answers 202/200, or throws a coded error (after writing the send line if Jelou
   * was called). Every check runs before `begin`, the one store step that starts the send.
   */
  async function attempt (request: FastifyRequest, input: SendRequest, idempotencyKey: boolean, refusal: Refusal, begin: BeginAttempt): Promise<Answer> {
    const started = performance.now()
    const errors = [...input.fieldErrors]
    const botId = input.botId ?? config.jelou.botId
    if (botId === null) {
      errors.push({ in: input.botIdIn, path: '/botId', rule: 'required', message: 'is required when JELOU_BOT_ID is not set' })
    }
    const phoneResult = input.to === undefined
      ? undefined
      : input.country !== undefined
        ? normalizePhone(input.to, input.country, 'country-field')
        : normalizePhone(input.to, config.defaultCountry ?? undefined, 'default-country')
    if (phoneResult !== undefined && !phoneResult.ok) {
      const field: FieldError = { in: 'body', path: input.toPath, rule: phoneResult.reason, message: phoneResult.message }
      if (phoneResult.region !== undefined) field.region = phoneResult.region
      if (errors.length === 0) {
        const name = `\`${input.toPath.slice(1).replaceAll('/', '.')}\``
        throw problem('INVALID_PHONE', phoneResult.message.replace(/^The phone number/, `The phone number in ${name}`), { reason: phoneResult.reason, errors: [field] })
      }
      errors.push(field)
    }
    const callbackUrl = input.callbackUrl ?? callbacks?.defaultUrl(request.caller)
    if (input.callbackUrl !== undefined && callbacks !== undefined) {
      const why = callbacks.refusal(input.callbackUrl, request.caller)
      if (why !== undefined) errors.push({ in: input.callbackUrlIn ?? 'body', path: '/callbackUrl', rule: 'allowList', message: why })
    }
    // A sendAt the schema refused (not a date-time with a zone) is reported by the schema alone.
    const parsed = input.sendAt === undefined ? undefined : Date.parse(input.sendAt)
    const sendAt = parsed === undefined || Number.isNaN(parsed) ? undefined : parsed
    if (sendAt !== undefined) {
      const where = input.sendAtIn ?? 'body'
      const ahead = sendAt - now()
      const { minAheadMs, maxAheadMs } = config.schedule
      if (schedule === undefined) errors.push({ in: where, path: '/sendAt', rule: 'unavailable', message: 'scheduled sends are not available here' })
      else if (!(ahead >= minAheadMs)) errors.push({ in: where, path: '/sendAt', rule: 'minAhead', message: `must be at least ${minAheadMs / 1000} s ahead (SCHEDULE_MIN_AHEAD_SECONDS)`, limit: minAheadMs / 1000 })
      else if (ahead > maxAheadMs) errors.push({ in: where, path: '/sendAt', rule: 'maxAhead', message: `must be at most ${maxAheadMs / 86400000} days ahead (SCHEDULE_MAX_AHEAD_DAYS)`, limit: maxAheadMs / 86400000 })
    }
    if (errors.length > 0 || phoneResult === undefined || !phoneResult.ok) throw validationFailed(inDocumentOrder(errors, input.body), MAX_FIELD_ERRORS)
    const phone = phoneResult.phone
    refusal.to = phone.normalized
    const body = input.build({ to: phone.normalized, language: input.language ?? config.defaultLanguage ?? undefined })
    const rejected = input.template === undefined ? undefined : catalogue?.check(botId as string, input.template, input.kind, body)
    if (rejected !== undefined) throw rejected
    const path = upstreamPath(botId as string)
    const line = {
      caller: request.caller,
      kind: input.kind,
      template: body.elementName,
      language: body.language,
      botId,
      to: phone.normalized,
      paramCount: input.paramCount ?? countParams(body),
      clientRef: input.clientRef,
      scheduleId: input.scheduleId,
      idempotencyKey: { present: idempotencyKey, replayed: false }
    }

    if (input.dryRun) {
      await settleCallerLimit(request)
      request.log.info(Object.assign(line, { outcome: 'dry_run' satisfies Outcome, durationMs: elapsed(started) }), 'hsm dry run')
      observer?.outcome(input.kind, 'dry_run', 'OK')
      // Rendered here only: a real send never pays for the preview.
      const preview = renderPreview(lookupTemplate(botId as string, body.elementName), body)
      const answer: Record<string, unknown> = { dryRun: true, kind: input.kind, requestId: request.id, phone: echo(phone), sandbox, upstream: { method: 'POST', path, body }, preview }
      if (sendAt !== undefined) answer.sendAt = new Date(sendAt).toISOString()
      return json(200, answer)
    }

    if (sendAt !== undefined && schedule !== undefined) {
      await settleCallerLimit(request)
      // Every check above ran now; the recipient guard and the send run at sendAt.
      // With an Idempotency-Key, the schedule's id is the key's own: a re-run of the scheduling (its
      // worker died before the 202 was stored) finds the same record and job, and schedules nothing new.
      const header = idempotencyKey ? idempotencyKeyOf(request) : undefined
      let id = header === undefined ? `sch-${randomUUID()}` : `sch-${uuidOf(`${request.caller}\0${header}`)}`
      // The key reused after its IDEMPOTENCY_TTL_SECONDS is a new request: a new schedule.
      const earlier = header === undefined || status === undefined ? undefined : (await status.get(id))?.base
      if (earlier !== undefined && now() - earlier.acceptedAt > config.idempotency.ttlMs) id = `sch-${randomUUID()}`
      await schedule({ id, caller: request.caller, kind: input.kind, template: body.elementName, botId: botId as string, to: phone.normalized, body, clientRef: input.clientRef, callbackUrl, requestId: request.id, sendAt, scheduledAt: now() })
      const at = new Date(sendAt).toISOString()
      request.log.info(Object.assign(line, { outcome: 'scheduled' satisfies Outcome, scheduleId: id, sendAt: at, durationMs: elapsed(started) }), 'hsm scheduled')
      observer?.outcome(input.kind, 'scheduled', 'OK')
      const answer: Record<string, unknown> = { messageId: id, status: 'scheduled', sendAt: at, statusUrl: statusUrlOf(id), to: phone.normalized, kind: input.kind, template: body.elementName, botId, requestId: request.id, phone: echo(phone), sandbox }
      if (input.clientRef !== undefined) answer.clientRef = input.clientRef
      return json(202, answer)
    }

    // Before the recipient guard counts it: a settle-only send never calls Jelou.
    if (input.settleOnly === true) throw new NotSent()
    if (inFlight >= maxInFlight) {
      throw problem('OVERLOADED', 'Too many sends are waiting for Jelou; nothing was sent.', { retryAfterSeconds: 1 })
    }
    // Each call to Jelou is one attempt with its own id: the id names its status record, its open
    // entry and, when tagging is on and the caller set no campaign, Jelou's campaignId.
    const attemptId = randomUUID()
    const tag = config.resolution.tag === 'campaignId' && body.campaignId === undefined ? attemptId : undefined
    const sent = tag === undefined ? body : { ...body, campaignId: tag }
    const startedAt = now()
    const group = attemptGroup(botId as string, body.elementName, phone.normalized)
    const open = { attemptId, startedAt }
    // Counted against the recipient, marked on the key and opened, in one store step. The open entry is kept twice
    // the key TTL: any attempt whose window overlaps this one resolves within its own first start plus the TTL, and must still see it.
    // A send route's caller is counted against its limit in that same step.
    const number = await begin(
      { attemptId, tag, campaign: config.resolution.tag === 'campaignId' ? body.campaignId : undefined, botId: botId as string, template: body.elementName, kind: input.kind, to: phone.normalized, phone: echo(phone), clientRef: input.clientRef, callbackUrl, startedAt, requestId: request.id },
      { recipient: { to: phone.normalized, ...config.recipientLimit }, group, open, ttlMs: 2 * config.idempotency.ttlMs, caller: callerToCount(request) })
    // The window is counted from startedAt: the send's deadline is too, whatever the store took
    // (its step, WAIT). Already past it: nothing is sent.
    const spentMs = now() - startedAt
    if (spentMs >= config.jelou.timeoutMs) {
      idempotency.closeAttempt(group, open).catch(() => {})
      throw problem('OVERLOADED', 'The shared store took longer than the send\'s deadline to start it; nothing was sent.', { retryAfterSeconds: 1 })
    }
    inFlight++
    const upstreamStarted = performance.now()
    let result
    try {
      result = await upstream.send({ kind: input.kind, botId: botId as string, body: sent, requestId: request.id, secrets: () => sensitiveValues(phone, body), spentMs })
    } finally {
      inFlight--
    }
    // Provably no message: no longer a candidate owner for resolution. Unknown: left open (the safe side).
    if (!result.ok && !OUTCOME_UNKNOWN.has(result.error.code)) idempotency.closeAttempt(group, open).catch(() => {})
    observer?.upstreamSeconds((performance.now() - upstreamStarted) / 1000)
    const durationMs = elapsed(started)
    const entry: Record<string, unknown> = line
    entry.upstreamStatus = result.upstreamStatus
    entry.attempts = result.attempts
    entry.durationMs = durationMs
    if (!result.ok) {
      const outcome = outcomeOf(result.error.code)
      entry.outcome = outcome
      entry.code = result.error.code
      entry.err = causeOf(result.error)
      request.log[outcome === 'rejected' ? 'warn' : 'error'](entry, `hsm ${outcome}`)
      observer?.outcome(input.kind, outcome, result.error.code)
      Object.assign(result.error, { [SEND_LOGGED]: true })
      throw result.error
    }
    entry.outcome = 'sent' satisfies Outcome
    entry.messageId = result.messageId
    request.log.info(entry, 'hsm sent')
    observer?.outcome(input.kind, 'sent', 'OK')
    status?.record({
      messageId: result.messageId,
      attemptId,
      caller: request.caller,
      botId: botId as string,
      template: body.elementName,
      kind: input.kind,
      to: phone.normalized,
      acceptedAt: startedAt,
      requestId: request.id,
      clientRef: input.clientRef,
      resent: number !== undefined && number > 1 ? true : undefined,
      callbackUrl,
      scheduleId: input.scheduleId
    })
    // Its message is now known by its status record, and the record's write closes the open attempt
    // (in the same Redis script): never before it is written. A record that could not be written
    // leaves the attempt open (it expires on its own): its message must stay ambiguous to other keys,
    // never look unowned. Without a status store there is nothing to wait for.
    if (status === undefined) idempotency.closeAttempt(group, open).catch(() => {})
    return acceptedAnswer({ messageId: result.messageId, kind: input.kind, template: body.elementName, botId: botId as string, requestId: request.id, phone: echo(phone), clientRef: input.clientRef, sandbox })
  }

  return async function send (request: FastifyRequest, reply: FastifyReply, input: SendRequest): Promise<Answer> {
    const refusal: Refusal = { kind: input.kind, template: input.template, to: input.to }
    try {
      // A dry run checks the Idempotency-Key header as a real send does, then skips the store.
      const key = idempotencyKeyOf(request)
      if (key === undefined || input.dryRun) return await attempt(request, input, key !== undefined, refusal, unkeyed)
      // A scheduled send holds its key while it is scheduled (it never begins a send now): claimed first.
      return await keyed(request, reply, key, input, async (begin) => await attempt(request, input, true, refusal, begin), input.sendAt !== undefined)
    } catch (error) {
      // The error handler's "request refused" line names what was refused, where it is known.
      if (isHsmError(error)) Object.assign(error, { [REFUSAL]: refusal })
      // Without a key nothing can ever resolve a "may have been sent" answer: say so, not "retry with the same key".
      if (isHsmError(error) && OUTCOME_UNKNOWN.has(error.code) && request.headers['idempotency-key'] === undefined) {
        error.message = error.message.includes(SAME_KEY_RETRY) ? error.message.replace(SAME_KEY_RETRY, NO_KEY) : `${error.message} ${NO_KEY}`
        error.resolution = 'unresolvable'
      }
      throw error
    }
  }
}

export type Sender = ReturnType<typeof createSender>

function json (status: number, body: Record<string, unknown>): Answer {
  return { status, contentType: 'application/json; charset=utf-8', body }
}

export function outcomeOf (code: ProblemCode): Outcome {
  if (code === 'UPSTREAM_REJECTED') return 'rejected'
  if (code === 'UPSTREAM_TIMEOUT') return 'timeout'
  return 'failed'
}

/** The network cause, without anything that could hold request data. */
function causeOf (error: HsmError): { code?: string, message?: string } | undefined {
  const cause = error.cause as { code?: string, message?: string } | undefined
  return cause === undefined ? undefined : { code: cause.code, message: cause.message }
}

function echo (phone: NormalizedPhone): NormalizedPhone {
  return phone.allowance === undefined
    ? { input: phone.input, normalized: phone.normalized, country: phone.country, countrySource: phone.countrySource }
    : { input: phone.input, normalized: phone.normalized, country: phone.country, countrySource: phone.countrySource, allowance: phone.allowance }
}

function elapsed (started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}

/** How many values fill the template: body, header, buttons and cards. Never the values. */
export function countParams (body: UpstreamBody): number {
  let count = (body.parameters?.length ?? 0) + (body.headerParameters?.length ?? 0) + (body.buttonParameters?.length ?? 0)
  for (const card of body.cards ?? []) count += (card.params?.length ?? 0) + (card.buttonParameters?.length ?? 0)
  return count
}

/** Values Jelou might echo in an error body that must not reach the caller: numbers, parameters, codes. */
function sensitiveValues (phone: NormalizedPhone, body: UpstreamBody): string[] {
  const values = [phone.input, phone.normalized, ...(body.parameters ?? []), ...(body.headerParameters ?? [])]
  for (const button of body.buttonParameters ?? []) if (button.param !== undefined) values.push(String(button.param))
  for (const card of body.cards ?? []) values.push(...(card.params ?? []))
  return values.filter((value) => value.length >= 3)
}
