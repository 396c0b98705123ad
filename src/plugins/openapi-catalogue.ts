// The served OpenAPI document with one entry per catalogue template, built lazily once per catalogue version (with its ETag).
import { createHash } from 'node:crypto'
import type { Catalogue } from '../catalogue/catalogue.js'
import { templateBodySchema, templateExample, toKindBody, type RouteCache, type TemplateRoute } from '../catalogue/template-route.js'
import type { CatalogueTemplate } from '../catalogue/types.js'
import { renderPreview } from '../preview/render.js'
import type { UpstreamBody } from '../upstream/schema.js'
import { dryRunExample, sendResultExample, type OpenApiDocument, type Operation } from './openapi-answers.js'

const GENERIC_PATH = '/v1/templates/{name}'

/**
 * JSON with every character past U+00FF escaped (`\u2026`): the same document to a reader, but V8
 * keeps the text one byte a character instead of two, which halves the memory of a large document.
 */
function oneByteJson (value: unknown): string {
  return JSON.stringify(value).replace(/[\u0100-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

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

/** The example's answers: what a send of the example returns, with this template's kind and name. */
function answers (route: TemplateRoute, example: Record<string, unknown>): { sent: Record<string, unknown>, dryRun: Record<string, unknown> } {
  const { template, kind } = route
  const sent = sendResultExample(kind.kind, template.name, template.botId)
  let upstream: UpstreamBody
  try {
    upstream = kind.toUpstream(toKindBody(route, example, template.botId, example.language as string | undefined) as never, { to: '593987654321', language: example.language as never })
  } catch {
    upstream = { elementName: template.name, destinations: ['593987654321'], type: 'text' }
  }
  return { sent, dryRun: dryRunExample(kind.kind, template.botId, upstream, renderPreview(template, upstream)) }
}

/** One template's operation, from the generic route's completed one (its parameters, security and problem answers). */
function operationOf (route: TemplateRoute, generic: Operation, others: string[]): Operation {
  const { template } = route
  const example = templateExample(route)
  const { sent, dryRun } = answers(route, example)
  const responses: Operation['responses'] = { ...generic.responses }
  for (const [status, value] of [['200', dryRun], ['202', sent]] as const) {
    // Its own example; the headers are those of POST /v1/templates/{name} (not repeated per template).
    const base = generic.responses[status] as { description: string, content: Record<string, { schema: unknown }> }
    responses[status] = { description: base.description, content: { 'application/json': { schema: base.content['application/json'].schema, example: value } } }
  }
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
  /** The document as an object (parsed from `json` on demand: only `npm run openapi` and /docs/yaml ask). */
  readonly document: OpenApiDocument
  json: string
  etag: string
}

function served (json: string): ServedDocument {
  let parsed: OpenApiDocument | undefined
  const etag = `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`
  return { json, etag, get document () { return (parsed ??= JSON.parse(json) as OpenApiDocument) } }
}

/**
 * `current(base)` is the base document (the static routes, completed) with one path per catalogue
 * template before the others, for the catalogue's current version: built at the first request
 * after a change, then served from memory as one JSON text. Each template's entry is kept as its
 * own JSON text per template version, so a change rebuilds one entry and joins the texts again.
 */
export function createCatalogueDocument (catalogue: Catalogue, routes: RouteCache) {
  const entries = new WeakMap<TemplateRoute, { others: string, json: string }>()
  let cached: { version: number, base: OpenApiDocument, served: ServedDocument } | null = null

  return {
    current (base: OpenApiDocument): ServedDocument {
      const version = catalogue.version()
      if (cached !== null && cached.version === version && cached.base === base) return cached.served
      routes.update(version, catalogue.all())
      const generic = base.paths[GENERIC_PATH]?.post
      const paths: string[] = []
      if (generic !== undefined) {
        const names = [...new Set(catalogue.all().map((t) => t.name))]
        for (const name of names) {
          const choice = catalogue.botFor(name, undefined)
          if (choice === undefined) continue
          const bot = choice.botId ?? choice.ambiguous[0]
          const template = catalogue.find(bot, name) as CatalogueTemplate
          const others = choice.botId === undefined ? choice.ambiguous.filter((b) => b !== bot) : []
          const route = routes.get(template)
          const key = others.join(',')
          let entry = entries.get(route)
          if (entry === undefined || entry.others !== key) {
            entry = { others: key, json: oneByteJson({ post: operationOf(route, generic, others) }) }
            entries.set(route, entry)
          }
          paths.push(`${JSON.stringify(`/v1/templates/${name}`)}:${entry.json}`)
        }
      }
      // The dry-run switch, shared by every template's entry.
      const dryRunParameter = (generic?.parameters ?? []).find((p) => (p as { in?: string }).in === 'query')
      const components = { ...base.components, parameters: { ...(base.components.parameters as object), DryRun: dryRunParameter } }
      const own = oneByteJson(base.paths).slice(1, -1)
      const json = oneByteJson({ ...base, components, paths: 0 }).replace('"paths":0', `"paths":{${[...paths, own].filter((p) => p !== '').join(',')}}`)
      cached = { version, base, served: served(json) }
      return cached.served
    }
  }
}
