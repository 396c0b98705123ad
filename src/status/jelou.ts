// Jelou's notifications endpoint (upstream reference §2): one bounded GET through the app's pool, and Jelou's state names read as ours.
import type { Dispatcher } from 'undici'
import type { Failure, Status, StatusUpdate } from './types.js'

/** One item of Jelou's notification list, as far as we read it. */
export interface NotificationItem {
  id: string
  destination: string
  elementName?: string
  campaignId?: unknown
  sentStatus?: string
  createdAt?: string
  deliveryChannelAt?: string | null
  deliveryUserAt?: string | null
  readAt?: string | null
  wasRead?: boolean
  error?: unknown
}

export interface NotificationPage {
  items: NotificationItem[]
  /** Items without a readable id: they still count towards the total, and may be anyone's message. */
  anonymous: Array<Omit<NotificationItem, 'id'>>
  /** Everything on the page, readable or not. */
  count: number
  /** Total matching items when Jelou says so; otherwise unknown (null). */
  total: number | null
  /** Number of pages when Jelou says so (and gives no total); otherwise unknown (null). */
  pages: number | null
}

export interface NotificationQuery {
  messageId?: string
  elementName?: string
  campaignId?: string
  from?: string
  to?: string
  limit?: number
  page?: number
}

export interface NotificationsClient {
  list: (botId: string, query: NotificationQuery) => Promise<NotificationPage>
}

/** Jelou's names (lower-case event names, upper-case `sentStatus` states, a few spellings) to our statuses. */
const NAMES: Record<string, Status> = {
  created: 'accepted',
  accepted: 'accepted',
  sent: 'accepted',
  delivered_channel: 'delivered_channel',
  delivered_user: 'delivered_user',
  delivered: 'delivered_user',
  read: 'read',
  reply: 'replied',
  replied: 'replied',
  failed: 'failed',
  error: 'failed'
}

export function statusFromName (name: unknown): Status | undefined {
  if (typeof name !== 'string') return undefined
  return NAMES[name.trim().toLowerCase().replaceAll('-', '_').replace(/^delivery_/, 'delivered_')]
}

/** A date-time with no zone: Jelou's API speaks UTC, and the server's own zone must not change its meaning. */
const ZONELESS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/

/** Epoch ms of an ISO date-time (or epoch seconds/ms number), or undefined. A date-time without a zone is UTC. */
export function timeOf (value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value < 1e12 ? value * 1000 : value
  if (typeof value !== 'string' || value === '') return undefined
  const ms = Date.parse(ZONELESS.test(value) ? `${value.replace(' ', 'T')}Z` : value)
  return Number.isNaN(ms) ? undefined : ms
}

/** Meta's reason from whatever shape Jelou gives it: a string, or an object with a code and a message. */
export function failureOf (value: unknown): Failure | undefined {
  if (Array.isArray(value)) value = value[0]
  if (typeof value === 'string' && value !== '') return { message: value.slice(0, 500) }
  if (!isObject(value)) return undefined
  const code = value.code ?? value.errorCode
  const message = value.message ?? value.title ?? value.description
  const failure: Failure = {}
  if (typeof code === 'number' || (typeof code === 'string' && code !== '')) failure.code = typeof code === 'string' ? code.slice(0, 64) : code
  if (typeof message === 'string' && message !== '') failure.message = message.slice(0, 500)
  return failure.code === undefined && failure.message === undefined ? undefined : failure
}

/** What one notification item says about its message; steps without a time of their own take `now`. */
export function updateFromItem (item: NotificationItem, now: number): StatusUpdate {
  const steps: StatusUpdate['steps'] = {}
  const created = timeOf(item.createdAt)
  if (created !== undefined) steps.accepted = created
  const channel = timeOf(item.deliveryChannelAt)
  if (channel !== undefined) steps.delivered_channel = channel
  const user = timeOf(item.deliveryUserAt)
  if (user !== undefined) steps.delivered_user = user
  const read = timeOf(item.readAt)
  if (read !== undefined) steps.read = read
  else if (item.wasRead === true) steps.read = now
  const state = statusFromName(item.sentStatus)
  if (state !== undefined) steps[state] ??= now
  const update: StatusUpdate = { steps, source: 'jelou', at: now }
  const failure = state === 'failed' ? failureOf(item.error) : undefined
  if (failure !== undefined) update.failure = failure
  return update
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function itemOf (value: unknown): NotificationItem | Omit<NotificationItem, 'id'> {
  if (!isObject(value)) return { destination: '' }
  const id = value.id ?? value.messageId
  // A number given as a JSON number is still that number; anything else is unreadable ('').
  const destination = typeof value.destination === 'string' ? value.destination : typeof value.destination === 'number' && Number.isSafeInteger(value.destination) ? String(value.destination) : ''
  const item = { ...value, destination }
  return typeof id === 'string' && id !== '' ? { ...item, id } as NotificationItem : { ...item, id: undefined } as Omit<NotificationItem, 'id'>
}

const count = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null

export function createNotificationsClient (options: { dispatcher: Dispatcher, clientId: string, clientSecret: string, timeoutMs: number }): NotificationsClient {
  const { dispatcher, timeoutMs } = options
  const authorization = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`
  return {
    async list (botId, query) {
      const search = new URLSearchParams()
      for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, String(value))
      const response = await dispatcher.request({
        method: 'GET',
        path: `/v1/external/bots/${encodeURIComponent(botId)}/notifications?${search.toString()}`,
        headers: { authorization, accept: 'application/json' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        // The pool's own timeouts are the send's; a lookup must give up sooner.
        signal: AbortSignal.timeout(timeoutMs)
      })
      const text = await response.body.text()
      if (response.statusCode < 200 || response.statusCode >= 300) {
        throw new Error(`Jelou notifications answered ${response.statusCode}`)
      }
      const json = JSON.parse(text) as unknown
      const results = isObject(json) && Array.isArray(json.results) ? json.results : Array.isArray(json) ? json : null
      if (results === null) throw new Error('Jelou notifications answer has no results list')
      const pagination = isObject(json) && isObject(json.pagination) ? json.pagination : {}
      const items: NotificationItem[] = []
      const anonymous: Array<Omit<NotificationItem, 'id'>> = []
      for (const item of results.map(itemOf)) {
        if ('id' in item && typeof item.id === 'string') items.push(item)
        else anonymous.push(item)
      }
      return { items, anonymous, count: results.length, total: count(pagination.total), pages: count(pagination.pages ?? pagination.totalPages ?? pagination.pageCount) }
    }
  }
}
