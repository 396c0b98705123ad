// Named variables → Jelou's positional `parameters`: one pure function, and the per-variable checks it relies on.
import type { FieldError } from '../errors.js'
import type { CatalogueTemplate } from './types.js'

/** Meta's rules for a body value (the same as ParamSchema's): checked here for the generic route, whose schema cannot name the variables. */
const NO_NEWLINE = /[\n\r\t]/
const FIVE_SPACES = / {5}/
/** Either of the two, in one test: the send path's check (`fine` below). */
const BROKEN = new RegExp(`${NO_NEWLINE.source}|${FIVE_SPACES.source}`)

/**
 * Pure: `{ customerName: 'Maria', orderId: 'ORD-1' }` → `['Maria', 'ORD-1']`, in the template's
 * position order. Assumes `variableErrors` found nothing (every name present).
 */
export function toPositions (template: Pick<CatalogueTemplate, 'variables'>, values: Readonly<Record<string, string>>): string[] {
  // Filled first, then set: a list made with `new Array(n)` has holes, and V8 then takes its slow
  // paths for it (in the kind's validator and in JSON.stringify of the upstream body).
  const out: string[] = []
  for (let i = 0; i < template.variables.length; i++) out.push('')
  for (const variable of template.variables) out[variable.position - 1] = values[variable.name]
  return out
}

/**
 * Whether every variable is there and well formed and there is no other: the common case, checked
 * without allocating anything (it runs on every per-template send); `variableErrors` says what is wrong.
 */
function fine (variables: CatalogueTemplate['variables'], values: Readonly<Record<string, unknown>>): boolean {
  let keys = 0
  for (const key in values) if (Object.hasOwn(values, key)) keys++
  if (keys !== variables.length) return false
  // As many keys as variables, each variable's name among them: no key is left over.
  for (const variable of variables) {
    const value = values[variable.name]
    if (typeof value !== 'string' || value.length < 1 || value.length > (variable.maxLength ?? 1024) || BROKEN.test(value)) return false
  }
  return true
}

/** Every missing, extra, empty, too long or badly formed variable, as field errors under `/variables`. */
export function variableErrors (template: Pick<CatalogueTemplate, 'variables'>, values: Readonly<Record<string, unknown>>): FieldError[] {
  if (fine(template.variables, values)) return []
  const errors: FieldError[] = []
  const known = new Set<string>()
  for (const variable of template.variables) {
    known.add(variable.name)
    const path = `/variables/${variable.name}`
    const value = values[variable.name]
    if (value === undefined) {
      errors.push({ in: 'body', path, rule: 'required', message: 'is required' })
      continue
    }
    if (typeof value !== 'string') {
      errors.push({ in: 'body', path, rule: 'type', message: 'must be string' })
      continue
    }
    const max = variable.maxLength ?? 1024
    if (value.length < 1) errors.push({ in: 'body', path, rule: 'minLength', message: 'must NOT have fewer than 1 characters', limit: 1 })
    if (value.length > max) errors.push({ in: 'body', path, rule: 'maxLength', message: `must NOT have more than ${max} characters`, limit: max })
    if (NO_NEWLINE.test(value)) errors.push({ in: 'body', path, rule: 'pattern', message: 'must not contain a newline or tab' })
    if (FIVE_SPACES.test(value)) errors.push({ in: 'body', path, rule: 'pattern', message: 'must not contain a run of 5 or more spaces' })
  }
  for (const name of Object.keys(values)) {
    if (!known.has(name)) errors.push({ in: 'body', path: `/variables/${name.slice(0, 64)}`, rule: 'additionalProperties', message: 'is not a variable of this template' })
  }
  return errors
}
