// Jelou's template list (GET /v1/bots/{botId}/templates): the call over the app's pool and the reading of both answer shapes.
import type { Dispatcher } from 'undici'

/** One item of Jelou's list, normalized: language lower case, status upper case. */
export interface JelouTemplate {
  name: string
  language: string
  status: string
  category?: string
  displayName?: string
  /** Body text with `{{n}}` placeholders. */
  text: string
  /** Number of body variables (`paramsNumber`, else the length of `params`). */
  paramsNumber: number
  /** Human labels by position (index 0 is `{{1}}`); may be empty or repeat. */
  labels: string[]
}

/** Loads one bot's whole list; throws on any failure (the catalogue keeps its last good copy). */
export type ListTemplates = (botId: string) => Promise<JelouTemplate[]>

const MAX_PAGES = 50
const PAGE_LIMIT = 100

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads one page of Jelou's answer: `{ data: [...] }` (current) or `{ results: [...], pagination }`
 * (older, paginated). Items without a usable `elementName` are skipped; `next` is the next page
 * number when the pagination says there is more.
 */
export function readTemplateList (answer: unknown): { items: JelouTemplate[], next: number | null } {
  if (!isRecord(answer)) throw new Error('the answer is not a JSON object')
  const list = Array.isArray(answer.data) ? answer.data : Array.isArray(answer.results) ? answer.results : null
  if (list === null) throw new Error('the answer has neither `data` nor `results`')
  const items: JelouTemplate[] = []
  for (const raw of list) {
    if (!isRecord(raw) || typeof raw.elementName !== 'string' || raw.elementName === '') continue
    const params = Array.isArray(raw.params) ? raw.params.filter(isRecord) : []
    const labels: string[] = []
    for (const p of params) {
      const position = Number(p.param)
      if (Number.isInteger(position) && position >= 1 && position <= 100) labels[position - 1] = typeof p.label === 'string' ? p.label : ''
    }
    const count = typeof raw.paramsNumber === 'number' && Number.isInteger(raw.paramsNumber) && raw.paramsNumber >= 0 ? raw.paramsNumber : params.length
    const item: JelouTemplate = {
      name: raw.elementName,
      language: typeof raw.language === 'string' ? raw.language.toLowerCase() : '',
      status: typeof raw.status === 'string' ? raw.status.toUpperCase() : 'UNKNOWN',
      text: typeof raw.template === 'string' ? raw.template : '',
      paramsNumber: count,
      labels: Array.from({ length: count }, (_, i) => labels[i] ?? '')
    }
    if (typeof raw.category === 'string') item.category = raw.category.toUpperCase()
    if (typeof raw.displayName === 'string') item.displayName = raw.displayName
    items.push(item)
  }
  let next: number | null = null
  const pagination = answer.pagination
  if (Array.isArray(answer.results) && isRecord(pagination)) {
    const page = Number(pagination.page ?? 1)
    const limit = Number(pagination.limit ?? list.length)
    const total = Number(pagination.total ?? 0)
    if (Number.isFinite(page) && limit > 0 && page * limit < total && list.length > 0) next = page + 1
  }
  return { items, next }
}

export interface ListClientOptions {
  dispatcher: Dispatcher
  clientId: string
  clientSecret: string
  timeoutMs: number
}

/** The list call with the send's credentials and pool; follows the older shape's pages (at most 50). */
export function createListClient (options: ListClientOptions): ListTemplates {
  const authorization = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`
  return async (botId) => {
    const items: JelouTemplate[] = []
    let page: number | null = 1
    for (let pages = 0; page !== null && pages < MAX_PAGES; pages++) {
      const path: string = `/v1/bots/${encodeURIComponent(botId)}/templates${page === 1 ? '' : `?page=${page}&limit=${PAGE_LIMIT}`}`
      const response = await options.dispatcher.request({
        method: 'GET',
        path,
        headers: { authorization, accept: 'application/json' },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs
      })
      const text = await response.body.text()
      if (response.statusCode !== 200) throw new Error(`Jelou answered ${response.statusCode} to the template list`)
      const read = readTemplateList(JSON.parse(text))
      items.push(...read.items)
      page = read.next
    }
    return items
  }
}
