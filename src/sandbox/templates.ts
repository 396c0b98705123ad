// Sandbox endpoint GET /v1/bots/:botId/templates: Jelou's template list, with the demo catalogue for the examples' bot.
import type { FastifyInstance } from 'fastify'
import { SANDBOX_BOT_ID } from '../config.js'
import { headerValue, type SandboxAuth } from './common.js'
import { demoJelouList } from './demo-catalogue.js'

type Item = Record<string, unknown>

/** What a test or a demo may change while the sandbox runs. */
export interface SandboxTemplates {
  /** Replaces a bot's list (items in Jelou's shape). */
  set: (botId: string, items: Item[]) => void
  /** The items of one bot, as served. */
  get: (botId: string) => Item[]
  /** Answer every list request with this status (e.g. 503), or null to serve again. */
  fail: (status: number | null) => void
  /**
   * `data` (current Jelou: the whole list, or one page of it with `pagination` when the request
   * names `limit` or `page`) or `results` with `pagination` (older, always paginated: `limit` is
   * the largest page and the page size when the request names none).
   */
  shape: (shape: 'data' | 'results', limit?: number) => void
  /** How many list requests arrived (successful or not). */
  requests: () => number
}

/** The template a send names, for the send endpoint's variable-count check: undefined when the sandbox does not know it. */
export type KnownTemplate = (botId: string, name: string, language: string | undefined) => { paramsNumber: number } | undefined

/** A positive whole number from the query, else undefined (a missing or unusable value takes the default, as a lenient server does). */
function positive (value: string | undefined): number | undefined {
  const n = Number(value)
  return value !== undefined && Number.isInteger(n) && n >= 1 ? n : undefined
}

const pagination = (page: number, limit: number, total: number) => ({ page, limit, total, totalPages: Math.ceil(total / limit) })

export function templatesEndpoint (app: FastifyInstance, opts: { auth: SandboxAuth }): { controls: SandboxTemplates, known: KnownTemplate } {
  const lists = new Map<string, Item[]>([[SANDBOX_BOT_ID, demoJelouList()]])
  let failStatus: number | null = null
  let shape: 'data' | 'results' = 'data'
  let pageLimit = 50
  let count = 0

  app.get<{ Params: { botId: string }, Querystring: Record<string, string | undefined> }>('/v1/bots/:botId/templates', async (request, reply) => {
    count++
    if (!opts.auth.matches(headerValue(request.headers.authorization))) return reply.code(401).send({ message: 'Authentication failed' })
    if (failStatus !== null) return reply.code(failStatus).send({ message: 'The sandbox list fails on purpose.' })
    const { query, status, category } = request.query
    const items = (lists.get(request.params.botId) ?? []).filter((item) =>
      (query === undefined || String(item.elementName).includes(query)) &&
      (status === undefined || item.status === status.toUpperCase()) &&
      (category === undefined || item.category === category.toUpperCase()))
    const asked = { page: positive(request.query.page), limit: positive(request.query.limit) }
    if (shape === 'data') {
      if (asked.page === undefined && asked.limit === undefined) return { data: items }
      const { page, limit } = { page: asked.page ?? 1, limit: asked.limit ?? pageLimit }
      return { data: items.slice((page - 1) * limit, page * limit), pagination: pagination(page, limit, items.length) }
    }
    const page = asked.page ?? 1
    const limit = Math.min(pageLimit, asked.limit ?? pageLimit)
    return {
      pagination: pagination(page, limit, items.length),
      results: items.slice((page - 1) * limit, page * limit).map((item, i) => ({ id: (page - 1) * limit + i + 1, type: 'HSM', shouldAssign: false, teamId: null, ...item }))
    }
  })

  return {
    controls: {
      set: (botId, items) => { lists.set(botId, structuredClone(items)) },
      get: (botId) => structuredClone(lists.get(botId) ?? []),
      fail: (status) => { failStatus = status },
      shape: (next, limit) => {
        shape = next
        if (limit !== undefined) pageLimit = limit
      },
      requests: () => count
    },
    known: (botId, name, language) => {
      const items = lists.get(botId)?.filter((item) => item.elementName === name) ?? []
      const item = items.find((i) => language === undefined || String(i.language).toLowerCase() === language) ?? (language === undefined ? items[0] : undefined)
      return item === undefined ? undefined : { paramsNumber: Number(item.paramsNumber) }
    }
  }
}
