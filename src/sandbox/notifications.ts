// Sandbox endpoint GET /v1/external/bots/:botId/notifications, and the timer that moves each accepted message through Jelou's states.
import type { FastifyInstance } from 'fastify'
import type { EventPoster, SandboxReply } from './events.js'
import { headerValue, type SandboxAuth } from './common.js'

export const SENT_STATES = ['CREATED', 'DELIVERED_CHANNEL', 'DELIVERED_USER', 'READ', 'REPLY', 'FAILED'] as const
type SentStatus = typeof SENT_STATES[number]

/** One message as Jelou's notification list shows it (upstream reference §2). */
export interface SandboxNotification {
  id: string
  botId: string
  destination: string
  elementName: string
  campaignId: string | null
  sentStatus: SentStatus
  createdAt: string
  deliveryChannelAt: string | null
  deliveryUserAt: string | null
  readAt: string | null
  error: { code: number, message: string } | null
}

/** Reserved template: accepted, then FAILED with Meta's 131026. */
export const UNDELIVERABLE = 'sandbox_undeliverable'
const UNDELIVERABLE_ERROR = { code: 131026, message: 'Message undeliverable' }

export interface Notifications {
  /** A message the send endpoint accepted: listed at once, then moved along every `stepMs`. */
  accepted: (botId: string, elementName: string, created: Array<{ id: string, destination: string }>) => void
  list: () => SandboxNotification[]
  /**
   * The recipient answered (the inbox page): the message moves to REPLY, stops moving, and
   * Jelou's `reply` event is posted with the answer. False when the message is unknown (or dropped) or FAILED.
   */
  replied: (id: string, reply: SandboxReply) => boolean
  /** Every answer so far, oldest first, per message id. */
  replies: () => Map<string, Array<SandboxReply & { at: string }>>
  close: () => void
}

export interface NotificationsOptions {
  auth: SandboxAuth
  /** Time between two states; 0 leaves every message CREATED. */
  stepMs: number
  /** Messages kept (oldest dropped). */
  maxNotifications: number
  events: EventPoster
}

const EVENT_NAMES: Record<SentStatus, string> = { CREATED: 'created', DELIVERED_CHANNEL: 'delivered_channel', DELIVERED_USER: 'delivered_user', READ: 'read', REPLY: 'reply', FAILED: 'failed' }
const TIME_FIELD: Partial<Record<SentStatus, 'deliveryChannelAt' | 'deliveryUserAt' | 'readAt'>> = { DELIVERED_CHANNEL: 'deliveryChannelAt', DELIVERED_USER: 'deliveryUserAt', READ: 'readAt' }
const MAX_LIMIT = 50

export function notificationsEndpoint (app: FastifyInstance, opts: NotificationsOptions): Notifications {
  const { auth, stepMs, maxNotifications, events } = opts
  const items = new Map<string, SandboxNotification>()
  const timers = new Map<string, NodeJS.Timeout>()
  const answers = new Map<string, Array<SandboxReply & { at: string }>>()

  function move (item: SandboxNotification, to: SentStatus, reply?: SandboxReply) {
    const at = new Date().toISOString()
    item.sentStatus = to
    const field = TIME_FIELD[to]
    if (field !== undefined) item[field] = at
    if (to === 'FAILED') item.error = UNDELIVERABLE_ERROR
    const event = { messageId: item.id, event: EVENT_NAMES[to], sentStatus: to, botId: item.botId, destination: item.destination, elementName: item.elementName, timestamp: at }
    events.post(item.error !== null ? { ...event, error: item.error } : reply !== undefined ? { ...event, reply } : event)
    return at
  }

  function schedule (item: SandboxNotification, path: SentStatus[]) {
    const next = path[0]
    if (next === undefined || stepMs === 0) return
    const timer = setTimeout(() => {
      timers.delete(item.id)
      if (!items.has(item.id)) return
      move(item, next)
      schedule(item, path.slice(1))
    }, stepMs)
    timer.unref()
    timers.set(item.id, timer)
  }

  app.get<{ Params: { botId: string }, Querystring: Record<string, string | undefined> }>('/v1/external/bots/:botId/notifications', async (request, reply) => {
    if (!auth.matches(headerValue(request.headers.authorization))) return auth.unauthorized(reply)
    const q = request.query
    const limit = q.limit === undefined ? MAX_LIMIT : Number(q.limit)
    const page = q.page === undefined ? 1 : Number(q.page)
    const from = q.from === undefined ? undefined : Date.parse(q.from)
    const to = q.to === undefined ? undefined : Date.parse(q.to)
    const bad = !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT
      ? `limit must be an integer from 1 to ${MAX_LIMIT}`
      : !Number.isInteger(page) || page < 1
          ? 'page must be an integer from 1'
          : Number.isNaN(from) || Number.isNaN(to)
            ? 'from and to must be ISO 8601 date-times'
            : null
    if (bad !== null) return await reply.code(400).send({ code: 'bad_request', description: bad })
    const matching = [...items.values()].reverse().filter((item) => item.botId === request.params.botId &&
      (q.messageId === undefined || item.id === q.messageId) &&
      (q.elementName === undefined || item.elementName === q.elementName) &&
      (q.campaignId === undefined || item.campaignId === q.campaignId) &&
      (from === undefined || Date.parse(item.createdAt) >= from) &&
      (to === undefined || Date.parse(item.createdAt) <= to))
    const metadata = Object.fromEntries(SENT_STATES.map((state) => [state, 0])) as Record<SentStatus, number>
    for (const item of matching) metadata[item.sentStatus]++
    const results = matching.slice((page - 1) * limit, page * limit).map(({ botId: _botId, ...item }) => item)
    return { pagination: { page, limit, total: matching.length }, results, _metadata: metadata }
  })

  return {
    accepted (botId, elementName, created) {
      for (const { id, destination } of created) {
        const item: SandboxNotification = {
          id,
          botId,
          destination,
          elementName,
          campaignId: null,
          sentStatus: 'CREATED',
          createdAt: new Date().toISOString(),
          deliveryChannelAt: null,
          deliveryUserAt: null,
          readAt: null,
          error: null
        }
        items.set(id, item)
        if (items.size > maxNotifications) {
          const oldest = items.keys().next().value as string
          items.delete(oldest)
          answers.delete(oldest)
          clearTimeout(timers.get(oldest))
          timers.delete(oldest)
        }
        schedule(item, elementName === UNDELIVERABLE ? ['FAILED'] : ['DELIVERED_CHANNEL', 'DELIVERED_USER', 'READ'])
      }
    },
    list: () => structuredClone([...items.values()]).reverse(),
    replied (id, reply) {
      const item = items.get(id)
      // A message that failed never reached anyone to answer it.
      if (item === undefined || item.sentStatus === 'FAILED') return false
      // A reply is the last state: a tick still pending would move the message back to READ.
      clearTimeout(timers.get(id))
      timers.delete(id)
      const at = move(item, 'REPLY', reply)
      answers.set(id, [...(answers.get(id) ?? []), { ...reply, at }])
      return true
    },
    replies: () => structuredClone(answers),
    close () {
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
    }
  }
}
