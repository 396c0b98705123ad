// In-memory stores for one process: bounded idempotency records, open attempts and the recipient guard's fixed-window counters.
import { problem, type Answer } from '../errors.js'
import { OrderedMap } from './ordered.js'
import type { AttemptContext, Began, Claim, CounterStore, IdempotencyStore, OpenAttempt } from './types.js'

/** A send in flight: who holds the key, until when. */
interface Lease {
  fingerprint: string
  holder: string
  expiresAt: number
}

/**
 * A key whose send reached Jelou: a finished answer kept for replay (as its JSON text, one flat
 * string, about a third of the object's heap), or an attempt marked just before Jelou was called
 * (`answer` null) so that a replica's crash leaves something to resolve.
 */
interface Kept {
  fingerprint: string
  answer: string | null
  keptAt: number
  expiresAt: number
  /** Set once the attempt calls Jelou, and kept with an outcome-unknown answer. */
  attempt?: AttemptContext
  /** Outcome unknown: the next claim after `leaseUntil` resolves it. */
  open?: boolean
  holder?: string
  leaseUntil?: number
}

/** Whether the record still matters to resolution: an attempt in flight or an outcome not yet known. */
const unresolved = (record: Kept) => record.answer === null || record.open === true

export interface MemoryIdempotencyStore extends IdempotencyStore {
  size: () => number
  /** Unexpired answers dropped to make room, since start. */
  dropped: () => number
  /** How long answers really stay replayable: `ttlMs`, or less when answers were dropped within the last `ttlMs`. */
  replayWindowMs: (ttlMs: number) => number
}

export interface MemoryStoreOptions {
  now?: () => number
  /** Called when an unexpired answer is dropped to make room, with its age. */
  onDrop?: (ageMs: number) => void
  /** The per-caller limit's counters, where begin counts a send route's caller (BeginSend.caller). */
  callers?: MemoryCounterStore
}

/**
 * Leases and kept records live in two ordered maps. Within each, records mostly have the same
 * lifetime (the sender passes one lease length and one TTL), so insertion order is expiry order
 * and a sweep from the oldest stops at the first live record. In one map, a 25 s lease written
 * after a 24 h answer would hide behind it and outlive its expiry. (`OrderedMap`, not `Map`: see
 * `./ordered.ts` for what finding the oldest costs in a Map.) The exception: a record whose
 * outcome is still unknown is kept twice the TTL, and finished answers behind it may outlast the
 * sweep; claim and makeRoom check each record's own expiry, so such an answer is never replayed
 * or counted as dropped.
 *
 * When full, the oldest finished answer is dropped (counted, and the effective replay window
 * shrinks); a lease, a marked attempt or an open outcome-unknown record never is, since dropping
 * it could let a retry send twice: a store full of them refuses new keys with 503 OVERLOADED
 * (nothing sent).
 */
export function memoryIdempotencyStore (maxKeys: number, options: MemoryStoreOptions = {}): MemoryIdempotencyStore {
  const { now = Date.now, onDrop, callers } = options
  const leases = new OrderedMap<Lease>()
  const kept = new OrderedMap<Kept>()
  const attempts = new OrderedMap<{ group: string, startedAt: number, expiresAt: number }>()
  const groups = new Map<string, Set<string>>()
  // The recipient guard's windows: counted in the same step as the claim and the mark (see begin).
  const windows = fixedWindows(now)
  let dropped = 0
  let lastDrop: { at: number, ageMs: number } | undefined

  function sweep<R extends { expiresAt: number }> (records: OrderedMap<R>, time: number, gone?: (key: string, record: R) => void) {
    for (let oldest = records.oldest(); oldest !== undefined && oldest[1].expiresAt <= time; oldest = records.oldest()) {
      records.delete(oldest[0])
      gone?.(oldest[0], oldest[1])
    }
  }

  function makeRoom (time: number) {
    for (const [key, record] of kept.entries()) {
      if (record.expiresAt <= time) {
        // An expired answer the sweep did not reach (behind an open record): not a drop.
        kept.delete(key)
        return
      }
      if (!unresolved(record)) {
        kept.delete(key)
        dropped++
        lastDrop = { at: time, ageMs: time - record.keptAt }
        onDrop?.(lastDrop.ageMs)
        return
      }
    }
    throw problem('OVERLOADED', 'Too many sends with an Idempotency-Key are in flight or unresolved; nothing was sent.', { retryAfterSeconds: 1 })
  }

  const indexKey = (group: string, attemptId: string) => `${group}\0${attemptId}`
  function forgetAttempt (group: string, attemptId: string) {
    const ids = groups.get(group)
    ids?.delete(attemptId)
    if (ids?.size === 0) groups.delete(group)
  }

  // Each step is synchronous, so `begin` runs its steps with nothing interleaved, as Redis runs a script.
  function claim (key: string, fingerprint: string, holder: string, leaseMs: number): Claim {
    const time = now()
    sweep(leases, time)
    sweep(kept, time)
    // Open records live twice the TTL of finished answers, so one can hide an expired answer from the sweep.
    let record = kept.get(key)
    if (record !== undefined && record.expiresAt <= time) {
      kept.delete(key)
      record = undefined
    }
    if (record !== undefined) {
      const answer = record.answer === null ? null : JSON.parse(record.answer) as Answer
      if (record.fingerprint === fingerprint && record.attempt !== undefined && unresolved(record) && (record.leaseUntil ?? 0) <= time) {
        record.holder = holder
        record.leaseUntil = time + leaseMs
        return { state: 'unresolved', fingerprint, attempt: record.attempt, answer }
      }
      return answer === null || record.open === true
        ? { state: 'in_flight', fingerprint: record.fingerprint }
        : { state: 'done', fingerprint: record.fingerprint, answer }
    }
    const lease = leases.get(key)
    if (lease !== undefined) return { state: 'in_flight', fingerprint: lease.fingerprint }
    if (leases.size + kept.size >= maxKeys) makeRoom(time)
    leases.set(key, { fingerprint, holder, expiresAt: time + leaseMs })
    return { state: 'claimed' }
  }

  /** Whether `holder` holds the key and its recorded attempt is `previous` (none: a claim not yet marked). */
  function fenced (key: string, holder: string, previous: string | undefined, time: number): boolean {
    if (previous === undefined) {
      const lease = leases.get(key)
      return lease !== undefined && lease.holder === holder && lease.expiresAt > time
    }
    const record = kept.get(key)
    return record !== undefined && record.expiresAt > time && record.holder === holder && record.attempt?.attemptId === previous
  }

  /** Records the attempt on a key `fenced` approved. */
  function mark (key: string, attempt: AttemptContext, ttlMs: number, time: number) {
    const lease = leases.get(key)
    if (lease !== undefined) {
      leases.delete(key)
      kept.set(key, { fingerprint: lease.fingerprint, answer: null, keptAt: time, expiresAt: time + ttlMs, attempt, holder: lease.holder, leaseUntil: lease.expiresAt })
      return
    }
    const record = kept.get(key) as Kept
    kept.set(key, { fingerprint: record.fingerprint, answer: null, keptAt: time, expiresAt: time + ttlMs, attempt, holder: record.holder, leaseUntil: record.leaseUntil })
  }

  function release (key: string, holder: string) {
    if (leases.get(key)?.holder === holder) leases.delete(key)
    if (kept.get(key)?.holder === holder) kept.delete(key)
  }

  function closeAttempt (group: string, attempt: OpenAttempt) {
    attempts.delete(indexKey(group, attempt.attemptId))
    forgetAttempt(group, attempt.attemptId)
  }

  return {
    async claim (key, fingerprint, holder, leaseMs) {
      return claim(key, fingerprint, holder, leaseMs)
    },
    async renew (key, holder, leaseMs) {
      const time = now()
      const lease = leases.get(key)
      if (lease !== undefined && lease.expiresAt > time) {
        if (lease.holder !== holder) return false
        // Every lease has the same length, so a renewed one moves to the back: insertion order stays expiry order.
        leases.set(key, { ...lease, expiresAt: time + leaseMs })
        return true
      }
      const record = kept.get(key)
      if (record === undefined || record.expiresAt <= time || record.holder !== holder) return false
      record.leaseUntil = time + leaseMs
      return true
    },
    async begin ({ recipient, group, open, ttlMs, key, caller }): Promise<Began> {
      if (caller !== undefined && callers !== undefined) {
        const counted = callers.hitNow(caller.key, caller.windowMs)
        caller.counted(counted)
        if (counted.count > caller.max) return { state: 'caller_limited' }
      }
      if (key?.claim !== undefined) {
        const found = claim(key.key, key.claim.fingerprint, key.holder, key.claim.leaseMs)
        if (found.state !== 'claimed') return { state: 'claim', claim: found }
      } else if (key !== undefined && !fenced(key.key, key.holder, key.previous, now())) {
        return { state: 'lost' }
      }
      const window = windows.hit(recipient.to, recipient.windowMs)
      if (window.count > recipient.max) {
        if (key?.claim !== undefined) release(key.key, key.holder)
        return { state: 'limited', resetMs: window.resetMs }
      }
      const time = now()
      if (key !== undefined) mark(key.key, key.attempt, ttlMs, time)
      sweep(attempts, time, (indexed, entry) => { forgetAttempt(entry.group, indexed.slice(entry.group.length + 1)) })
      attempts.set(indexKey(group, open.attemptId), { group, startedAt: open.startedAt, expiresAt: time + ttlMs })
      let ids = groups.get(group)
      if (ids === undefined) groups.set(group, ids = new Set())
      ids.add(open.attemptId)
      return { state: 'started' }
    },
    async complete (key, holder, fingerprint, answer, ttlMs, open) {
      const time = now()
      const lease = leases.get(key)
      const record = kept.get(key)
      const current = lease !== undefined && lease.expiresAt > time ? lease.holder : record !== undefined && record.expiresAt > time ? record.holder : undefined
      if (current !== undefined && current !== holder) return false
      leases.delete(key)
      const expiresAt = time + ttlMs
      kept.set(key, open === undefined
        ? { fingerprint, answer: JSON.stringify(answer), keptAt: time, expiresAt, holder }
        : { fingerprint, answer: JSON.stringify(answer), keptAt: time, expiresAt, attempt: open, open: true, holder, leaseUntil: 0 })
      return true
    },
    async release (key, holder) {
      release(key, holder)
    },
    async closeAttempt (group, attempt) {
      closeAttempt(group, attempt)
    },
    async openAttempts (group) {
      const time = now()
      const open: OpenAttempt[] = []
      for (const attemptId of groups.get(group) ?? []) {
        const entry = attempts.get(indexKey(group, attemptId))
        if (entry !== undefined && entry.expiresAt > time) open.push({ attemptId, startedAt: entry.startedAt })
      }
      return open
    },
    size: () => leases.size + kept.size,
    dropped: () => dropped,
    replayWindowMs (ttlMs) {
      return lastDrop === undefined || now() - lastDrop.at >= ttlMs ? ttlMs : Math.min(ttlMs, lastDrop.ageMs)
    }
  }
}

/** Per-key fixed windows, each starting with its key's first hit. */
function fixedWindows (now: () => number) {
  const windows = new OrderedMap<{ count: number, resetAt: number }>()
  return {
    hit (key: string, windowMs: number) {
      const time = now()
      // Windows are created in time order and all have the same length: expired ones are the oldest.
      for (let oldest = windows.oldest(); oldest !== undefined && oldest[1].resetAt <= time; oldest = windows.oldest()) {
        windows.delete(oldest[0])
      }
      let window = windows.get(key)
      if (window === undefined) {
        window = { count: 0, resetAt: time + windowMs }
        windows.set(key, window)
      }
      window.count++
      return { count: window.count, resetMs: window.resetAt - time }
    }
  }
}

export interface MemoryCounterStore extends CounterStore {
  /** hit, answered at once (a send's begin counts its caller in the same synchronous step). */
  hitNow: (key: string, windowMs: number) => { count: number, resetMs: number }
}

export function memoryCounterStore (now: () => number = Date.now): MemoryCounterStore {
  const windows = fixedWindows(now)
  return {
    async hit (key, windowMs) {
      return windows.hit(key, windowMs)
    },
    hitNow: windows.hit
  }
}
