// GET /v1/callbacks?state=failed and POST /v1/callbacks/{id}/retry (SPEC §21): a caller's deliveries that ran out of retries, and replaying one.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Callbacks } from '../callbacks/callbacks.js'
import { problem } from '../errors.js'
import { LOOKUP_ROUTE, lookupResponses } from '../schemas/routes.js'
import { CallbackRetrySchema, FailedCallbacksSchema } from '../schemas/status.js'

export const callbackRoutes: FastifyPluginAsyncTypebox<{ callbacks: Callbacks }> = async (app, { callbacks }) => {
  app.get('/v1/callbacks', {
    schema: {
      tags: ['status'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'list_failed_callbacks',
      summary: 'Your callbacks that could not be delivered',
      description: 'Deliveries to your callbackUrl that failed for CALLBACK_RETRY_HOURS (default 24) of growing retries. Each stops its message\'s later callbacks (they are posted in order): `waiting` counts them. Replay one with POST /v1/callbacks/{id}/retry once your receiver works.',
      querystring: Type.Object({
        state: Type.Literal('failed', { description: 'Only failed deliveries are listed (the others are on their way).' })
      }, { additionalProperties: false }),
      response: { 200: FailedCallbacksSchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request, reply) => {
    reply.header('x-request-id', request.id)
    return await reply.send({ callbacks: await callbacks.failed(request.caller) })
  })

  app.post('/v1/callbacks/:id/retry', {
    schema: {
      tags: ['status'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'retry_callback',
      summary: 'Deliver a failed callback again',
      description: 'Runs a failed delivery again from its first attempt, with the same retries: this callback, then every later one of its message, in order (each with its own webhook-id, unchanged). Another caller\'s delivery, or one that is not failed, is 404.',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: 'The `id` from GET /v1/callbacks?state=failed.' }) }),
      response: { 202: CallbackRetrySchema, ...lookupResponses },
      'x-answers': LOOKUP_ROUTE
    }
  }, async (request, reply) => {
    if (!await callbacks.retry(request.caller, request.params.id)) throw problem('NOT_FOUND', 'No failed callback with this id for this caller.')
    reply.header('x-request-id', request.id)
    return await reply.code(202).send({ id: request.params.id, retrying: true as const })
  })
}
