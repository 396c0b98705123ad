// The served OpenAPI document with one entry per catalogue template, built lazily once per catalogue version (with its ETag).
import { createHash } from 'node:crypto'
import type { Catalogue } from '../catalogue/catalogue.js'
import { templateBodySchema, templateExample, toKindBody, type RouteCache, type TemplateRoute } from '../catalogue/template-route.js'
import type { CatalogueTemplate } from '../catalogue/types.js'
import { renderPreview } from '../preview/render.js'
import type { UpstreamBody } from '../upstream/schema.js'
import { dryRunExample, sendResultExample, type OpenApiDocument, type Operation } from './openapi-answers.js'

const GENERIC_PATH = '/v1/templates/{name}'

function describe (template: CatalogueTemplate, others: string[]): string {
  const text = Object.entries(template.text).map(([language, body]) => `${language}: “${body}”`).join('; ')
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
    const base = generic.responses[status] as { description: string, headers: unknown, content: Record<string, { schema: unknown }> }
    responses[status] = { description: base.description, headers: base.headers, content: { 'application/json': { schema: base.content['application/json'].schema, example: value } } }
  }
  const operation: Operation = {
    tags: ['templates'],
    operationId: `send_template_${template.name}`,
    summary: `Send ${template.name}${template.displayName === undefined ? '' : ` (${template.displayName})`}`,
    description: describe(template, others),
    parameters: (generic.parameters ?? []).filter((p) => (p as { in?: string }).in !== 'path'),
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
  document: OpenApiDocument
  json: string
  etag: string
}

/**
 * `current(base)` is the base document (the static routes, completed) with one path per catalogue
 * template before the others, for the catalogue's current version: built at the first request
 * after a change, then served from memory. Unchanged templates keep their operation objects.
 */
export function createCatalogueDocument (catalogue: Catalogue, routes: RouteCache) {
  const operations = new WeakMap<TemplateRoute, { others: string, operation: Operation }>()
  let cached: { version: number, base: OpenApiDocument, served: ServedDocument } | null = null

  return {
    current (base: OpenApiDocument): ServedDocument {
      const version = catalogue.version()
      if (cached !== null && cached.version === version && cached.base === base) return cached.served
      routes.update(version, catalogue.all())
      const generic = base.paths[GENERIC_PATH]?.post
      const paths: OpenApiDocument['paths'] = {}
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
          let entry = operations.get(route)
          if (entry === undefined || entry.others !== key) {
            entry = { others: key, operation: operationOf(route, generic, others) }
            operations.set(route, entry)
          }
          paths[`/v1/templates/${name}`] = { post: entry.operation }
        }
      }
      const document: OpenApiDocument = { ...base, paths: { ...paths, ...base.paths } }
      const json = JSON.stringify(document)
      const served = { document, json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"` }
      cached = { version, base, served }
      return served
    }
  }
}
