// Message status model (SPEC §18): steps seen per message; the status is derived from them, so it only moves forward.

export const STATUSES = ['accepted', 'delivered_channel', 'delivered_user', 'read', 'replied', 'failed'] as const
export type Status = typeof STATUSES[number]

/** Where the latest news about a message came from: its own send, a pushed event, or a poll of Jelou's notifications. */
export type Source = 'send' | 'event' | 'jelou'

/** Meta's reason for a failed message, as Jelou reports it. */
export interface Failure {
  code?: number | string
  message?: string
}

/** What the send knew when Jelou accepted the message. */
export interface MessageBase {
  messageId: string
  /** The attempt Jelou returned this id to (or that resolution proved it belongs to): resolution's proof that the id is that attempt's own. */
  attemptId?: string
  caller: string
  botId: string
  template: string
  kind: string
  /** The normalized number. */
  to: string
  acceptedAt: number
  requestId: string
  clientRef?: string
  /** True when the id was found by resolving an outcome-unknown send rather than from Jelou's answer. */
  resolved?: boolean
  /** True when this send went out again after an earlier attempt's message was proven absent. */
  resent?: boolean
  /** Where the message's callbacks go (SPEC §21). */
  callbackUrl?: string
  /** Set on a scheduled send's own record (its id is this service's, `sch-…`): when, and where it stands. */
  schedule?: Schedule
  /** Set on the message a scheduled send became: the schedule's id. */
  scheduleId?: string
}

export type ScheduleState = 'scheduled' | 'sending' | 'sent' | 'cancelled' | 'expired' | 'failed'

export interface Schedule {
  /** Epoch ms. */
  sendAt: number
  state: ScheduleState
  /** Jelou's id once sent. */
  messageId?: string
  /** Why it ended failed (a problem code) or expired. */
  code?: string
  detail?: string
  /** Epoch ms of the last change of state. */
  at: number
}

/** What the customer answered (Jelou's `reply` event): the text typed, or the quick-reply button's payload and label. */
export interface Reply {
  text?: string
  payload?: string
}

/** Everything stored about one message id; `base` is missing while only events have arrived (early events). */
export interface MessageState {
  base?: MessageBase
  /** Epoch ms of each step seen. The first report of a step wins. */
  steps: Partial<Record<Status, number>>
  failure?: Failure
  reply?: Reply
  source: Source
  /** Epoch ms of the latest news or confirmation. */
  checkedAt: number
}

/** News about one message: the steps it reached (with their times), and Meta's reason when it failed. */
export interface StatusUpdate {
  steps: Partial<Record<Status, number>>
  failure?: Failure
  reply?: Reply
  source: Source
  at: number
}

/**
 * Events for ids with no record yet (an event that beat the send's answer, or another sender's
 * message on the same bot: a Notification URL is per bot) wait in an area of their own, this
 * long at most and (in memory) this many at most, so they never push out a real record.
 */
export const EARLY_EVENTS_TTL_MS = 10 * 60 * 1000
export const EARLY_EVENTS_MAX = 1000

export interface StatusStore {
  /** Records an accepted send. Synchronous and cheap: a shared store writes in the background, and a failed write never fails the send. */
  record: (base: MessageBase) => void
  /** Merges news; an update for an unknown id is kept until the send is recorded. Resolves to whether any step or reason was new. */
  apply: (messageId: string, update: StatusUpdate) => Promise<boolean>
  get: (messageId: string) => Promise<MessageState | undefined>
  /** Message ids a caller sent with this clientRef, oldest first. */
  byClientRef: (caller: string, clientRef: string) => Promise<string[]>
  /** Writes still queued for the shared store (flushed on close); false when one of them failed (the record may be missing). */
  flush: () => Promise<boolean>
  /**
   * Moves a scheduled send's record from one state to another in one step: false (nothing
   * written) when it is not in `from`. The run at sendAt (scheduled → sending) and a cancel
   * (scheduled → cancelled) both go through it, so exactly one of them wins.
   */
  transition: (messageId: string, from: ScheduleState, to: ScheduleState, at: number) => Promise<boolean>
  /**
   * Records of sends accepted at or before this time (epoch ms) may be gone while their messages
   * exist: dropped to make room, or past the TTL. Resolution cannot prove such a message unowned.
   */
  lostUntil?: () => number
}

const RANK: Record<Status, number> = { accepted: 0, delivered_channel: 1, delivered_user: 2, read: 3, replied: 4, failed: 2.5 }

/**
 * The status a set of steps amounts to: the furthest step. A failure counts unless the message
 * was read or replied to, which proves it arrived (a late failure report cannot undo that).
 */
export function statusOf (steps: Partial<Record<Status, number>>): Status {
  let best: Status = 'accepted'
  for (const status of STATUSES) {
    if (steps[status] !== undefined && RANK[status] > RANK[best]) best = status
  }
  return best
}

/** Final statuses are never refreshed from Jelou. */
export function isFinal (status: Status): boolean {
  return status === 'replied' || status === 'failed'
}

/** Merges `update` into `state` in place; true when a step or the failure reason was new. */
export function merge (state: MessageState, update: StatusUpdate): boolean {
  let changed = false
  for (const status of STATUSES) {
    const at = update.steps[status]
    if (at !== undefined && state.steps[status] === undefined) {
      state.steps[status] = at
      changed = true
    }
  }
  if (update.failure !== undefined && state.failure === undefined) {
    state.failure = update.failure
    changed = true
  }
  // The first answer is the reply (a later message of the customer is a conversation, not this template's reply).
  if (update.reply !== undefined && state.reply === undefined) {
    state.reply = update.reply
    changed = true
  }
  if (changed || update.source !== 'event') state.source = update.source
  state.checkedAt = Math.max(state.checkedAt, update.at)
  return changed
}
