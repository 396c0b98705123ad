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
   * Everything a send writes before it calls Jelou, in one atomic step (one round trip on Redis):
   * with a key, claim it (`key.claim`) or check that `holder` still holds it with its recorded
   * attempt `key.previous` (a compare-and-set, so two workers can never both send for one key);
   * count the recipient; mark the attempt on the key (kept `ttlMs`); open the attempt in its group
   * (kept `ttlMs`). Over the recipient limit nothing is marked or opened, and a key this step
   * claimed is free again. A key that is not free is left as `claim` finds it, and its claim
   * state is returned.
   */
  begin: (send: BeginSend) => Promise<Began>
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
   * a candidate one of them could own is ambiguous. Opened by `begin` before the call to Jelou,
   * closed once the outcome is known (an accepted send's by the write of its status record),
   * forgotten after their TTL.
   */
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

/** The recipient guard: at most `max` sends to one normalized number per fixed window of `windowMs`, counted from its first send. */
export interface RecipientLimit {
  to: string
  max: number
  windowMs: number
}

/** What `begin` writes: see IdempotencyStore.begin. */
export interface BeginSend {
  recipient: RecipientLimit
  /** The open-attempts group (attemptGroup) and the attempt opened in it. */
  group: string
  open: OpenAttempt
  /** How long the open entry and a marked key are kept. */
  ttlMs: number
  /**
   * A send route's caller, for the per-caller limit: counted first in this same step (a hit in the
   * fixed window of its counter store), and over `max`, nothing else is done (`caller_limited`):
   * an over-limit caller claims, counts and marks nothing. `counted` hears its window as soon as it
   * is counted, before anything else in the step can fail.
   */
  caller?: { key: string, max: number, windowMs: number, counted: (window: { count: number, resetMs: number }) => void }
  /** With an Idempotency-Key: the key, its holder and the attempt marked on it. */
  key?: {
    key: string
    holder: string
    attempt: AttemptContext
    /** Take the key here when it is free (a keyed send's first step)... */
    claim?: { fingerprint: string, leaseMs: number }
    /** ...or the holder holds it already, its recorded attempt being this one (undefined: none yet). */
    previous?: string
  }
}

export type Began =
  /** Counted, marked and opened: call Jelou. */
  | { state: 'started' }
  /** The caller is over its limit: nothing claimed, marked or opened, and the recipient not counted. */
  | { state: 'caller_limited' }
  /** Over the recipient limit: nothing marked or opened, and a key claimed by this step is free again. */
  | { state: 'limited', resetMs: number }
  /** The holder no longer holds the key, or its recorded attempt moved on: nothing counted, do not send. */
  | { state: 'lost' }
  /** `key.claim` found the key taken (or took an unresolved one to resolve it, as `claim` does): nothing counted or marked. */
  | { state: 'claim', claim: Exclude<Claim, { state: 'claimed' }> }

export interface CounterStore {
  /** Count one hit in the fixed window that starts with the key's first hit. */
  hit: (key: string, windowMs: number) => Promise<{ count: number, resetMs: number }>
}

/** The counter store's space of the per-caller limit, which a send's store step counts too (BeginSend.caller). */
export const CALLER_SPACE = 'rl'

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
