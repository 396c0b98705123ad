// Sandbox: a local look-alike of Jelou's API. This file wires the app; each Jelou endpoint lives in its own file.
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { headerValue, nonNegativeInteger, sandboxAuth } from './common.js'
import { sendEndpoint, type SandboxRecord } from './send.js'
import { createEventPoster, type SandboxReply } from './events.js'
import { notificationsEndpoint, type SandboxNotification } from './notifications.js'
import { templatesEndpoint, type SandboxTemplates } from './templates.js'

export type { SandboxRecord } from './send.js'
export type { SandboxNotification } from './notifications.js'
export type { SandboxReply } from './events.js'

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
  /** Time between two delivery states of an accepted message; default 1500 ms; 0 leaves messages CREATED. */
  deliveryStepMs?: number
  /** Where status events are posted (Bearer `eventsToken`); default none. */
  eventsUrl?: string
  eventsToken?: string
  /** Messages the notifications endpoint keeps; default 1000. */
  maxNotifications?: number
}

export interface Sandbox {
  /** Base URL to send to, e.g. `http://127.0.0.1:43210`. */
  url: string
  app: FastifyInstance
  /** Received requests, newest first, at most `maxRecords`. */
  messages (): SandboxRecord[]
  /** Messages created, as the notifications endpoint lists them, newest first. */
  notifications (): SandboxNotification[]
  /**
   * The recipient answers message `messageId`: it moves to REPLY and Jelou's `reply` event is
   * posted (when events are posted anywhere). False when the sandbox does not know the message, or it FAILED.
   */
  reply (messageId: string, reply: SandboxReply): boolean
  /** Each message's answers so far, oldest first. */
  replies (): Map<string, Array<SandboxReply & { at: string }>>
  /** Posts status events to `url` from now on (null stops). */
  sendEventsTo (url: string | null, token?: string): void
  clear (): void
  /** The template lists it serves (the demo catalogue for bot-123), changeable while it runs. */
  templates: SandboxTemplates
  close (): Promise<void>
}

/** Builds the sandbox app without listening; `messages()` and `clear()` read and reset what it received. */
export function buildSandbox (opts: SandboxOptions = {}): Omit<Sandbox, 'url' | 'close'> {
  const auth = sandboxAuth(opts.clientId ?? 'sandbox', opts.clientSecret ?? 'sandbox')
  const slowMs = nonNegativeInteger('slowMs', opts.slowMs, 15_000)
  const retryAfterSeconds = nonNegativeInteger('retryAfterSeconds', opts.retryAfterSeconds, 30)
  const maxRecords = nonNegativeInteger('maxRecords', opts.maxRecords, 100)

  // Oldest first internally; messages() reverses.
  const records: SandboxRecord[] = []
  const closing = new AbortController()

  const app = Fastify({ logger: (opts.logger ?? false) as FastifyServerOptions['logger'] })
  // Jelou's contract is application/json only: without this, text/plain bodies would reach validation as strings.
  app.removeContentTypeParser('text/plain')

  const events = createEventPoster(app.log)
  if (opts.eventsUrl !== undefined) events.target(opts.eventsUrl, opts.eventsToken)
  const notifications = notificationsEndpoint(app, {
    auth,
    stepMs: nonNegativeInteger('deliveryStepMs', opts.deliveryStepMs, 1500),
    maxNotifications: nonNegativeInteger('maxNotifications', opts.maxNotifications, 1000),
    events
  })

  app.addHook('preClose', async () => {
    closing.abort()
    notifications.close()
    events.target(null)
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    // Credentials come first, as in the handlers, even when the body could not be parsed.
    if (!auth.matches(headerValue(request.headers.authorization))) return auth.unauthorized(reply)
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
    return reply.code(404).send({ code: 'not_found', description: `No route ${request.method} ${request.url.split('?')[0]}. The sandbox serves POST /v2/whatsapp/:botId/hsm, GET /v1/bots/:botId/templates, GET /v1/external/bots/:botId/notifications and GET /sandbox/messages.` })
  })

  app.get('/sandbox/messages', async () => ({ messages: messages() }))

  const templates = templatesEndpoint(app, { auth })
  sendEndpoint(app, { auth, slowMs, retryAfterSeconds, records, maxRecords, closing: closing.signal, accepted: notifications.accepted, known: templates.known })

  function messages (): SandboxRecord[] {
    // Copies, so a caller changing a record (or its body) cannot change what the sandbox keeps.
    return structuredClone(records).reverse()
  }

  function clear (): void {
    records.length = 0
  }

  return { app, messages, clear, notifications: notifications.list, reply: notifications.replied, replies: notifications.replies, sendEventsTo: events.target, templates: templates.controls }
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
  const built = buildSandbox(opts)
  const { app } = built
  try {
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 })
  } catch (err) {
    await app.close()
    throw err
  }
  const url = reachableUrl(app.server.address() as AddressInfo)
  return { ...built, url, close: async () => { await app.close() } }
}
