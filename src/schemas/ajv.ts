// Validation on purpose: bodies are checked strictly (no coercion, no silent stripping); query strings are coerced.
import { Ajv, type Options } from 'ajv'
import { createRequire } from 'node:module'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS with a `default` export that NodeNext typings cannot call directly.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv

/**
 * allErrors is on, against STYLE §3.5 ("keep allErrors off"), because SPEC §7 and issue 9 ask
 * that a body with several problems gets all of them in one answer. Why it stays cheap and safe:
 * - a valid body runs the same checks either way (allErrors changes only what happens after a
 *   failure), so the hot path costs the same (see docs/errors.md for the benchmark check);
 * - Ajv's warning is about unbounded work on hostile input: every array and map here has
 *   maxItems/maxProperties, bodies are capped by BODY_LIMIT_BYTES, and an answer lists at
 *   most MAX_FIELD_ERRORS (src/schemas/field-errors.ts).
 */
function createAjv (options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: true,
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
  return ajv
}

const bodyAjv = createAjv({ coerceTypes: false })
const otherAjv = createAjv({ coerceTypes: true })

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  return (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema as object)
}
