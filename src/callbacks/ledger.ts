// Each message's callbacks in order (SPEC §21): an append-only list per message, a delivered cursor, and one delivery chain at a time.
import type { Redis } from 'ioredis'

/** One callback to post: its Standard Webhooks type and body fields. */
export interface CallbackEvent {
  /** `message.accepted`, `message.read`, `message.replied`, … */
  type: string
  /** Epoch ms of the change. */
  at: number
  data: Record<string, unknown>
}

/** The chain is not in the ledger at all (expired or dropped before its callbacks were delivered): its delivery cannot go on. */
export class LedgerGone extends Error {
  constructor (chain: string) {
    super(`the callbacks of ${chain.startsWith('m:') ? 'this message' : 'this attempt'} are no longer stored (kept MESSAGE_TTL_SECONDS plus CALLBACK_RETRY_HOURS): not delivered`)
    this.name = 'LedgerGone'
  }
}

export interface Pending {
  /** 1, 2, …: the callback's place in its message's order, part of its webhook-id. */
  seq: number
  event: CallbackEvent
}

/**
 * The callbacks of one chain (a message, or an attempt that has no message id) in the order they
 * were learned. `append` adds one unless its type is there already, and says whether a delivery
 * chain must start (none is running); `next` gives the first undelivered one or, when there is
 * none, ends the chain in the same step, so an append racing the end starts a new chain and
 * nothing waits unseen. `ack` moves the cursor past a delivered one.
 */
export interface CallbackLedger {
  append: (chain: string, event: CallbackEvent) => Promise<{ seq: number, start: boolean } | null>
  next: (chain: string) => Promise<Pending | null>
  ack: (chain: string, seq: number) => Promise<void>
  /** Ends the chain without delivering (its job could not be queued): the next append starts one again, from the cursor. */
  abandon: (chain: string) => Promise<void>
  /** Callbacks not delivered yet. */
  waiting: (chain: string) => Promise<number>
}

interface Entry {
  events: Array<Pending | undefined>
  types: Set<string>
  delivered: number
  active: boolean
  expiresAt: number
}

/** In process, bounded: the oldest chains go first (each is kept ttlMs from its last append). */
export function memoryLedger (maxChains: number, ttlMs: number, now: () => number = Date.now): CallbackLedger {
  const chains = new Map<string, Entry>()
  const live = (chain: string): Entry | undefined => {
    const entry = chains.get(chain)
    if (entry !== undefined && entry.expiresAt <= now()) chains.delete(chain)
    return entry !== undefined && entry.expiresAt > now() ? entry : undefined
  }
  return {
    async append (chain, event) {
      let entry = live(chain)
      if (entry === undefined) {
        for (const oldest of chains.keys()) {
          if (chains.size < maxChains) break
          chains.delete(oldest)
        }
        entry = { events: [], types: new Set(), delivered: 0, active: false, expiresAt: 0 }
      }
      chains.delete(chain)
      chains.set(chain, entry)
      entry.expiresAt = now() + ttlMs
      if (entry.types.has(event.type)) return null
      entry.types.add(event.type)
      const seq = entry.events.length + 1
      entry.events.push({ seq, event })
      const start = !entry.active
      entry.active = true
      return { seq, start }
    },
    async next (chain) {
      const entry = live(chain)
      if (entry === undefined) throw new LedgerGone(chain)
      entry.expiresAt = Math.max(entry.expiresAt, now() + ttlMs)
      const pending = entry.events[entry.delivered]
      if (pending === undefined) entry.active = false
      return pending ?? null
    },
    async ack (chain, seq) {
      const entry = live(chain)
      if (entry !== undefined && entry.delivered === seq - 1) {
        entry.delivered = seq
        // Delivered bodies are not kept: the cursor and the types are what order and de-duplication need.
        entry.events[seq - 1] = undefined
      }
    },
    async abandon (chain) {
      const entry = live(chain)
      if (entry !== undefined) entry.active = false
    },
    async waiting (chain) {
      const entry = live(chain)
      return entry === undefined ? 0 : entry.events.length - entry.delivered
    }
  }
}

// One hash per chain: n (appended), d (delivered), a (chain running), t:<type> (seen), e:<seq> (body).
const APPEND = `
if redis.call('HSETNX', KEYS[1], 't:' .. ARGV[1], 1) == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return nil
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'e:' .. n, ARGV[2])
local start = redis.call('HSETNX', KEYS[1], 'a', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {n, start}`

const NEXT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local d = tonumber(redis.call('HGET', KEYS[1], 'd') or '0')
local body = redis.call('HGET', KEYS[1], 'e:' .. (d + 1))
if not body then
  redis.call('HDEL', KEYS[1], 'a')
  return nil
end
return {d + 1, body}`

const ACK = `
local d = tonumber(redis.call('HGET', KEYS[1], 'd') or '0')
if d == tonumber(ARGV[1]) - 1 then
  redis.call('HSET', KEYS[1], 'd', ARGV[1])
  redis.call('HDEL', KEYS[1], 'e:' .. ARGV[1])
end
return 1`

const WAITING = `
local d = tonumber(redis.call('HGET', KEYS[1], 'd') or '0')
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
return n - d`

/** Shared by every replica; each chain kept ttlMs from its last append. */
export function redisLedger (redis: Redis, prefix: string, ttlMs: number): CallbackLedger {
  const key = (chain: string) => `${prefix}cb:${chain}`
  return {
    async append (chain, event) {
      const result = await redis.eval(APPEND, 1, key(chain), event.type, JSON.stringify(event), ttlMs) as [number, number] | null
      return result === null ? null : { seq: Number(result[0]), start: Number(result[1]) === 1 }
    },
    async next (chain) {
      const result = await redis.eval(NEXT, 1, key(chain), ttlMs) as [number, string] | null | -1
      if (result === -1) throw new LedgerGone(chain)
      return result === null ? null : { seq: Number(result[0]), event: JSON.parse(result[1]) as CallbackEvent }
    },
    async ack (chain, seq) {
      await redis.eval(ACK, 1, key(chain), seq)
    },
    async abandon (chain) {
      await redis.hdel(key(chain), 'a')
    },
    async waiting (chain) {
      return Number(await redis.eval(WAITING, 1, key(chain)))
    }
  }
}
