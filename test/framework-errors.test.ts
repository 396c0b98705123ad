// Every answer Fastify or Node's HTTP server can give before a route runs is problem+json with a request id, over a real socket.
import t from 'tap'
import net, { type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import { buildTestApp } from './helper.js'
import { clientErrorHandler, MAX_PARAM_LENGTH } from '../src/plugins/framework-errors.js'

/** One raw HTTP exchange: what the server wrote before closing (or after the first answer). */
async function raw (port: number, request: string): Promise<{ status: number, headers: Record<string, string>, body: Record<string, any> }> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(request)
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { text += chunk })
  await Promise.race([once(socket, 'close'), new Promise((resolve) => { socket.on('data', () => { if (/\r\n\r\n[\s\S]*\}$/.test(text)) resolve(null) }) })])
  socket.destroy()
  const [head, ...rest] = text.split('\r\n\r\n')
  const [statusLine, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  let body = rest.join('\r\n\r\n')
  if (headers['transfer-encoding'] === 'chunked') body = body.split('\r\n').filter((_, i) => i % 2 === 1).join('')
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) }
}

function isProblem (t: any, answer: Awaited<ReturnType<typeof raw>>, status: number, code: string, what: string): void {
  t.equal(answer.status, status, `${what}: ${status}`)
  t.match(answer.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.ok(answer.headers['x-request-id'], `${what}: an X-Request-Id header`)
  t.match(answer.body, { status, code, requestId: answer.headers['x-request-id'] }, `${what}: code ${code} and the request id`)
}

t.test('Fastify\'s own errors, enumerated, over a real socket', async (t) => {
  const { app } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const get = (path: string, extra = '') => raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`)

  // Path parameters as long as the document allows are routed (not 414): a 128-character message id, a 512-character name.
  const messageId = await get(`/v1/messages/${'a'.repeat(128)}`)
  isProblem(t, messageId, 404, 'NOT_FOUND', 'a 128-character messageId reaches its route')
  const name = await get(`/v1/templates/${'a'.repeat(512)}`)
  isProblem(t, name, 404, 'NOT_FOUND', 'a 512-character template name reaches its route')
  const tooLong = await get(`/v1/templates/${'a'.repeat(MAX_PARAM_LENGTH + 1)}`)
  isProblem(t, tooLong, 400, 'VALIDATION_FAILED', 'FST_ERR_MAX_PARAM_LENGTH')
  t.match(tooLong.body.errors, [{ in: 'path', rule: 'maxLength', limit: MAX_PARAM_LENGTH }])
  t.notOk(JSON.stringify(tooLong.body).includes('a'.repeat(100)), 'the path is not echoed')

  isProblem(t, await get('/v1/templates/%E0%A4%A'), 400, 'VALIDATION_FAILED', 'FST_ERR_BAD_URL')
  isProblem(t, await get('/v1/nothing-here'), 404, 'NOT_FOUND', 'FST_ERR_NOT_FOUND')
  isProblem(t, await raw(port, 'PUT /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 405, 'METHOD_NOT_ALLOWED', 'a known path, another method')
  isProblem(t, await raw(port, 'POST /v1/messages/text HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":'), 400, 'VALIDATION_FAILED', 'FST_ERR_CTP_INVALID_JSON_BODY')
  isProblem(t, await raw(port, 'POST /v1/messages/text HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi'), 415, 'UNSUPPORTED_MEDIA_TYPE', 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
  isProblem(t, await raw(port, 'POST /v1/messages/text HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n'), 400, 'VALIDATION_FAILED', 'FST_ERR_CTP_EMPTY_JSON_BODY')
  isProblem(t, await raw(port, `POST /v1/messages/text HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n${' '.repeat(70000)}`), 413, 'PAYLOAD_TOO_LARGE', 'FST_ERR_CTP_BODY_TOO_LARGE')
  // Node's clientError: headers over the limit, and a request that is not HTTP.
  isProblem(t, await get('/health', `X-Big: ${'b'.repeat(20000)}\r\n`), 431, 'HEADERS_TOO_LARGE', 'HPE_HEADER_OVERFLOW')
  isProblem(t, await raw(port, 'NOT HTTP AT ALL\r\n\r\n'), 400, 'VALIDATION_FAILED', 'a malformed request')
})

t.test('a request not received in time: 408 problem+json (the socket path, without waiting for Node\'s timer)', async (t) => {
  const socket = new PassThrough() as unknown as net.Socket & { writable: boolean }
  socket.on('error', () => {})
  let written = ''
  socket.write = ((chunk: string) => { written += chunk; return true }) as never
  clientErrorHandler(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
  t.match(written, /^HTTP\/1.1 408 Request Timeout\r\n/)
  t.match(written, /Content-Type: application\/problem\+json/)
  t.match(written, /X-Request-Id: [0-9a-f-]{36}/)
  t.match(written, /"code":"REQUEST_TIMEOUT"/)
  t.match(written, /Retry-After: 1/)
})

t.test('while closing, a new request gets a 503 problem, not Fastify\'s own JSON', async (t) => {
  const { app } = await buildTestApp(t)
  app.closing = true
  const res = await app.inject({ url: '/health' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'OVERLOADED', requestId: res.headers['x-request-id'] })
  app.closing = false
})
