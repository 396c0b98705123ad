// Ajv errors as field errors naming the field and the rule, ordered as the caller wrote the body.
import type { FieldError } from '../errors.js'
import { maskPhonesIn } from '../phone.js'
import { PATTERN_MESSAGES } from './common.js'

export interface AjvError {
  keyword: string
  instancePath: string
  schemaPath: string
  message?: string
  params: Record<string, unknown>
}

const LIMIT_KEYWORDS = new Set(['maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum'])

/** Fields whose anyOf failure gets a message naming the accepted forms instead of "one of the documented forms". */
const ANY_OF_MESSAGES: Record<string, string> = {
  expiresAt: 'must be an ISO 8601 date-time with an offset (2030-01-01T00:00:00Z) or epoch milliseconds (an integer such as 1893456000000)',
  offerExpiresAt: 'must be an ISO 8601 date-time with an offset (2030-01-01T00:00:00Z) or epoch milliseconds (an integer such as 1893456000000)'
}

/** Integers below this are too small to be epoch milliseconds of any date after 1970-01-12: likely epoch seconds. */
const SECONDS_LOOKING = 100_000_000_000

/** Field names come from the caller (unknown keys, memory keys): shorten them and mask digit runs that could be a phone number. */
function safePath (path: string): string {
  return maskPhonesIn(path.slice(0, 200))
}

/** One Ajv error as a field error naming the field and the rule. */
export function toFieldError (error: AjvError, part: string): FieldError {
  const { keyword, params } = error
  let path = error.instancePath
  let message = error.message ?? 'is invalid'
  let limit: number | string | undefined
  if (keyword === 'required') {
    path = `${path}/${String(params.missingProperty)}`
    message = 'is required'
  } else if (keyword === 'additionalProperties') {
    path = `${path}/${String(params.additionalProperty)}`
    message = 'is not an allowed field'
  } else if (keyword === 'pattern') {
    message = PATTERN_MESSAGES.get(String(params.pattern)) ?? `must match ${String(params.pattern)}`
  } else if (keyword === 'format') {
    message = `must be a valid ${String(params.format)}`
  } else if (keyword === 'enum') {
    message = `must be one of ${(params.allowedValues as unknown[]).join(', ')}`
  } else if (keyword === 'anyOf') {
    message = ANY_OF_MESSAGES[path.slice(path.lastIndexOf('/') + 1)] ?? 'must be one of the documented forms (see the schema)'
  }
  if (LIMIT_KEYWORDS.has(keyword)) limit = params.limit as number
  const field: FieldError = { in: part, path: path === '' ? '/' : safePath(path), rule: keyword, message }
  if (limit !== undefined) field.limit = limit
  return field
}

/**
 * With allErrors, Ajv reports each failed anyOf branch and then the anyOf itself: keep the
 * anyOf, which names the field, and drop its branches' errors.
 */
export function pickErrors (errors: readonly AjvError[]): AjvError[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`)
  if (anyOfs.length === 0) return errors as AjvError[]
  return errors.filter((e) => !anyOfs.some((prefix) => e.schemaPath.startsWith(prefix)))
}

/** The field errors of a Fastify validation error (the `validation` array and its context). */
export function schemaFieldErrors (error: { validation?: unknown, validationContext?: string } | undefined | null): FieldError[] {
  if (error?.validation === undefined) return []
  const part = error.validationContext ?? 'body'
  return pickErrors(error.validation as AjvError[]).map((e) => toFieldError(e, part))
}

/** A hint when a date-time field holds an integer that looks like epoch seconds. */
export function secondsHint (value: unknown): string {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < SECONDS_LOOKING
    ? ` (${value} looks like epoch seconds; send milliseconds: ${value * 1000})`
    : ''
}

/** True when no schema error lies at `path` or above it: the value there has its documented type. */
export function isSchemaValid (errors: readonly FieldError[], path: string, part = 'body'): boolean {
  return !errors.some((e) => e.in === part && (e.path === '/' || path === e.path || path.startsWith(`${e.path}/`)))
}

/** The most errors one answer lists; the detail says how many there were in all. */
export const MAX_FIELD_ERRORS = 20

const PART_ORDER: Record<string, number> = { body: 0, querystring: 1, headers: 2 }

/**
 * Errors in the order the caller wrote the body: each path segment by the position of its key
 * in the parsed object (JSON.parse keeps key order) or its array index. A missing field sorts
 * after the fields present at its level. The query string and headers follow the body.
 */
export function inDocumentOrder (errors: readonly FieldError[], body: unknown): FieldError[] {
  const keyed = errors.map((error, i) => ({ error, i, position: error.in === 'body' ? positionOf(body, error.path) : [] }))
  keyed.sort((a, b) => {
    const part = (PART_ORDER[a.error.in] ?? 3) - (PART_ORDER[b.error.in] ?? 3)
    if (part !== 0) return part
    const n = Math.min(a.position.length, b.position.length)
    for (let k = 0; k < n; k++) if (a.position[k] !== b.position[k]) return a.position[k] - b.position[k]
    return a.position.length - b.position.length || a.i - b.i
  })
  return keyed.map((k) => k.error)
}

function positionOf (body: unknown, path: string): number[] {
  const position: number[] = []
  let value = body
  for (const raw of path.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (Array.isArray(value)) {
      const index = Number(segment)
      position.push(Number.isInteger(index) ? index : value.length)
      value = value[index]
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value)
      const index = keys.indexOf(segment)
      position.push(index === -1 ? keys.length : index)
      value = (value as Record<string, unknown>)[segment]
    } else {
      break
    }
  }
  return position
}

/**
 * Cross-field rules on a body that failed its schema: written for a valid body, so a rule may
 * throw on a malformed one (then the schema error already names the field), and a rule's error
 * under a field whose own value is invalid is dropped (the schema error says it better).
 */
export function crossFieldErrors (schemaErrors: readonly FieldError[], rules: () => FieldError[]): FieldError[] {
  if (!isSchemaValid(schemaErrors, '')) return []
  let found: FieldError[]
  try {
    found = rules()
  } catch {
    return []
  }
  return found.filter((e) => isSchemaValid(schemaErrors, e.path))
}
