// Sandbox mode only: what the built-in Jelou look-alike received, newest first.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Sandbox } from '../sandbox/server.js'
import { OPEN_ROUTE, openResponses } from '../schemas/routes.js'

const SandboxMessagesSchema = Type.Object({
  messages: Type.Array(Type.Object({
    seq: Type.Integer(),
    receivedAt: Type.String(),
    method: Type.String(),
    path: Type.String(),
    botId: Type.String(),
    authorization: Type.Union([Type.String(), Type.Null()], { description: 'The Basic header, recorded only when it matched the sandbox credentials.' }),
    requestId: Type.Union([Type.String(), Type.Null()]),
    contentType: Type.Union([Type.String(), Type.Null()]),
    body: Type.Unknown({ description: 'The JSON body exactly as the upstream received it.' }),
    status: Type.Integer({ description: 'What the sandbox answered.' }),
    messageId: Type.Optional(Type.String({ description: 'The message id the sandbox answered with, when it accepted the send.' }))
  }), { description: 'At most the last 100 requests, newest first.' })
})

export const sandboxRoutes: FastifyPluginAsyncTypebox<{ sandbox: Pick<Sandbox, 'messages'> }> = async (app, { sandbox }) => {
  app.get('/sandbox/messages', {
    schema: {
      tags: ['sandbox'],
      operationId: 'sandbox_messages',
      summary: 'What the sandbox received',
      description: 'Sandbox mode only: the upstream requests the built-in Jelou look-alike received (path with bot id, Basic header, exact body), newest first.',
      response: { 200: SandboxMessagesSchema, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    reply.header('x-request-id', request.id)
    return { messages: sandbox.messages() }
  })
}
