// The company's own templates by name: POST /v1/templates/{name} checked against the catalogue of the moment, and the catalogue itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { LANGUAGES, type Language } from '../config.js'
import { problem, sendAnswer, validationFailed } from '../errors.js'
import type { Catalogue } from '../catalogue/catalogue.js'
import type { CatalogueTemplate } from '../catalogue/types.js'
import { TEMPLATE_NAME } from '../catalogue/merge.js'
import { toKindBody, type RouteCache } from '../catalogue/template-route.js'
import { MAX_FIELD_ERRORS, inDocumentOrder, schemaFieldErrors, toFieldError } from '../schemas/field-errors.js'
import type { Sender } from '../send.js'
import { validatorCompiler } from '../schemas/ajv.js'
import { CommonFields } from '../schemas/common.js'
import { DryRunQuerySchema, LOOKUP_ROUTE, SEND_ROUTE, isDryRun, lookupResponses, sendResponses } from '../schemas/routes.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import { futureError } from '../templates/kind.js'

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
    failures: Type.Integer({ description: 'Failed loads since the last good one.' }),
    pages: Type.Integer({ description: 'Pages of Jelou\'s list read at the last good load.' }),
    truncated: Type.Boolean({ description: 'The last good load stopped at the page cap: templates past it are missing.' })
  })),
  problems: Type.Array(Type.Object({
    code: Type.String({ description: 'TEMPLATE_NAME_INVALID (a name that breaks Meta\'s rule: no route, never sent), TEMPLATE_LIST_TRUNCATED (a list cut short by the page cap), TEMPLATE_AMBIGUOUS (one name on several bots with different definitions), CATALOGUE_NO_BOTS (no bot configured, so no Jelou list is read).' }),
    botId: Type.Optional(Type.String()),
    template: Type.Optional(Type.String()),
    message: Type.String()
  }), { description: 'Problems of the catalogue as a whole; a template\'s own problems are on the template.' })
})

function info (template: CatalogueTemplate) {
  const { name, botId, languages, kind, status, category, displayName, description, text, variables, source, problems } = template
  return { name, botId, languages, kind, status, category, displayName, description, text, variables, route: `/v1/templates/${name}`, source, problems }
}

export interface CatalogueRoutesOptions {
  send: Sender
  catalogue: Catalogue
  routes: RouteCache
  defaultLanguage: Language | null
}

type Validator = ((v: unknown) => boolean) & { errors?: Array<Parameters<typeof toFieldError>[0]> | null }
/** What Fastify is given for a part the handler checks itself. */
const unchecked = (): boolean => true

export const catalogueRoutes: FastifyPluginAsyncTypebox<CatalogueRoutesOptions> = async (app, { send, catalogue, routes, defaultLanguage }) => {
  const kindValidators = new Map(TEMPLATE_KINDS.map((k) => [k.kind, validatorCompiler({ schema: k.schema, method: 'POST', url: '', httpPart: 'body' }) as Validator]))

  /** The template a send by name means, as the catalogue has it now. */
  function templateFor (name: string, asked: string | undefined): CatalogueTemplate {
    const choice = catalogue.botFor(name, asked)
    if (choice !== undefined && choice.botId === undefined) {
      throw problem('TEMPLATE_AMBIGUOUS', `Template ${name} is on bots ${choice.ambiguous.join(', ')} with different variables, kinds or languages; name the bot with botId. Nothing was sent.`)
    }
    const template = choice === undefined ? undefined : catalogue.find(choice.botId, name)
    if (template === undefined) {
      throw problem('TEMPLATE_UNKNOWN', `Template ${name} is not in the catalogue${asked === undefined ? '' : ` of bot ${asked}`}; nothing was sent. GET /v1/templates lists what is.`)
    }
    return template
  }

  // The path's name, the query string and the body's general shape, as the document gives them. Fastify does
  // not check them on this route: the handler does, with these same schemas, the query string always and the
  // other two only for a request that is not the common case, so that a well-formed send to a catalogue
  // template is checked once, by its template's own rules and its kind's schema. A request these schemas
  // refuse answers exactly what Fastify's check would have (the first part that fails, in Fastify's order:
  // params, body, query string). A catalogue template's name always fits the pattern (the catalogue's own rule,
  // TEMPLATE_NAME, keeps no other), and a body the schema refuses always breaks a rule of the template or of its kind.
  const ParamsSchema = Type.Object({ name: Type.String({ pattern: TEMPLATE_NAME.source, maxLength: 512, description: 'Template name (Jelou elementName).' }) })
  const BodySchema = Type.Object({
    to: CommonFields.to,
    // additionalProperties, not Type.Record (patternProperties `^.*$`: a regular expression tested on every name).
    variables: Type.Optional(Type.Object({}, { additionalProperties: Type.String(), description: 'The template\'s variables by name.' }))
  }, { additionalProperties: true, description: 'The per-template body: see GET /v1/templates/{name} for the variables.' })
  const shape = {
    params: validatorCompiler({ schema: ParamsSchema, method: 'POST', url: '', httpPart: 'params' }) as Validator,
    body: validatorCompiler({ schema: BodySchema, method: 'POST', url: '', httpPart: 'body' }) as Validator,
    querystring: validatorCompiler({ schema: DryRunQuerySchema, method: 'POST', url: '', httpPart: 'querystring' }) as Validator
  }
  /** Throws the 400 Fastify's own check would have answered, if the path, the body or the query string breaks the route's schemas. */
  function checkShape (request: FastifyRequest): void {
    for (const [part, value] of [['params', request.params], ['body', request.body], ['querystring', request.query]] as const) {
      const validate = shape[part]
      if (!validate(value)) throw validationFailed(inDocumentOrder(schemaFieldErrors({ validation: validate.errors, validationContext: part }), request.body), MAX_FIELD_ERRORS)
    }
  }

  app.post('/v1/templates/:name', {
    // The caller's limit is checked in the send's own store step (src/plugins/rate-limit.ts).
    config: { callerLimitAtSend: true },
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'send_template',
      summary: 'Send any catalogue template by name',
      description: 'Every template of the catalogue has its own entry above, with its own body; this is the same route for a name the document does not list yet. The body is checked against the catalogue as it is now: `variables` by name, the template\'s languages, the kind\'s own fields, the common optional fields. A template that appears, changes or is disabled in Jelou is sent (or refused) by its new definition at the next catalogue refresh, without a restart.',
      params: ParamsSchema,
      querystring: DryRunQuerySchema,
      body: BodySchema,
      response: sendResponses,
      'x-answers': SEND_ROUTE
    },
    validatorCompiler: () => unchecked
  }, async (request, reply) => {
    const name = request.params.name
    const body = request.body as Record<string, unknown>
    if (!shape.querystring(request.query) || typeof body !== 'object' || body === null || Array.isArray(body)) checkShape(request)
    const asked = body.botId
    let template: CatalogueTemplate
    try {
      template = templateFor(name, typeof asked === 'string' ? asked : undefined)
    } catch (error) {
      checkShape(request)
      throw error
    }
    routes.update(catalogue.version(), catalogue.all())
    const route = routes.get(template)
    let errors = route.check(body)
    const language = (body.language as string | undefined) ??
      (defaultLanguage !== null && route.languages.includes(defaultLanguage) ? defaultLanguage : template.languages.find((l) => (LANGUAGES as string[]).includes(l)))
    const kindBody = toKindBody(route, body, language)
    if (errors.length === 0) {
      // The kind's own rules (mediaUrl, urlParams, the code…), reported at the request's own paths.
      const validate = kindValidators.get(route.kind.kind) as Validator
      if (!validate(kindBody)) {
        errors = (validate.errors ?? []).map((e) => {
          const field = toFieldError(e, 'body')
          return { ...field, path: route.pathOf(field.path) }
        })
      }
    }
    if (errors.length > 0) {
      checkShape(request)
      throw validationFailed(errors)
    }
    const now = Date.now()
    const answer = await send(request, reply, {
      kind: route.kind.kind,
      template: name,
      body: request.body,
      to: kindBody.to,
      toPath: '/to',
      botIdIn: 'body',
      country: kindBody.country as string | undefined,
      botId: template.botId,
      language: kindBody.language as Language | undefined,
      clientRef: kindBody.clientRef as string | undefined,
      callbackUrl: kindBody.callbackUrl as string | undefined,
      sendAt: kindBody.sendAt as string | undefined,
      dryRun: isDryRun(request.query),
      fieldErrors: [...futureError('/expiresAt', kindBody.expiresAt as string | number | undefined, now), ...(route.kind.check?.(kindBody as never, now) ?? []).map((e) => ({ ...e, path: route.pathOf(e.path) }))],
      build: (ctx) => route.kind.toUpstream(kindBody as never, ctx)
    })
    return await sendAnswer(reply, answer)
  })

  app.get('/v1/templates', {
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'list_templates',
      summary: 'The template catalogue',
      description: 'Every template the service knows, merged from Jelou\'s lists and TEMPLATES_FILE, with its route and any problem that refuses its sends; per bot, when Jelou\'s list last loaded and whether the page cap cut it short; and the problems of the catalogue as a whole (bad names, lists cut short, one name on bots with different definitions).',
      response: { 200: CatalogueSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async () => ({
    templates: catalogue.all().map(info),
    bots: catalogue.states().map((s) => ({ botId: s.botId, loadedAt: s.loadedAt === null ? null : new Date(s.loadedAt).toISOString(), failures: s.failures, pages: s.pages, truncated: s.truncated })),
    problems: [...catalogue.issues()]
  }))

  app.get('/v1/templates/:name', {
    schema: {
      tags: ['templates'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'get_template',
      summary: 'One catalogue template',
      description: 'The template as the catalogue has it now; `?botId=` picks the bot when several have it.',
      params: Type.Object({ name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', maxLength: 512 }) }),
      querystring: Type.Object({ botId: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false }),
      response: { 200: TemplateInfoSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request) => {
    const choice = catalogue.botFor(request.params.name, request.query.botId)
    const botId = choice?.botId ?? (choice === undefined ? undefined : choice.ambiguous[0])
    const template = botId === undefined ? undefined : catalogue.find(botId, request.params.name)
    if (template === undefined) throw problem('NOT_FOUND', `Template ${request.params.name} is not in the catalogue.`)
    return info(template)
  })
}
