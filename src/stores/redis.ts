// Redis store shared by every replica: idempotency keys (outcome-unknown claims remembered, writes fenced by holder), open attempts and the recipient guard's counters, written before a send in one Lua script.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem, type Answer } from '../errors.js'
import { CALLER_SPACE, type AttemptContext, type Began, type Claim, type CounterStore, type IdempotencyStore, type OpenAttempt } from './types.js'

/** Keys name callers and phone numbers: Redis sees only their SHA-256. */
const hashed = (key: string) => createHash('sha256').update(key).digest('hex')

const counterStoreKey = (prefix: string, space: string, key: string) => `${prefix}${space}:${hashed(key)}`

function unavailable (cause: unknown) {
  return problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer; nothing was sent.', { cause })
}

/**
 * A Lua script run by its SHA-1 (EVALSHA): the text goes to Redis only when Redis does not have
 * it (NOSCRIPT: the first call after Redis started, restarted or failed over), not on every call.
 * The same as ioredis's defineCommand, without adding commands to the shared client.
 */
export function luaScript (lua: string) {
  const sha = createHash('sha1').update(lua).digest('hex')
  return {
    sha,
    lua,
    async run (redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args)
      } catch (error) {
        if (!isNoScript(error)) throw error
        return await redis.eval(lua, keys.length, ...keys, ...args)
      }
    }
  }
}

export const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT')

/** The open-attempts index of one group (bot, template, number): a sorted set of `attemptId|startedAt` scored by expiry. */
export const openAttemptsKey = (prefix: string, group: string) => `${prefix}open:${hashed(group)}`

/**
 * One hash per key: fp (fingerprint), holder (the request that holds it), lease (epoch ms the
 * hold lasts until), attempt and aid (what it sent and that attempt's id, set just before calling
 * Jelou), answer (the kept answer), open ("1" while the outcome is unknown). Taking a free key,
 * or the expired hold of an unknown outcome, is one atomic step: `take` leaves a free key held
 * (fp, holder, lease; no expiry yet) and answers nil, else answers what the key holds:
 * {'taken', attempt, answer} (an unknown outcome, now held by this request to resolve it) |
 * {'busy', fp} | {'seen', fp, answer}.
 */
const TAKE = `
local function take (k, fp, holder, now, lease)
  if redis.call('EXISTS', k) == 0 then
    redis.call('HSET', k, 'fp', fp, 'holder', holder, 'lease', now + lease)
    return nil
  end
  local r = redis.call('HMGET', k, 'fp', 'lease', 'attempt', 'answer', 'open')
  local unknown = (not r[4]) or r[5] == '1'
  if r[1] == fp and r[3] and unknown and tonumber(r[2] or '0') <= now then
    redis.call('HSET', k, 'holder', holder, 'lease', now + lease)
    return {'taken', r[3], r[4] or ''}
  end
  if unknown then return {'busy', r[1] or ''} end
  return {'seen', r[1] or '', r[4]}
end`

/** Answers {'claimed'} or what take found; an unmarked claim's key lives only as long as its hold. */
const CLAIM = luaScript(`${TAKE}
local r = take(KEYS[1], ARGV[1], ARGV[4], tonumber(ARGV[2]), tonumber(ARGV[3]))
if r then return r end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'claimed'}`)

/**
 * Everything a send writes before it calls Jelou (IdempotencyStore.begin), in one step.
 * KEYS: the recipient's counter, the group's open attempts, the caller's counter (counted only
 * when ARGV[6] is not 0), and with a key, the key.
 * ARGV: now, window ms, max, open member, TTL of the open entry and the marked key, the caller's
 * limit (0: not counted here) and window ms; with a key: 'claim' or 'held', holder, attempt JSON,
 * attempt id, then the fingerprint and lease ms ('claim') or the recorded attempt id it must
 * still have, '' for none ('held': the fenced mark).
 * Answers {'caller'} | {'started'} | {'limited', pttl} | {'lost'} | what take found, followed by
 * the caller's count and PTTL when it was counted.
 */
const BEGIN = luaScript(`${TAKE}
local now = tonumber(ARGV[1])
local function step ()
  local k = KEYS[4]
  local claimed = false
  if k then
    if ARGV[8] == 'claim' then
      local r = take(k, ARGV[12], ARGV[9], now, tonumber(ARGV[13]))
      if r then return r end
      claimed = true
    else
      local r = redis.call('HMGET', k, 'holder', 'aid', 'fp')
      if not r[3] or r[1] ~= ARGV[9] or (r[2] or '') ~= ARGV[12] then return {'lost'} end
    end
  end
  local count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  if count > tonumber(ARGV[3]) then
    if claimed then redis.call('DEL', k) end
    return {'limited', redis.call('PTTL', KEYS[1])}
  end
  if k then
    redis.call('HSET', k, 'attempt', ARGV[10], 'aid', ARGV[11])
    redis.call('HDEL', k, 'answer', 'open')
    redis.call('PEXPIRE', k, ARGV[5])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  return {'started'}
end
local callerMax = tonumber(ARGV[6])
if callerMax == 0 then return step() end
local calls = redis.call('INCR', KEYS[3])
if calls == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[7]) end
local ttl = redis.call('PTTL', KEYS[3])
local r = calls > callerMax and {'caller'} or step()
r[#r + 1] = calls
r[#r + 1] = ttl
return r`)

/** Extends the hold of ARGV[1]; an unmarked claim's key lives only as long as its hold. */
const RENEW = luaScript(`
local r = redis.call('HMGET', KEYS[1], 'holder', 'attempt')
if r[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease', tonumber(ARGV[2]) + tonumber(ARGV[3]))
if not r[2] then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`)

/** Writes the answer unless another request holds the key; ARGV[5..6] set the open attempt. */
const COMPLETE = luaScript(`
local h = redis.call('HGET', KEYS[1], 'holder')
if h and h ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'answer', ARGV[3], 'holder', ARGV[1], 'lease', '0')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'attempt', ARGV[5], 'aid', ARGV[6], 'open', '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

const RELEASE = luaScript(`
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`)

/** Lets go of the hold on an open key without forgetting it: the next same-key request resolves it. */
const UNHOLD = luaScript(`
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('HSET', KEYS[1], 'lease', '0') end
return 1`)

export interface RedisStoreOptions {
  /** With Redis replicas: wait until this many replicas have each claim and mark before sending (Redis WAIT); 0 = off. */
  waitReplicas?: number
  waitTimeoutMs?: number
  /** The clock holds are measured by (tests inject one; Redis's own key expiry stays in real time). */
  now?: () => number
}

const member = (attempt: OpenAttempt) => `${attempt.attemptId}|${attempt.startedAt}`

export function redisIdempotencyStore (redis: Redis, prefix: string, options: RedisStoreOptions = {}): IdempotencyStore {
  const { waitReplicas = 0, waitTimeoutMs = 1000, now = Date.now } = options
  // idem3: holder-fenced hashes (idem2 had no holder); old keys simply expire.
  const k = (key: string) => `${prefix}idem3:${hashed(key)}`
  const openKey = (group: string) => openAttemptsKey(prefix, group)
  const counterKey = (to: string) => `${prefix}rcpt:${hashed(to)}`
  const callerKey = (caller: string) => counterStoreKey(prefix, CALLER_SPACE, caller)

  /**
   * A claim or mark that the replicas did not all get is undone before anything is sent, so a
   * failover cannot lose it after a send: a fresh claim or a mark is released (and its open
   * attempt closed); an open key taken for resolution is only let go (it must stay open).
   */
  async function replicated (key: string, holder: string, undo: 'release' | 'unhold', open?: { group: string, attempt: OpenAttempt }) {
    if (waitReplicas === 0) return
    let acknowledged: number
    try {
      acknowledged = await redis.wait(waitReplicas, waitTimeoutMs)
    } catch (error) {
      throw unavailable(error)
    }
    if (acknowledged < waitReplicas) {
      await (undo === 'unhold' ? UNHOLD : RELEASE).run(redis, [k(key)], [holder]).catch(() => {})
      if (open !== undefined) await redis.zrem(openKey(open.group), member(open.attempt)).catch(() => {})
      throw problem('STORE_UNAVAILABLE', `The shared store (Redis) did not copy the key to ${waitReplicas} replica(s) in time; nothing was sent.`)
    }
  }

  /** A reply of take: what the key holds (a held unknown outcome is waited for as a claim is). */
  async function found (reply: string[], key: string, holder: string, fingerprint: string): Promise<Exclude<Claim, { state: 'claimed' }>> {
    if (reply[0] === 'taken') {
      await replicated(key, holder, 'unhold')
      const answer = reply[2] === '' ? null : JSON.parse(reply[2] as string) as Answer
      return { state: 'unresolved', fingerprint, attempt: JSON.parse(reply[1] as string) as AttemptContext, answer }
    }
    return reply[0] === 'busy'
      ? { state: 'in_flight', fingerprint: reply[1] as string }
      : { state: 'done', fingerprint: reply[1] as string, answer: JSON.parse(reply[2] as string) as Answer }
  }

  return {
    async claim (key, fingerprint, holder, leaseMs): Promise<Claim> {
      let reply: string[]
      try {
        reply = await CLAIM.run(redis, [k(key)], [fingerprint, now(), leaseMs, holder]) as string[]
      } catch (error) {
        throw unavailable(error)
      }
      if (reply[0] !== 'claimed') return await found(reply, key, holder, fingerprint)
      await replicated(key, holder, 'release')
      return { state: 'claimed' }
    },
    async renew (key, holder, leaseMs) {
      try {
        return await RENEW.run(redis, [k(key)], [holder, now(), leaseMs]) === 1
      } catch {
        return false
      }
    },
    async begin ({ recipient, group, open, ttlMs, key, caller }): Promise<Began> {
      const recipientKey = counterKey(recipient.to)
      const keys = [recipientKey, openKey(group), caller === undefined ? recipientKey : callerKey(caller.key)]
      const args: Array<string | number> = [now(), recipient.windowMs, recipient.max, member(open), ttlMs, caller?.max ?? 0, caller?.windowMs ?? 0]
      if (key !== undefined) {
        keys.push(k(key.key))
        args.push(key.claim === undefined ? 'held' : 'claim', key.holder, JSON.stringify(key.attempt), key.attempt.attemptId)
        if (key.claim === undefined) args.push(key.previous ?? '')
        else args.push(key.claim.fingerprint, key.claim.leaseMs)
      }
      let reply: Array<string | number>
      try {
        reply = await BEGIN.run(redis, keys, args) as Array<string | number>
      } catch (error) {
        throw unavailable(error)
      }
      if (caller !== undefined) {
        const ttl = reply.pop() as number
        caller.counted({ count: reply.pop() as number, resetMs: ttl > 0 ? ttl : caller.windowMs })
      }
      if (reply[0] === 'caller') return { state: 'caller_limited' }
      if (reply[0] === 'lost') return { state: 'lost' }
      if (reply[0] === 'limited') {
        const ttl = reply[1] as number
        return { state: 'limited', resetMs: ttl > 0 ? ttl : recipient.windowMs }
      }
      if (key === undefined) return { state: 'started' }
      if (reply[0] !== 'started') return { state: 'claim', claim: await found(reply as string[], key.key, key.holder, key.claim?.fingerprint ?? '') }
      await replicated(key.key, key.holder, 'release', { group, attempt: open })
      return { state: 'started' }
    },
    async complete (key, holder, fingerprint, answer, ttlMs, unresolved) {
      try {
        return await COMPLETE.run(redis, [k(key)], [holder, fingerprint, JSON.stringify(answer), ttlMs,
          unresolved === undefined ? '' : JSON.stringify(unresolved), unresolved?.attemptId ?? '']) === 1
      } catch (error) {
        throw unavailable(error)
      }
    },
    async release (key, holder) {
      try {
        await RELEASE.run(redis, [k(key)], [holder])
      } catch (error) {
        throw unavailable(error)
      }
    },
    async closeAttempt (group, attempt) {
      try {
        await redis.zrem(openKey(group), member(attempt))
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

const HIT = luaScript(`
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('PTTL', KEYS[1]) }`)

/** Request limits' counters under `<prefix><space>:<sha256 of the key>`: `rl` (callers, which BEGIN reads), `rl-events` (the events receiver's addresses). The recipient guard counts inside BEGIN. */
export function redisCounterStore (redis: Redis, prefix: string, space: string): CounterStore {
  return {
    async hit (key, windowMs) {
      try {
        const [count, ttl] = await HIT.run(redis, [counterStoreKey(prefix, space, key)], [windowMs]) as [number, number]
        return { count, resetMs: ttl > 0 ? ttl : windowMs }
      } catch (error) {
        throw unavailable(error)
      }
    }
  }
}
