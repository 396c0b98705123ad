// The one place that decides what a caller sees when something fails: RFC 9457 problem bodies, no stack traces.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { PROBLEMS, isHsmError, problem, problemAnswer, sendAnswer, validationFailed, type FieldError, type HsmError } from '../errors.js'
import { PATTERN_MESSAGES } from '../schemas/common.js'
import { SEND_LOGGED } from '../send.js'
import { maskPhonesIn } from '../phone.js'

interface AjvError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

const LIMIT_KEYWORDS = new Set(['maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum'])

/** Field names come from the caller (unknown keys, memory keys): shorten them and mask digit runs that could be a phone number. */
function safePath (path: string): string {
  return maskPhonesIn(path.slice(0, 200))
}

/** One Ajv error as a field error naming the field and the rule. */
export function toFieldError (error: AjvError, part: string): FieldError {
  const { keyword, params } = error
  let path = error.instancePath
  let message = error.message ?? 'is invalid'
  let limit: number | string | undefined
  if (keyword === 'required') {
    path = `${path}/${String(params.missingProperty)}`
    message = 'is required'
  } else if (keyword === 'additionalProperties') {
    path = `${path}/${String(params.additionalProperty)}`
    message = 'is not an allowed field'
  } else if (keyword === 'pattern') {
    message = PATTERN_MESSAGES.get(String(params.pattern)) ?? `must match ${String(params.pattern)}`
  } else if (keyword === 'format') {
    message = `must be a valid ${String(params.format)}`
  } else if (keyword === 'enum') {
    message = `must be one of ${(params.allowedValues as unknown[]).join(', ')}`
  } else if (keyword === 'anyOf') {
    message = 'must be one of the documented forms (see the schema)'
  }
  if (LIMIT_KEYWORDS.has(keyword)) limit = params.limit as number
  const field: FieldError = { in: part, path: path === '' ? '/' : safePath(path), rule: keyword, message }
  if (limit !== undefined) field.limit = limit
  return field
}

/** Ajv reports a failed anyOf branch by branch, then the anyOf itself: keep the anyOf, which names the field. */
function pickErrors (errors: AjvError[]): AjvError[] {
  const anyOf = errors.find((e) => e.keyword === 'anyOf')
  return anyOf === undefined ? errors.slice(0, 1) : [anyOf]
}

/** Turn Fastify's own errors (schema, body parsing, limits) into our coded errors. */
function toHsmError (error: FastifyError): HsmError | null {
  if (isHsmError(error)) return error
  if (error.validation !== undefined) {
    const part = error.validationContext ?? 'body'
    return validationFailed(pickErrors(error.validation as unknown as AjvError[]).map((e) => toFieldError(e, part)))
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
    const coded = toHsmError(error)
    if (coded === null) {
      // A careless message can quote the request (a number, a parameter): phone-like digit runs are masked.
      request.log.error({ err: { name: error.name, message: maskPhonesIn(error.message), code: error.code, stack: maskPhonesIn(error.stack ?? '') } }, 'unexpected error')
      return sendProblem(request, reply, problem('INTERNAL_ERROR', 'Something went wrong on our side; nothing was sent. Quote the requestId when reporting it.'))
    }
    if ((coded as { [SEND_LOGGED]?: boolean })[SEND_LOGGED] !== true) {
      // Refused before any send: one line with the code and where, never the values.
      request.log.info({ caller: request.caller, code: coded.code, status: PROBLEMS[coded.code].status, errors: coded.errors }, 'request refused')
      app.metrics.refusal(coded.code)
      for (const field of coded.errors ?? []) app.metrics.validationFailure(field.rule)
    }
    return sendProblem(request, reply, coded)
  })

  app.setNotFoundHandler((request, reply) => {
    return sendProblem(request, reply, problem('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`))
  })
}, { name: 'error-handler', fastify: '5.x' })
