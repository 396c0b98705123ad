// The company's own templates by name: one POST route per catalogue template, a generic one for later arrivals, and the catalogue itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TSchema } from 'typebox'
import { LANGUAGES, type Language } from '../config.js'
import { problem, sendAnswer, validationFailed } from '../errors.js'
import type { Catalogue } from '../catalogue/catalogue.js'
import type { CatalogueTemplate, TemplateVariable } from '../catalogue/types.js'
import { toPositions, variableErrors } from '../catalogue/variables.js'
import { toFieldError } from '../schemas/field-errors.js'
import type { Sender } from '../send.js'
import { validatorCompiler } from '../schemas/ajv.js'
import { CommonFields, ParamSchema } from '../schemas/common.js'
import { DryRunQuerySchema, LOOKUP_ROUTE, SEND_ROUTE, isDryRun, lookupResponses, sendResponses } from '../schemas/routes.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import { futureError, type CommonBody, type TemplateKind } from '../templates/kind.js'

const KINDS = new Map(TEMPLATE_KINDS.map((k) => [k.kind, k]))
const COMMON_NAMES = new Set(Object.keys(CommonFields))
/** Fields of the kind routes a per-template route does not take: the template is the path, the values are `variables`. */
const REPLACED = new Set(['template', 'params'])

/** A template of unknown kind (Jelou's list alone) is sent as a text template, whose header and buttons are optional. */
function kindOf (template: CatalogueTemplate): TemplateKind {
  return KINDS.get(template.kind ?? 'text') ?? KINDS.get('text') as TemplateKind
}

/** The kind's own fields (mediaUrl, urlParams, cards, …): its schema less the common ones. An authentication code is a variable here. */
function ownFields (kind: TemplateKind): { properties: Record<string, TSchema>, required: string[] } {
  const schema = kind.schema as unknown as { properties: Record<string, TSchema>, required?: string[] }
  const properties: Record<string, TSchema> = {}
  for (const [name, field] of Object.entries(schema.properties)) {
    if (!COMMON_NAMES.has(name) && !(kind.kind === 'authentication' && name === 'code')) properties[name] = field
  }
  return { properties, required: (schema.required ?? []).filter((name) => name in properties) }
}

function variableSchema (template: CatalogueTemplate, variable: TemplateVariable): TSchema {
  const base = template.kind === 'authentication'
    ? (KINDS.get('authentication')?.schema as unknown as { properties: { code: TSchema } }).properties.code
    : ParamSchema
  const max = Math.min(variable.maxLength ?? 1024, (base as { maxLength?: number }).maxLength ?? 1024)
  const description = [variable.description, `\`{{${variable.position}}}\` in the body, at most ${max} characters.`].filter((d) => d !== undefined).join(' ')
  return { ...base, maxLength: max, description, ...(variable.example === undefined ? {} : { example: variable.example }) } as unknown as TSchema
}

/** The route's named example: the catalogue's example values, else the kind's own example. */
function exampleOf (template: CatalogueTemplate, kind: TemplateKind): Record<string, unknown> {
  const kindExample = Object.values(kind.examples)[0]?.value as Record<string, unknown> | undefined
  const params = (kindExample?.params as string[] | undefined) ?? []
  const variables: Record<string, string> = {}
  for (const v of template.variables) variables[v.name] = v.example ?? params[v.position - 1] ?? `value${v.position}`
  // The kind example's own recipient: Swagger UI's examples spread over many numbers, so trying
  // them all stays under the default RECIPIENT_LIMIT.
  const value: Record<string, unknown> = { to: kindExample?.to ?? '+593 98 765 4321' }
  if (template.variables.length > 0) value.variables = variables
  const language = template.languages.find((l) => (LANGUAGES as string[]).includes(l))
  if (language !== undefined) value.language = language
  const own = ownFields(kind).properties
  const source = template.example ?? kindExample ?? {}
  for (const name of Object.keys(own)) if (source[name] !== undefined) value[name] = source[name]
  return value
}

function bodySchema (template: CatalogueTemplate, kind: TemplateKind): TSchema {
  const own = ownFields(kind)
  const properties: Record<string, TSchema> = { to: CommonFields.to }
  const required = ['to', ...own.required]
  if (template.variables.length > 0) {
    properties.variables = Type.Object(Object.fromEntries(template.variables.map((v) => [v.name, variableSchema(template, v)])), {
      additionalProperties: false,
      description: `The template's variables by name, all required: ${template.variables.map((v) => v.name).join(', ')}.`
    })
    required.push('variables')
  }
  properties.language = Type.Optional(Type.Enum(LANGUAGES, { description: `Available: ${template.languages.join(', ') || 'unknown'}. Defaults to DEFAULT_LANGUAGE when the template has it, else the template's language.` }))
  Object.assign(properties, own.properties)
  for (const [name, field] of Object.entries(CommonFields)) {
    if (!(name in properties) && !REPLACED.has(name)) properties[name] = field
  }
  return { type: 'object', properties, required, additionalProperties: false, description: `Send ${template.name} (${template.kind ?? 'kind not declared: sent as text'}).` } as unknown as TSchema
}

function describe (template: CatalogueTemplate): string {
  const text = Object.entries(template.text).map(([language, body]) => `${language}: “${body}”`).join('; ')
  const parts = [
    template.description ?? template.displayName,
    text === '' ? undefined : `Text: ${text}`,
    `Kind: ${template.kind ?? 'not declared (sent as text)'}. Bot: ${template.botId}. Source: ${template.source}.`,
    template.problems.length > 0 ? `Refused until fixed: ${template.problems.map((p) => `${p.code}: ${p.message}`).join(' ')}` : undefined
  ]
  return parts.filter((p) => p !== undefined).join('\n\n')
}

const TemplateInfoSchema = Type.Object({
  name: Type.String(),
  botId: Type.String(),
  languages: Type.Array(Type.String()),
  kind: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: 'Jelou\'s status (APPROVED, PENDING, …); UNKNOWN when only the catalogue file declares it.' }),
  category: Type.Optional(Type.String()),
  displayName: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  text: Type.Record(Type.String(), Type.String(), { description: 'Body text per language, with {{n}} placeholders.' }),
  variables: Type.Array(Type.Object({
    name: Type.String(),
    position: Type.Integer(),
    description: Type.Optional(Type.String()),
    maxLength: Type.Optional(Type.Integer()),
    example: Type.Optional(Type.String())
  })),
  route: Type.String({ description: 'Where to send it.' }),
  source: Type.String({ description: 'jelou, file or both.' }),
  problems: Type.Array(Type.Object({ code: Type.String(), message: Type.String() }), { description: 'Non-empty: sends are refused with the first code.' })
})

const CatalogueSchema = Type.Object({
  templates: Type.Array(TemplateInfoSchema),
  bots: Type.Array(Type.Object({
    botId: Type.String(),
    loadedAt: Type.Union([Type.String(), Type.Null()], { description: 'When Jelou\'s list last loaded; null if never (the file alone is in force).' }),
    failures: Type.Integer({ description: 'Failed loads since the last good one.' })
  }))
})

function info (template: CatalogueTemplate) {
  const { name, botId, languages, kind, status, category, displayName, description, text, variables, source, problems } = template
  return { name, botId, languages, kind, status, category, displayName, description, text, variables, route: `/v1/templates/${name}`, source, problems }
}

export interface CatalogueRoutesOptions {
  send: Sender
  catalogue: Catalogue
  defaultBot: string | null
  defaultLanguage: Language | null
}

export const catalogueRoutes: FastifyPluginAsyncTypebox<CatalogueRoutesOptions> = async (app, { send, catalogue, defaultBot, defaultLanguage }) => {
  /** A template found in several bots is sent for JELOU_BOT_ID when it has it, else for the first bot that does. */
  const botFor = (name: string, asked: string | undefined): string | undefined => {
    if (asked !== undefined) return asked
    const bots = catalogue.botsOf(name)
    return defaultBot !== null && bots.includes(defaultBot) ? defaultBot : bots[0]
  }
  const kindValidators = new Map(TEMPLATE_KINDS.map((k) => [k.kind, validatorCompiler({ schema: k.schema, method: 'POST', url: '', httpPart: 'body' }) as ((v: unknown) => boolean) & { errors?: unknown[] }]))

  async function handle (request: FastifyRequest, reply: FastifyReply, name: string, checkKindFields: boolean) {
    const { variables = {}, ...rest } = request.body as Record<string, unknown> & { variables?: Record<string, unknown> }
    const botId = botFor(name, rest.botId as string | undefined)
    const template = botId === undefined ? undefined : catalogue.find(botId, name)
    if (template === undefined) {
      throw problem('TEMPLATE_UNKNOWN', `Template ${name} is not in the catalogue${rest.botId === undefined ? '' : ` of bot ${String(rest.botId)}`}; nothing was sent. GET /v1/templates lists what is.`)
    }
    const kind = kindOf(template)
    const errors = variableErrors(template, variables)
    for (const field of REPLACED) if (field in rest) errors.push({ in: 'body', path: `/${field}`, rule: 'additionalProperties', message: 'is not an allowed field (the template is the path, its values are `variables`)' })
    if (errors.length > 0) throw validationFailed(errors)
    const positions = toPositions(template, variables as Record<string, string>)
    const language = (rest.language as Language | undefined) ??
      (defaultLanguage !== null && template.languages.includes(defaultLanguage) ? defaultLanguage : template.languages.find((l): l is Language => (LANGUAGES as string[]).includes(l)))
    const body: CommonBody & Record<string, unknown> = { ...rest, to: rest.to as string, template: name, botId }
    if (language !== undefined) body.language = language
    if (kind.kind === 'authentication') body.code = positions[0]
    else if (positions.length > 0) body.params = positions
    if (checkKindFields) {
      const validate = kindValidators.get(kind.kind) as ((v: unknown) => boolean) & { errors?: unknown[] }
      if (!validate(body)) throw validationFailed((validate.errors ?? []).slice(0, 1).map((e) => toFieldError(e as Parameters<typeof toFieldError>[0], 'body')))
    }
    const now = Date.now()
    const answer = await send(request, reply, {
      kind: kind.kind,
      template: name,
      body: request.body,
      to: body.to,
      toPath: '/to',
      botIdIn: 'body',
      country: body.country,
      botId,
      language: body.language,
      clientRef: body.clientRef,
      dryRun: isDryRun(request.query),
      fieldErrors: [...futureError('/expiresAt', body.expiresAt as string | number | undefined, now), ...(kind.check?.(body, now) ?? [])],
      build: (ctx) => kind.toUpstream(body, ctx)
    })
    return await sendAnswer(reply, answer)
  }

  const registered = new Set<string>()
  for (const listed of catalogue.all()) {
    if (registered.has(listed.name)) continue
    registered.add(listed.name)
    const template = catalogue.find(botFor(listed.name, undefined) as string, listed.name) as CatalogueTemplate
    const kind = kindOf(template)
    app.post(`/v1/templates/${template.name}`, {
      schema: {
        tags: ['templates'],
        security: [{ bearerAuth: [] }, { apiKey: [] }],
        operationId: `send_template_${template.name}`,
        summary: `Send ${template.name}${template.displayName === undefined ? '' : ` (${template.displayName})`}`,
        description: describe(template),
        querystring: DryRunQuerySchema,
        body: { ...bodySchema(template, kind), 'x-examples': { [template.name]: { summary: template.displayName ?? template.name, value: exampleOf(template, kind) } } },
        response: sendResponses,
        'x-answers': SEND_ROUTE
      }
    }, async (request, reply) => await handle(request, reply, template.name, false))
  }

  app.post('/v1/templates/:name', {
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'send_template',
      summary: 'Send a catalogue template by name (any template, including one that appeared after start-up)',
      description: 'The same as the per-template routes, checked against the catalogue as it is now: `variables` by name, the kind\'s own fields, the common optional fields. A template added in Jelou after start-up is sendable here at once; its own documented route appears at the next start.',
      params: Type.Object({ name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'Template name (Jelou elementName).' }) }),
      querystring: DryRunQuerySchema,
      body: Type.Object({
        to: CommonFields.to,
        variables: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'The template\'s variables by name.' }))
      }, { additionalProperties: true, description: 'The per-template body: see GET /v1/templates/{name} for the variables.' }),
      response: sendResponses,
      'x-answers': SEND_ROUTE
    }
  }, async (request, reply) => await handle(request, reply, request.params.name, true))

  app.get('/v1/templates', {
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'list_templates',
      summary: 'The template catalogue',
      description: 'Every template the service knows, merged from Jelou\'s lists and TEMPLATES_FILE, with its route and any problem that refuses its sends; and, per bot, when Jelou\'s list last loaded.',
      response: { 200: CatalogueSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async () => ({
    templates: catalogue.all().map(info),
    bots: catalogue.states().map((s) => ({ botId: s.botId, loadedAt: s.loadedAt === null ? null : new Date(s.loadedAt).toISOString(), failures: s.failures }))
  }))

  app.get('/v1/templates/:name', {
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'get_template',
      summary: 'One catalogue template',
      description: 'The template as the catalogue has it now; `?botId=` picks the bot when several have it.',
      params: Type.Object({ name: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }) }),
      querystring: Type.Object({ botId: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false }),
      response: { 200: TemplateInfoSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request) => {
    const botId = botFor(request.params.name, request.query.botId)
    const template = botId === undefined ? undefined : catalogue.find(botId, request.params.name)
    if (template === undefined) throw problem('NOT_FOUND', `Template ${request.params.name} is not in the catalogue.`)
    return info(template)
  })
}
