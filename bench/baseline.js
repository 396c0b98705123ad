// Benchmark reference: the minimal Fastify 5 + undici + TypeBox + pino proxy doing the service's text-route job.
import Fastify from 'fastify'
import { Type } from 'typebox'
import { Pool } from 'undici'

const port = Number(process.env.PORT ?? 0)
const upstreamUrl = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:4010'
const botId = process.env.BOT_ID ?? 'bot-123'
const authorization = `Basic ${Buffer.from('bench:bench').toString('base64')}`
const path = `/v2/whatsapp/${encodeURIComponent(botId)}/hsm`

// The service's text route core fields, with the same limits and patterns.
const Param = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\n\\r\\t]*$' })
const Body = Type.Object({
  to: Type.String({ minLength: 1, maxLength: 64 }),
  template: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }),
  language: Type.Optional(Type.Union([Type.Literal('en'), Type.Literal('es'), Type.Literal('pt')])),
  params: Type.Optional(Type.Array(Param, { maxItems: 100 }))
}, { additionalProperties: false })
const Answer = Type.Object({ messageId: Type.String(), to: Type.String() })

const pool = new Pool(upstreamUrl, { connections: 64, pipelining: 1 })

const app = Fastify({
  logger: { level: 'info' },
  disableRequestLogging: true,
  // Refuse unknown fields and wrong types instead of stripping or coercing them, like the service.
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false } }
})

app.post('/v1/messages/text', { schema: { body: Body, response: { 202: Answer } } }, async (request, reply) => {
  const started = process.hrtime.bigint()
  const { to, template, language, params } = request.body
  const destination = to.replace(/\D/g, '')
  const upstreamBody = { elementName: template, destinations: [destination], type: 'text', language, parameters: params }
  const response = await pool.request({
    method: 'POST',
    path,
    headers: { authorization, 'content-type': 'application/json', 'x-request-id': request.id },
    body: JSON.stringify(upstreamBody)
  })
  const answer = await response.body.json()
  if (response.statusCode !== 200 || !Array.isArray(answer) || typeof answer[0]?.id !== 'string') {
    request.log.error({ upstreamStatus: response.statusCode, outcome: 'failed' }, 'hsm send failed')
    return reply.code(502).send({ message: 'upstream error' })
  }
  const messageId = answer[0].id
  request.log.info({
    kind: 'text',
    template,
    language,
    botId,
    to: `${destination.slice(0, 4)}******${destination.slice(-2)}`,
    paramCount: params?.length ?? 0,
    upstreamStatus: response.statusCode,
    messageId,
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
    outcome: 'sent'
  }, 'hsm sent')
  return reply.code(202).send({ messageId, to: destination })
})

app.addHook('onClose', async () => { await pool.close() })

process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})

await app.listen({ port, host: '127.0.0.1' })
