// In-memory stores for one process: bounded idempotency records and per-key fixed-window counters.
import { problem, type Answer } from '../errors.js'
import { OrderedMap } from './ordered.js'
import type { AttemptContext, Claim, CounterStore, IdempotencyStore } from './types.js'

/** A send in flight: who holds the key, until when. */
interface Lease {
  fingerprint: string
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
  expiresAt: number
  /** Set once the attempt calls Jelou, and kept with an outcome-unknown answer. */
  attempt?: AttemptContext
  /** Outcome unknown: the next claim after `leaseUntil` resolves it. */
  open?: boolean
  leaseUntil?: number
}

/**
 * Leases and kept records live in two ordered maps. Within each, every record has the same
 * lifetime (the sender passes one lease length and one TTL), so insertion order is expiry order
 * and a sweep from the oldest stops at the first live record. In one map, a 25 s lease written
 * after a 24 h answer would hide behind it and outlive its expiry. (`OrderedMap`, not `Map`: see
 * `./ordered.ts` for what finding the oldest costs in a Map.)
 *
 * When full, the oldest finished answer is dropped; a lease or a marked attempt never is, since
 * dropping it could let a retry send twice: a store full of them refuses new keys with 503
 * OVERLOADED (nothing sent).
 */
export function memoryIdempotencyStore (maxKeys: number, now: () => number = Date.now): IdempotencyStore & { size: () => number } {
  const leases = new OrderedMap<Lease>()
  const kept = new OrderedMap<Kept>()

  function sweep<R extends { expiresAt: number }> (records: OrderedMap<R>, time: number) {
    for (let oldest = records.oldest(); oldest !== undefined && oldest[1].expiresAt <= time; oldest = records.oldest()) {
      records.delete(oldest[0])
    }
  }

  function makeRoom () {
    for (const [key, record] of kept.entries()) {
      if (record.answer !== null) {
        kept.delete(key)
        return
      }
    }
    throw problem('OVERLOADED', 'Too many sends with an Idempotency-Key are in flight; nothing was sent.', { retryAfterSeconds: 1 })
  }

  return {
    async claim (key, fingerprint, leaseMs): Promise<Claim> {
      const time = now()
      sweep(leases, time)
      sweep(kept, time)
      const record = kept.get(key)
      if (record !== undefined) {
        const answer = record.answer === null ? null : JSON.parse(record.answer) as Answer
        if (record.fingerprint === fingerprint && record.attempt !== undefined && (answer === null || record.open === true) && (record.leaseUntil ?? 0) <= time) {
          record.leaseUntil = time + leaseMs
          return { state: 'unresolved', fingerprint, attempt: record.attempt, answer }
        }
        return answer === null
          ? { state: 'in_flight', fingerprint: record.fingerprint }
          : { state: 'done', fingerprint: record.fingerprint, answer }
      }
      const lease = leases.get(key)
      if (lease !== undefined) return { state: 'in_flight', fingerprint: lease.fingerprint }
      if (leases.size + kept.size >= maxKeys) makeRoom()
      leases.set(key, { fingerprint, expiresAt: time + leaseMs })
      return { state: 'claimed' }
    },
    async mark (key, attempt, ttlMs) {
      const time = now()
      const lease = leases.get(key)
      const record = kept.get(key)
      if (lease !== undefined) {
        leases.delete(key)
        kept.set(key, { fingerprint: lease.fingerprint, answer: null, expiresAt: time + ttlMs, attempt, leaseUntil: lease.expiresAt })
      } else if (record !== undefined) {
        kept.set(key, { ...record, attempt, expiresAt: time + ttlMs })
      }
    },
    async complete (key, fingerprint, answer, ttlMs, unresolved) {
      leases.delete(key)
      const expiresAt = now() + ttlMs
      kept.set(key, unresolved === undefined
        ? { fingerprint, answer: JSON.stringify(answer), expiresAt }
        : { fingerprint, answer: JSON.stringify(answer), expiresAt, attempt: unresolved, open: true, leaseUntil: 0 })
    },
    async release (key) {
      leases.delete(key)
      kept.delete(key)
    },
    size: () => leases.size + kept.size
  }
}

export function memoryCounterStore (now: () => number = Date.now): CounterStore {
  const windows = new OrderedMap<{ count: number, resetAt: number }>()
  return {
    async hit (key, windowMs) {
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
