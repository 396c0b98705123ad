// In-memory stores for one process: bounded idempotency records and per-key fixed-window counters.
import { problem, type Answer } from '../errors.js'
import type { Claim, CounterStore, IdempotencyStore } from './types.js'

/** A send in flight: who holds the key, until when. */
interface Lease {
  fingerprint: string
  expiresAt: number
}

/** A finished send kept for replay: the answer as its JSON text (one flat string, about a third of the object's heap). */
interface Kept {
  fingerprint: string
  answer: string
  expiresAt: number
}

/**
 * Leases and kept answers live in two Maps. Within each, every record has the same lifetime
 * (the sender passes one lease length and one TTL), so insertion order is expiry order and a
 * sweep from the front stops at the first live record. In one Map, a 25 s lease written after
 * a 24 h answer would hide behind it and outlive its expiry.
 *
 * When full, the oldest kept answer is dropped; a lease never is, since dropping it could let a
 * retry send twice: a store full of leases refuses new keys with 503 OVERLOADED (nothing sent).
 */
export function memoryIdempotencyStore (maxKeys: number, now: () => number = Date.now): IdempotencyStore & { size: () => number } {
  const leases = new Map<string, Lease>()
  const kept = new Map<string, Kept>()

  function sweep (records: Map<string, Lease | Kept>, time: number) {
    for (const [key, record] of records) {
      if (record.expiresAt > time) break
      records.delete(key)
    }
  }

  function makeRoom () {
    const oldest = kept.keys().next()
    if (oldest.done === true) {
      throw problem('OVERLOADED', 'Too many sends with an Idempotency-Key are in flight; nothing was sent.', { retryAfterSeconds: 1 })
    }
    kept.delete(oldest.value)
  }

  return {
    async claim (key, fingerprint, leaseMs): Promise<Claim> {
      const time = now()
      sweep(leases, time)
      sweep(kept, time)
      const done = kept.get(key)
      if (done !== undefined) return { state: 'done', fingerprint: done.fingerprint, answer: JSON.parse(done.answer) as Answer }
      const lease = leases.get(key)
      if (lease !== undefined) return { state: 'in_flight', fingerprint: lease.fingerprint }
      if (leases.size + kept.size >= maxKeys) makeRoom()
      leases.set(key, { fingerprint, expiresAt: time + leaseMs })
      return { state: 'claimed' }
    },
    async complete (key, fingerprint, answer, ttlMs) {
      leases.delete(key)
      kept.delete(key)
      kept.set(key, { fingerprint, answer: JSON.stringify(answer), expiresAt: now() + ttlMs })
    },
    async release (key) {
      leases.delete(key)
    },
    size: () => leases.size + kept.size
  }
}

export function memoryCounterStore (now: () => number = Date.now): CounterStore {
  const windows = new Map<string, { count: number, resetAt: number }>()
  return {
    async hit (key, windowMs) {
      const time = now()
      // Windows are created in time order and all have the same length: expired ones sit at the front.
      for (const [k, w] of windows) {
        if (w.resetAt > time) break
        windows.delete(k)
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
