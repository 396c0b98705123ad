// Coded errors: every failure a caller can see, with its status, title and whether a retry may help.
import createError, { type FastifyErrorConstructor } from '@fastify/error'
import type { FastifyReply } from 'fastify'
import { MAX_UPSTREAM_ANSWER_BYTES } from './upstream/schema.js'

export interface FieldError {
  /** Where the field lives: body, querystring or headers. */
  in: string
  /** JSON pointer to the field, e.g. `/params/0`. */
  path: string
  /** The rule it broke: a JSON Schema keyword (`maxLength`, `pattern`, …) or a named rule (`future`, `sameMediaKind`, …). */
  rule: string
  message: string
  limit?: number | string
  /** For INVALID_PHONE: the region the number was assumed to belong to. */
  region?: string
}

/**
 * How a caller may retry after a problem (SPEC §18 "every error says how to retry"):
 * - `never`: the same request fails the same way; change it first.
 * - `same-key`: send the same request again (with the same Idempotency-Key, if one was sent)
 *   after `afterSeconds`. Either nothing was sent and the key was released, or the key holds
 *   an outcome that the retry resolves; a new key could send the message twice.
 * - `new-key`: only as a new message, with a new Idempotency-Key (no code uses it today).
 */
export type RetryPolicy = 'never' | 'same-key' | 'new-key'

export interface Retry {
  policy: RetryPolicy
  /** Seconds to wait; on a 429 or 503 with Retry-After, the same value. */
  afterSeconds?: number
}

interface ProblemDefinition {
  status: number
  title: string
  retry: Retry
}

/** Seconds after which a same-key retry of a "may have been sent" answer can learn the outcome from Jelou. */
export const OUTCOME_RETRY_SECONDS = 30

const NEVER = { policy: 'never' } as const

/** The SPEC §7 error table. The error handler reads it; nothing else decides a status or a retry policy. */
export const PROBLEMS = {
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', retry: NEVER },
  INVALID_PHONE: { status: 400, title: 'Invalid phone number', retry: NEVER },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized', retry: NEVER },
  NOT_FOUND: { status: 404, title: 'Not found', retry: NEVER },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', retry: NEVER },
  REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time', retry: { policy: 'same-key', afterSeconds: 1 } },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'Same Idempotency-Key still in progress', retry: { policy: 'same-key', afterSeconds: 1 } },
  MESSAGE_NOT_CANCELLABLE: { status: 409, title: 'Message cannot be cancelled', retry: NEVER },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', retry: NEVER },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', retry: NEVER },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large', retry: NEVER },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different request', retry: NEVER },
  UPSTREAM_REJECTED: { status: 422, title: 'Jelou rejected the message', retry: NEVER },
  // Template catalogue (SPEC §17): refused before Jelou is called, nothing sent; the same request is refused until the catalogue changes.
  TEMPLATE_UNKNOWN: { status: 422, title: 'Template not in the catalogue', retry: NEVER },
  TEMPLATE_NOT_APPROVED: { status: 422, title: 'Template not approved', retry: NEVER },
  TEMPLATE_LANGUAGE_UNAVAILABLE: { status: 422, title: 'Template not available in this language', retry: NEVER },
  TEMPLATE_VARIABLE_COUNT: { status: 422, title: 'Wrong number of template variables', retry: NEVER },
  TEMPLATE_KIND_MISMATCH: { status: 422, title: 'Template is of another kind', retry: NEVER },
  TEMPLATE_NOT_IN_JELOU: { status: 422, title: 'Catalogue file declares a template Jelou does not list', retry: NEVER },
  TEMPLATE_VARIABLES_CONFLICT: { status: 422, title: 'Catalogue file and Jelou disagree on the variables', retry: NEVER },
  TEMPLATE_LANGUAGE_CONFLICT: { status: 422, title: 'Catalogue file and Jelou disagree on the languages', retry: NEVER },
  TEMPLATE_AMBIGUOUS: { status: 422, title: 'Template has two definitions', retry: NEVER },
  RATE_LIMITED: { status: 429, title: 'Caller rate limit reached', retry: { policy: 'same-key', afterSeconds: 60 } },
  RECIPIENT_RATE_LIMITED: { status: 429, title: 'Too many messages to this recipient', retry: { policy: 'same-key', afterSeconds: 60 } },
  UPSTREAM_RATE_LIMITED: { status: 429, title: 'Jelou rate limit reached', retry: { policy: 'same-key', afterSeconds: 1 } },
  INTERNAL_ERROR: { status: 500, title: 'Internal error', retry: NEVER },
  UPSTREAM_AUTH_FAILED: { status: 502, title: 'Jelou refused our credentials', retry: NEVER },
  UPSTREAM_ERROR: { status: 502, title: 'Jelou answered with an error', retry: { policy: 'same-key', afterSeconds: OUTCOME_RETRY_SECONDS } },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'Jelou is unreachable', retry: { policy: 'same-key', afterSeconds: 5 } },
  OVERLOADED: { status: 503, title: 'Service overloaded', retry: { policy: 'same-key', afterSeconds: 1 } },
  STORE_UNAVAILABLE: { status: 503, title: 'Shared store unreachable', retry: { policy: 'same-key', afterSeconds: 5 } },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Jelou did not answer in time', retry: { policy: 'same-key', afterSeconds: OUTCOME_RETRY_SECONDS } }
} as const satisfies Record<string, ProblemDefinition>

export type ProblemCode = keyof typeof PROBLEMS

/** Extra fields a coded error may carry into the problem body and the log. */
export interface ProblemExtras {
  errors?: FieldError[]
  upstream?: { status: number, body: unknown }
  retryAfterSeconds?: number
  /** For INVALID_PHONE: the reason code (TOO_SHORT, NEEDS_COUNTRY, …). */
  reason?: string
  /** For an outcome-unknown 504/502: where resolving it stands. */
  resolution?: Resolution
  /** For `resolution: ambiguous`: how many messages could be this one. */
  candidates?: number
  cause?: unknown
}

/**
 * Where the outcome of a "may have been sent" answer stands: `pending` (a same-key retry after
 * Retry-After resolves it), `ambiguous` (messages exist that could be this one, but also another
 * send's; a retry asks again), `unresolvable` (final: it cannot be known; nothing resolves it).
 */
export type Resolution = 'pending' | 'ambiguous' | 'unresolvable'

export interface HsmError extends Error, ProblemExtras {
  code: ProblemCode
  statusCode: number
}

const constructors = new Map<ProblemCode, FastifyErrorConstructor>(
  (Object.keys(PROBLEMS) as ProblemCode[]).map((code) => [code, createError(code, '%s', PROBLEMS[code].status)])
)

/** Make a coded error; `detail` is the caller-facing sentence and must hold no secret or phone number. */
export function problem (code: ProblemCode, detail: string, extras: ProblemExtras = {}): HsmError {
  const Ctor = constructors.get(code) as FastifyErrorConstructor
  const error = new Ctor(detail) as unknown as HsmError
  const { cause, ...rest } = extras
  if (cause !== undefined) error.cause = cause
  return Object.assign(error, rest)
}

/** The recipient guard's refusal: `resetMs` until its window ends. */
export function recipientRateLimited (limit: { max: number, windowMs: number }, resetMs: number): HsmError {
  return problem('RECIPIENT_RATE_LIMITED', `At most ${limit.max} messages per ${limit.windowMs / 1000} s to one recipient; nothing was sent.`, {
    retryAfterSeconds: Math.max(1, Math.ceil(resetMs / 1000))
  })
}

export function isHsmError (error: unknown): error is HsmError {
  return error instanceof Error && constructors.has((error as { code?: unknown }).code as ProblemCode)
}

/**
 * Outcomes an Idempotency-Key keeps (SPEC §9): successes, and every failure after which the
 * message may have reached WhatsApp. Failures that provably sent nothing are not kept.
 */
export const KEPT_FOR_REPLAY: ReadonlySet<ProblemCode> = new Set(['UPSTREAM_REJECTED', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'])

/** Answers after which the message may or may not exist: a same-key retry resolves them. */
export const OUTCOME_UNKNOWN: ReadonlySet<string> = new Set(['UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'])

/** A caller-facing answer: what the error handler sends and what idempotency replays, byte for byte. */
export interface Answer {
  status: number
  contentType: string
  retryAfter?: string
  body: Record<string, unknown>
}

/** The retry advice of one error: the table's policy, with the error's own wait (Retry-After) when it has one. */
export function retryOf (error: HsmError): Retry {
  const { retry } = PROBLEMS[error.code] as ProblemDefinition
  if (retry.policy === 'never') return { policy: 'never' }
  return { policy: retry.policy, afterSeconds: error.retryAfterSeconds ?? retry.afterSeconds }
}

/**
 * The sentence that ends every retriable detail, written from the policy so the detail can never
 * say something a retry does not do. "May have been sent" codes name the double-send risk.
 */
export function retryAdvice (code: ProblemCode, retry: Retry): string {
  if (retry.policy === 'never') return ''
  const after = retry.afterSeconds === undefined ? 'later' : `after ${retry.afterSeconds} s`
  if (KEPT_FOR_REPLAY.has(code)) {
    return ` Retry with the same Idempotency-Key ${after} to learn the outcome; a new key may send the message twice.`
  }
  if (retry.policy === 'new-key') return ` Retry only as a new message with a new Idempotency-Key, ${after}.`
  if (code === 'IDEMPOTENCY_IN_PROGRESS') return ` Retry with the same Idempotency-Key ${after} to get its answer.`
  return ` Retry ${after}, with the same Idempotency-Key if you sent one.`
}

export function problemAnswer (error: HsmError, requestId: string): Answer {
  const definition = PROBLEMS[error.code]
  // Nothing resolves an unresolvable outcome: sending again is a new message (a new key), and the detail says how to check first.
  const final = error.resolution === 'unresolvable'
  const retry: Retry = final ? { policy: 'new-key' } : retryOf(error)
  const body: Record<string, unknown> = {
    type: `https://jelou-hsm-proxy/errors/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: definition.title,
    status: definition.status,
    code: error.code,
    // A detail that already says what a same-key retry does (the resolution's sentence) only adds the risk of a new key.
    detail: final ? error.message : error.message.includes(SAME_KEY_RETRY) ? `${error.message} A new key may send the message twice.` : error.message + retryAdvice(error.code, retry),
    retriable: retry.policy !== 'never',
    retry,
    requestId
  }
  if (error.reason !== undefined) body.reason = error.reason
  if (error.errors !== undefined) body.errors = error.errors
  if (error.upstream !== undefined) body.upstream = error.upstream
  if (error.resolution !== undefined) body.resolution = error.resolution
  if (error.candidates !== undefined) body.candidates = error.candidates
  const answer: Answer = { status: definition.status, contentType: 'application/problem+json; charset=utf-8', body }
  // Retry-After says the same wait as `retry.afterSeconds`, so a client reading either gets one answer.
  if (retry.afterSeconds !== undefined) answer.retryAfter = String(retry.afterSeconds)
  return answer
}

/**
 * Every /v1 answer and every problem goes out here: with X-Request-Id, Retry-After when it
 * applies, and Connection: close while the server is shutting down (so keep-alive clients hang
 * up instead of holding close() until their idle timeout).
 */
export function sendAnswer (reply: FastifyReply, answer: Answer) {
  reply.header('x-request-id', reply.request.id)
  if (answer.retryAfter !== undefined) reply.header('retry-after', answer.retryAfter)
  if (reply.server.closing) reply.header('connection', 'close')
  return reply.code(answer.status).type(answer.contentType).send(answer.body)
}

const PARTS: Record<string, string> = { body: 'Body field', querystring: 'Query parameter', headers: 'Header' }

/** One field error as a sentence: "Body field /params/0 must not contain a newline or tab." */
export function describeFieldError (field: FieldError): string {
  const where = `${PARTS[field.in] ?? field.in} ${field.in === 'body' ? field.path : field.path.slice(1)}`
  return /^[A-Z]/.test(field.message) ? `${where}: ${field.message}` : `${where} ${field.message}.`
}

/**
 * Every problem of a request at once (SPEC §7), at most `max` of them listed; the detail names
 * the first few as sentences and says how many there were.
 */
export function validationFailed (errors: readonly FieldError[], max = Number.POSITIVE_INFINITY): HsmError {
  const listed = errors.slice(0, max)
  let detail: string
  if (errors.length === 0) detail = 'The request is invalid.'
  else if (errors.length === 1) detail = describeFieldError(errors[0])
  else {
    const shown = listed.slice(0, 3).map(describeFieldError).join(' ')
    const rest = errors.length > 3 ? ` And ${errors.length - 3} more.` : ''
    const cap = errors.length > listed.length ? ` Only the first ${listed.length} are listed in errors.` : ''
    detail = `The request has ${errors.length} problems. ${shown}${rest}${cap}`
  }
  return problem('VALIDATION_FAILED', detail, { errors: listed })
}

/** What a same-key retry does after a "may have been sent" answer (the resolution in src/status/resolution.ts). */
export const SAME_KEY_RETRY = 'Retry only with the same Idempotency-Key, after Retry-After: if Jelou has the message, the retry answers 202 with its messageId and "resolved": true; ' +
  'if Jelou provably does not have it once it has had time to register it, the retry sends it once more; otherwise the retry answers this error again with a new Retry-After.'

/** What a "may have been sent" answer says to a request without an Idempotency-Key: nothing can resolve it. */
export const NO_KEY = 'This request had no Idempotency-Key, so its outcome cannot be resolved: sending it again sends a new message. ' +
  'Check GET /v1/messages?clientRef=… (when you sent a clientRef) before sending again, and send with an Idempotency-Key to make a timeout recoverable.'

/**
 * Map an undici failure to what it means for the send. `retrySafe` is true only when no request
 * byte can have reached Jelou (refused, connect timeout, reset with nothing written). `written`
 * says whether undici had begun writing the request: a reset while connecting has not, and
 * undici's own error then carries no socket to ask.
 */
export function classifyNetworkError (error: unknown, written = true): { code: ProblemCode, retrySafe: boolean, detail: string } {
  const code = (error as { code?: string }).code
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_ABORTED':
    case 'HSM_DEADLINE':
      return { code: 'UPSTREAM_TIMEOUT', retrySafe: false, detail: `Jelou did not answer in time; the message may have been sent. ${SAME_KEY_RETRY}` }
    case 'ECONNREFUSED':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { code: 'UPSTREAM_UNAVAILABLE', retrySafe: true, detail: 'Jelou could not be reached; nothing was sent.' }
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return { code: 'UPSTREAM_UNAVAILABLE', retrySafe: false, detail: 'The upstream connection pool is closed (the service is shutting down); nothing was sent.' }
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE': {
      const bytesWritten = (error as { socket?: { bytesWritten?: number } }).socket?.bytesWritten
      if (!written || bytesWritten === 0) {
        return { code: 'UPSTREAM_UNAVAILABLE', retrySafe: true, detail: 'Jelou closed the connection before the request was written; nothing was sent.' }
      }
      return { code: 'UPSTREAM_ERROR', retrySafe: false, detail: 'Jelou closed the connection before answering; the message may have been sent.' }
    }
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return { code: 'UPSTREAM_ERROR', retrySafe: false, detail: `Jelou's answer was larger than ${MAX_UPSTREAM_ANSWER_BYTES / 1048576} MiB and was not read; the message may have been sent.` }
    default:
      return { code: 'UPSTREAM_ERROR', retrySafe: false, detail: 'The call to Jelou failed; the message may have been sent.' }
  }
}
