// One POST route per template kind, all through the one send pipeline.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TEMPLATE_KINDS } from '../templates/index.js'
import { futureError, type CommonBody } from '../templates/kind.js'
import type { Sender } from '../send.js'
import { sendAnswer } from '../errors.js'
import { DryRunQuerySchema, SEND_ROUTE, isDryRun, sendResponses } from '../schemas/routes.js'
import { crossFieldErrors, isSchemaValid, schemaFieldErrors } from '../schemas/field-errors.js'

export const templateRoutes: FastifyPluginAsyncTypebox<{ send: Sender }> = async (app, { send }) => {
  for (const template of TEMPLATE_KINDS) {
    app.post(`/v1/messages/${template.kind}`, {
      // The caller's limit is checked in the send's own store step (src/plugins/rate-limit.ts).
      config: { callerLimitAtSend: true },
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
      },
      // Schema failures reach the handler, so the cross-field and phone rules can be reported with them.
      attachValidation: true
    }, async (request, reply) => {
      const schemaErrors = schemaFieldErrors(request.validationError)
      // A body that is not an object (null, a list) has only the schema's error; read no field from it.
      const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as CommonBody
      const valid = (path: string) => isSchemaValid(schemaErrors, path)
      const now = Date.now()
      const answer = await send(request, reply, {
        kind: template.kind,
        template: valid('/template') ? body.template : undefined,
        body: request.body,
        to: valid('/to') && valid('/country') ? body.to : undefined,
        toPath: '/to',
        botIdIn: 'body',
        country: body.country,
        botId: body.botId,
        language: body.language,
        clientRef: body.clientRef,
        callbackUrl: body.callbackUrl,
        sendAt: body.sendAt,
        dryRun: isDryRun(request.query),
        paramCount: template.paramCount?.(body),
        fieldErrors: [...schemaErrors, ...crossFieldErrors(schemaErrors, () => [
          ...futureError('/expiresAt', body.expiresAt as string | number | undefined, now),
          ...(template.check?.(body, now) ?? [])
        ])],
        build: (ctx) => template.toUpstream(body, ctx)
      })
      return await sendAnswer(reply, answer)
    })
  }
}
