// Redis status store shared by every replica: one hash per message whose fields only ever gain steps, so any order of writers converges.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem } from '../errors.js'
import { isNoScript, luaScript, openAttemptsKey } from '../stores/redis.js'
import { attemptGroup } from '../stores/types.js'
import { EARLY_EVENTS_TTL_MS, STATUSES, type MessageBase, type MessageState, type Source, type StatusStore, type StatusUpdate } from './types.js'

export interface RedisStatusOptions {
  ttlMs: number
  /** Called when a background write of accepted sends failed (the sends themselves stand). */
  writeFailed: (error: Error, count: number) => void
  /** The clock lostUntil reads (tests inject one, as for the idempotency store). */
  now?: () => number
}

/**
 * HSETNX per step and reason (first report wins), latest source, newest check time, TTL renewed.
 * News for an id with no recorded send goes to its early key (KEYS[2]), which lives
 * EARLY_EVENTS_TTL_MS from its first event: another sender's events never become 7-day records.
 */
const APPLY = luaScript(`
local k = KEYS[1]
local ttl = ARGV[3]
if redis.call('HEXISTS', k, 'base') == 0 then
  k = KEYS[2]
  ttl = nil
  if redis.call('EXISTS', k) == 0 then ttl = ARGV[4] end
end
local changed = 0
for i = 5, #ARGV, 2 do changed = changed + redis.call('HSETNX', k, ARGV[i], ARGV[i + 1]) end
if changed > 0 or ARGV[1] ~= 'event' then redis.call('HSET', k, 'src', ARGV[1]) end
local chk = tonumber(redis.call('HGET', k, 'chk') or '0')
if tonumber(ARGV[2]) > chk then redis.call('HSET', k, 'chk', ARGV[2]) end
if ttl then redis.call('PEXPIRE', k, ttl) end
return changed`)

/**
 * The send's record, with whatever early news its id had (KEYS[2]) merged in; then, only once the
 * record is written, its attempt leaves the open attempts (KEYS[3], member ARGV[5] when not '')
 * and its id joins the caller's clientRef list (KEYS[4], when ARGV[6] is '1'). One script: a
 * write that fails stops it before the attempt is closed.
 */
const RECORD = luaScript(`
local k = KEYS[1]
redis.call('HSET', k, 'base', ARGV[1])
if ARGV[4] == '1' then redis.call('HSETNX', k, 's:accepted', ARGV[2]) end
redis.call('HSETNX', k, 'src', 'send')
redis.call('HSETNX', k, 'chk', ARGV[2])
local e = redis.call('HGETALL', KEYS[2])
for i = 1, #e, 2 do
  local f, v = e[i], e[i + 1]
  if f == 'src' then redis.call('HSET', k, 'src', v)
  elseif f == 'chk' then
    if tonumber(v) > tonumber(redis.call('HGET', k, 'chk') or '0') then redis.call('HSET', k, 'chk', v) end
  else redis.call('HSETNX', k, f, v) end
end
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', k, ARGV[3])
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[3], ARGV[5]) end
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[7])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
return 1`)

/** A scheduled send's state, compared and set in one step (the record's other fields untouched). */
const TRANSITION = luaScript(`
local b = redis.call('HGET', KEYS[1], 'base')
if not b then return 0 end
local base = cjson.decode(b)
if type(base.schedule) ~= 'table' or base.schedule.state ~= ARGV[1] then return 0 end
base.schedule.state = ARGV[2]
base.schedule.at = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'base', cjson.encode(base))
return 1`)

const hashed = (value: string) => createHash('sha256').update(value).digest('hex')

export function redisStatusStore (redis: Redis, prefix: string, options: RedisStatusOptions): StatusStore {
  const { ttlMs, writeFailed, now = Date.now } = options
  const msgKey = (id: string) => `${prefix}msg:${id}`
  const earlyKey = (id: string) => `${prefix}early:${id}`
  // Callers and references are names of people's business: Redis keys hold only their hash.
  const refKey = (caller: string, clientRef: string) => `${prefix}cref:${hashed(`${caller}\0${clientRef}`)}`
  // Accepted sends wait here for one pipelined write per event-loop turn: a send pays one Map.set, never a Redis round trip.
  let queued = new Map<string, MessageBase>()

  /** The record's keys and arguments: the open attempt it closes (a send's, or one resolution found), its clientRef. */
  function recordOf (base: MessageBase): [string[], Array<string | number>] {
    // A scheduled send's record lives its TTL past its sendAt (up to SCHEDULE_MAX_AHEAD_DAYS ahead), so it stays cancellable.
    const ttl = base.schedule === undefined ? ttlMs : ttlMs + Math.max(0, base.schedule.sendAt - now())
    const ref = base.clientRef === undefined ? msgKey(base.messageId) : refKey(base.caller, base.clientRef)
    return [
      [msgKey(base.messageId), earlyKey(base.messageId), openAttemptsKey(prefix, attemptGroup(base.botId, base.template, base.to)), ref],
      [JSON.stringify(base), base.acceptedAt, ttl, base.schedule === undefined ? '1' : '0',
        base.attemptId === undefined ? '' : `${base.attemptId}|${base.acceptedAt}`, base.clientRef === undefined ? '0' : '1', base.messageId]
    ]
  }

  async function write (batch: Map<string, MessageBase>) {
    try {
      let bases = [...batch.values()]
      // By SHA first; a Redis that lost its scripts (restarted, failed over) gets the text of those it refused.
      for (const byText of [false, true]) {
        const pipeline = redis.pipeline()
        for (const base of bases) {
          const [keys, args] = recordOf(base)
          if (byText) pipeline.eval(RECORD.lua, keys.length, ...keys, ...args)
          else pipeline.evalsha(RECORD.sha, keys.length, ...keys, ...args)
        }
        const results = await pipeline.exec() ?? []
        const failed = results.find(([error]) => error !== null && !isNoScript(error))
        if (failed?.[0] != null) throw failed[0]
        bases = bases.filter((_, i) => isNoScript(results[i]?.[0]))
        if (bases.length === 0) break
      }
      return true
    } catch (error) {
      writeFailed(error as Error, batch.size)
      return false
    }
  }

  let flushing: Promise<boolean> | null = null
  function flush (): Promise<boolean> {
    if (flushing !== null) return flushing
    flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      let written = true
      while (queued.size > 0) {
        const batch = queued
        queued = new Map()
        if (!await write(batch)) written = false
      }
      return written
    }).finally(() => {
      flushing = null
      // A send recorded between the last batch and this line would otherwise wait for the next one.
      if (queued.size > 0) flush().catch(() => {})
    })
    return flushing
  }

  return {
    record (base) {
      queued.set(base.messageId, base)
      if (flushing === null) flush().catch(() => {})
    },
    async apply (messageId: string, update: StatusUpdate) {
      const args: Array<string | number> = [update.source, update.at, ttlMs, EARLY_EVENTS_TTL_MS]
      for (const status of STATUSES) {
        const at = update.steps[status]
        if (at !== undefined) args.push(`s:${status}`, at)
      }
      if (update.failure !== undefined) args.push('failure', JSON.stringify(update.failure))
      if (update.reply !== undefined) args.push('reply', JSON.stringify(update.reply))
      try {
        return await APPLY.run(redis, [msgKey(messageId), earlyKey(messageId)], args) as number > 0
      } catch (error) {
        throw problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer; the event was not stored. Send it again shortly.', { cause: error })
      }
    },
    async get (messageId: string) {
      let fields: Record<string, string>
      try {
        fields = await redis.hgetall(msgKey(messageId))
      } catch (error) {
        throw problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer. Retry shortly.', { cause: error })
      }
      const pending = queued.get(messageId)
      if (Object.keys(fields).length === 0 && pending === undefined) return undefined
      const state: MessageState = {
        steps: {},
        source: (fields.src ?? 'send') as Source,
        checkedAt: Number(fields.chk ?? pending?.acceptedAt ?? 0)
      }
      const base = fields.base !== undefined ? JSON.parse(fields.base) as MessageBase : pending
      if (base !== undefined) state.base = base
      for (const status of STATUSES) {
        const at = fields[`s:${status}`]
        if (at !== undefined) state.steps[status] = Number(at)
      }
      if (base !== undefined && base.schedule === undefined) state.steps.accepted ??= base.acceptedAt
      if (fields.failure !== undefined) state.failure = JSON.parse(fields.failure) as MessageState['failure']
      if (fields.reply !== undefined) state.reply = JSON.parse(fields.reply) as MessageState['reply']
      return state
    },
    async transition (messageId, from, to, at) {
      // A record still queued for its write is written first: the step reads what was recorded.
      while (queued.size > 0 || flushing !== null) await flush()
      try {
        return await TRANSITION.run(redis, [msgKey(messageId)], [from, to, at]) as number === 1
      } catch (error) {
        throw problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not answer. Retry shortly.', { cause: error })
      }
    },
    async byClientRef (caller: string, clientRef: string) {
      const ids = await redis.zrange(refKey(caller, clientRef), 0, -1)
      for (const base of queued.values()) {
        if (base.caller === caller && base.clientRef === clientRef && !ids.includes(base.messageId)) ids.push(base.messageId)
      }
      return ids
    },
    async flush () {
      let written = true
      while (queued.size > 0 || flushing !== null) if (!await flush()) written = false
      return written
    },
    // Past the TTL. (Records never vanish earlier while Redis evicts nothing: maxmemory-policy noeviction.)
    lostUntil: () => now() - ttlMs
  }
}
