// One catalogue template as a route: its checks, its request example and its body schema, built once per template version.
import { LANGUAGES } from '../config.js'
import type { FieldError } from '../errors.js'
import { CommonFields } from '../schemas/common.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import type { TemplateKind } from '../templates/kind.js'
import type { CatalogueTemplate } from './types.js'
import { toPositions, variableErrors } from './variables.js'

const KINDS = new Map(TEMPLATE_KINDS.map((k) => [k.kind, k]))
const COMMON_NAMES = new Set(Object.keys(CommonFields))
/** Fields of the kind routes a per-template route does not take: the template is the path, the values are `variables`. */
export const REPLACED: ReadonlySet<string> = new Set(['template', 'params'])
/** No error: one frozen list for every well-formed send. */
const NONE: readonly FieldError[] = Object.freeze([])

/** A template of unknown kind (Jelou's list alone) is sent as a text template, whose header and buttons are optional. */
export function kindOf (template: Pick<CatalogueTemplate, 'kind'>): TemplateKind {
  return KINDS.get(template.kind ?? 'text') ?? KINDS.get('text') as TemplateKind
}

/** The kind's own fields (mediaUrl, urlParams, cards, …): its schema less the common ones. An authentication code is a variable here. */
export function ownFields (kind: TemplateKind): { names: string[], required: string[] } {
  const schema = kind.schema as unknown as { properties: Record<string, unknown>, required?: string[] }
  const names = Object.keys(schema.properties).filter((name) => !COMMON_NAMES.has(name) && !(kind.kind === 'authentication' && name === 'code'))
  return { names, required: (schema.required ?? []).filter((name) => names.includes(name)) }
}

/** Component names in the OpenAPI document: the common optional fields, each kind's fields, a variable's rules. */
export const COMMON_COMPONENT = 'TemplateCommonFields'
export const kindComponent = (kind: string): string => `TemplateFields-${kind}`
export const VARIABLE_COMPONENT = 'TemplateVariable'
export const CODE_COMPONENT = 'TemplateCodeVariable'

/** A body variable's rules (a one-time code's are stricter): shared, so a template's entry names them by reference. */
const VARIABLE_RULES = { type: 'string', minLength: 1, maxLength: 1024, pattern: '^(?!.* {5})[^\\n\\r\\t]*$' }
const CODE_RULES = { type: 'string', minLength: 1, maxLength: 15, pattern: '^\\S*$' }

/** The shared schemas every per-template body points to (added once with `addSchema`). */
export function templateSharedSchemas (): Array<Record<string, unknown>> {
  const common: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(CommonFields)) if (name !== 'language' && !REPLACED.has(name)) common[name] = field
  const shared: Array<Record<string, unknown>> = [{
    $id: COMMON_COMPONENT,
    type: 'object',
    description: 'The fields every per-template route takes, as the kind routes do: `to` (required) and the optional common fields. `language` (each template lists its own) defaults to DEFAULT_LANGUAGE when the template has it, else the template\'s first language.',
    properties: common
  }]
  for (const kind of TEMPLATE_KINDS) {
    const schema = kind.schema as unknown as { properties: Record<string, unknown> }
    const own = ownFields(kind)
    const properties = Object.fromEntries(own.names.map((name) => [name, schema.properties[name]]))
    // With the common fields, so that a template's body names one component.
    shared.push({ $id: kindComponent(kind.kind), type: 'object', description: `The fields of a template of kind ${kind.kind}: the common ones (${COMMON_COMPONENT}) and the kind's own.`, allOf: [{ $ref: `${COMMON_COMPONENT}#` }], properties, ...(own.required.length > 0 ? { required: own.required } : {}) })
  }
  return shared
}

const LANGUAGE_SET: ReadonlySet<string> = new Set(LANGUAGES)

/** One template's route, fixed for one version of it (the catalogue rebuilds it when the template changes). */
export interface TemplateRoute {
  template: CatalogueTemplate
  kind: TemplateKind
  /** The languages a request may name: the template's own (those the service can send). */
  languages: readonly string[]
  /** Every per-template rule the body breaks: variables by name, the language, fields the route does not take. */
  check: (body: Record<string, unknown>) => readonly FieldError[]
  /** The body's `variables` path for a kind-schema path (`/params/1` → `/variables/orderId`, `/code` → the code's variable). */
  pathOf: (kindPath: string) => string
  /** Set when sends to it are refused whatever the body: the reason, for `deprecated`. */
  refusal: string | null
}

export function buildTemplateRoute (template: CatalogueTemplate): TemplateRoute {
  const kind = kindOf(template)
  const own = template.languages.filter((l) => LANGUAGE_SET.has(l))
  const languages = own.length > 0 ? own : [...LANGUAGES]
  const byPosition = new Map(template.variables.map((v) => [v.position, v.name]))
  const problem = template.problems[0]
  return {
    template,
    kind,
    languages,
    refusal: problem === undefined ? null : `${problem.code}: ${problem.message}`,
    check (body) {
      const variables = body.variables
      const errors = typeof variables === 'object' && variables !== null && !Array.isArray(variables)
        ? variableErrors(template, variables as Record<string, unknown>)
        : variables === undefined && template.variables.length === 0
          ? NONE
          : [{ in: 'body' as const, path: '/variables', rule: variables === undefined ? 'required' : 'type', message: variables === undefined ? 'is required' : 'must be object' }]
      // A parsed JSON body holds no undefined: a field is there when it is not undefined. Named
      // loads, not a loop over REPLACED: this runs on every send.
      const badLanguage = body.language !== undefined && !languages.includes(body.language as string)
      if (!badLanguage && body.template === undefined && body.params === undefined) return errors
      const all = [...errors]
      if (badLanguage) all.push({ in: 'body', path: '/language', rule: 'enum', message: `must be one of the template's languages: ${languages.join(', ')}` })
      for (const field of REPLACED) {
        if (body[field] !== undefined) all.push({ in: 'body', path: `/${field}`, rule: 'additionalProperties', message: 'is not an allowed field (the template is the path, its values are `variables`)' })
      }
      return all
    },
    pathOf (kindPath) {
      const param = /^\/params\/(\d+)(\/.*)?$/.exec(kindPath)
      if (param !== null) return `/variables/${byPosition.get(Number(param[1]) + 1) ?? param[1]}${param[2] ?? ''}`
      if (kind.kind === 'authentication' && (kindPath === '/code' || kindPath.startsWith('/code/'))) return `/variables/${byPosition.get(1) ?? 'code'}`
      return kindPath
    }
  }
}

/** The variable rules' components, for the document to list those its entries name. */
export const VARIABLE_COMPONENTS: Record<string, Record<string, unknown>> = {
  [VARIABLE_COMPONENT]: { description: 'A body variable\'s value: 1 to 1,024 characters, no newline or tab, no more than four spaces in a row.', ...VARIABLE_RULES },
  [CODE_COMPONENT]: { description: 'A one-time code: 1 to 15 characters, no whitespace, URL or emoji.', ...CODE_RULES }
}

/** Whether a variable's schema names the shared rules (else it has a lower limit of its own, inline). */
const sharesRules = (variable: CatalogueTemplate['variables'][number], rules: { maxLength: number }): boolean =>
  variable.maxLength === undefined || variable.maxLength >= rules.maxLength

/** The variable rules' components a route's body schema names. */
export function variableComponentsOf (route: TemplateRoute): string[] {
  const auth = route.template.kind === 'authentication'
  return route.template.variables.some((v) => sharesRules(v, auth ? CODE_RULES : VARIABLE_RULES)) ? [auth ? CODE_COMPONENT : VARIABLE_COMPONENT] : []
}

/**
 * A variable's schema in the document: the shared rules by reference (or inline when the variable
 * has a lower limit of its own), its position, description and example.
 */
function variableSchema (template: CatalogueTemplate, name: string): Record<string, unknown> {
  const variable = template.variables.find((v) => v.name === name) as CatalogueTemplate['variables'][number]
  const auth = template.kind === 'authentication'
  const rules = auth ? CODE_RULES : VARIABLE_RULES
  const description = [variable.description, `\`{{${variable.position}}}\` in the body${auth ? ' (the one-time code: no whitespace, URL or emoji)' : ''}.`].filter((d) => d !== undefined).join(' ')
  const schema: Record<string, unknown> = sharesRules(variable, rules)
    ? { allOf: [{ $ref: `#/components/schemas/${auth ? CODE_COMPONENT : VARIABLE_COMPONENT}` }], description }
    : { ...rules, maxLength: variable.maxLength, description }
  if (variable.example !== undefined) schema.example = variable.example
  return schema
}

/** The body schema in the document: the common and kind fields by reference, the template's own variables and languages inline. */
export function templateBodySchema (route: TemplateRoute): Record<string, unknown> {
  const { template, kind } = route
  const own = ownFields(kind)
  const properties: Record<string, unknown> = {}
  const required = ['to', ...own.required]
  if (template.variables.length > 0) {
    properties.variables = {
      type: 'object',
      required: template.variables.map((v) => v.name),
      properties: Object.fromEntries(template.variables.map((v) => [v.name, variableSchema(template, v.name)])),
      additionalProperties: false
    }
    required.push('variables')
  }
  properties.language = { type: 'string', enum: route.languages }
  return {
    allOf: [{ $ref: `#/components/schemas/${kindComponent(kind.kind)}` }],
    type: 'object',
    required,
    properties
  }
}

/** The route's request example: the catalogue's example values, else the kind's own example. */
export function templateExample (route: TemplateRoute): Record<string, unknown> {
  const { template, kind } = route
  const kindExample = Object.values(kind.examples)[0]?.value as Record<string, unknown> | undefined
  const params = kind.kind === 'authentication' ? [kindExample?.code as string] : (kindExample?.params as string[] | undefined) ?? []
  const variables: Record<string, string> = {}
  for (const v of template.variables) variables[v.name] = v.example ?? params[v.position - 1] ?? `value${v.position}`
  // The kind example's own recipient: Swagger UI's examples spread over many numbers, so trying
  // them all stays under the default RECIPIENT_LIMIT.
  const value: Record<string, unknown> = { to: kindExample?.to ?? '+593 98 765 4321' }
  if (template.variables.length > 0) value.variables = variables
  if (template.languages.length > 0) value.language = route.languages[0]
  const source = template.example ?? kindExample ?? {}
  for (const name of ownFields(kind).names) if (source[name] !== undefined) value[name] = source[name]
  return value
}

/**
 * The kind route's body for a per-template request: `variables` by name become the kind's
 * positional `params` (or an authentication `code`); the template is the path's.
 */
export function toKindBody (route: TemplateRoute, request: Record<string, unknown>, language: string | undefined): Record<string, unknown> & { to: string } {
  // A plain loop: object rest and spread over a parsed body are a slow path in V8 (tens of µs a send).
  const body = { to: request.to } as Record<string, unknown> & { to: string }
  for (const key in request) if (key !== 'variables' && key !== 'to') body[key] = request[key]
  // The request's own botId, if any, is copied above and checked by the kind's schema as on a kind
  // route; the template's bot goes to the send itself (not re-checked: the catalogue's bots are configured).
  body.template = route.template.name
  const positions = toPositions(route.template, (request.variables ?? {}) as Record<string, string>)
  if (language !== undefined) body.language = language
  if (route.kind.kind === 'authentication') body.code = positions[0]
  else if (positions.length > 0) body.params = positions
  return body
}

/** Per-template routes cached by template version: a template whose definition did not change keeps its route (and its document entry). */
export function createRouteCache () {
  const byTemplate = new WeakMap<CatalogueTemplate, TemplateRoute>()
  let byKey = new Map<string, TemplateRoute>()
  let built = -1
  return {
    /** Called with each catalogue version: reuses the route of every unchanged template, builds the others, drops the rest. */
    update (version: number, templates: readonly CatalogueTemplate[]): void {
      if (version === built) return
      const next = new Map<string, TemplateRoute>()
      for (const template of templates) {
        const key = JSON.stringify(template)
        const route = byKey.get(key) ?? buildTemplateRoute(template)
        next.set(key, route)
        byTemplate.set(template, route)
      }
      byKey = next
      built = version
    },
    /** The route of a template of the current version (built now when update() has not seen it). */
    get (template: CatalogueTemplate): TemplateRoute {
      let route = byTemplate.get(template)
      if (route === undefined) {
        route = buildTemplateRoute(template)
        byTemplate.set(template, route)
      }
      return route
    },
    /** How many routes were built in all (the bench checks a refresh that changes nothing builds none). */
    size: (): number => byKey.size
  }
}

export type RouteCache = ReturnType<typeof createRouteCache>
