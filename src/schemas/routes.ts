// Route-level schemas shared by every send route: the dry-run query and the answer for every status.
import { Type, type TSchema } from 'typebox'
import { PROBLEMS, type ProblemCode } from '../errors.js'
import { DryRunResultSchema, ProblemSchema, SendResultSchema } from './common.js'

/** Shared answer schemas, added once with `addSchema` and referenced by every route (one copy in the OpenAPI document). */
export const SHARED_SCHEMAS = [
  { $id: 'Problem', ...ProblemSchema },
  { $id: 'SendResult', ...SendResultSchema },
  { $id: 'DryRunResult', ...DryRunResultSchema }
]

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

function problemResponse (codes: ProblemCode[]): TSchema {
  const lines = codes.map((code) => `\`${code}\`: ${PROBLEMS[code].title}`).join('; ')
  return {
    description: lines,
    content: { 'application/problem+json': { schema: ref('Problem', 'RFC 9457 problem details.') } }
  } as unknown as TSchema
}

/** Refusals by the template catalogue, on every send route (SPEC §17). */
export const CATALOGUE_CODES: ProblemCode[] = [
  'TEMPLATE_UNKNOWN', 'TEMPLATE_NOT_APPROVED', 'TEMPLATE_LANGUAGE_UNAVAILABLE', 'TEMPLATE_VARIABLE_COUNT', 'TEMPLATE_KIND_MISMATCH',
  'TEMPLATE_NOT_IN_JELOU', 'TEMPLATE_VARIABLES_CONFLICT', 'TEMPLATE_LANGUAGE_CONFLICT'
]

/** Every status a send route can answer, so Swagger shows them and the serializer knows them. */
export const sendResponses = {
  200: ref('DryRunResult', 'Dry run: every check passed; nothing was sent.'),
  202: ref('SendResult', 'Jelou accepted the message for delivery (not yet delivered).'),
  400: problemResponse(['VALIDATION_FAILED', 'INVALID_PHONE']),
  413: problemResponse(['PAYLOAD_TOO_LARGE']),
  415: problemResponse(['UNSUPPORTED_MEDIA_TYPE']),
  422: problemResponse(['UPSTREAM_REJECTED', ...CATALOGUE_CODES]),
  429: problemResponse(['UPSTREAM_RATE_LIMITED']),
  500: problemResponse(['INTERNAL_ERROR']),
  502: problemResponse(['UPSTREAM_AUTH_FAILED', 'UPSTREAM_ERROR']),
  503: problemResponse(['UPSTREAM_UNAVAILABLE']),
  504: problemResponse(['UPSTREAM_TIMEOUT'])
}
