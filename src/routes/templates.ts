// One POST route per template kind, all through the one send pipeline.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TEMPLATE_KINDS } from '../templates/index.js'
import { futureError, type CommonBody } from '../templates/kind.js'
import type { Sender } from '../send.js'
import { sendAnswer } from '../errors.js'
import { DryRunQuerySchema, SEND_ROUTE, sendResponses } from '../schemas/routes.js'

export const templateRoutes: FastifyPluginAsyncTypebox<{ send: Sender }> = async (app, { send }) => {
  for (const template of TEMPLATE_KINDS) {
    app.post(`/v1/messages/${template.kind}`, {
      schema: {
        tags: ['messages'],
        security: [{ bearerAuth: [] }, { apiKey: [] }],
        operationId: `send_${template.kind.replaceAll('-', '_')}`,
        summary: template.summary,
        description: template.description,
        querystring: DryRunQuerySchema,
        body: { ...template.schema, 'x-examples': template.examples },
        response: sendResponses,
        'x-answers': SEND_ROUTE
      }
    }, async (request, reply) => {
      const body = request.body as CommonBody
      const now = Date.now()
      const answer = await send(request, reply, {
        kind: template.kind,
        template: body.template,
        to: body.to,
        toPath: '/to',
        botIdIn: 'body',
        country: body.country,
        botId: body.botId,
        language: body.language,
        clientRef: body.clientRef,
        dryRun: request.query.dryRun === true,
        fieldErrors: [...futureError('/expiresAt', body.expiresAt as string | number | undefined, now), ...(template.check?.(body, now) ?? [])],
        build: (ctx) => template.toUpstream(body, ctx)
      })
      return await sendAnswer(reply, answer)
    })
  }
}
