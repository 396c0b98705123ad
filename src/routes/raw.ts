// The raw route: a full Jelou body, validated against the upstream rules, its one number normalized.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Sender } from '../send.js'
import { sendAnswer } from '../errors.js'
import { SEND_ROUTE, sendResponses } from '../schemas/routes.js'
import { PATTERNS, patterned } from '../schemas/common.js'
import { upstreamBodySchema, upstreamConditionalErrors, type UpstreamBody } from '../upstream/schema.js'

const RawQuerySchema = Type.Object({
  // The example makes Swagger UI's Try it out work without JELOU_BOT_ID (the default configuration).
  botId: Type.Optional(patterned(['botId'], { description: 'Jelou bot; defaults to JELOU_BOT_ID.', examples: ['bot-123'] })),
  country: Type.Optional(patterned(['country'], { description: 'Region for a national-format number; defaults to DEFAULT_COUNTRY.' })),
  dryRun: Type.Optional(Type.Boolean({ description: 'Run every check and answer 200 with the request that would be sent, without sending.' }))
}, { additionalProperties: false })

/** Swagger UI's examples for the raw body; with the botId query example each answers 202 in sandbox mode. */
export const RAW_EXAMPLES = {
  raw: {
    summary: 'Text message as a raw Jelou body',
    value: { elementName: 'order_update', destinations: ['+593 98 765 4334'], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] }
  }
}

export const rawRoute: FastifyPluginAsyncTypebox<{ send: Sender }> = async (app, { send }) => {
  app.post('/v1/messages', {
    schema: {
      tags: ['messages'],
      security: [{ bearerAuth: [] }, { apiKey: [] }],
      operationId: 'send_raw',
      summary: 'Send a full Jelou HSM body',
      description: `For templates the kind routes do not cover: the body is Jelou's own HSM body (see the upstream reference), checked against Jelou's rules with unknown fields refused. \`destinations\` holds exactly one number in any common format; it is normalized like \`to\`. The bot comes from \`?botId=\` or JELOU_BOT_ID. \`elementName\` must match ${PATTERNS.template.pattern}.`,
      querystring: RawQuerySchema,
      body: {
        ...upstreamBodySchema(true),
        'x-examples': RAW_EXAMPLES
      },
      response: sendResponses,
      'x-answers': SEND_ROUTE
    }
  }, async (request, reply) => {
    const { fileName, ...body } = request.body as UpstreamBody
    if (fileName !== undefined && body.filename === undefined) body.filename = fileName
    const answer = await send(request, reply, {
      kind: 'raw',
      template: body.elementName,
      to: body.destinations[0],
      toPath: '/destinations/0',
      botIdIn: 'querystring',
      country: request.query.country,
      botId: request.query.botId,
      // The raw body keeps its own language (or none): no default is added.
      language: undefined,
      clientRef: undefined,
      dryRun: request.query.dryRun === true,
      fieldErrors: upstreamConditionalErrors(body).map((e) => ({ in: 'body', ...e })),
      build: (ctx) => ({ ...body, destinations: [ctx.to] })
    })
    return await sendAnswer(reply, answer)
  })
}
