// Status lookup routes (SPEC §18): GET /v1/messages/{messageId} and GET /v1/messages?clientRef=…, each caller seeing only its own messages.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problem } from '../errors.js'
import { MessageListSchema, MessageStatusSchema } from '../schemas/status.js'
import { CANCEL_ROUTE, LOOKUP_ROUTE, cancelResponses, lookupResponses } from '../schemas/routes.js'
import type { createLookup, MessageView } from '../status/lookup.js'
import type { MessageBase, StatusStore } from '../status/types.js'

const MAX_LISTED = 50

/** Cancels a scheduled send (cancelled already: done), or throws MESSAGE_NOT_CANCELLABLE saying where it stands. */
export async function cancelOrRefuse (base: MessageBase, cancel: (base: MessageBase) => Promise<boolean>): Promise<void> {
  if (base.schedule?.state !== 'cancelled' && !await cancel(base)) {
    throw problem('MESSAGE_NOT_CANCELLABLE', base.schedule === undefined
      ? 'This message was sent, not scheduled; a sent message cannot be called back.'
      : `This scheduled send is ${base.schedule.state === 'scheduled' ? 'being sent' : base.schedule.state} now; only one waiting for its sendAt can be cancelled.`)
  }
}

export const messageRoutes: FastifyPluginAsyncTypebox<{ lookup: ReturnType<typeof createLookup>, store: StatusStore, cancel: (base: MessageBase) => Promise<boolean> }> = async (app, { lookup, store, cancel }) => {
  app.get('/v1/messages/:messageId', {
    schema: {
      tags: ['status'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'get_message_status',
      summary: 'Delivery status of one message',
      description: 'The status of a message you sent (the `messageId` of the 202 answer, also its `statusUrl`): each step with its time, where the status came from and how old it is. ' +
        'A status that is neither final nor fresh is refreshed from Jelou first; when Jelou cannot answer, the stored status comes back with `stale: true`. Another caller\'s message is 404. ' +
        'In sandbox mode, send a message first, then paste its messageId: it moves from accepted to read within a few seconds.',
      params: Type.Object({ messageId: Type.String({ minLength: 1, maxLength: 128, description: 'The messageId of the 202 answer.', examples: ['7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37'] }) }),
      response: { 200: MessageStatusSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request, reply) => {
    // GET /v1/messages/text is a send route asked with the wrong method, not a message id.
    const miss = app.staticPathMiss(request, reply)
    if (miss !== false) return await miss
    const view = await lookup(request.params.messageId, request.caller, request.log)
    if (view === undefined) throw problem('NOT_FOUND', 'No message with this id for this caller (unknown, expired, or sent by another caller).')
    reply.header('x-request-id', request.id)
    return await reply.send(view)
  })

  app.get('/v1/messages', {
    schema: {
      tags: ['status'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'find_messages_by_client_ref',
      summary: 'Your messages with a clientRef',
      description: `The status of each message you sent with this \`clientRef\` (oldest first, at most ${MAX_LISTED}); an empty list when there is none.`,
      querystring: Type.Object({
        clientRef: Type.String({ minLength: 1, maxLength: 100, description: 'The clientRef you sent.', examples: ['order-1234'] })
      }, { additionalProperties: false }),
      response: { 200: MessageListSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request, reply) => {
    const ids = (await store.byClientRef(request.caller, request.query.clientRef)).slice(-MAX_LISTED)
    const views = await Promise.all(ids.map(async (id) => await lookup(id, request.caller, request.log)))
    reply.header('x-request-id', request.id)
    // A sent scheduled send is its message: listed once.
    const seen = new Set<string>()
    const messages = views.filter((view): view is MessageView => view !== undefined && !seen.has(view.messageId) && seen.add(view.messageId) !== undefined)
    return await reply.send({ messages })
  })

  app.delete('/v1/messages/:messageId', {
    schema: {
      tags: ['status'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'cancel_scheduled_send',
      summary: 'Cancel a scheduled send',
      description: 'Cancels a send that waits for its sendAt (the `sch-…` id of its 202): 200 with its status, now `cancelled`, and nothing is sent. Once it is being sent or was sent: 409 MESSAGE_NOT_CANCELLABLE (so is a message that was never scheduled). Cancelling a cancelled one again answers 200. Another caller\'s: 404.',
      params: Type.Object({ messageId: Type.String({ minLength: 1, maxLength: 128, description: 'The `sch-…` messageId of the scheduling 202.', examples: ['sch-7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37'] }) }),
      response: { 200: MessageStatusSchema, ...cancelResponses },
      'x-answers': CANCEL_ROUTE
    }
  }, async (request, reply) => {
    const base = (await store.get(request.params.messageId))?.base
    if (base === undefined || base.caller !== request.caller) throw problem('NOT_FOUND', 'No message with this id for this caller (unknown, expired, or sent by another caller).')
    await cancelOrRefuse(base, cancel)
    reply.header('x-request-id', request.id)
    return await reply.send(await lookup(request.params.messageId, request.caller, request.log) as MessageView)
  })
}
