// The two pieces of shared state (idempotency records and per-recipient counters) behind one small interface each.
import type { Answer } from '../errors.js'

export type Claim =
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'done', fingerprint: string, answer: Answer }
  /** Outcome unknown (a kept "may have been sent" answer, or a claim abandoned mid-send): this request now holds the lease to resolve it. */
  | { state: 'unresolved', fingerprint: string, attempt: AttemptContext, answer: Answer | null }

export interface IdempotencyStore {
  /** Atomically take the key for this request, or say who has it: a request in flight, or a finished answer. */
  claim: (key: string, fingerprint: string, leaseMs: number) => Promise<Claim>
  /** Remember what the claimed attempt is about to send, and keep the claim `ttlMs`: if its holder dies, the next request resolves instead of sending blindly. */
  mark: (key: string, attempt: AttemptContext, ttlMs: number) => Promise<void>
  /** Keep the answer for replay until `ttlMs` from now; with `unresolved`, the outcome is unknown and a later claim resolves it. */
  complete: (key: string, fingerprint: string, answer: Answer, ttlMs: number, unresolved?: AttemptContext) => Promise<void>
  /** Forget the key: the attempt provably sent nothing, so a retry may send. */
  release: (key: string) => Promise<void>
  /** Keys held in this process (memory store only: Redis's keys belong to every replica). */
  size?: () => number
}

export interface CounterStore {
  /** Count one hit in the fixed window that starts with the key's first hit. */
  hit: (key: string, windowMs: number) => Promise<{ count: number, resetMs: number }>
}

/** What a keyed send had decided when it called Jelou: enough to ask Jelou later whether the message exists, and to answer 202 if it does. */
export interface AttemptContext {
  botId: string
  template: string
  kind: string
  /** The normalized number. */
  to: string
  /** The phone echo of the 202 answer. */
  phone: { input: string, normalized: string, country: string | null, allowance?: unknown }
  clientRef?: string
  /** Epoch ms just before the call to Jelou. */
  startedAt: number
  requestId: string
}
