// The two pieces of shared state (idempotency records and per-recipient counters) behind one small interface each.
import type { Answer } from '../errors.js'

export type Claim =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'done', fingerprint: string, answer: Answer }

export interface IdempotencyStore {
  /** Atomically take the key for this request, or say who has it: a request in flight, or a finished answer. */
  claim: (key: string, fingerprint: string, leaseMs: number) => Promise<Claim>
  /** Keep the answer for replay until `ttlMs` from now. */
  complete: (key: string, fingerprint: string, answer: Answer, ttlMs: number) => Promise<void>
  /** Forget the key: the attempt provably sent nothing, so a retry may send. */
  release: (key: string) => Promise<void>
  /** Keys held in this process (memory store only: Redis's keys belong to every replica). */
  size?: () => number
}

export interface CounterStore {
  /** Count one hit in the fixed window that starts with the key's first hit. */
  hit: (key: string, windowMs: number) => Promise<{ count: number, resetMs: number }>
}
