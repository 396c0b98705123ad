// Redis status store shared by every replica: one hash per message whose fields only ever gain steps, so any order of writers converges.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { problem } from '../errors.js'
import { STATUSES, type MessageBase, type MessageState, type Source, type StatusStore, type StatusUpdate } from './types.js'

export interface RedisStatusOptions {
  ttlMs: number
  /** Called when a background write of accepted sends failed (the sends themselves stand). */
  writeFailed: (error: Error, count: number) => void
}

/** HSETNX per step and reason (first report wins), latest source, newest check time, TTL renewed. */
const APPLY = `
local changed = 0
for i = 4, #ARGV, 2 do changed = changed + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
if changed > 0 or ARGV[1] ~= 'event' then redis.call('HSET', KEYS[1], 'src', ARGV[1]) end
local chk = tonumber(redis.call('HGET', KEYS[1], 'chk') or '0')
if tonumber(ARGV[2]) > chk then redis.call('HSET', KEYS[1], 'chk', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return changed`

const hashed = (value: string) => createHash('sha256').update(value).digest('hex')

export function redisStatusStore (redis: Redis, prefix: string, options: RedisStatusOptions): StatusStore {
  const { ttlMs, writeFailed } = options
  const msgKey = (id: string) => `${prefix}msg:${id}`
  // Callers and references are names of people's business: Redis keys hold only their hash.
  const refKey = (caller: string, clientRef: string) => `${prefix}cref:${hashed(`${caller}\0${clientRef}`)}`
  // Accepted sends wait here for one pipelined write per event-loop turn: a send pays one Map.set, never a Redis round trip.
  let queued = new Map<string, MessageBase>()
  let flushing: Promise<void> | null = null

  async function write (batch: Map<string, MessageBase>) {
    const pipeline = redis.pipeline()
    for (const base of batch.values()) {
      const key = msgKey(base.messageId)
      pipeline.hset(key, 'base', JSON.stringify(base))
      pipeline.hsetnx(key, 's:accepted', base.acceptedAt)
      pipeline.hsetnx(key, 'src', 'send')
      pipeline.hsetnx(key, 'chk', base.acceptedAt)
      pipeline.pexpire(key, ttlMs)
      if (base.clientRef !== undefined) {
        const ref = refKey(base.caller, base.clientRef)
        pipeline.zadd(ref, base.acceptedAt, base.messageId)
        pipeline.pexpire(ref, ttlMs)
      }
    }
    try {
      const results = await pipeline.exec()
      const failed = results?.find(([error]) => error !== null)
      if (failed?.[0] != null) throw failed[0]
    } catch (error) {
      writeFailed(error as Error, batch.size)
    }
  }

  function flush (): Promise<void> {
    if (flushing !== null) return flushing
    flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      while (queued.size > 0) {
        const batch = queued
        queued = new Map()
        await write(batch)
      }
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
      const args: Array<string | number> = [update.source, update.at, ttlMs]
      for (const status of STATUSES) {
        const at = update.steps[status]
        if (at !== undefined) args.push(`s:${status}`, at)
      }
      if (update.failure !== undefined) args.push('failure', JSON.stringify(update.failure))
      try {
        return await redis.eval(APPLY, 1, msgKey(messageId), ...args) as number > 0
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
      if (base !== undefined) state.steps.accepted ??= base.acceptedAt
      if (fields.failure !== undefined) state.failure = JSON.parse(fields.failure) as MessageState['failure']
      return state
    },
    async byClientRef (caller: string, clientRef: string) {
      const ids = await redis.zrange(refKey(caller, clientRef), 0, -1)
      for (const base of queued.values()) {
        if (base.caller === caller && base.clientRef === clientRef && !ids.includes(base.messageId)) ids.push(base.messageId)
      }
      return ids
    },
    async flush () {
      while (queued.size > 0 || flushing !== null) await flush()
    }
  }
}
