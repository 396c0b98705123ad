// Sandbox endpoint POST /v2/whatsapp/:botId/hsm: Jelou's send, with reserved template names that fail on purpose.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { upstreamBodySchema, upstreamConditionalErrors, type UpstreamBody } from '../upstream/schema.js'
import { headerValue, isObject, type SandboxAuth } from './common.js'
import type { KnownTemplate } from './templates.js'

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
  /** The message id the sandbox answered with, once it accepted the send (the notifications' `id`). */
  messageId?: string
}

export interface SendEndpointOptions {
  auth: SandboxAuth
  /** How long `sandbox_slow` waits before answering. */
  slowMs: number
  /** `Retry-After` sent with `sandbox_rate_limited`. */
  retryAfterSeconds: number
  /** Oldest first; the endpoint appends and trims to `maxRecords`. Records are mutated in place until answered. */
  records: SandboxRecord[]
  maxRecords: number
  /** Aborted on close so a `sandbox_slow` wait does not hold close() for slowMs. */
  closing: AbortSignal
  /** Told of every message created, for the notifications endpoint and its delivery timer. */
  accepted?: (botId: string, elementName: string, created: Array<{ id: string, destination: string }>) => void
  /** Templates the sandbox lists: a send filling another number of body variables is refused, as Jelou does. */
  known: KnownTemplate
}

/**
 * Reserved templates whose first send to a number answers only after slowMs (past the proxy's
 * deadline): `_sent` creates the message first, `_unsent` does not. A repeat answers normally,
 * so a same-key retry shows both resolutions.
 */
const TIMEOUT_TEMPLATES = new Set(['sandbox_timeout_sent', 'sandbox_timeout_unsent'])

interface FieldError { path: string, message: string }

const HSM_ROUTE = '/v2/whatsapp/:botId/hsm'

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

/** Registers the HSM send endpoint on the sandbox app. */
export function sendEndpoint (app: FastifyInstance, opts: SendEndpointOptions): void {
  const { auth, slowMs, retryAfterSeconds, records, maxRecords, closing, accepted, known } = opts
  const timedOut = new Set<string>()
  const ajv = new Ajv({ allErrors: true, verbose: true })
  addFormats.default(ajv)
  const validateBody = ajv.compile(upstreamBodySchema(false))
  let seq = 0
  const recordOf = new WeakMap<FastifyRequest, SandboxRecord>()

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
        authorization: auth.matches(authorization) ? authorization : null,
        requestId: headerValue(request.headers['x-request-id']),
        contentType: headerValue(request.headers['content-type']),
        body: null,
        status: 0
      }
      recordOf.set(request, record)
      records.push(record)
      if (records.length > maxRecords) records.splice(0, records.length - maxRecords)
    },
    onSend: async (request, reply) => {
      const record = recordOf.get(request)
      if (record !== undefined) record.status = reply.statusCode
    }
  }, async (request, reply) => {
    const record = recordOf.get(request)
    if (record !== undefined) record.body = request.body ?? null
    if (record === undefined || record.authorization === null) return auth.unauthorized(reply)

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
    const template = known(botId, hsm.elementName, hsm.language)
    if (template !== undefined && (hsm.parameters?.length ?? 0) !== template.paramsNumber) {
      // Meta's 132000 as Jelou relays it: nothing about the values is echoed.
      return reply.code(422).send({
        message: [`Number of parameters does not match the expected number of params (${template.paramsNumber})`],
        status: 'failed',
        error: { code: 132000, title: 'Number of parameters does not match the expected number of params' }
      })
    }
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
      case 'sandbox_timeout_sent':
      case 'sandbox_timeout_unsent':
      case 'sandbox_slow': {
        const once = `${botId}\0${hsm.elementName}\0${hsm.destinations.join(',')}`
        if (TIMEOUT_TEMPLATES.has(hsm.elementName) && timedOut.has(once)) break
        timedOut.add(once)
        const created = hsm.destinations.map((destination) => ({ id: randomUUID(), destination }))
        // A slow send is a created message answered late (as sandbox_timeout_sent): created on
        // receipt, so the sandbox mode's resolution window (the deadline plus 1 s) covers it.
        if (hsm.elementName === 'sandbox_timeout_sent' || hsm.elementName === 'sandbox_slow') {
          record.messageId = created[0].id
          accepted?.(botId, hsm.elementName, created)
        }
        try {
          await sleep(slowMs, undefined, { signal: closing })
        } catch {
          return reply.code(503).header('connection', 'close')
            .send({ code: 'service_unavailable', description: 'The sandbox is shutting down.' })
        }
        if (hsm.elementName === 'sandbox_timeout_unsent') return reply.code(503).send({ code: 'service_unavailable', description: 'The sandbox lost this message on purpose.' })
        if (hsm.elementName === 'sandbox_timeout_sent' || hsm.elementName === 'sandbox_slow') return reply.code(200).send(created)
        break
      }
    }
    const created = hsm.destinations.map((destination) => ({ id: randomUUID(), destination }))
    record.messageId = created[0].id
    accepted?.(botId, hsm.elementName, created)
    return reply.code(200).send(created)
  })
}
