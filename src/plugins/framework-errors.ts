// Fastify's own answers that never reach a route or the error handler, as problem+json with a request id.
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { problem, problemAnswer, sendAnswer, validationFailed, type HsmError } from '../errors.js'
import { requestIdFor } from '../request-id.js'

/** The longest path parameter the document declares (a template name); longer is a 400, not Fastify's 414. */
export const MAX_PARAM_LENGTH = 512

/** Fastify's `frameworkErrors`: a bad URL, a path parameter past MAX_PARAM_LENGTH, a failed constraint; answered before routing. */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let coded: HsmError
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    coded = validationFailed([{ in: 'path', path: '/', rule: 'maxLength', limit: MAX_PARAM_LENGTH, message: `must not have a path segment longer than ${MAX_PARAM_LENGTH} characters` }])
  } else if (error.code === 'FST_ERR_BAD_URL') {
    coded = validationFailed([{ in: 'path', path: '/', rule: 'encoding', message: 'is not a valid URL (a bad percent-encoding)' }])
  } else {
    coded = problem('INTERNAL_ERROR', 'Something went wrong on our side; nothing was sent. Quote the requestId when reporting it.')
  }
  sendAnswer(reply, problemAnswer(coded, request.id))
}

/**
 * Node's `clientError` (Fastify's clientErrorHandler): a request that is not HTTP, headers over the
 * limit, or a request not received in time. There is no request object, so the answer is written to
 * the socket: problem+json, a new request id, and the connection closed.
 */
export function clientErrorHandler (error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  let coded: HsmError
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') coded = problem('REQUEST_TIMEOUT', 'The request did not arrive in time; nothing was sent. The connection is closed.')
  else if (error.code === 'HPE_HEADER_OVERFLOW') coded = problem('HEADERS_TOO_LARGE', 'The request headers are larger than 16 KiB; nothing was sent. The connection is closed.')
  else coded = validationFailed([{ in: 'headers', path: '/', rule: 'http', message: 'is not a valid HTTP request' }])
  const requestId = requestIdFor(undefined)
  const answer = problemAnswer(coded, requestId)
  const body = JSON.stringify(answer.body)
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${answer.status} ${coded.code === 'VALIDATION_FAILED' ? 'Bad Request' : answer.status === 408 ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\n` +
      `Content-Type: ${answer.contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
      `${answer.retryAfter === undefined ? '' : `Retry-After: ${answer.retryAfter}\r\n`}Connection: close\r\n\r\n${body}`)
  }
  socket.destroy(error)
}
