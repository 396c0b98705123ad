// The raw route: a full Jelou body, validated against the upstream rules, its one number normalized.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Sender } from '../send.js'
import { sendAnswer, type FieldError } from '../errors.js'
import { DryRunSchema, SEND_ROUTE, isDryRun, sendResponses } from '../schemas/routes.js'
import { crossFieldErrors, isSchemaValid, schemaFieldErrors } from '../schemas/field-errors.js'
import { CallbackUrlSchema, PATTERNS, SendAtSchema, patterned } from '../schemas/common.js'
import { upstreamBodySchema, upstreamConditionalErrors, type UpstreamBody } from '../upstream/schema.js'

const RawQuerySchema = Type.Object({
  // The example makes Swagger UI's Try it out work without JELOU_BOT_ID (the default configuration).
  botId: Type.Optional(patterned(['botId'], { description: 'Jelou bot; defaults to JELOU_BOT_ID.', examples: ['bot-123'] })),
  country: Type.Optional(patterned(['country'], { description: 'Region for a national-format number; defaults to DEFAULT_COUNTRY.' })),
  dryRun: DryRunSchema,
  callbackUrl: Type.Optional(CallbackUrlSchema),
  sendAt: Type.Optional(SendAtSchema)
}, { additionalProperties: false })

/** Fields a caller of the kind routes puts in the body, which the raw route takes in the query string. */
const QUERY_FIELDS = new Set(['/botId', '/country', '/dryRun', '/callbackUrl', '/sendAt'])

/** "botId is not an allowed field" becomes a pointer to `?botId=`. */
function pointToQuery (errors: FieldError[]): FieldError[] {
  return errors.map((e) => e.in === 'body' && e.rule === 'additionalProperties' && QUERY_FIELDS.has(e.path)
    ? { ...e, message: `is not a field of Jelou's body: give it in the query string as ?${e.path.slice(1)}=` }
    : e)
}

/** Swagger UI's examples for the raw body; with the botId query example each answers 202 in sandbox mode. */
export const RAW_EXAMPLES = {
  raw: {
    summary: 'Text message as a raw Jelou body',
    value: { elementName: 'order_update', destinations: ['+593 98 765 4334'], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] }
  }
}

export const rawRoute: FastifyPluginAsyncTypebox<{ send: Sender }> = async (app, { send }) => {
  app.post('/v1/messages', {
    // The caller's limit is checked in the send's own store step (src/plugins/rate-limit.ts).
    config: { callerLimitAtSend: true },
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
    },
    // Schema failures reach the handler, so the phone rule can be reported with them.
    attachValidation: true
  }, async (request, reply) => {
    const schemaErrors = pointToQuery(schemaFieldErrors(request.validationError))
    const { fileName, ...body } = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as UpstreamBody
    if (fileName !== undefined && body.filename === undefined) body.filename = fileName
    const valid = (path: string) => isSchemaValid(schemaErrors, path)
    const answer = await send(request, reply, {
      kind: 'raw',
      template: valid('/elementName') ? body.elementName : undefined,
      body: request.body,
      to: valid('/destinations/0') && isSchemaValid(schemaErrors, '/country', 'querystring') ? body.destinations[0] : undefined,
      toPath: '/destinations/0',
      botIdIn: 'querystring',
      country: request.query.country,
      botId: request.query.botId,
      // The raw body keeps its own language (or none): no default is added.
      language: undefined,
      clientRef: undefined,
      callbackUrl: request.query.callbackUrl,
      callbackUrlIn: 'querystring',
      sendAt: request.query.sendAt,
      sendAtIn: 'querystring',
      dryRun: isDryRun(request.query),
      fieldErrors: [...schemaErrors, ...crossFieldErrors(schemaErrors, () => upstreamConditionalErrors(body).map((e) => ({ in: 'body', ...e })))],
      build: (ctx) => ({ ...body, destinations: [ctx.to] })
    })
    return await sendAnswer(reply, answer)
  })
}
