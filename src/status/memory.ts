// In-memory status store for one process: bounded, oldest first out, every entry kept at most the message TTL.
import { OrderedMap } from '../stores/ordered.js'
import { attemptGroup, type IdempotencyStore } from '../stores/types.js'
import { EARLY_EVENTS_MAX, EARLY_EVENTS_TTL_MS, merge, type MessageBase, type MessageState, type StatusStore, type StatusUpdate } from './types.js'

interface Entry {
  state: MessageState
  expiresAt: number
}

/**
 * Entries live in write order (each write moves the entry to the back), so expired and oldest ones
 * are the oldest. Events for ids not recorded yet wait in `early`, bounded and short-lived, until
 * their send is recorded. Recording a send closes its open attempt in `attempts` (as the Redis
 * store's write does): the attempt leaves the open attempts exactly when its record is written.
 */
export function memoryStatusStore (maxRecords: number, ttlMs: number, now: () => number = Date.now, attempts?: Pick<IdempotencyStore, 'closeAttempt'>): StatusStore {
  const entries = new OrderedMap<Entry>()
  const early = new OrderedMap<Entry>()
  const refs = new Map<string, string[]>()
  const refKey = (caller: string, clientRef: string) => `${caller}\0${clientRef}`

  function forget (messageId: string, entry: Entry) {
    entries.delete(messageId)
    const base = entry.state.base
    if (base?.clientRef === undefined) return
    const key = refKey(base.caller, base.clientRef)
    const ids = refs.get(key)?.filter((id) => id !== messageId)
    if (ids === undefined || ids.length === 0) refs.delete(key)
    else refs.set(key, ids)
  }

  /** Newest acceptedAt among records dropped to make room before their TTL (see lostUntil). */
  let dropped = -Infinity

  function sweep (time: number) {
    for (let oldest = entries.oldest(); oldest !== undefined; oldest = entries.oldest()) {
      if (oldest[1].expiresAt > time && entries.size < maxRecords) break
      const base = oldest[1].state.base
      if (oldest[1].expiresAt > time && base !== undefined) dropped = Math.max(dropped, base.acceptedAt)
      forget(oldest[0], oldest[1])
    }
  }

  function live (messageId: string, time: number): Entry | undefined {
    const entry = entries.get(messageId)
    return entry !== undefined && entry.expiresAt > time ? entry : undefined
  }

  function put (messageId: string, entry: Entry, time: number) {
    entry.expiresAt = time + ttlMs
    entries.set(messageId, entry)
  }

  function sweepEarly (time: number) {
    for (let oldest = early.oldest(); oldest !== undefined; oldest = early.oldest()) {
      if (oldest[1].expiresAt > time && early.size < EARLY_EVENTS_MAX) break
      early.delete(oldest[0])
    }
  }

  return {
    record (base: MessageBase) {
      const time = now()
      sweep(time)
      const waiting = early.get(base.messageId)
      if (waiting !== undefined) early.delete(base.messageId)
      const entry = live(base.messageId, time) ?? (waiting !== undefined && waiting.expiresAt > time ? waiting : undefined) ?? { state: { steps: {}, source: 'send', checkedAt: base.acceptedAt }, expiresAt: 0 }
      entry.state.base = base
      // A scheduled send's own record has not been accepted by Jelou: it has no steps until it is sent.
      if (base.schedule === undefined) entry.state.steps.accepted ??= base.acceptedAt
      put(base.messageId, entry, time)
      // A scheduled send's record lives its TTL past its sendAt, so it stays cancellable.
      if (base.schedule !== undefined) entry.expiresAt += Math.max(0, base.schedule.sendAt - time)
      if (base.clientRef !== undefined) {
        const key = refKey(base.caller, base.clientRef)
        const ids = refs.get(key)
        if (ids === undefined) refs.set(key, [base.messageId])
        else if (!ids.includes(base.messageId)) ids.push(base.messageId)
      }
      if (base.attemptId !== undefined) attempts?.closeAttempt(attemptGroup(base.botId, base.template, base.to), { attemptId: base.attemptId, startedAt: base.acceptedAt }).catch(() => {})
    },
    async apply (messageId: string, update: StatusUpdate) {
      const time = now()
      sweep(time)
      const entry = live(messageId, time)
      if (entry === undefined) {
        sweepEarly(time)
        const waiting = early.get(messageId) ?? { state: { steps: {}, source: update.source, checkedAt: 0 }, expiresAt: time + EARLY_EVENTS_TTL_MS }
        const changed = merge(waiting.state, update)
        // Not moved to the back on a repeat: an early entry lives EARLY_EVENTS_TTL_MS from its first event.
        if (early.get(messageId) === undefined) early.set(messageId, waiting)
        return changed
      }
      const changed = merge(entry.state, update)
      put(messageId, entry, time)
      return changed
    },
    async get (messageId: string) {
      const entry = live(messageId, now())
      return entry === undefined ? undefined : structuredClone(entry.state)
    },
    async byClientRef (caller: string, clientRef: string) {
      const time = now()
      return (refs.get(refKey(caller, clientRef)) ?? []).filter((id) => live(id, time) !== undefined)
    },
    async transition (messageId, from, to, at) {
      const schedule = live(messageId, now())?.state.base?.schedule
      if (schedule?.state !== from) return false
      schedule.state = to
      schedule.at = at
      return true
    },
    async flush () { return true },
    // Past the TTL (every write renews it, so a live record was accepted after now - ttlMs), or dropped when full.
    lostUntil: () => Math.max(dropped, now() - ttlMs)
  }
}
