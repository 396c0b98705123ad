// POST /v1/events/jelou: Jelou's status events ("Notification URL"), with its own token instead of the callers' API keys.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { problem, validationFailed } from '../errors.js'
import rateLimit from '../plugins/rate-limit.js'
import type { CounterStore } from '../stores/types.js'
import { EventsResultSchema } from '../schemas/status.js'
import { EVENTS_ROUTE, eventsResponses } from '../schemas/routes.js'
import { parseEvents } from '../status/events.js'
import type { StatusStore } from '../status/types.js'

export type EventOutcome = 'stored' | 'repeated' | 'refused' | 'unauthorized'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** The token as Bearer, as the password of Basic credentials, or as X-API-Key (Jelou lets the account pick). */
function presentedToken (request: FastifyRequest): string | undefined {
  const apiKey = request.headers['x-api-key']
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const bearer = /^bearer +(\S+) *$/i.exec(header)
  if (bearer !== null) return bearer[1]
  const basic = /^basic +(\S+) *$/i.exec(header)
  if (basic === null) return undefined
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : decoded.slice(colon + 1)
}

export interface EventRoutesOptions {
  /** JELOU_EVENTS_TOKEN (or sandbox mode's own); null: no token is asked for (the signature is). */
  token: string | null
  /** JELOU_EVENTS_SECRET: when set, X-Jelou-Signature (sha256=<hex HMAC of the body>) must be valid. */
  secret: string | null
  store: StatusStore
  /** Requests per minute per client address (JELOU_EVENTS_RATE_LIMIT_PER_MINUTE), counted in Redis when there is one. */
  perMinute: number
  /** Where the per-address counts are kept (memory, or Redis shared by every replica). */
  counters: CounterStore
  observe?: (outcome: EventOutcome, count: number) => void
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { token, secret, store, perMinute, counters, observe }) => {
  // Hashing both sides first makes every comparison the same length, so time says nothing about the token.
  const expected = token === null ? null : digest(token)
  // The signature is over the bytes Jelou sent: this route keeps them beside the parsed body.
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    (request as FastifyRequest & { rawBody?: Buffer }).rawBody = body as Buffer
    parseJson(request, (body as Buffer).toString('utf8'), done)
  })
  const signed = (request: FastifyRequest): boolean => {
    if (secret === null) return true
    const header = request.headers['x-jelou-signature']
    const raw = (request as FastifyRequest & { rawBody?: Buffer }).rawBody
    if (typeof header !== 'string' || raw === undefined) return false
    const sent = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim())?.[1]
    if (sent === undefined) return false
    return timingSafeEqual(Buffer.from(sent.toLowerCase(), 'hex'), createHmac('sha256', secret).update(raw).digest())
  }
  // The URL is public and its token is a bearer secret: a flood (or a leaked token) must not fill the early-events area at will.
  await app.register(rateLimit, {
    max: perMinute,
    windowMs: 60000,
    counters,
    keyOf: (request) => request.ip,
    refusal: `At most ${perMinute} event requests per minute from one address; the events were not stored. Send them again later.`
  })

  app.post('/v1/events/jelou', {
    schema: {
      tags: ['status'],
      security: [{ eventsToken: [] }],
      operationId: 'receive_jelou_events',
      summary: 'Receiver for Jelou\'s status events (operators)',
      description: 'Give this URL to Jelou as the bot\'s "Notification URL" (events: All), with authentication Bearer `JELOU_EVENTS_TOKEN` (or Basic with any user and that token as password, or the API-key type: `X-API-Key: <token>`). ' +
        'When JELOU_EVENTS_SECRET is set, every request must also carry `X-Jelou-Signature: sha256=<hex HMAC-SHA256 of the body>`. Off (404) when neither is set. ' +
        'A `reply` event\'s text and quick-reply payload (`reply`, `text`, `message.text`, `payload`, `button`) are kept on the message and posted to its callback. Reads one event or a list of at most 100, tolerantly: the message id from `messageId` or `id`, the status from `event`, `status` or `sentStatus` ' +
        '(delivered_channel, delivered_user, read, reply, failed, or Jelou\'s upper-case states), the time from `timestamp` (or `date`, `updatedAt`), Meta\'s reason from `error`. ' +
        'Statuses only move forward; repeats change nothing; an event for a message not yet recorded is kept apart for 10 minutes and merged when the send is recorded (events for other senders\' messages expire there). ' +
        'At most JELOU_EVENTS_RATE_LIMIT_PER_MINUTE requests per minute from one address (429 RATE_LIMITED). ' +
        'In sandbox mode the built-in sandbox posts here itself, with a token the service makes up when JELOU_EVENTS_TOKEN is unset; Swagger UI on this service is authorized with that token already, so the examples below work as they are.',
      body: {
        'x-examples': {
          delivered: { summary: 'Delivered to the phone', value: { messageId: '7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37', event: 'delivered_user', botId: 'bot-123', timestamp: '2026-12-02T10:00:03Z' } },
          failed: { summary: 'Failed, with Meta\'s reason', value: { id: '7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37', sentStatus: 'FAILED', error: { code: 131026, message: 'Message undeliverable' } } }
        }
      },
      response: { 200: EventsResultSchema, ...eventsResponses },
      'x-answers': EVENTS_ROUTE
    }
  }, async (request, reply) => {
    const presented = presentedToken(request)
    if (expected !== null && (presented === undefined || !timingSafeEqual(digest(presented), expected))) {
      observe?.('unauthorized', 1)
      throw problem('UNAUTHORIZED', 'Send JELOU_EVENTS_TOKEN as "Authorization: Bearer <token>", as the password of Basic credentials, or as X-API-Key.')
    }
    if (!signed(request)) {
      observe?.('unauthorized', 1)
      throw problem('UNAUTHORIZED', 'X-Jelou-Signature must be sha256=<hex HMAC-SHA256 of the body with JELOU_EVENTS_SECRET>.')
    }
    const now = Date.now()
    const { events, errors } = parseEvents(request.body, now)
    if (errors.length > 0) {
      observe?.('refused', errors.length)
      request.log.warn({ code: 'VALIDATION_FAILED', refused: errors.length, received: events.length, errors }, 'status events refused')
    }
    if (events.length === 0) throw validationFailed(errors)
    let changed = 0
    for (const event of events) if (await store.apply(event.messageId, event.update)) changed++
    observe?.('stored', changed)
    observe?.('repeated', events.length - changed)
    request.log.info({ received: events.length, changed, messageIds: events.slice(0, 10).map((event) => event.messageId) }, 'status events received')
    reply.header('x-request-id', request.id)
    return { received: events.length, changed, refused: errors }
  })
}
