// The one place that decides what a caller sees when something fails: RFC 9457 problem bodies, no stack traces.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { PROBLEMS, isHsmError, problem, problemAnswer, sendAnswer, validationFailed, type HsmError } from '../errors.js'
import { MAX_FIELD_ERRORS, inDocumentOrder, schemaFieldErrors } from '../schemas/field-errors.js'
import { maskPhonesIn } from '../phone.js'
import { REFUSAL, SEND_LOGGED, type Refusal } from '../send.js'
import { callerLimitRefusal } from './rate-limit.js'

/** Turn Fastify's own errors (schema, body parsing, limits) into our coded errors. */
function toHsmError (error: FastifyError, request: FastifyRequest): HsmError | null {
  if (isHsmError(error)) return error
  if (error.validation !== undefined) {
    return validationFailed(inDocumentOrder(schemaFieldErrors(error), request.body), MAX_FIELD_ERRORS)
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('PAYLOAD_TOO_LARGE', `The request body is larger than ${request.routeOptions.bodyLimit} bytes, the limit BODY_LIMIT_BYTES sets.`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return validationFailed([{ in: 'body', path: '/', rule: 'required', message: 'a JSON body is required' }])
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return validationFailed([{ in: 'body', path: '/', rule: 'json', message: 'is not valid JSON' }])
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    // JSON parse failures, prototype-poisoning keys (__proto__, constructor.prototype) and bad encodings.
    return validationFailed([{ in: 'body', path: '/', rule: 'json', message: 'is not valid JSON (or holds a forbidden key such as __proto__)' }])
  }
  return null
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, error: HsmError) {
  return sendAnswer(reply, problemAnswer(error, request.id))
}

/** Routes as patterns, so a wrong method on a known path is told which methods it has. */
interface KnownRoute {
  pattern: RegExp
  methods: Set<string>
  /** No parameter or wildcard: the router prefers it to any parametric route matching the same path. */
  static: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Answers a request that reached a parametric route only because its path is also a static
     * route's under other methods (GET /v1/messages/text): 405 naming that route's methods.
     * Returns false, answering nothing, for any other path.
     */
    staticPathMiss: (request: FastifyRequest, reply: FastifyReply) => false | FastifyReply
  }
}

function routePattern (url: string): RegExp {
  const escaped = url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')
  return new RegExp(`^${escaped}/?$`)
}

export default fp(async (app) => {
  const routes = new Map<string, KnownRoute>()
  app.addHook('onRoute', (route) => {
    const known = routes.get(route.url) ?? { pattern: routePattern(route.url), methods: new Set<string>(), static: !/[:*]/.test(route.url) }
    for (const method of ([] as string[]).concat(route.method)) known.methods.add(method)
    routes.set(route.url, known)
  })

  /** The routes a path reaches, as the router picks them: a static route shadows every parametric one. */
  function routesOf (path: string): KnownRoute[] {
    const matching = [...routes.values()].filter((route) => route.pattern.test(path))
    const exact = matching.filter((route) => route.static)
    return exact.length > 0 ? exact : matching
  }

  /** 405 with Allow when the path exists under other methods, else 404. */
  function noRoute (request: FastifyRequest, reply: FastifyReply) {
    const path = request.url.split('?')[0] as string
    const allowed = new Set<string>()
    for (const route of routesOf(path)) for (const m of route.methods) allowed.add(m)
    if (allowed.size === 0) return sendProblem(request, reply, problem('NOT_FOUND', `No route ${request.method} ${path}.`))
    const allow = [...allowed].sort().join(', ')
    reply.header('allow', allow)
    return sendProblem(request, reply, problem('METHOD_NOT_ALLOWED', `${path} does not accept ${request.method}; it accepts ${allow}.`))
  }

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // An unknown method or path whose body could not be parsed is still "no such route", not a body error.
    if (request.is404) return noRoute(request, reply)
    // A send route refused before its send: a caller over the limit hears 429 first, as on every other route.
    const coded = await callerLimitRefusal(request) ?? toHsmError(error, request)
    if (coded === null) {
      // A careless message can quote the request (a number, a parameter): phone-like digit runs are masked.
      request.log.error({ err: { name: error.name, message: maskPhonesIn(error.message), code: error.code, stack: maskPhonesIn(error.stack ?? '') } }, 'unexpected error')
      return sendProblem(request, reply, problem('INTERNAL_ERROR', 'Something went wrong on our side; nothing was sent. Quote the requestId when reporting it.'))
    }
    if ((coded as { [SEND_LOGGED]?: boolean })[SEND_LOGGED] !== true) {
      // Refused before any send: one line with the code and where, never the values.
      const about = (coded as { [REFUSAL]?: Refusal })[REFUSAL]
      request.log.info({ caller: request.caller, kind: about?.kind, template: about?.template, to: about?.to, code: coded.code, status: PROBLEMS[coded.code].status, errors: coded.errors }, 'request refused')
      app.metrics.refusal(coded.code)
      for (const field of coded.errors ?? []) app.metrics.validationFailure(field.rule)
    }
    return sendProblem(request, reply, coded)
  })

  app.setNotFoundHandler(noRoute)
  app.decorate('staticPathMiss', (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] as string
    return routesOf(path).some((route) => route.static && !route.methods.has(request.method)) && noRoute(request, reply)
  })

  // While the server closes, new requests get a problem body (Fastify's own 503 is not one).
  app.addHook('onRequest', async (request, reply) => {
    if (app.closing) return await sendProblem(request, reply, problem('OVERLOADED', 'The service is shutting down; nothing was sent. Retry shortly: another replica answers.', { retryAfterSeconds: 1 }))
  })
}, { name: 'error-handler', fastify: '5.x' })
