// Completes the OpenAPI document from each route's `x-answers`: every status with its codes, headers and real examples (send routes' answers; the problem examples are in problem-examples.ts).
import { KEPT_FOR_REPLAY, PROBLEMS, type ProblemCode } from '../errors.js'
import { EXAMPLE_REQUEST_ID, PROBLEM_EXAMPLES, RETRY_AFTER_CODES, problemExample } from './problem-examples.js'
import { codesByStatus, type RouteAnswers } from '../schemas/routes.js'
import { demoLookup } from '../sandbox/demo-catalogue.js'
import { renderPreview } from '../preview/render.js'
import { statusUrlOf } from '../status/lookup.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import type { UpstreamBody } from '../upstream/schema.js'

/** Re-exported: the document's problem examples live in their own room. */
export { PROBLEM_EXAMPLES, RETRY_AFTER_CODES, problemExample } from './problem-examples.js'

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
    description: 'Makes retries safe: 1 to 255 printable ASCII characters, scoped to the caller. A repeat of the same request within IDEMPOTENCY_TTL_SECONDS gets the stored answer with `Idempotent-Replayed: true`; a repeat while the first runs gets 409; the same key with a different request gets 422. A dry run checks its format (400 when it breaks the rule) but stores nothing and replays nothing. For example `order-1234-shipped`: one key per message you mean to send.',
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

/** A kind's answers to its own example: the 202 and dry-run examples of its kind route, shared by every template of the kind. */
export function kindExamples (kind: string): { sent: Record<string, unknown>, dryRun: Record<string, unknown> } {
  return routeExamples(`/v1/messages/${kind}`)
}

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
