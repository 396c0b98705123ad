// Status lookup (SPEC §18): the stored status, refreshed from Jelou's notifications when neither final nor fresh, marked stale when Jelou cannot answer.
import type { FastifyBaseLogger } from 'fastify'
import { updateFromItem, type NotificationsClient } from './jelou.js'
import { STATUSES, isFinal, statusOf, type MessageState, type Status, type StatusStore } from './types.js'

export type LookupSource = 'store' | 'refreshed' | 'stale'

export interface LookupOptions {
  store: StatusStore
  notifications: NotificationsClient
  /** A status checked this recently is answered from the store. */
  freshMs: number
  observe?: (source: LookupSource) => void
  now?: () => number
}

/** What a caller sees about one message. */
export interface MessageView {
  messageId: string
  status: Status | 'scheduled' | 'sending' | 'cancelled' | 'expired'
  /** A scheduled send: its id (`sch-…`) and when it goes out. */
  scheduleId?: string
  sendAt?: string
  steps: Partial<Record<Status, string>>
  failure?: { code?: number | string, message?: string }
  reply?: { text?: string, payload?: string }
  source: MessageState['source']
  checkedAt: string
  ageSeconds: number
  stale: boolean
  resolved: boolean
  kind: string
  template: string
  botId: string
  to: string
  clientRef?: string
  requestId: string
  statusUrl: string
}

export const statusUrlOf = (messageId: string) => `/v1/messages/${encodeURIComponent(messageId)}`

export function createLookup (options: LookupOptions) {
  const { store, notifications, freshMs, observe, now = Date.now } = options
  // Lookups of one message while its refresh is running share that refresh.
  const refreshing = new Map<string, Promise<boolean>>()

  /** True when Jelou answered (whether or not it had news). */
  async function refresh (messageId: string, botId: string, log: FastifyBaseLogger): Promise<boolean> {
    try {
      const page = await notifications.list(botId, { messageId })
      const item = page.items.find((candidate) => candidate.id === messageId)
      if (item !== undefined) await store.apply(messageId, updateFromItem(item, now()))
      return true
    } catch (error) {
      log.warn({ messageId, err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'message status refresh failed; answering the stored status as stale')
      return false
    }
  }

  /** The caller's message, or undefined when it is unknown, expired or another caller's. */
  async function lookup (messageId: string, caller: string, log: FastifyBaseLogger): Promise<MessageView | undefined> {
    let state = await store.get(messageId)
    if (state?.base === undefined || state.base.caller !== caller) return undefined
    const schedule = state.base.schedule
    if (schedule !== undefined) {
      // Once sent, a scheduled send is its message: that message's status, with the schedule's id and time.
      const sent = schedule.state === 'sent' && schedule.messageId !== undefined ? await lookup(schedule.messageId, caller, log) : undefined
      if (sent !== undefined) return sent
      return scheduleView(state, now())
    }
    let stale = false
    let source: LookupSource = 'store'
    if (!isFinal(statusOf(state.steps)) && now() - state.checkedAt > freshMs) {
      let pending = refreshing.get(messageId)
      if (pending === undefined) {
        pending = refresh(messageId, state.base.botId, log).finally(() => refreshing.delete(messageId))
        refreshing.set(messageId, pending)
      }
      if (await pending) {
        source = 'refreshed'
        state = await store.get(messageId) ?? state
      } else {
        source = 'stale'
        stale = true
      }
    }
    observe?.(source)
    return view(state, stale, now())
  }
  return lookup
}

/** A scheduled send that has not become a message (yet, or ever): its own state. */
function scheduleView (state: MessageState, time: number): MessageView {
  const base = state.base as NonNullable<MessageState['base']>
  const schedule = base.schedule as NonNullable<MessageState['base']>['schedule'] & object
  const result: MessageView = {
    ...view(state, false, time),
    status: schedule.state === 'sent' ? 'accepted' : schedule.state,
    checkedAt: new Date(schedule.at).toISOString(),
    ageSeconds: Math.max(0, Math.round((time - schedule.at) / 1000)),
    scheduleId: base.messageId,
    sendAt: new Date(schedule.sendAt).toISOString()
  }
  if (schedule.code !== undefined && (schedule.state === 'failed' || schedule.state === 'expired')) result.failure = { code: schedule.code, message: schedule.detail }
  return result
}

function view (state: MessageState, stale: boolean, time: number): MessageView {
  const base = state.base as NonNullable<MessageState['base']>
  const steps: MessageView['steps'] = {}
  for (const status of STATUSES) {
    const at = state.steps[status]
    if (at !== undefined) steps[status] = new Date(at).toISOString()
  }
  const result: MessageView = {
    messageId: base.messageId,
    status: statusOf(state.steps),
    steps,
    source: state.source,
    checkedAt: new Date(state.checkedAt).toISOString(),
    ageSeconds: Math.max(0, Math.round((time - state.checkedAt) / 1000)),
    stale,
    resolved: base.resolved === true,
    kind: base.kind,
    template: base.template,
    botId: base.botId,
    to: base.to,
    requestId: base.requestId,
    statusUrl: statusUrlOf(base.messageId)
  }
  if (state.failure !== undefined) result.failure = state.failure
  if (state.reply !== undefined) result.reply = state.reply
  if (base.scheduleId !== undefined) result.scheduleId = base.scheduleId
  if (base.clientRef !== undefined) result.clientRef = base.clientRef
  return result
}
