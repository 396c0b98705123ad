// The one place that decides what a caller sees when something fails: RFC 9457 problem bodies, no stack traces.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { PROBLEMS, isHsmError, problem, problemAnswer, sendAnswer, validationFailed, type HsmError } from '../errors.js'
import { MAX_FIELD_ERRORS, inDocumentOrder, schemaFieldErrors } from '../schemas/field-errors.js'
import { REFUSAL, SEND_LOGGED, type Refusal } from '../send.js'

/** Turn Fastify's own errors (schema, body parsing, limits) into our coded errors. */
function toHsmError (error: FastifyError, request: FastifyRequest): HsmError | null {
  if (isHsmError(error)) return error
  if (error.validation !== undefined) {
    return validationFailed(inDocumentOrder(schemaFieldErrors(error), request.body), MAX_FIELD_ERRORS)
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('PAYLOAD_TOO_LARGE', 'The request body is larger than BODY_LIMIT_BYTES allows.')
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

export default fp(async (app) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const coded = toHsmError(error, request)
    if (coded === null) {
      request.log.error({ err: { type: error.name, message: error.message, code: error.code, stack: error.stack } }, 'unexpected error')
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

  app.setNotFoundHandler((request, reply) => {
    return sendProblem(request, reply, problem('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`))
  })
}, { name: 'error-handler', fastify: '5.x' })
