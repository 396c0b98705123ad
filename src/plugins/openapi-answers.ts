// Completes the OpenAPI document from each route's `x-answers`: every status with its codes, headers and real examples.
import { KEPT_FOR_REPLAY, PROBLEMS, problem, problemAnswer, type ProblemCode, type ProblemExtras } from '../errors.js'
import { codesByStatus, type RouteAnswers } from '../schemas/routes.js'
import { demoLookup } from '../sandbox/demo-catalogue.js'
import { renderPreview } from '../preview/render.js'
import { statusUrlOf } from '../status/lookup.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import type { UpstreamBody } from '../upstream/schema.js'

interface ProblemExample {
  /** When the code happens: the status's description lists one sentence per code. */
  when: string
  /** A detail as the service writes it (see the `problem(...)` call that raises the code). */
  detail: string
  extras?: ProblemExtras
}

const EXAMPLE_REQUEST_ID = '3f0c7b9e-8a4d-4f7e-9b61-2d5c0e8a1f47'

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

const header = (description: string, schema: Record<string, unknown>) => ({ description, schema })

const HEADERS = {
  'X-Request-Id': header('This request\'s id: yours when you sent a plain one (1 to 128 of A-Za-z0-9._:-), else a new UUID. Also `requestId` in JSON bodies; quote it when asking about a send.', { type: 'string', maxLength: 128 }),
  'Retry-After': header('Seconds to wait before retrying.', { type: 'integer', minimum: 1 }),
  'RateLimit-Limit': header('The caller\'s requests per minute (RATE_LIMIT_PER_MINUTE). On send answers once the caller key is accepted.', { type: 'integer' }),
  'RateLimit-Remaining': header('Requests left in the current minute.', { type: 'integer' }),
  'RateLimit-Reset': header('Seconds until the current minute ends.', { type: 'integer' }),
  'Idempotent-Replayed': header('`true` when this is the stored answer of an earlier request with the same Idempotency-Key (nothing was sent again).', { type: 'string', enum: ['true'] })
}
type HeaderName = keyof typeof HEADERS
const headerRefs = (names: HeaderName[]) => Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]))

const PARAMETERS = {
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'Makes retries safe: 1 to 255 printable ASCII characters, scoped to the caller. A repeat of the same request within IDEMPOTENCY_TTL_SECONDS gets the stored answer with `Idempotent-Replayed: true`; a repeat while the first runs gets 409; the same key with a different request gets 422. Ignored by dry runs. For example `order-1234-shipped`: one key per message you mean to send.',
    // No `example`: Swagger UI would fill it in, and every example would then share one key (422).
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]{1,255}$' }
  },
  RequestId: {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description: 'Your id for this request, passed on to Jelou and returned in the X-Request-Id header and as `requestId`. Kept when it is 1 to 128 of A-Za-z0-9._:-, otherwise replaced by a new UUID (never refused).',
    schema: { type: 'string' }
  }
}

/** A 202 answer's example for a send of this kind and template. */
export function sendResultExample (kind: string, template: string, botId = 'bot-123'): Record<string, unknown> {
  return {
    messageId: '7d9f3c1e-52b4-4a8e-9c0f-6b1d2e3f4a5b',
    to: '593987654321',
    kind,
    template,
    botId,
    requestId: EXAMPLE_REQUEST_ID,
    phone: { input: '+593 98 765 4321', normalized: '593987654321', country: 'EC', countrySource: 'prefix' },
    statusUrl: statusUrlOf('7d9f3c1e-52b4-4a8e-9c0f-6b1d2e3f4a5b'),
    sandbox: false
  }
}

/** A dry run's example: the exact Jelou body and its rendered preview. */
export function dryRunExample (kind: string, botId: string, body: UpstreamBody, preview: unknown): Record<string, unknown> {
  return {
    dryRun: true,
    kind,
    requestId: EXAMPLE_REQUEST_ID,
    phone: { input: '+593 98 765 4321', normalized: '593987654321', country: 'EC', countrySource: 'prefix' },
    sandbox: false,
    upstream: { method: 'POST', path: `/v2/whatsapp/${botId}/hsm`, body },
    preview
  }
}

const DRY_RUN_BODY: UpstreamBody = { elementName: 'order_update', destinations: ['593987654321'], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] }

/** A kind route's examples: its first named example, sent (the raw route's: order_update). */
const KIND_EXAMPLES = new Map(TEMPLATE_KINDS.map((k) => {
  const value = Object.values(k.examples)[0].value as Record<string, unknown> & { template: string }
  const body = k.toUpstream(value as never, { to: '593987654321', language: value.language as never })
  return [k.kind, { template: value.template, body: { ...body, destinations: ['593987654321'] } }]
}))

function routeExamples (path: string): { sent: Record<string, unknown>, dryRun: Record<string, unknown> } {
  const kind = path === '/v1/messages' ? 'raw' : path.startsWith('/v1/messages/') ? path.slice('/v1/messages/'.length) : 'text'
  const own = KIND_EXAMPLES.get(kind)
  const body = own?.body ?? DRY_RUN_BODY
  return {
    sent: sendResultExample(kind, body.elementName),
    // Rendered by the same function a dry run uses, from the demo template of the same name.
    dryRun: dryRunExample(kind, 'bot-123', body, renderPreview(demoLookup('bot-123', body.elementName), body))
  }
}

export type Operation = Record<string, unknown> & { 'x-answers'?: RouteAnswers, responses: Record<string, Record<string, unknown>>, parameters?: unknown[], security?: unknown[] }
export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, Operation>>, components: Record<string, unknown> }
type Document = OpenApiDocument
/** The sentence that opens each status's description, listing exactly the codes it can carry. */
export function statusDescription (codes: ProblemCode[]): string {
  return codes.map((code) => `\`${code}\` (${PROBLEMS[code].title}): ${PROBLEM_EXAMPLES[code].when}.`).join(' ')
}

function problemStatus (status: number, codes: ProblemCode[], send: boolean) {
  const headers: HeaderName[] = ['X-Request-Id']
  if (codes.some((code) => RETRY_AFTER_CODES.has(code))) headers.push('Retry-After')
  // The caller key is checked before the per-caller limit counts, so a 401 has no RateLimit headers.
  if (send && status !== 401) headers.push('RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset')
  if (send && codes.some((code) => KEPT_FOR_REPLAY.has(code))) headers.push('Idempotent-Replayed')
  return {
    description: statusDescription(codes),
    headers: headerRefs(headers),
    content: {
      'application/problem+json': {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            { type: 'object', properties: { status: { type: 'integer', enum: [status] }, code: { type: 'string', enum: codes } } }
          ]
        },
        examples: Object.fromEntries(codes.map((code) => [code, { $ref: `#/components/examples/${code}` }]))
      }
    }
  }
}

/** `transformObject` for @fastify/swagger: expands every operation's `x-answers`; an operation without one is a bug. */
export function completeDocument (doc: Document): Document {
  const responses: Record<string, unknown> = {}
  const examples: Record<string, unknown> = {}
  doc.components.responses = responses
  doc.components.headers = HEADERS
  doc.components.parameters = PARAMETERS
  doc.components.examples = examples
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const answers = op['x-answers']
      if (answers === undefined) throw new Error(`${method.toUpperCase()} ${path} declares no x-answers (see src/schemas/routes.ts)`)
      delete op['x-answers']
      const sample = answers.send ? routeExamples(path) : null
      op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/RequestId' }]
      if (answers.send) op.parameters.push({ $ref: '#/components/parameters/IdempotencyKey' })
      // A route that names no security needs no key: say so, rather than leave it undefined.
      else op.security ??= []
      for (const [status, response] of Object.entries(op.responses)) {
        const own: HeaderName[] = ['X-Request-Id']
        if (answers.send) own.push('RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset')
        if (answers.send && status === '202') own.push('Idempotent-Replayed')
        response.headers = headerRefs(own)
        const content = response.content as Record<string, Record<string, unknown>> | undefined
        if (sample !== null && status === '202' && content !== undefined) content['application/json'].example = sample.sent
        if (sample !== null && status === '200' && content !== undefined) content['application/json'].example = sample.dryRun
      }
      for (const [status, codes] of codesByStatus(answers.codes)) {
        // Shared by every route with the same declaration: one copy in the document.
        const name = `${answers.name}${status}`
        responses[name] ??= problemStatus(status, codes, answers.send)
        op.responses[String(status)] = { $ref: `#/components/responses/${name}` }
        for (const code of codes) examples[code] ??= { summary: PROBLEMS[code].title, value: problemExample(code) }
      }
    }
  }
  return doc
}
