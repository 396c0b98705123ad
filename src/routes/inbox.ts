// Sandbox mode only: GET /sandbox, the inbox page showing what the sandbox received as phone-style bubbles.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { problem } from '../errors.js'
import { byInboxOrder, inboxEntry, InboxSchema, scheduledEntry, type ScheduledEntry } from '../preview/inbox.js'
import { INBOX_CSP, INBOX_CSS, INBOX_HTML, INBOX_ICON, INBOX_SCRIPT } from '../preview/inbox-page.js'
import type { TemplateLookup } from '../preview/render.js'
import type { Sandbox } from '../sandbox/server.js'
import { OPEN_ROUTE, SANDBOX_CANCEL_ROUTE, openResponses, sandboxCancelResponses } from '../schemas/routes.js'
import { MessageStatusSchema } from '../schemas/status.js'
import type { MessageView } from '../status/lookup.js'
import type { MessageBase, StatusStore } from '../status/types.js'
import { cancelOrRefuse } from './messages.js'

/** What the inbox knows of scheduled sends: the ids this process took, their records, and the service's own cancel and lookup. */
export interface InboxSchedules {
  recent: () => string[]
  store: Pick<StatusStore, 'get'>
  cancel: (base: MessageBase) => Promise<boolean>
  lookup: (messageId: string, caller: string, log: FastifyBaseLogger) => Promise<MessageView | undefined>
}

type ScheduleBase = MessageBase & { schedule: NonNullable<MessageBase['schedule']> }

/** The record of a schedule this service keeps, or undefined (unknown, expired from the store, or not a scheduled send). */
async function scheduleBase (schedules: InboxSchedules, id: string): Promise<ScheduleBase | undefined> {
  const base = (await schedules.store.get(id))?.base
  return base?.schedule === undefined ? undefined : base as ScheduleBase
}

/** Headers every inbox answer carries: the page's CSP, no sniffing, no referrer to the media hosts. */
function locked (reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', INBOX_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
}

export const inboxRoutes: FastifyPluginAsyncTypebox<{ sandbox: Pick<Sandbox, 'messages' | 'notifications' | 'replies'>, lookupTemplate: TemplateLookup, schedules: InboxSchedules }> = async (app, { sandbox, lookupTemplate, schedules }) => {
  /** Every caller's scheduled sends this process took and the store still has, in the inbox's order. */
  async function scheduled (log: FastifyBaseLogger): Promise<ScheduledEntry[]> {
    // The received messages still show when the store does not answer (Redis down): those schedules are left out, and logged.
    const bases = await Promise.all(schedules.recent().map(async (id) => await scheduleBase(schedules, id).catch((error: unknown) => {
      log.warn({ scheduleId: id, err: error }, 'sandbox inbox could not read a scheduled send')
      return undefined
    })))
    return bases.filter((base): base is ScheduleBase => base !== undefined).map(scheduledEntry).sort(byInboxOrder)
  }

  app.get('/sandbox', {
    schema: {
      tags: ['sandbox'],
      summary: 'Sandbox inbox (HTML page)',
      description: 'Sandbox mode only: a page showing what the sandbox received as the recipient\'s phone would (header, filled body, buttons, cards, masked recipient, time, delivery ticks), newest first, refreshing by itself. Open it in a browser.',
      operationId: 'sandbox_inbox',
      produces: ['text/html'],
      response: { 200: { description: 'The inbox page (HTML).', type: 'string' }, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => locked(reply, 'text/html; charset=utf-8').header('x-request-id', request.id).send(INBOX_HTML))

  app.get('/sandbox/inbox.json', {
    schema: {
      tags: ['sandbox'],
      summary: 'Sandbox inbox as data',
      description: 'Sandbox mode only: what the page draws. Each received request with its masked recipient, the sandbox\'s answer and the rendered preview, newest first; ' +
        'and the sends scheduled for later (every caller\'s, the last 100 this process took) with their template, masked recipient, sendAt and state, never their values.',
      operationId: 'sandbox_inbox_data',
      response: { 200: InboxSchema, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    locked(reply, 'application/json; charset=utf-8').header('x-request-id', request.id)
    // Each accepted message's delivery status, as the sandbox's delivery timer moves it (SPEC §18).
    const delivery = new Map(sandbox.notifications().map((n) => [n.id, n.sentStatus]))
    const replies = sandbox.replies()
    return {
      messages: sandbox.messages().map((record) => record.messageId === undefined
        ? inboxEntry(record, lookupTemplate)
        : inboxEntry({ ...record, sentStatus: delivery.get(record.messageId), replies: replies.get(record.messageId) }, lookupTemplate)),
      scheduled: await scheduled(request.log)
    }
  })

  app.delete('/sandbox/scheduled/:id', {
    schema: {
      tags: ['sandbox'],
      summary: 'Cancel a scheduled send (sandbox)',
      description: 'Sandbox mode only: what the inbox page\'s Cancel button does. DELETE /v1/messages/{id} for the schedule\'s own caller, needing no caller key (like the rest of the sandbox\'s pages): ' +
        '200 with its status, now `cancelled`, and nothing is sent; again: still 200. Once it is being sent or was sent: 409 MESSAGE_NOT_CANCELLABLE. An id that is not a scheduled send this service knows: 404.',
      operationId: 'sandbox_cancel_scheduled',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, description: 'The `sch-…` id of the scheduling 202 (`scheduled[].id` in GET /sandbox/inbox.json).', examples: ['sch-7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37'] }) }),
      response: { 200: MessageStatusSchema, ...sandboxCancelResponses },
      'x-answers': SANDBOX_CANCEL_ROUTE
    }
  }, async (request, reply) => {
    const base = await scheduleBase(schedules, request.params.id)
    if (base === undefined) throw problem('NOT_FOUND', 'No scheduled send with this id (unknown, expired, or a message sent at once): see `scheduled` in GET /sandbox/inbox.json.')
    await cancelOrRefuse(base, schedules.cancel)
    request.log.info({ scheduleId: base.messageId, caller: base.caller }, 'sandbox cancelled a scheduled send')
    reply.header('x-request-id', request.id)
    return await reply.send(await schedules.lookup(base.messageId, base.caller, request.log) as MessageView)
  })

  app.get('/sandbox/inbox.js', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'text/javascript; charset=utf-8').send(INBOX_SCRIPT))
  app.get('/sandbox/inbox.css', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'text/css; charset=utf-8').send(INBOX_CSS))
  app.get('/sandbox/inbox.svg', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'image/svg+xml').send(INBOX_ICON))
}
