// In-memory stores for one process: bounded idempotency records and per-key fixed-window counters.
import { problem, type Answer } from '../errors.js'
import type { Claim, CounterStore, IdempotencyStore } from './types.js'

interface Entry {
  fingerprint: string
  answer: Answer | null
  expiresAt: number
}

/**
 * Records live in a Map in expiry order (every write re-inserts), so expired ones are swept
 * from the front. When full, the oldest finished record is dropped; a record in flight never
 * is, since dropping it could let a retry send twice: a full store of in-flight records sheds load.
 */
export function memoryIdempotencyStore (maxKeys: number, now: () => number = Date.now): IdempotencyStore {
  const entries = new Map<string, Entry>()

  function sweep (time: number) {
    for (const [key, entry] of entries) {
      if (entry.expiresAt > time) break
      entries.delete(key)
    }
  }

  function makeRoom () {
    for (const [key, entry] of entries) {
      if (entry.answer !== null) {
        entries.delete(key)
        return
      }
    }
    throw problem('OVERLOADED', 'Too many sends with an Idempotency-Key are in flight; nothing was sent.')
  }

  function put (key: string, entry: Entry) {
    entries.delete(key)
    entries.set(key, entry)
  }

  return {
    async claim (key, fingerprint, leaseMs): Promise<Claim> {
      const time = now()
      sweep(time)
      const entry = entries.get(key)
      if (entry !== undefined && entry.expiresAt > time) {
        return entry.answer === null
          ? { state: 'in_flight', fingerprint: entry.fingerprint }
          : { state: 'done', fingerprint: entry.fingerprint, answer: entry.answer }
      }
      if (entries.size >= maxKeys) makeRoom()
      put(key, { fingerprint, answer: null, expiresAt: time + leaseMs })
      return { state: 'claimed' }
    },
    async complete (key, fingerprint, answer, ttlMs) {
      put(key, { fingerprint, answer, expiresAt: now() + ttlMs })
    },
    async release (key) {
      entries.delete(key)
    }
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
