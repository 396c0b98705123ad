// One example per problem code, as the service writes it: the OpenAPI document's examples and each status's description.
import { problem, problemAnswer, type ProblemCode, type ProblemExtras } from '../errors.js'

interface ProblemExample {
  /** When the code happens: the status's description lists one sentence per code. */
  when: string
  /** A detail as the service writes it (see the `problem(...)` call that raises the code). */
  detail: string
  extras?: ProblemExtras
}

export const EXAMPLE_REQUEST_ID = '3f0c7b9e-8a4d-4f7e-9b61-2d5c0e8a1f47'

/** One example per code, built through the same `problemAnswer()` the error handler uses, so the bodies match. */
export const PROBLEM_EXAMPLES: Record<ProblemCode, ProblemExample> = {
  VALIDATION_FAILED: {
    when: 'the body, query or a header breaks a rule; `errors` names each field and rule; nothing was sent',
    detail: 'body /params/0 must not contain a newline or tab',
    extras: { errors: [{ in: 'body', path: '/params/0', rule: 'pattern', message: 'must not contain a newline or tab' }] }
  },
  INVALID_PHONE: {
    when: '`to` cannot be read as a phone number; `errors[0].rule` says why; nothing was sent',
    detail: 'to is too short to be a phone number',
    extras: { errors: [{ in: 'body', path: '/to', rule: 'TOO_SHORT', message: 'is too short to be a phone number' }] }
  },
  UNAUTHORIZED: {
    when: 'API_KEYS is set and the request has no key or an unknown one',
    detail: 'The API key is not known.'
  },
  NOT_FOUND: {
    when: 'no route has this path',
    detail: 'No route GET /v1/message.'
  },
  METHOD_NOT_ALLOWED: {
    when: 'the path exists but not with this method (any unknown method too); the `Allow` header lists the methods it accepts',
    detail: '/v1/messages/text does not accept GET; it accepts POST.'
  },
  REQUEST_TIMEOUT: {
    when: 'the request (headers and body) did not arrive within the server\'s request timeout; answered before any route, and the connection is closed; nothing was sent',
    detail: 'The request did not arrive in time; nothing was sent. The connection is closed.'
  },
  HEADERS_TOO_LARGE: {
    when: 'the request headers are larger than the server reads (16 KiB); answered before any route, and the connection is closed; nothing was sent',
    detail: 'The request headers are larger than 16 KiB; nothing was sent. The connection is closed.'
  },
  IDEMPOTENCY_IN_PROGRESS: {
    when: 'a request with the same Idempotency-Key is still being processed; retry after Retry-After to get its answer',
    detail: 'A request with this Idempotency-Key is still being processed; retry later to get its answer.',
    extras: { retryAfterSeconds: 1 }
  },
  PAYLOAD_TOO_LARGE: {
    when: 'the body is larger than BODY_LIMIT_BYTES',
    detail: 'The request body is larger than BODY_LIMIT_BYTES allows.'
  },
  UNSUPPORTED_MEDIA_TYPE: {
    when: 'the body is not application/json',
    detail: 'Send the body as application/json.'
  },
  IDEMPOTENCY_KEY_REUSED: {
    when: 'the Idempotency-Key was used with a different request (route, query or body)',
    detail: 'This Idempotency-Key was used with a different request; use a new key for a new message.'
  },
  UPSTREAM_REJECTED: {
    when: 'Jelou answered 400, 404 or 422 (unknown template or bot, wrong parameters); `upstream` holds its sanitized answer',
    detail: 'Jelou rejected the message (404): check the template, bot and parameters.',
    extras: { upstream: { status: 404, body: { message: 'Template not found' } } }
  },
  TEMPLATE_UNKNOWN: {
    when: 'TEMPLATES_STRICT is on and the template is not in the catalogue of the bot (or POST /v1/templates/{name} names a template the catalogue does not have); nothing was sent',
    detail: 'Template shipping_notice is not in the catalogue of bot bot-123 (TEMPLATES_STRICT); nothing was sent.'
  },
  TEMPLATE_NOT_APPROVED: {
    when: 'Jelou lists the template in this language as not APPROVED (pending, rejected, paused); nothing was sent',
    detail: 'Template order_update in es is PENDING; only APPROVED templates can be sent. Nothing was sent.'
  },
  TEMPLATE_LANGUAGE_UNAVAILABLE: {
    when: 'the catalogue has the template, but not in the requested language; nothing was sent',
    detail: 'Template order_update exists in es, not in en; nothing was sent.'
  },
  TEMPLATE_VARIABLE_COUNT: {
    when: 'the request fills another number of body variables than the template has; nothing was sent',
    detail: 'Template order_update has 2 body variables; the request fills 1. Nothing was sent.'
  },
  TEMPLATE_KIND_MISMATCH: {
    when: 'the template is of another kind than the route sends (for example an image template through /v1/messages/text); nothing was sent',
    detail: 'Template promo_banner is a image template (Jelou type image); this send is of type text. Use POST /v1/templates/promo_banner. Nothing was sent.'
  },
  TEMPLATE_NOT_IN_JELOU: {
    when: 'TEMPLATES_FILE declares the template for a bot whose Jelou list does not have it; nothing was sent until the file or Jelou changes',
    detail: 'The catalogue file declares order_update for bot bot-123, but Jelou\'s list for that bot does not have it. Nothing was sent.'
  },
  TEMPLATE_VARIABLES_CONFLICT: {
    when: 'TEMPLATES_FILE and Jelou (or Jelou\'s languages) disagree on the number of variables; nothing was sent until they agree',
    detail: 'The catalogue file names 3 variables for order_update; Jelou counts 2. Nothing was sent.'
  },
  TEMPLATE_LANGUAGE_CONFLICT: {
    when: 'TEMPLATES_FILE declares a language Jelou does not list for the template; nothing was sent until they agree',
    detail: 'The catalogue file declares order_update in en; Jelou lists it only in es. Nothing was sent.'
  },
  TEMPLATE_AMBIGUOUS: {
    when: 'the catalogue has two definitions of the template: Jelou lists it twice in one language, or several bots have it with different variables or kinds and the request names no `botId` (and JELOU_BOT_ID does not have it); nothing was sent',
    detail: 'Template order_update is on bots bot-123 and bot-456 with different variables; name the bot with botId. Nothing was sent.'
  },
  RATE_LIMITED: {
    when: 'the caller spent its RATE_LIMIT_PER_MINUTE; nothing was sent',
    detail: 'At most 600 requests per minute for this caller; nothing was sent.',
    extras: { retryAfterSeconds: 37 }
  },
  RECIPIENT_RATE_LIMITED: {
    when: 'RECIPIENT_LIMIT sends already went to this number in the window; nothing was sent',
    detail: 'At most 10 messages per 60 s to one recipient; nothing was sent.',
    extras: { retryAfterSeconds: 42 }
  },
  UPSTREAM_RATE_LIMITED: {
    when: 'Jelou answered 429 and its Retry-After does not fit the deadline; nothing was sent',
    detail: 'Jelou is rate limiting this account; nothing was sent.',
    extras: { retryAfterSeconds: 30, upstream: { status: 429, body: { code: 'rate_limited' } } }
  },
  INTERNAL_ERROR: {
    when: 'a bug; nothing was sent; quote the requestId',
    detail: 'Something went wrong on our side; nothing was sent. Quote the requestId when reporting it.'
  },
  UPSTREAM_AUTH_FAILED: {
    when: 'Jelou answered 401 or 403: the service\'s credentials are wrong; nothing was sent',
    detail: 'Jelou refused our credentials (401); nothing was sent. The service operator must check JELOU_CLIENT_ID, JELOU_CLIENT_SECRET and the bot.',
    extras: { upstream: { status: 401, body: { message: 'Unauthorized' } } }
  },
  UPSTREAM_ERROR: {
    when: 'Jelou answered 5xx or an unreadable answer, or closed the connection mid-answer; the message may have been sent',
    detail: 'Jelou answered 500.',
    extras: { upstream: { status: 500, body: { message: 'Internal Server Error' } } }
  },
  UPSTREAM_UNAVAILABLE: {
    when: 'Jelou could not be reached after the allowed retries; nothing was sent',
    detail: 'Jelou could not be reached; nothing was sent.'
  },
  OVERLOADED: {
    when: 'load shed: the event loop is saturated or JELOU_QUEUE_LIMIT sends already wait; nothing was sent',
    detail: 'Too many sends are waiting for Jelou; nothing was sent. Retry shortly.',
    extras: { retryAfterSeconds: 1 }
  },
  MESSAGE_NOT_CANCELLABLE: {
    when: 'DELETE /v1/messages/{id} of a message that is not waiting for its sendAt: being sent, sent, or not a scheduled send',
    detail: 'This message is being sent or was sent; only a scheduled send that has not started can be cancelled.'
  },
  STORE_UNAVAILABLE: {
    when: 'REDIS_URL is set and Redis does not answer: sends stop rather than risk a double send; nothing was sent',
    detail: 'The shared store (Redis) did not answer; nothing was sent. Retry shortly.'
  },
  UPSTREAM_TIMEOUT: {
    when: 'no answer from Jelou within JELOU_TIMEOUT_MS: the message may have been sent',
    detail: 'Jelou did not answer in time; the message may have been sent. Retry only with the same Idempotency-Key.'
  }
}

/** Codes whose answer carries a Retry-After header (the `problem(...)` calls that set `retryAfterSeconds`). */
export const RETRY_AFTER_CODES: ReadonlySet<ProblemCode> = new Set(['IDEMPOTENCY_IN_PROGRESS', 'RATE_LIMITED', 'RECIPIENT_RATE_LIMITED', 'UPSTREAM_RATE_LIMITED', 'OVERLOADED'])

export function problemExample (code: ProblemCode): Record<string, unknown> {
  const { detail, extras } = PROBLEM_EXAMPLES[code]
  return problemAnswer(problem(code, detail, extras), EXAMPLE_REQUEST_ID).body
}
