// Validation on purpose: bodies are checked strictly (no coercion, no silent stripping); query strings are coerced.
import { Ajv, type Options } from 'ajv'
import { createRequire } from 'node:module'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'

// ajv-formats is CommonJS with a `default` export that NodeNext typings cannot call directly.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv

function createAjv (options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    removeAdditional: false,
    useDefaults: false,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    ...options
  })
  addFormats(ajv)
  // Named examples for the OpenAPI document (read by @fastify/swagger), not a validation rule.
  ajv.addKeyword('x-examples')
  // OpenAPI 3.0's per-field example (a catalogue variable's example value), not a validation rule.
  ajv.addKeyword('example')
  return ajv
}

/** Past this many array items and object keys in a refused value, only the first problem is reported. */
export const ALL_ERRORS_MAX_NODES = 2000

/** Array items and object keys in a value, counting up to `max` (then it stops). */
function nodes (value: unknown, max: number): number {
  let count = 0
  const stack = [value]
  while (stack.length > 0 && count <= max) {
    const v = stack.pop()
    if (Array.isArray(v)) {
      count += v.length
      for (const item of v) stack.push(item)
    } else if (typeof v === 'object' && v !== null) {
      const values = Object.values(v)
      count += values.length
      for (const item of values) stack.push(item)
    }
  }
  return count
}

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null }

/**
 * Every problem at once (SPEC §7), against STYLE §3.5's "keep allErrors off", but only where it
 * costs nothing: a valid request runs the same first-error validator as before (the hot path is
 * unchanged), and only a refused one is validated again with allErrors, by a validator compiled
 * on the first refusal. Ajv's warning about allErrors is unbounded work on hostile input (with
 * allErrors, maxItems does not stop it from checking every item): a refused value with more than
 * ALL_ERRORS_MAX_NODES items and keys keeps the first error only.
 */
function everyError (first: Ajv, all: Ajv, schema: object): Validate {
  const fast = first.compile(schema)
  let full: ReturnType<Ajv['compile']> | undefined
  const validate: Validate = (data: unknown) => {
    if (fast(data)) {
      validate.errors = null
      return true
    }
    validate.errors = fast.errors as FastifySchemaValidationError[]
    if (nodes(data, ALL_ERRORS_MAX_NODES) <= ALL_ERRORS_MAX_NODES) {
      full ??= all.compile(schema)
      full(data)
      validate.errors = full.errors as FastifySchemaValidationError[]
    }
    return false
  }
  return validate
}

const bodyFirst = createAjv({ coerceTypes: false })
const bodyAll = createAjv({ coerceTypes: false, allErrors: true })
const otherFirst = createAjv({ coerceTypes: true })
const otherAll = createAjv({ coerceTypes: true, allErrors: true })

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  return httpPart === 'body' ? everyError(bodyFirst, bodyAll, schema as object) : everyError(otherFirst, otherAll, schema as object)
}
