// Redis stores, shared by every replica: an atomic Lua claim for idempotency (outcome-unknown claims remembered, writes fenced by holder), open attempts, and a Lua fixed-window counter.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem, type Answer } from '../errors.js'
import type { AttemptContext, Claim, CounterStore, IdempotencyStore, OpenAttempt } from './types.js'

/** Keys name callers and phone numbers: Redis sees only their SHA-256. */
const hashed = (key: string) => createHash('sha256').update(key).digest('hex')

function unavailable (cause: unknown) {
  return problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer; nothing was sent.', { cause })
}

/**
 * One hash per key: fp (fingerprint), holder (the request that holds it), lease (epoch ms the
 * hold lasts until), attempt and aid (what it sent and that attempt's id, set just before calling
 * Jelou), answer (the kept answer), open ("1" while the outcome is unknown). Taking a free key,
 * or the expired hold of an unknown outcome, is one atomic step.
 * Answers: {'claimed'} | {'taken', attempt, answer} | {'busy', fp} | {'seen', fp, answer}.
 */
const CLAIM = `
local k = KEYS[1]
local now = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if redis.call('EXISTS', k) == 0 then
  redis.call('HSET', k, 'fp', ARGV[1], 'holder', ARGV[4], 'lease', now + lease)
  redis.call('PEXPIRE', k, lease)
  return {'claimed'}
end
local r = redis.call('HMGET', k, 'fp', 'lease', 'attempt', 'answer', 'open')
local unknown = (not r[4]) or r[5] == '1'
if r[1] == ARGV[1] and r[3] and unknown and tonumber(r[2] or '0') <= now then
  redis.call('HSET', k, 'holder', ARGV[4], 'lease', now + lease)
  return {'taken', r[3], r[4] or ''}
end
if unknown then return {'busy', r[1] or ''} end
return {'seen', r[1] or '', r[4]}`

/** Extends the hold of ARGV[1]; an unmarked claim's key lives only as long as its hold. */
const RENEW = `
local r = redis.call('HMGET', KEYS[1], 'holder', 'attempt')
if r[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease', tonumber(ARGV[2]) + tonumber(ARGV[3]))
if not r[2] then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`

/** Compare-and-set: the holder is ARGV[1] and the recorded attempt is ARGV[4] ('' for none). */
const MARK = `
local r = redis.call('HMGET', KEYS[1], 'holder', 'aid', 'fp')
if not r[3] or r[1] ~= ARGV[1] or (r[2] or '') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'attempt', ARGV[2], 'aid', ARGV[3])
redis.call('HDEL', KEYS[1], 'answer', 'open')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`

/** Writes the answer unless another request holds the key; ARGV[5..6] set the open attempt. */
const COMPLETE = `
local h = redis.call('HGET', KEYS[1], 'holder')
if h and h ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'answer', ARGV[3], 'holder', ARGV[1], 'lease', '0')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'attempt', ARGV[5], 'aid', ARGV[6], 'open', '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`

const RELEASE = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`

/** Lets go of the hold on an open key without forgetting it: the next same-key request resolves it. */
const UNHOLD = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('HSET', KEYS[1], 'lease', '0') end
return 1`

export interface RedisStoreOptions {
  /** With Redis replicas: wait until this many replicas have each claim and mark before sending (Redis WAIT); 0 = off. */
  waitReplicas?: number
  waitTimeoutMs?: number
  /** The clock holds are measured by (tests inject one; Redis's own key expiry stays in real time). */
  now?: () => number
}

export function redisIdempotencyStore (redis: Redis, prefix: string, options: RedisStoreOptions = {}): IdempotencyStore {
  const { waitReplicas = 0, waitTimeoutMs = 1000, now = Date.now } = options
  // idem3: holder-fenced hashes (idem2 had no holder); old keys simply expire.
  const k = (key: string) => `${prefix}idem3:${hashed(key)}`
  const openKey = (group: string) => `${prefix}open:${hashed(group)}`

  /**
   * A claim or mark that the replicas did not all get is undone before anything is sent, so a
   * failover cannot lose it after a send: a fresh claim or a mark is released; an open key taken
   * for resolution is only let go (it must stay open).
   */
  async function replicated (key: string, holder: string, open = false) {
    if (waitReplicas === 0) return
    let acknowledged: number
    try {
      acknowledged = await redis.wait(waitReplicas, waitTimeoutMs)
    } catch (error) {
      throw unavailable(error)
    }
    if (acknowledged < waitReplicas) {
      await redis.eval(open ? UNHOLD : RELEASE, 1, k(key), holder).catch(() => {})
      throw problem('STORE_UNAVAILABLE', `The shared store (Redis) did not copy the key to ${waitReplicas} replica(s) in time; nothing was sent.`)
    }
  }

  return {
    async claim (key, fingerprint, holder, leaseMs): Promise<Claim> {
      let reply: string[]
      try {
        reply = await redis.eval(CLAIM, 1, k(key), fingerprint, now(), leaseMs, holder) as string[]
      } catch (error) {
        throw unavailable(error)
      }
      if (reply[0] === 'claimed' || reply[0] === 'taken') await replicated(key, holder, reply[0] === 'taken')
      if (reply[0] === 'claimed') return { state: 'claimed' }
      if (reply[0] === 'taken') {
        const answer = reply[2] === '' ? null : JSON.parse(reply[2] as string) as Answer
        return { state: 'unresolved', fingerprint, attempt: JSON.parse(reply[1] as string) as AttemptContext, answer }
      }
      return reply[0] === 'busy'
        ? { state: 'in_flight', fingerprint: reply[1] as string }
        : { state: 'done', fingerprint: reply[1] as string, answer: JSON.parse(reply[2] as string) as Answer }
    },
    async renew (key, holder, leaseMs) {
      try {
        return await redis.eval(RENEW, 1, k(key), holder, now(), leaseMs) === 1
      } catch {
        return false
      }
    },
    async mark (key, holder, attempt, previous, ttlMs) {
      let marked: boolean
      try {
        marked = await redis.eval(MARK, 1, k(key), holder, JSON.stringify(attempt), attempt.attemptId, previous ?? '', ttlMs) === 1
      } catch (error) {
        throw unavailable(error)
      }
      if (marked) await replicated(key, holder)
      return marked
    },
    async complete (key, holder, fingerprint, answer, ttlMs, unresolved) {
      try {
        return await redis.eval(COMPLETE, 1, k(key), holder, fingerprint, JSON.stringify(answer), ttlMs,
          unresolved === undefined ? '' : JSON.stringify(unresolved), unresolved?.attemptId ?? '') === 1
      } catch (error) {
        throw unavailable(error)
      }
    },
    async release (key, holder) {
      try {
        await redis.eval(RELEASE, 1, k(key), holder)
      } catch (error) {
        throw unavailable(error)
      }
    },
    async openAttempt (group, attempt, ttlMs) {
      try {
        const time = now()
        await redis.multi()
          .zremrangebyscore(openKey(group), '-inf', time)
          .zadd(openKey(group), time + ttlMs, `${attempt.attemptId}|${attempt.startedAt}`)
          .pexpire(openKey(group), ttlMs)
          .exec()
      } catch (error) {
        throw unavailable(error)
      }
    },
    async closeAttempt (group, attempt) {
      try {
        await redis.zrem(openKey(group), `${attempt.attemptId}|${attempt.startedAt}`)
      } catch {
        // Left open, the entry only makes a candidate ambiguous until it expires: the safe side.
      }
    },
    async openAttempts (group) {
      let members: string[]
      try {
        members = await redis.zrangebyscore(openKey(group), `(${now()}`, '+inf')
      } catch (error) {
        throw unavailable(error)
      }
      return members.map((member): OpenAttempt => {
        const bar = member.lastIndexOf('|')
        return { attemptId: member.slice(0, bar), startedAt: Number(member.slice(bar + 1)) }
      })
    }
  }
}

const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('PTTL', KEYS[1]) }`

/** Counters under `<prefix><space>:<sha256 of the key>`: `rcpt` (the recipient guard), `rl` (callers), `rl-events` (the events receiver's addresses). */
export function redisCounterStore (redis: Redis, prefix: string, space = 'rcpt'): CounterStore {
  return {
    async hit (key, windowMs) {
      try {
        const [count, ttl] = await redis.eval(HIT, 1, `${prefix}${space}:${hashed(key)}`, windowMs) as [number, number]
        return { count, resetMs: ttl > 0 ? ttl : windowMs }
      } catch (error) {
        throw unavailable(error)
      }
    }
  }
}
