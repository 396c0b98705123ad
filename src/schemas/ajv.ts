// Validation on purpose: bodies are checked strictly (no coercion, no silent stripping); query strings are coerced.
import { Ajv, type Options } from 'ajv'
import { createRequire } from 'node:module'
import type { FastifySchemaCompiler } from 'fastify'

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

const bodyAjv = createAjv({ coerceTypes: false })
const otherAjv = createAjv({ coerceTypes: true })

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  return (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema as object)
}
