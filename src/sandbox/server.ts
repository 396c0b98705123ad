// Sandbox: a local look-alike of Jelou's HSM send endpoint, with reserved template names that fail on purpose.
import { randomUUID, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { upstreamBodySchema, upstreamConditionalErrors, type UpstreamBody } from '../upstream/schema.js'

export interface SandboxOptions {
  /** Listen address for `startSandbox`; default `127.0.0.1`. */
  host?: string
  /** Listen port for `startSandbox`; default 0 (any free port). */
  port?: number
  /** Accepted Basic credentials; default `sandbox`. */
  clientId?: string
  /** Accepted Basic credentials; default `sandbox`. */
  clientSecret?: string
  /** How long `sandbox_slow` waits before answering; default 15000 ms, longer than the proxy's default 10 s timeout. */
  slowMs?: number
  /** `Retry-After` sent with `sandbox_rate_limited`; default 30. */
  retryAfterSeconds?: number
  /** Passed to Fastify; default false (silent). */
  logger?: boolean | object
  /** How many received requests are kept for `messages()`; default 100. */
  maxRecords?: number
}

/** One request the sandbox received on its HSM route. */
export interface SandboxRecord {
  /** Increasing per received request, starting at 1 (not reset by `clear()`). */
  seq: number
  receivedAt: string
  method: string
  /** Path as received, without the query string, e.g. `/v2/whatsapp/bot-123/hsm`. */
  path: string
  /** Decoded path parameter. */
  botId: string
  /** The Authorization header as received when it matched the sandbox credentials, otherwise null: unknown credentials are never stored. */
  authorization: string | null
  requestId: string | null
  contentType: string | null
  /** Parsed JSON body; null when the body was missing or could not be parsed. */
  body: unknown
  /** The status the sandbox answered; 0 while the answer is still pending (e.g. `sandbox_slow`). */
  status: number
}

export interface Sandbox {
  /** Base URL to send to, e.g. `http://127.0.0.1:43210`. */
  url: string
  app: FastifyInstance
  /** Received requests, newest first, at most `maxRecords`. */
  messages (): SandboxRecord[]
  clear (): void
  close (): Promise<void>
}

interface FieldError { path: string, message: string }

const HSM_ROUTE = '/v2/whatsapp/:botId/hsm'

function nonNegativeInteger (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`sandbox option ${name} must be a non-negative integer, got ${String(value)}`)
  }
  return value
}

function headerValue (value: string | string[] | undefined): string | null {
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}

/** Constant-time comparison of the Basic token with the expected one; the scheme is case-insensitive (RFC 7617). */
function basicMatches (header: string | null, expectedToken: Buffer): boolean {
  if (header === null) return false
  const match = /^basic +(\S+) *$/i.exec(header)
  if (match === null) return false
  const token = Buffer.from(match[1], 'utf8')
  return token.length === expectedToken.length && timingSafeEqual(token, expectedToken)
}

/** Ajv errors as `{ path, message }`, one line per problem: the branches of a failed `anyOf` are folded into one message. */
function formatAjvErrors (errors: ErrorObject[]): FieldError[] {
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath + '/')
  const out: FieldError[] = []
  for (const e of errors) {
    if (anyOfPaths.some((p) => e.schemaPath.startsWith(p))) continue
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty
      out.push({ path: `${e.instancePath}/${missing}`, message: 'is required' })
    } else if (e.keyword === 'anyOf') {
      out.push({ path: e.instancePath, message: describeAnyOf(e.schema) })
    } else {
      out.push({ path: e.instancePath, message: e.message ?? 'is invalid' })
    }
  }
  return out
}

function describeAnyOf (branches: unknown): string {
  const list = Array.isArray(branches) ? branches as Array<Record<string, unknown>> : []
  if (list.length > 0 && list.every((b) => 'const' in b)) return `must be one of ${list.map((b) => JSON.stringify(b.const)).join(', ')}`
  if (list.length > 0 && list.every((b) => typeof b.type === 'string')) return `must be ${list.map((b) => String(b.type)).join(' or ')}`
  /* c8 ignore next 2 - every union in the upstream schema is all-const or all-type; this is for a future one */
  return 'must match one of the allowed shapes'
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Builds the sandbox app without listening; `messages()` and `clear()` read and reset what it received. */
export function buildSandbox (opts: SandboxOptions = {}): { app: FastifyInstance, messages: () => SandboxRecord[], clear: () => void } {
  const clientId = opts.clientId ?? 'sandbox'
  const clientSecret = opts.clientSecret ?? 'sandbox'
  if (clientId.includes(':')) throw new RangeError('sandbox clientId must not contain ":" (Basic credentials join id and secret with a colon)')
  const slowMs = nonNegativeInteger('slowMs', opts.slowMs, 15_000)
  const retryAfterSeconds = nonNegativeInteger('retryAfterSeconds', opts.retryAfterSeconds, 30)
  const maxRecords = nonNegativeInteger('maxRecords', opts.maxRecords, 100)
  const expectedToken = Buffer.from(Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64'), 'utf8')

  const ajv = new Ajv({ allErrors: true, verbose: true })
  addFormats.default(ajv)
  const validateBody = ajv.compile(upstreamBodySchema(false))

  // Oldest first internally; messages() reverses. Records are mutated in place until answered.
  let records: SandboxRecord[] = []
  let seq = 0
  const recordOf = new WeakMap<FastifyRequest, SandboxRecord>()
  // Aborted on close so a `sandbox_slow` wait does not hold close() for slowMs.
  const closing = new AbortController()

  const app = Fastify({ logger: (opts.logger ?? false) as FastifyServerOptions['logger'] })
  // Jelou's contract is application/json only: without this, text/plain bodies would reach validation as strings.
  app.removeContentTypeParser('text/plain')

  app.addHook('preClose', async () => {
    closing.abort()
  })

  function unauthorized (reply: FastifyReply): FastifyReply {
    return reply.code(401).header('www-authenticate', 'Basic realm="sandbox"')
      .send({ code: 'unauthorized', description: 'Missing or invalid Basic credentials.' })
  }

  app.setErrorHandler((err: FastifyError, request, reply) => {
    // Credentials come first, as in the handler, even when the body could not be parsed.
    if (recordOf.get(request)?.authorization === null) return unauthorized(reply)
    const status = err.statusCode ?? 500
    if (status === 415) {
      return reply.code(415).send({ code: 'unsupported_media_type', description: 'Content-Type must be application/json.' })
    }
    if (status === 413) {
      return reply.code(413).send({ code: 'payload_too_large', description: 'The request body is too large.' })
    }
    if (status >= 400 && status < 500) {
      // Unparseable or empty JSON: the body is not what Jelou accepts, same answer as a schema failure.
      return reply.code(422).send({
        code: 'unprocessable_entity',
        description: 'The request body must be a JSON object.',
        errors: [{ path: '', message: err.message }]
      })
    }
    /* c8 ignore next 2 - the handlers do not throw; kept so a bug still answers in Jelou's error shape */
    request.log.error({ err }, 'sandbox error')
    return reply.code(500).send({ code: 'internal_server_error', description: 'Unexpected sandbox error.' })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ code: 'not_found', description: `No route ${request.method} ${request.url.split('?')[0]}. The sandbox serves POST /v2/whatsapp/:botId/hsm and GET /sandbox/messages.` })
  })

  app.get('/sandbox/messages', async () => ({ messages: messages() }))

  app.post<{ Params: { botId: string } }>(HSM_ROUTE, {
    // Recorded on arrival, before parsing, so requests rejected by the parser (415, bad JSON) are counted too.
    onRequest: async (request) => {
      const authorization = headerValue(request.headers.authorization)
      const record: SandboxRecord = {
        seq: ++seq,
        receivedAt: new Date().toISOString(),
        method: request.method,
        path: request.url.split('?')[0],
        botId: request.params.botId,
        authorization: basicMatches(authorization, expectedToken) ? authorization : null,
        requestId: headerValue(request.headers['x-request-id']),
        contentType: headerValue(request.headers['content-type']),
        body: null,
        status: 0
      }
      recordOf.set(request, record)
      records.push(record)
      if (records.length > maxRecords) records = records.slice(records.length - maxRecords)
    },
    onSend: async (request, reply) => {
      const record = recordOf.get(request)
      if (record !== undefined) record.status = reply.statusCode
    }
  }, async (request, reply) => {
    const record = recordOf.get(request)
    if (record !== undefined) record.body = request.body ?? null
    if (record === undefined || record.authorization === null) return unauthorized(reply)

    const body = request.body
    const errors: FieldError[] = validateBody(body) ? [] : formatAjvErrors(validateBody.errors ?? [])
    if (isObject(body)) {
      for (const e of upstreamConditionalErrors(body as unknown as UpstreamBody)) errors.push({ path: e.path, message: e.message })
    }
    if (errors.length > 0) {
      const first = errors[0]
      return reply.code(422).send({
        code: 'unprocessable_entity',
        description: `The request body is invalid: ${first.path === '' ? 'body' : first.path} ${first.message}.`,
        errors
      })
    }

    const hsm = body as UpstreamBody
    const botId = request.params.botId
    request.log.info({ botId, template: hsm.elementName, destinations: hsm.destinations.length }, 'sandbox hsm received')
    switch (hsm.elementName) {
      case 'sandbox_not_found':
        return reply.code(404).send({ code: 'bot_not_found', description: `Bot ${botId} was not found or is not assigned to your company.` })
      case 'sandbox_rejected':
        // Jelou's old failure body, echo of phone numbers and parameters included: the proxy must sanitize it.
        return reply.code(422).send({
          message: ['Template does not exist'],
          status: 'failed',
          _metadata: {
            error: {},
            body: {
              destinations: hsm.destinations.map((destination) => ({ destination })),
              parameters: hsm.parameters,
              elementName: hsm.elementName,
              code: hsm.language,
              type: hsm.type ?? 'text',
              botId
            }
          }
        })
      case 'sandbox_unauthorized':
        return reply.code(401).send({ code: 'unauthorized', description: 'The client is not authorized for this request.' })
      case 'sandbox_rate_limited':
        return reply.code(429).header('retry-after', String(retryAfterSeconds))
          .send({ code: 'rate_limited', description: `Too many requests; retry after ${retryAfterSeconds} seconds.` })
      case 'sandbox_server_error':
        return reply.code(500).send({ code: 'internal_server_error', description: 'The sandbox failed on purpose.' })
      case 'sandbox_slow':
        try {
          await sleep(slowMs, undefined, { signal: closing.signal })
        } catch {
          return reply.code(503).header('connection', 'close')
            .send({ code: 'service_unavailable', description: 'The sandbox is shutting down.' })
        }
        break
    }
    return reply.code(200).send(hsm.destinations.map((destination) => ({ id: randomUUID(), destination })))
  })

  function messages (): SandboxRecord[] {
    // Copies, so a caller changing a record (or its body) cannot change what the sandbox keeps.
    return structuredClone(records).reverse()
  }

  function clear (): void {
    records = []
  }

  return { app, messages, clear }
}

function reachableUrl (address: AddressInfo): string {
  // A wildcard listen address is not something a client can connect to; use loopback for the URL.
  let host = address.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  return `http://${address.family === 'IPv6' ? `[${host}]` : host}:${address.port}`
}

/** Starts the sandbox on `host:port` (default 127.0.0.1, any free port). */
export async function startSandbox (opts: SandboxOptions = {}): Promise<Sandbox> {
  const { app, messages, clear } = buildSandbox(opts)
  try {
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 })
  } catch (err) {
    await app.close()
    throw err
  }
  const url = reachableUrl(app.server.address() as AddressInfo)
  return {
    url,
    app,
    messages,
    clear,
    close: async () => { await app.close() }
  }
}
