// Redis stores, shared by every replica: an atomic Lua claim for idempotency (outcome-unknown claims remembered) and a Lua fixed-window counter.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem, type Answer } from '../errors.js'
import type { AttemptContext, Claim, CounterStore, IdempotencyStore } from './types.js'

/** Keys name callers and phone numbers: Redis sees only their SHA-256. */
const hashed = (key: string) => createHash('sha256').update(key).digest('hex')

function unavailable (cause: unknown) {
  return problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer; nothing was sent.', { cause })
}

/**
 * One hash per key: fp (fingerprint), lease (epoch ms the holder owns it until), attempt (what it
 * sent, set just before calling Jelou), answer (the kept answer), open ("1" while the outcome is
 * unknown). Taking a free key, or the expired lease of an unknown outcome, is one atomic step.
 * Answers: {'claimed'} | {'taken', attempt, answer} | {'seen', fp, answer}.
 */
const CLAIM = `
local k = KEYS[1]
local now = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if redis.call('EXISTS', k) == 0 then
  redis.call('HSET', k, 'fp', ARGV[1], 'lease', now + lease)
  redis.call('PEXPIRE', k, lease)
  return {'claimed'}
end
local r = redis.call('HMGET', k, 'fp', 'lease', 'attempt', 'answer', 'open')
if r[1] == ARGV[1] and r[3] and (not r[4] or r[5] == '1') and tonumber(r[2] or '0') <= now then
  redis.call('HSET', k, 'lease', now + lease)
  return {'taken', r[3], r[4] or ''}
end
return {'seen', r[1] or '', r[4] or ''}`

export function redisIdempotencyStore (redis: Redis, prefix: string): IdempotencyStore {
  // idem2: one hash per key (the first layout was one JSON string); old keys simply expire.
  const k = (key: string) => `${prefix}idem2:${hashed(key)}`
  return {
    async claim (key, fingerprint, leaseMs): Promise<Claim> {
      let reply: string[]
      try {
        reply = await redis.eval(CLAIM, 1, k(key), fingerprint, Date.now(), leaseMs) as string[]
      } catch (error) {
        throw unavailable(error)
      }
      if (reply[0] === 'claimed') return { state: 'claimed' }
      if (reply[0] === 'taken') {
        const answer = reply[2] === '' ? null : JSON.parse(reply[2] as string) as Answer
        return { state: 'unresolved', fingerprint, attempt: JSON.parse(reply[1] as string) as AttemptContext, answer }
      }
      return reply[2] === ''
        ? { state: 'in_flight', fingerprint: reply[1] as string }
        : { state: 'done', fingerprint: reply[1] as string, answer: JSON.parse(reply[2] as string) as Answer }
    },
    async mark (key, attempt, ttlMs) {
      try {
        await redis.multi().hset(k(key), 'attempt', JSON.stringify(attempt)).pexpire(k(key), ttlMs).exec()
      } catch (error) {
        throw unavailable(error)
      }
    },
    async complete (key, fingerprint, answer, ttlMs, unresolved) {
      try {
        const fields: string[] = ['fp', fingerprint, 'answer', JSON.stringify(answer), 'lease', '0']
        if (unresolved !== undefined) fields.push('attempt', JSON.stringify(unresolved), 'open', '1')
        await redis.multi().del(k(key)).hset(k(key), ...fields).pexpire(k(key), ttlMs).exec()
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
