// Redis stores, shared by every replica: an atomic claim (SET NX PX) for idempotency and a Lua fixed-window counter.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem, type Answer } from '../errors.js'
import type { Claim, CounterStore, IdempotencyStore } from './types.js'

interface Record {
  fingerprint: string
  answer: Answer | null
}

/** Keys name callers and phone numbers: Redis sees only their SHA-256. */
const hashed = (key: string) => createHash('sha256').update(key).digest('hex')

function unavailable (cause: unknown) {
  return problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer; nothing was sent.', { cause })
}

export function redisIdempotencyStore (redis: Redis, prefix: string): IdempotencyStore {
  const k = (key: string) => `${prefix}idem:${hashed(key)}`
  return {
    async claim (key, fingerprint, leaseMs): Promise<Claim> {
      try {
        for (let tries = 0; tries < 3; tries++) {
          const pending: Record = { fingerprint, answer: null }
          if (await redis.set(k(key), JSON.stringify(pending), 'PX', leaseMs, 'NX') === 'OK') return { state: 'claimed' }
          const raw = await redis.get(k(key))
          // Gone between SET NX and GET (expired or released): claim again.
          if (raw === null) continue
          const record = JSON.parse(raw) as Record
          return record.answer === null
            ? { state: 'in_flight', fingerprint: record.fingerprint }
            : { state: 'done', fingerprint: record.fingerprint, answer: record.answer }
        }
      } catch (error) {
        throw unavailable(error)
      }
      throw unavailable(new Error('idempotency key kept expiring while claimed'))
    },
    async complete (key, fingerprint, answer, ttlMs) {
      try {
        await redis.set(k(key), JSON.stringify({ fingerprint, answer } satisfies Record), 'PX', ttlMs)
      } catch (error) {
        throw unavailable(error)
      }
    },
    async release (key) {
      try {
        await redis.del(k(key))
      } catch (error) {
        throw unavailable(error)
      }
    }
  }
}

const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('PTTL', KEYS[1]) }`

export function redisCounterStore (redis: Redis, prefix: string): CounterStore {
  return {
    async hit (key, windowMs) {
      try {
        const [count, ttl] = await redis.eval(HIT, 1, `${prefix}rcpt:${hashed(key)}`, windowMs) as [number, number]
        return { count, resetMs: ttl > 0 ? ttl : windowMs }
      } catch (error) {
        throw unavailable(error)
      }
    }
  }
}
