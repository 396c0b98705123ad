// The preview hook lives in the send pipeline: any route through it (the per-template routes too) gets one, real sends never render.
import t from 'tap'
import Fastify from 'fastify'
import { pino } from 'pino'
import type { CatalogueTemplate } from '../src/catalogue/types.js'
import { loadConfig } from '../src/config.js'
import { sendAnswer } from '../src/errors.js'
import { createSender } from '../src/send.js'
import { memoryIdempotencyStore } from '../src/stores/memory.js'
import type { UpstreamClient } from '../src/upstream/client.js'

const TEMPLATE: CatalogueTemplate = {
  name: 'welcome_back',
  botId: 'bot-9',
  languages: ['pt'],
  kind: 'text',
  status: 'APPROVED',
  text: { pt: 'Olá {{1}}, bem-vinda de volta!' },
  variables: [{ name: 'nome', position: 1 }],
  source: 'both',
  problems: []
}

t.test('a route of its own through createSender: the dry run previews from the lookup, the real send never asks it', async (t) => {
  const config = loadConfig({ JELOU_BOT_ID: 'bot-9' })
  const lookups: Array<[string, string]> = []
  const sent: unknown[] = []
  const upstream = {
    send: async (input: { body: unknown }) => {
      sent.push(input.body)
      return { ok: true, messageId: 'msg-1', upstreamStatus: 200, attempts: 1 }
    }
  } as unknown as UpstreamClient
  const send = createSender({
    config,
    upstream,
    idempotency: memoryIdempotencyStore(10),
    lookupTemplate: (botId, name) => {
      lookups.push([botId, name])
      return name === TEMPLATE.name ? TEMPLATE : undefined
    }
  })
  const app = Fastify({ loggerInstance: pino({ level: 'silent' }) })
  t.teardown(() => app.close())
  // Shaped like the coming `POST /v1/templates/{name}`: named variables, mapped to Jelou's body by the route.
  app.post<{ Params: { name: string }, Querystring: { dryRun?: string }, Body: { to: string, variables: Record<string, string> } }>('/v1/templates/:name', async (request, reply) => {
    const answer = await send(request, reply, {
      kind: 'template',
      template: request.params.name,
      body: request.body,
      to: request.body.to,
      toPath: '/to',
      botIdIn: 'body',
      country: undefined,
      botId: undefined,
      language: 'pt',
      clientRef: undefined,
      dryRun: request.query.dryRun === 'true',
      fieldErrors: [],
      build: (ctx) => ({ elementName: request.params.name, destinations: [ctx.to], type: 'text', language: 'pt', parameters: [request.body.variables.nome] })
    })
    return await sendAnswer(reply, answer)
  })

  const dry = await app.inject({ method: 'POST', url: '/v1/templates/welcome_back?dryRun=true', payload: { to: '+55 11 91234 5678', variables: { nome: 'Ana' } } })
  t.equal(dry.statusCode, 200)
  t.match(dry.json(), { dryRun: true, kind: 'template', preview: { template: 'welcome_back', known: true, body: 'Olá Ana, bem-vinda de volta!', problems: [] } })
  t.same(lookups, [['bot-9', 'welcome_back']], 'the lookup is asked with the bot and the template name')

  const real = await app.inject({ method: 'POST', url: '/v1/templates/welcome_back', payload: { to: '+55 11 91234 5678', variables: { nome: 'Ana' } } })
  t.equal(real.statusCode, 202)
  t.equal(real.json().preview, undefined)
  t.equal(sent.length, 1)
  t.same(lookups.length, 1, 'a real send does not render (no lookup)')
})
