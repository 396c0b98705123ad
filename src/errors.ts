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
}

interface ProblemDefinition {
  status: number
  title: string
  retriable: boolean
}

/** The SPEC §7 error table. The error handler reads it; nothing else decides a status. */
export const PROBLEMS = {
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', retriable: false },
  INVALID_PHONE: { status: 400, title: 'Invalid phone number', retriable: false },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized', retriable: false },
  NOT_FOUND: { status: 404, title: 'Not found', retriable: false },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'Same Idempotency-Key still in progress', retriable: true },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', retriable: false },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different request', retriable: false },
  UPSTREAM_REJECTED: { status: 422, title: 'Jelou rejected the message', retriable: false },
  // Template catalogue (SPEC §17): refused before Jelou is called, nothing sent.
  TEMPLATE_UNKNOWN: { status: 422, title: 'Template not in the catalogue', retriable: false },
  TEMPLATE_NOT_APPROVED: { status: 422, title: 'Template not approved', retriable: false },
  TEMPLATE_LANGUAGE_UNAVAILABLE: { status: 422, title: 'Template not available in this language', retriable: false },
  TEMPLATE_VARIABLE_COUNT: { status: 422, title: 'Wrong number of template variables', retriable: false },
  TEMPLATE_KIND_MISMATCH: { status: 422, title: 'Template is of another kind', retriable: false },
  TEMPLATE_NOT_IN_JELOU: { status: 422, title: 'Catalogue file declares a template Jelou does not list', retriable: false },
  TEMPLATE_VARIABLES_CONFLICT: { status: 422, title: 'Catalogue file and Jelou disagree on the variables', retriable: false },
  TEMPLATE_LANGUAGE_CONFLICT: { status: 422, title: 'Catalogue file and Jelou disagree on the languages', retriable: false },
  RATE_LIMITED: { status: 429, title: 'Caller rate limit reached', retriable: true },
  RECIPIENT_RATE_LIMITED: { status: 429, title: 'Too many messages to this recipient', retriable: true },
  UPSTREAM_RATE_LIMITED: { status: 429, title: 'Jelou rate limit reached', retriable: true },
  INTERNAL_ERROR: { status: 500, title: 'Internal error', retriable: false },
  UPSTREAM_AUTH_FAILED: { status: 502, title: 'Jelou refused our credentials', retriable: false },
  UPSTREAM_ERROR: { status: 502, title: 'Jelou answered with an error', retriable: true },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'Jelou is unreachable', retriable: true },
  OVERLOADED: { status: 503, title: 'Service overloaded', retriable: true },
  STORE_UNAVAILABLE: { status: 503, title: 'Shared store unreachable', retriable: true },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Jelou did not answer in time', retriable: false }
} as const satisfies Record<string, ProblemDefinition>

export type ProblemCode = keyof typeof PROBLEMS

/** Extra fields a coded error may carry into the problem body and the log. */
export interface ProblemExtras {
  errors?: FieldError[]
  upstream?: { status: number, body: unknown }
  retryAfterSeconds?: number
  cause?: unknown
}

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

export function isHsmError (error: unknown): error is HsmError {
  return error instanceof Error && constructors.has((error as { code?: unknown }).code as ProblemCode)
}

/**
 * Outcomes an Idempotency-Key keeps (SPEC §9): successes, and every failure after which the
 * message may have reached WhatsApp. Failures that provably sent nothing are not kept.
 */
export const KEPT_FOR_REPLAY: ReadonlySet<ProblemCode> = new Set(['UPSTREAM_REJECTED', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'])

/** A caller-facing answer: what the error handler sends and what idempotency replays, byte for byte. */
export interface Answer {
  status: number
  contentType: string
  retryAfter?: string
  body: Record<string, unknown>
}

export function problemAnswer (error: HsmError, requestId: string): Answer {
  const definition = PROBLEMS[error.code]
  const body: Record<string, unknown> = {
    type: `https://jelou-hsm-proxy/errors/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: definition.title,
    status: definition.status,
    code: error.code,
    detail: error.message,
    retriable: definition.retriable,
    requestId
  }
  if (error.errors !== undefined) body.errors = error.errors
  if (error.upstream !== undefined) body.upstream = error.upstream
  const answer: Answer = { status: definition.status, contentType: 'application/problem+json; charset=utf-8', body }
  if (error.retryAfterSeconds !== undefined) answer.retryAfter = String(error.retryAfterSeconds)
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

export function validationFailed (errors: FieldError[]): HsmError {
  const first = errors[0]
  const detail = first === undefined ? 'the request is invalid' : `${first.in} ${first.path} ${first.message}`
  return problem('VALIDATION_FAILED', detail, { errors })
}

/**
 * Map an undici failure to what it means for the send. `retrySafe` is true only when no request
 * byte can have reached Jelou (refused, connect timeout, reset with nothing written).
 */
export function classifyNetworkError (error: unknown): { code: ProblemCode, retrySafe: boolean, detail: string } {
  const code = (error as { code?: string }).code
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_ABORTED':
      return { code: 'UPSTREAM_TIMEOUT', retrySafe: false, detail: 'Jelou did not answer in time; the message may have been sent. Retry only with the same Idempotency-Key.' }
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
      if (bytesWritten === 0) {
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
