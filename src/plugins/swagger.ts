// OpenAPI 3 document generated from the route schemas, and Swagger UI at /docs.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { completeDocument, type OpenApiDocument } from './openapi-answers.js'
import { servedDocument, type ServedDocument } from './openapi-catalogue.js'

export interface SwaggerOptions {
  version: string
  /** No API_KEYS: the document declares no caller-key security (the events receiver keeps its own token). */
  anonymous: boolean
  /** Sandbox mode: the made-up events token, given to Swagger UI so the events receiver's examples work as they are. */
  sandboxEventsToken?: string
  /** Set once the catalogue exists: the base document with one entry per catalogue template, per catalogue version. */
  catalogue: { current: ((base: OpenApiDocument) => ServedDocument) | null }
  /** SCHEDULE_MIN_AHEAD_SECONDS in ms: the served scheduled example's sendAt is this plus 1 to 2 minutes ahead. */
  scheduleMinAheadMs: number
  /** The clock that example's sendAt is set from (default Date.now). */
  exampleClock?: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The document /docs/json serves now: the static routes and the catalogue's current templates. */
    servedDocument: () => ServedDocument
  }
}

const CALLER_SCHEMES = new Set(['bearerAuth', 'apiKey'])

/** The route whose examples, as served, include one with a live `sendAt`. */
const SCHEDULED_EXAMPLE_PATH = '/v1/messages/text'
const SCHEDULED_EXAMPLE = 'scheduled'
const MINUTE = 60_000

/**
 * The served document with a `scheduled` example on the text route whose `sendAt` is a whole
 * minute, 1 to 2 minutes past the earliest instant allowed (SCHEDULE_MIN_AHEAD_SECONDS): a fixed
 * instant in the document would soon be in the past. Only the served document has it (the
 * committed openapi/openapi.json stays the same from one generation to the next). The base
 * paths are serialized with JSON.stringify into the served text, so the route's examples are
 * found there as their own serialization and replaced in place: no parse of a large document.
 */
export function scheduledExample (base: OpenApiDocument, minAheadMs: number) {
  const body = base.paths[SCHEDULED_EXAMPLE_PATH]?.post?.requestBody as { content?: Record<string, { examples?: Record<string, { value: Record<string, unknown> }> }> } | undefined
  const examples = body?.content?.['application/json']?.examples
  if (examples === undefined) return null
  const needle = Buffer.from(JSON.stringify(examples))
  const first = Object.values(examples)[0]?.value ?? {}
  let last: { served: ServedDocument, minute: number, result: ServedDocument } | null = null
  return (served: ServedDocument, now: number): ServedDocument => {
    const minute = Math.floor((now + minAheadMs) / MINUTE)
    if (last !== null && last.served === served && last.minute === minute) return last.result
    const at = served.body.lastIndexOf(needle)
    if (at < 0) return served
    const sendAt = new Date((minute + 2) * MINUTE).toISOString().replace('.000Z', 'Z')
    const live = {
      ...examples,
      [SCHEDULED_EXAMPLE]: {
        summary: 'Text message scheduled (sendAt: 1 to 2 minutes past the earliest allowed, set when this page loaded)',
        description: `Answered 202 with status "scheduled" and a sch-… id; nothing is sent before sendAt. This page set sendAt when it loaded: after a while it is too close (400 naming the rule minAhead): reload the page. In sandbox mode the message appears on /sandbox when due; until then /sandbox lists it under scheduled sends, with a Cancel button. SCHEDULE_MIN_AHEAD_SECONDS is ${minAheadMs / 1000} here.`,
        value: { ...first, to: '+593 98 765 4324', sendAt }
      }
    }
    const result = servedDocument(Buffer.concat([served.body.subarray(0, at), Buffer.from(JSON.stringify(live)), served.body.subarray(at + needle.length)]))
    last = { served, minute, result }
    return result
  }
}

/** Anonymous mode: no operation asks for a caller key, and the key schemes are not offered. */
function withoutCallerKeys (doc: OpenApiDocument): OpenApiDocument {
  const schemes = (doc.components.securitySchemes ?? {}) as Record<string, unknown>
  for (const name of CALLER_SCHEMES) delete schemes[name]
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      if (op.security === undefined) continue
      op.security = op.security.filter((requirement) => !Object.keys(requirement as object).some((name) => CALLER_SCHEMES.has(name)))
    }
  }
  return doc
}

export default fp<SwaggerOptions>(async (app, opts) => {
  await app.register(swagger, {
    // Shared schemas keep their $id as their name under components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'jelou-hsm-proxy',
        version: opts.version,
        description: 'Send one WhatsApp template (HSM) message to one person through Jelou. Each template kind has its own small body; the service validates it, normalizes the phone number, adds the Jelou credentials and forwards it. In sandbox mode (no credentials) messages go to a built-in Jelou look-alike: try any example below, then open [the sandbox inbox](/sandbox) to see each message as the recipient\'s phone would show it. Add `?dryRun=true` to any send to get the exact Jelou body and a rendered `preview` without sending.',
        // Internal, unpublished software: a license name and no URL (there is no public license text to link).
        license: { name: 'UNLICENSED (internal use only)' }
      },
      servers: [{ url: '/', description: 'This service' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A key from API_KEYS (when the service has keys configured).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key, as a header.' },
          eventsToken: { type: 'http', scheme: 'bearer', description: 'JELOU_EVENTS_TOKEN: only for the events receiver (Jelou calls it; Basic with the token as password also works).' }
        }
      },
      // Your company's templates first: Swagger UI lists tags in this order.
      tags: [
        { name: 'templates', description: 'Your company\'s templates by name, one entry each, from the template catalogue (Jelou\'s lists and TEMPLATES_FILE) as it is now: a template that appears, changes or is disabled shows here at the next catalogue refresh. This document lists the templates of the running deployment; the published openapi.json shows the sandbox\'s demo catalogue.' },
        { name: 'messages', description: 'Send one template message to one person, by kind, naming the template in the body.' },
        { name: 'status', description: 'Delivery status of the messages you sent, and the receiver for Jelou\'s status events.' },
        { name: 'sandbox', description: 'Sandbox mode only: what the built-in Jelou look-alike received; the inbox page is at /sandbox.' },
        { name: 'health', description: 'Liveness, readiness and metrics.' }
      ]
    },
    // Each route's `x-answers` becomes its statuses, codes, headers and examples.
    transformObject: (document) => {
      const completed = completeDocument((document as { openapiObject: OpenApiDocument }).openapiObject)
      return opts.anonymous ? withoutCallerKeys(completed) : completed
    }
  })
  const served = (): ServedDocument => {
    const base = app.swagger() as unknown as OpenApiDocument
    if (opts.catalogue.current !== null) return opts.catalogue.current(base)
    return servedDocument(Buffer.from(JSON.stringify(base)))
  }
  app.decorate('servedDocument', served)
  let live: ReturnType<typeof scheduledExample> | undefined
  /** What /docs/json serves: the document with its live scheduled example. */
  const servedLive = (): ServedDocument => {
    const document = served()
    live ??= scheduledExample(app.swagger() as unknown as OpenApiDocument, opts.scheduleMinAheadMs)
    return live === null ? document : live(document, (opts.exampleClock ?? Date.now)())
  }
  const uiConfig: Record<string, unknown> = { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false }
  if (opts.sandboxEventsToken !== undefined) {
    // Serialized into the page's script, where `ui` is Swagger UI: the events receiver's examples carry the sandbox's token.
    // eslint-disable-next-line no-new-func
    uiConfig.onComplete = new Function(`ui.preauthorizeApiKey('eventsToken', ${JSON.stringify(opts.sandboxEventsToken)})`)
  }
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig,
    // One JSON text per catalogue version, with its ETag; a client that has it gets 304.
    transformSpecificationClone: false,
    transformSpecification: (_base, request, reply) => {
      // Not destructured: \`document\` is a getter that parses the text, and only /docs/yaml needs it.
      const current = servedLive()
      const { body, etag } = current
      reply.header('etag', etag)
      if (request.url.endsWith('/yaml')) return current.document
      if (request.headers['if-none-match'] === etag) {
        reply.code(304)
        return '' as unknown as Record<string, unknown>
      }
      reply.type('application/json; charset=utf-8')
      return body as unknown as Record<string, unknown>
    }
  })
}, { name: 'swagger', fastify: '5.x' })
