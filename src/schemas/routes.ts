// Route-level schemas: the dry-run query, and which error codes each route can answer, from which its responses derive.
import { Type, type TSchema } from 'typebox'
import { PROBLEMS, type ProblemCode } from '../errors.js'
import { DryRunResultSchema, ProblemSchema, SendResultSchema } from './common.js'

/** Shared answer schemas, added once with `addSchema` and referenced by every route (one copy in the OpenAPI document). */
export const SHARED_SCHEMAS = [
  { $id: 'Problem', ...ProblemSchema },
  { $id: 'SendResult', ...SendResultSchema },
  { $id: 'DryRunResult', ...DryRunResultSchema }
]

/**
 * What a route can answer besides its own success: the codes, and whether it is a send route
 * (which takes Idempotency-Key and sits behind the caller key and the per-caller limit).
 * Each route carries its declaration as `x-answers`; the OpenAPI document expands it into
 * statuses, descriptions, `code` enums, headers and examples (src/plugins/openapi-answers.ts),
 * and test/openapi.test.ts checks that every code the source can raise is declared here.
 */
export interface RouteAnswers {
  /** Names the shared responses in the OpenAPI document (`components.responses.<name><status>`). */
  name: string
  send: boolean
  codes: readonly ProblemCode[]
}

/** Refusals by the template catalogue, on every send route (SPEC §17). */
export const CATALOGUE_CODES: readonly ProblemCode[] = [
  'TEMPLATE_UNKNOWN', 'TEMPLATE_NOT_APPROVED', 'TEMPLATE_LANGUAGE_UNAVAILABLE', 'TEMPLATE_VARIABLE_COUNT', 'TEMPLATE_KIND_MISMATCH',
  'TEMPLATE_NOT_IN_JELOU', 'TEMPLATE_VARIABLES_CONFLICT', 'TEMPLATE_LANGUAGE_CONFLICT', 'TEMPLATE_AMBIGUOUS'
]

/** Every /v1 send route: the kind routes, the raw route and the catalogue's per-template routes. */
export const SEND_ROUTE: RouteAnswers = {
  name: 'Send',
  send: true,
  codes: [
    'VALIDATION_FAILED', 'INVALID_PHONE', 'UNAUTHORIZED', 'METHOD_NOT_ALLOWED', 'IDEMPOTENCY_IN_PROGRESS', 'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE', 'IDEMPOTENCY_KEY_REUSED', 'UPSTREAM_REJECTED', 'RATE_LIMITED', 'RECIPIENT_RATE_LIMITED',
    'UPSTREAM_RATE_LIMITED', 'INTERNAL_ERROR', 'UPSTREAM_AUTH_FAILED', 'UPSTREAM_ERROR', 'UPSTREAM_UNAVAILABLE',
    'OVERLOADED', 'STORE_UNAVAILABLE', 'UPSTREAM_TIMEOUT',
    ...CATALOGUE_CODES
  ]
}

/** The open GET routes (health, readiness, metrics, the sandbox listing): no body, no key, not shed. */
export const OPEN_ROUTE: RouteAnswers = {
  name: 'Open',
  send: false,
  codes: ['METHOD_NOT_ALLOWED', 'INTERNAL_ERROR']
}

/** The status lookups (SPEC §18): behind the caller key and the per-caller limit, no body. */
export const LOOKUP_ROUTE: RouteAnswers = {
  name: 'Lookup',
  send: false,
  codes: ['VALIDATION_FAILED', 'UNAUTHORIZED', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'RATE_LIMITED', 'INTERNAL_ERROR']
}

/** DELETE /v1/messages/{id}: a lookup that may refuse because the send has started. */
export const CANCEL_ROUTE: RouteAnswers = {
  name: 'Cancel',
  send: false,
  codes: ['UNAUTHORIZED', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'MESSAGE_NOT_CANCELLABLE', 'RATE_LIMITED', 'INTERNAL_ERROR', 'STORE_UNAVAILABLE']
}

/** Jelou's status events receiver: its own token, a JSON body, never shed by the caller limit. */
export const EVENTS_ROUTE: RouteAnswers = {
  name: 'Events',
  send: false,
  codes: ['VALIDATION_FAILED', 'UNAUTHORIZED', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'RATE_LIMITED', 'INTERNAL_ERROR', 'OVERLOADED', 'STORE_UNAVAILABLE']
}

/** The sandbox's reply route (the inbox page's buttons): a JSON body, a message the sandbox must know, no key. */
export const SANDBOX_REPLY_ROUTE: RouteAnswers = {
  name: 'SandboxReply',
  send: false,
  codes: ['VALIDATION_FAILED', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL_ERROR']
}

/** The sandbox's cancel of a scheduled send (the inbox page's button): open like the inbox, acting for the schedule's own caller. */
export const SANDBOX_CANCEL_ROUTE: RouteAnswers = {
  name: 'SandboxCancel',
  send: false,
  codes: ['NOT_FOUND', 'METHOD_NOT_ALLOWED', 'MESSAGE_NOT_CANCELLABLE', 'INTERNAL_ERROR', 'STORE_UNAVAILABLE']
}

/** Every declaration a route can carry; the OpenAPI test checks each code is declared by one of them. */
export const ROUTE_ANSWERS: readonly RouteAnswers[] = [SEND_ROUTE, OPEN_ROUTE, LOOKUP_ROUTE, CANCEL_ROUTE, EVENTS_ROUTE, SANDBOX_REPLY_ROUTE, SANDBOX_CANCEL_ROUTE]

/** Codes no route answers: they are for requests that matched no route. */
export const UNROUTED_CODES: readonly ProblemCode[] = ['NOT_FOUND', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE']

declare module 'fastify' {
  interface FastifySchema {
    /** The route's error codes (see RouteAnswers); @fastify/swagger copies `x-` keys into the operation. */
    'x-answers'?: RouteAnswers
  }
}

const ref = (id: string, description: string): TSchema => ({ description, $ref: `${id}#` }) as unknown as TSchema

export const DryRunSchema = Type.Optional(Type.Enum(['true', 'false', '1', '0'], {
  description: 'Run every check and answer 200 with the request that would be sent, without sending: `true` or `1`; `false` or `0` (the default) sends.'
}))

export const DryRunQuerySchema = Type.Object({ dryRun: DryRunSchema }, { additionalProperties: false })

/** `?dryRun=true` or `?dryRun=1`; anything else the schema let through means a real send. */
export function isDryRun (query: unknown): boolean {
  const value = (query as { dryRun?: unknown } | null)?.dryRun
  return value === 'true' || value === '1'
}

/** The declared codes grouped by HTTP status, in status order. */
export function codesByStatus (codes: readonly ProblemCode[]): Map<number, ProblemCode[]> {
  const byStatus = new Map<number, ProblemCode[]>()
  for (const code of [...codes].sort((a, b) => PROBLEMS[a].status - PROBLEMS[b].status)) {
    const status = PROBLEMS[code].status
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  return byStatus
}

/** One problem status, for the serializer; the OpenAPI document replaces it with the full description. */
function problemResponse (codes: ProblemCode[]): TSchema {
  return {
    description: codes.join(', '),
    content: { 'application/problem+json': { schema: ref('Problem', 'RFC 9457 problem details.') } }
  } as unknown as TSchema
}

function problemResponses (answers: RouteAnswers): Record<number, TSchema> {
  return Object.fromEntries([...codesByStatus(answers.codes)].map(([status, codes]) => [status, problemResponse(codes)]))
}

/** Every status a send route can answer, so Swagger shows them and the serializer knows them. */
export const sendResponses = {
  200: ref('DryRunResult', 'Dry run: every check passed; nothing was sent.'),
  202: ref('SendResult', 'Jelou accepted the message for delivery (not yet delivered).'),
  ...problemResponses(SEND_ROUTE)
}

/** The problem statuses of an open route, beside its own answers. */
export const openResponses = problemResponses(OPEN_ROUTE)

/** The problem statuses of a status lookup, beside its own answer. */
export const lookupResponses = problemResponses(LOOKUP_ROUTE)

/** The problem statuses of cancelling a scheduled send. */
export const cancelResponses = problemResponses(CANCEL_ROUTE)

/** The problem statuses of the events receiver, beside its own answer. */
export const eventsResponses = problemResponses(EVENTS_ROUTE)

/** The problem statuses of the sandbox's reply route, beside its own answer. */
export const sandboxReplyResponses = problemResponses(SANDBOX_REPLY_ROUTE)

/** The problem statuses of the sandbox's cancel route, beside its own answer. */
export const sandboxCancelResponses = problemResponses(SANDBOX_CANCEL_ROUTE)
