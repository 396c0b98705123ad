// The two pieces of shared state (idempotency records and per-recipient counters) behind one small interface each.
import type { Answer } from '../errors.js'

export type Claim =
  /** The key was free: this request holds it (as `holder`) and may send. */
  | { state: 'claimed' }
  | { state: 'in_flight', fingerprint: string }
  | { state: 'done', fingerprint: string, answer: Answer }
  /** Outcome unknown (a kept "may have been sent" answer, or a claim abandoned mid-send): this request now holds the key to resolve it. */
  | { state: 'unresolved', fingerprint: string, attempt: AttemptContext, answer: Answer | null }

/**
 * Every write names the request that holds the key (`holder`, a random token given to claim): a
 * request whose hold was lost (it stalled past its lease and another took the key) can no longer
 * mark, complete or release it. A hold lasts `leaseMs` from the claim and from each `renew`.
 */
export interface IdempotencyStore {
  /** Atomically take the key for this request, or say who has it: a request in flight, or a finished answer. */
  claim: (key: string, fingerprint: string, holder: string, leaseMs: number) => Promise<Claim>
  /** Extend the hold; false when this holder no longer holds the key. */
  renew: (key: string, holder: string, leaseMs: number) => Promise<boolean>
  /**
   * Remember what the attempt is about to send and keep the record `ttlMs`, only when `holder`
   * still holds the key and the key's recorded attempt is still `previous` (none for a first
   * attempt): a compare-and-set, so two workers can never both send for one key. False: do not send.
   */
  mark: (key: string, holder: string, attempt: AttemptContext, previous: string | undefined, ttlMs: number) => Promise<boolean>
  /**
   * Keep the answer for replay until `ttlMs` from now; with `unresolved`, the outcome is unknown
   * and a later claim resolves it. Written only while `holder` holds the key (or nobody does):
   * false when another request took it.
   */
  complete: (key: string, holder: string, fingerprint: string, answer: Answer, ttlMs: number, unresolved?: AttemptContext) => Promise<boolean>
  /** Forget the key if `holder` still holds it: the attempt provably sent nothing, so a retry may send. */
  release: (key: string, holder: string) => Promise<void>
  /**
   * Attempts of this service (any key or none, any replica) whose message may exist at Jelou
   * without our knowing its id, per bot, template and recipient (`group`). Resolution reads them:
   * a candidate one of them could own is ambiguous. Opened before the call to Jelou, closed once
   * the outcome is known, forgotten after `ttlMs`.
   */
  openAttempt: (group: string, attempt: OpenAttempt, ttlMs: number) => Promise<void>
  closeAttempt: (group: string, attempt: OpenAttempt) => Promise<void>
  openAttempts: (group: string) => Promise<OpenAttempt[]>
  /** Keys held in this process (memory store only: Redis's keys belong to every replica). */
  size?: () => number
}

export interface OpenAttempt {
  attemptId: string
  /** Epoch ms just before the call to Jelou. */
  startedAt: number
}

/** The open-attempts group of a send: one bot, one template, one normalized number. */
export const attemptGroup = (botId: string, template: string, to: string) => `${botId}\0${template}\0${to}`

export interface CounterStore {
  /** Count one hit in the fixed window that starts with the key's first hit. */
  hit: (key: string, windowMs: number) => Promise<{ count: number, resetMs: number }>
}

/** What a keyed send had decided when it called Jelou: enough to ask Jelou later whether the message exists, and to answer 202 if it does. */
export interface AttemptContext {
  /** Unique per attempt; the status record of the message Jelou returned to it carries the same id. */
  attemptId: string
  /** 1 for the first attempt of a key, one more for each resend. */
  number: number
  botId: string
  template: string
  kind: string
  /** The normalized number. */
  to: string
  /** The phone echo of the 202 answer. */
  phone: { input: string, normalized: string, country: string | null, allowance?: unknown }
  clientRef?: string
  /** Where this send's callbacks go (the caller's own or its default), when it has one. */
  callbackUrl?: string
  /** The correlation tag sent to Jelou (its `campaignId`), when tagging is on. */
  tag?: string
  /** With RESOLUTION_TAG=campaignId (Jelou verified to store and return it): the caller's own `campaignId`, when it set one; a message listed with another (or none) is not this attempt's. */
  campaign?: string
  /** Epoch ms just before the call to Jelou. */
  startedAt: number
  /** Epoch ms of the key's first attempt: past it plus IDEMPOTENCY_TTL_SECONDS the outcome is declared unknowable. */
  firstStartedAt: number
  requestId: string
}
