// The served OpenAPI document with one entry per catalogue template, built lazily once per catalogue version (with its ETag).
import { createHash } from 'node:crypto'
import type { Catalogue } from '../catalogue/catalogue.js'
import { VARIABLE_COMPONENTS, templateBodySchema, templateExample, variableComponentsOf, type RouteCache, type TemplateRoute } from '../catalogue/template-route.js'
import type { CatalogueTemplate } from '../catalogue/types.js'
import { kindExamples, type OpenApiDocument, type Operation } from './openapi-answers.js'

const GENERIC_PATH = '/v1/templates/{name}'

/** The shared answers of every template of one kind: the 202 and the dry run (its headers and its kind's example). */
const sentComponent = (kind: string): string => `TemplateSent-${kind}`
const dryRunComponent = (kind: string): string => `TemplateDryRun-${kind}`

function describe (template: CatalogueTemplate, others: string[]): string {
  const text = Object.entries(template.text).map(([language, body]) => `${language}: "${body}"`).join('; ')
  const parts = [
    template.description ?? template.displayName,
    text === '' ? undefined : `Text: ${text}`,
    `Kind: ${template.kind ?? 'not declared (sent as text)'}. Bot: ${template.botId}. Source: ${template.source}.`,
    others.length === 0 ? undefined : `Also on bots ${others.join(', ')} with another definition: name the bot with \`botId\` (this entry shows ${template.botId}'s).`,
    template.problems.length > 0 ? `Refused until fixed: ${template.problems.map((p) => `${p.code}: ${p.message}`).join(' ')}` : undefined
  ]
  return parts.filter((p) => p !== undefined).join('\n\n')
}

/** One template's operation, from the generic route's completed one (its parameters, security and problem answers). */
function operationOf (route: TemplateRoute, generic: Operation, others: string[]): Operation {
  const { template, kind } = route
  const example = templateExample(route)
  // The 202 and dry-run answers are shared by every template of the kind (components, with their
  // headers): a template's own copies were a third of its entry. Its request example is its own.
  const responses: Operation['responses'] = { ...generic.responses, 200: { $ref: `#/components/responses/${dryRunComponent(kind.kind)}` }, 202: { $ref: `#/components/responses/${sentComponent(kind.kind)}` } }
  const operation: Operation = {
    tags: ['templates'],
    operationId: `send_template_${template.name}`,
    summary: `Send ${template.name}${template.displayName === undefined ? '' : ` (${template.displayName})`}`,
    description: describe(template, others),
    parameters: (generic.parameters ?? []).filter((p) => (p as { in?: string }).in !== 'path').map((p) => (p as { in?: string }).in === 'query' ? { $ref: '#/components/parameters/DryRun' } : p),
    requestBody: { required: true, content: { 'application/json': { schema: templateBodySchema(route), examples: { [template.name]: { summary: template.displayName ?? template.name, value: example } } } } },
    responses
  }
  if (generic.security !== undefined) operation.security = generic.security
  if (route.refusal !== null) {
    // Sends are refused whatever the body: say so rather than offer an example that always fails.
    operation.deprecated = true
    operation.description = `**Cannot be sent now**: ${route.refusal}\n\n${operation.description as string}`
  }
  return operation
}

export interface ServedDocument {
  /** The document as an object, parsed from `body` at each read (only `npm run openapi` and /docs/yaml ask). */
  readonly document: OpenApiDocument
  /** The document as served: UTF-8 JSON, outside the JS heap, one byte a character for ASCII. */
  body: Buffer
  etag: string
}

export function servedDocument (body: Buffer): ServedDocument {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  // Not cached: a parsed document of 1,000 templates holds tens of MB, for a rare request.
  return { body, etag, get document () { return JSON.parse(body.toString('utf8')) as OpenApiDocument } }
}

/** Where one template's entry lies in the served text, and the bots note it was built with. */
interface Span { others: string, start: number, end: number }

/**
 * `current(base)` is the base document (the static routes, completed) with one path per catalogue
 * template before the others, for the catalogue's current version: built at the first request
 * after a change, then served from memory as one UTF-8 text. The document is kept once: each
 * template's entry is a span of that text, so a change builds the changed template's entry and
 * copies the others from the last text.
 */
export function createCatalogueDocument (catalogue: Catalogue, routes: RouteCache) {
  let cached: { version: number, base: OpenApiDocument, served: ServedDocument, spans: Map<TemplateRoute, Span> } | null = null

  return {
    current (base: OpenApiDocument): ServedDocument {
      const version = catalogue.version()
      if (cached !== null && cached.version === version && cached.base === base) return cached.served
      routes.update(version, catalogue.all())
      const last = cached
      const generic = base.paths[GENERIC_PATH]?.post
      // The text is built from pieces; `at` is the byte offset of the next one.
      const pieces: Buffer[] = []
      let at = 0
      const push = (piece: Buffer): void => { pieces.push(piece); at += piece.length }
      const spans = new Map<TemplateRoute, Span>()
      const kinds = new Set<string>()
      const variableRules = new Set<string>()
      const ownPaths = JSON.stringify(base.paths).slice(1, -1)
      // The dry-run switch, shared by every template's entry.
      const dryRunParameter = (generic?.parameters ?? []).find((p) => (p as { in?: string }).in === 'query')
      const components: Record<string, unknown> = { ...base.components, parameters: { ...(base.components.parameters as object), DryRun: dryRunParameter } }
      const routesOf: Array<[string, TemplateRoute, string[]]> = []
      if (generic !== undefined) {
        for (const name of new Set(catalogue.all().map((t) => t.name))) {
          const choice = catalogue.botFor(name, undefined)
          if (choice === undefined) continue
          const bot = choice.botId ?? choice.ambiguous[0]
          const route = routes.get(catalogue.find(bot, name) as CatalogueTemplate)
          routesOf.push([name, route, choice.botId === undefined ? choice.ambiguous.filter((b) => b !== bot) : []])
          kinds.add(route.kind.kind)
          for (const name of variableComponentsOf(route)) variableRules.add(name)
        }
        components.responses = { ...(base.components.responses as object), ...sharedAnswers(generic, [...kinds]) }
        // Only the rules some entry names (an unused component is a lint warning).
        const rules = Object.keys(VARIABLE_COMPONENTS).filter((name) => variableRules.has(name)).map((name) => [name, VARIABLE_COMPONENTS[name]])
        components.schemas = { ...(base.components.schemas as object), ...Object.fromEntries(rules) }
      }
      const outline = JSON.stringify({ ...base, components, paths: 0 })
      const cut = outline.indexOf('"paths":0')
      push(Buffer.from(`${outline.slice(0, cut)}"paths":{`))
      for (const [name, route, others] of routesOf) {
        push(Buffer.from(`${spans.size === 0 ? '' : ','}${JSON.stringify(`/v1/templates/${name}`)}:`))
        const key = others.join(',')
        const old = last?.spans.get(route)
        const start = at
        push(old !== undefined && old.others === key && last !== null && last.base === base
          ? last.served.body.subarray(old.start, old.end)
          : Buffer.from(JSON.stringify({ post: operationOf(route, generic as Operation, others) })))
        spans.set(route, { others: key, start, end: at })
      }
      push(Buffer.from(`${spans.size > 0 && ownPaths !== '' ? ',' : ''}${ownPaths}}${outline.slice(cut + '"paths":0'.length)}`))
      cached = { version, base, served: servedDocument(Buffer.concat(pieces, at)), spans }
      return cached.served
    }
  }
}

/** The 202 and dry-run answers of each kind present, as response components. */
function sharedAnswers (generic: Operation, kinds: string[]): Record<string, unknown> {
  const shared: Record<string, unknown> = {}
  for (const kind of kinds.sort()) {
    const { sent, dryRun } = kindExamples(kind)
    for (const [name, status, example] of [[dryRunComponent(kind), '200', dryRun], [sentComponent(kind), '202', sent]] as const) {
      const base = generic.responses[status] as { description: string, headers?: unknown, content: Record<string, { schema: unknown }> }
      const note = status === '200' ? ` The example is a template of kind ${kind}; a dry run of the route's own request example answers with that template's Jelou body and preview.` : ` The example is a template of kind ${kind}.`
      shared[name] = { description: `${base.description}${note}`, headers: base.headers, content: { 'application/json': { schema: base.content['application/json'].schema, example } } }
    }
  }
  return shared
}
