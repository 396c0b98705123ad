// Jelou's template list (GET /v1/bots/{botId}/templates): every page of it, read within a deadline and a size limit, in both answer shapes.
import { Pool, type Dispatcher } from 'undici'

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

/** One bot's whole list, and whether the page cap cut it short. */
export interface ListResult {
  items: JelouTemplate[]
  /** Pages asked for. */
  pages: number
  /** True when the page cap stopped the scan before the list's end. */
  truncated: boolean
}

/** Loads one bot's whole list; throws on any failure (the catalogue keeps its last good copy). */
export type ListTemplates = (botId: string, signal?: AbortSignal) => Promise<ListResult>

/** The page size asked for on every page (Jelou may answer with its own). */
export const PAGE_LIMIT = 100
/** Safety cap on pages per bot and load: 500 pages is 50,000 templates at 100 a page, 5,000 at Jelou's older 10. */
export const MAX_PAGES = 500
/** Largest answer for one page: a page of 100 items is about 50 KB; 8 MiB leaves room for long texts. */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function count (value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined
}

/** What one page says about the list's length, when it says anything. */
export interface PageInfo {
  /** The page number the answer claims, else the one asked for. */
  page: number
  /** Items on this page (before skipping unusable ones). */
  size: number
  /** The page size the answer says it used. */
  limit?: number
  /** Items in the whole list. */
  total?: number
  /** Pages in the whole list. */
  totalPages?: number
  /** False when the answer is the whole list (the current shape: `data` with no pagination). */
  paginated: boolean
}

/**
 * Reads one page of Jelou's answer: `{ data: [...] }` (current) or `{ results: [...], pagination }`
 * (older, paginated). Items without an `elementName` are skipped; `next` is the next page number
 * when this page alone says there is more (the client also stops on a total reached or an empty page).
 */
export function readTemplateList (answer: unknown, asked = 1): { items: JelouTemplate[], next: number | null, info: PageInfo } {
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
    const paramsNumber = typeof raw.paramsNumber === 'number' && Number.isInteger(raw.paramsNumber) && raw.paramsNumber >= 0 && raw.paramsNumber <= 100 ? raw.paramsNumber : Math.min(params.length, 100)
    const item: JelouTemplate = {
      name: raw.elementName,
      language: typeof raw.language === 'string' ? raw.language.toLowerCase() : '',
      status: typeof raw.status === 'string' ? raw.status.toUpperCase() : 'UNKNOWN',
      text: typeof raw.template === 'string' ? raw.template : '',
      paramsNumber,
      labels: Array.from({ length: paramsNumber }, (_, i) => labels[i] ?? '')
    }
    if (typeof raw.category === 'string') item.category = raw.category.toUpperCase()
    if (typeof raw.displayName === 'string') item.displayName = raw.displayName
    items.push(item)
  }
  const pagination = isRecord(answer.pagination) ? answer.pagination : isRecord(answer.meta) ? answer.meta : null
  const info: PageInfo = { page: asked, size: list.length, paginated: pagination !== null || Array.isArray(answer.results) }
  if (pagination !== null) {
    info.page = count(pagination.page) ?? asked
    info.limit = count(pagination.limit ?? pagination.perPage ?? pagination.pageSize)
    info.total = count(pagination.total ?? pagination.totalItems ?? pagination.count)
    info.totalPages = count(pagination.totalPages ?? pagination.pages ?? pagination.lastPage)
  }
  let next: number | null = null
  if (info.paginated && list.length > 0) {
    if (info.totalPages !== undefined) next = info.page < info.totalPages ? info.page + 1 : null
    else if (info.total !== undefined) next = info.page * (info.limit ?? list.length) < info.total ? info.page + 1 : null
    else if (info.limit !== undefined && list.length < info.limit) next = null
    else next = info.page + 1
  }
  return { items, next, info }
}

export interface ListClientOptions {
  /** Jelou's origin; the list has its own small pool, so its answers have their own size limit. */
  origin: string
  clientId: string
  clientSecret: string
  /** Longest gap waiting for headers or body bytes (JELOU_TIMEOUT_MS). */
  timeoutMs: number
  /** Whole-call deadline for one bot's list, every page included. */
  deadlineMs: number
  connectTimeoutMs?: number
  maxPages?: number
  pageLimit?: number
  maxPageBytes?: number
}

export interface ListClient {
  list: ListTemplates
  close: () => Promise<void>
}

/**
 * The list call with the send's credentials: every page with one `limit`, until the answer's own
 * total or page count is reached, a page comes back empty (or short of the page size it states),
 * or the page cap is hit (`truncated`). One deadline covers the whole call.
 */
export function createListClient (options: ListClientOptions): ListClient {
  const maxPages = options.maxPages ?? MAX_PAGES
  const limit = options.pageLimit ?? PAGE_LIMIT
  const pool: Dispatcher = new Pool(options.origin, {
    connections: 2,
    connect: { timeout: options.connectTimeoutMs ?? 3000 },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    maxResponseSize: options.maxPageBytes ?? MAX_PAGE_BYTES
  })
  const authorization = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`
  const list: ListTemplates = async (botId, stop) => {
    const deadline = AbortSignal.timeout(options.deadlineMs)
    const signal = stop === undefined ? deadline : AbortSignal.any([deadline, stop])
    const items: JelouTemplate[] = []
    let seen = 0
    let previousFirst: string | null = null
    let page: number | null = 1
    let pages = 0
    try {
      while (page !== null) {
        if (pages >= maxPages) return { items, pages, truncated: true }
        pages++
        const response: Dispatcher.ResponseData = await pool.request({
          method: 'GET',
          path: `/v1/bots/${encodeURIComponent(botId)}/templates?page=${page}&limit=${limit}`,
          headers: { authorization, accept: 'application/json' },
          signal
        })
        const text = await response.body.text()
        if (response.statusCode !== 200) throw new Error(`Jelou answered ${response.statusCode} to the template list`)
        const read = readTemplateList(JSON.parse(text), page)
        const first = read.items.length > 0 ? `${read.items[0].name}\u0000${read.items[0].language}` : null
        // A server that ignores `page` answers page 1 again: stop rather than read it twice.
        if (pages > 1 && first !== null && first === previousFirst) break
        previousFirst = first
        items.push(...read.items)
        seen += read.info.size
        page = read.info.total !== undefined && seen >= read.info.total ? null : read.next
      }
      return { items, pages, truncated: false }
    } catch (error) {
      if (deadline.aborted) throw new Error(`the template list did not finish within ${options.deadlineMs} ms (${pages} pages read)`)
      throw error
    }
  }
  return { list, close: async () => { await pool.close() } }
}
