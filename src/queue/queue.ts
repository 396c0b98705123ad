// The job queue's contract, shared by the BullMQ (Redis) and in-process implementations: job types, ids, retries, bounds.

/** What a handler gets: the job's type, the caller's id, its payload and which attempt this is (1 = first). */
export interface Job<P = unknown> {
  type: string
  id: string
  payload: P
  attempt: number
  /** True on the last attempt the retry policy allows: a failure now fails the job for good. */
  final?: boolean
  /**
   * Set when the job was given up (see HandleOptions.givenUp): how many times its runs stopped
   * mid-way. Only the given-up handler sees it.
   */
  stalls?: number
}

export type JobHandler<P = unknown> = (job: Job<P>) => Promise<void>

export interface HandleOptions<P = unknown> {
  /** The type's retries, over the queue's own (QUEUE_RETRY_HOURS). */
  retry?: Partial<RetryPolicy>
  /**
   * Runs instead of the handler once the job is **given up**: its runs stopped mid-way (the
   * replica running it died, was closed or froze) more than QUEUE_MAX_STALLS times, so its
   * handler never saw a last attempt and what the earlier runs did is not known. It must end the
   * job's work honestly without doing it again (a scheduled send settles what its earlier runs
   * may have sent), and say so in one log line. It runs as a job run: retried with the same policy (`final` on its last
   * attempt), run again if its own replica dies (up to QUEUE_MAX_STALLS times again, then the
   * job is failed unrun); once it returns, the job is completed. Without one, a given-up job is
   * kept as failed at once (listed by `failed`, with why), and `retry` runs it afresh. Only BullMQ gives jobs up: in process a handler cannot stop
   * mid-run without its whole process, which takes the queue and its jobs with it.
   */
  givenUp?: JobHandler<P>
}

/** Growing delays between attempts: first, doubled each time up to max, for at most totalMs after the first failure. */
export interface RetryPolicy {
  firstDelayMs: number
  maxDelayMs: number
  totalMs: number
}

export interface AddOptions {
  /** Run no sooner than this many ms from now. */
  delayMs?: number
  /** Run no sooner than this instant (epoch ms); wins over delayMs. */
  runAt?: number
}

export interface AddResult {
  id: string
  /** false: a job with this id was already there (waiting, running, done or failed), and nothing was added. */
  added: boolean
}

export interface FailedJob<P = unknown> {
  type: string
  id: string
  payload: P
  attempts: number
  /** The last attempt's error message. */
  error: string
  /** Epoch ms of the last attempt. */
  failedAt: number
}

export interface TypeCounts {
  /** Jobs not running yet: due, delayed and waiting for a retry. */
  waiting: number
  running: number
  failed: number
  /** Age in ms of the oldest job that is due and not started; 0 when none is. */
  oldestWaitingMs: number
}

/** What happened to a job, for metrics: one count per event. */
export type JobOutcome = 'added' | 'duplicate' | 'refused' | 'completed' | 'retried' | 'failed' | 'given_up'
export type JobObserver = (type: string, outcome: JobOutcome) => void

export interface JobQueue {
  /** `bullmq` (Redis, durable, shared by replicas) or `memory` (this process only; jobs are lost on restart). */
  readonly kind: 'bullmq' | 'memory'
  readonly durable: boolean
  /** Register the handler of a type (once per type, before adding jobs of it), with its retries and what ends a job given up. */
  handle: <P>(type: string, handler: JobHandler<P>, options?: HandleOptions<P>) => void
  /**
   * Add a job; `id` is derived by the caller from what must not run twice. Throws QueueError
   * QUEUE_FULL past the bound, QUEUE_CLOSED while closing, QUEUE_UNKNOWN_TYPE, QUEUE_BAD_ID.
   */
  add: <P>(type: string, id: string, payload: P, options?: AddOptions) => Promise<AddResult>
  /** Jobs of a type that used up their attempts, newest first. */
  failed: (type: string, limit?: number) => Promise<FailedJob[]>
  /** Run a failed job again from its first attempt; false when no failed job has this id. */
  retry: (type: string, id: string) => Promise<boolean>
  /** Removes a job that has not started (due, delayed, or waiting for a retry): true. False when it is running, finished, failed or unknown. Its id may be added again. */
  cancel: (type: string, id: string) => Promise<boolean>
  /** Counts of every registered type. */
  counts: () => Promise<Map<string, TypeCounts>>
  /** Stop taking jobs, let the running ones finish, then release the connections. Idempotent. */
  close: () => Promise<void>
}

export type QueueErrorCode = 'QUEUE_FULL' | 'QUEUE_CLOSED' | 'QUEUE_UNKNOWN_TYPE' | 'QUEUE_BAD_ID'

export class QueueError extends Error {
  constructor (readonly code: QueueErrorCode, message: string) {
    super(message)
    this.name = 'QueueError'
  }
}

export interface QueueSettings {
  /** Most waiting jobs per type; adding one more throws QUEUE_FULL. Also the number of failed jobs kept per type. */
  maxJobs: number
  /** Jobs of one type run at once by this process. */
  concurrency: number
  /** Retries of a type that names none. */
  retry: RetryPolicy
  /** BullMQ: a running job's lock, renewed while it runs; a replica that died mid-job has its job run again by another about this long after. */
  lockMs?: number
  /** BullMQ: how often a job's run may stop mid-way (its replica died, was closed or froze) and the job still be run again; 20 by default (QUEUE_MAX_STALLS). */
  maxStalls?: number
  /** How long a finished job's id is remembered, so adding it again is still a no-op. */
  doneTtlMs: number
  observe?: JobObserver
}

export const TYPE_PATTERN = /^[a-z][a-z0-9-]{0,39}$/
/** Letters, digits and `_ . ~ -` (no `:`, which Redis keys use): a message id, a status, a date. */
export const ID_PATTERN = /^[A-Za-z0-9_.~-]{1,200}$/

export function checkId (type: string, id: string): void {
  if (!ID_PATTERN.test(id)) throw new QueueError('QUEUE_BAD_ID', `job id ${JSON.stringify(id.slice(0, 40))} of type ${type} must be 1 to 200 of A-Za-z0-9_.~-`)
}

export function checkType (type: string): void {
  if (!TYPE_PATTERN.test(type)) throw new QueueError('QUEUE_UNKNOWN_TYPE', `job type ${JSON.stringify(type.slice(0, 40))} must match ${TYPE_PATTERN.source}`)
}

/** The delays (ms) before attempts 2, 3, …: doubling from firstDelayMs, capped at maxDelayMs, summing to at most totalMs. */
export function retryDelays (policy: RetryPolicy): number[] {
  const delays: number[] = []
  let sum = 0
  let next = policy.firstDelayMs
  // Bounded: at least 1 ms each, and a policy of at most 10 000 attempts.
  while (delays.length < 10000) {
    const delay = Math.max(1, Math.min(next, policy.maxDelayMs))
    if (sum + delay > policy.totalMs) break
    delays.push(delay)
    sum += delay
    next *= 2
  }
  return delays
}

/** When a job added now with these options is due (epoch ms). */
export function dueAt (now: number, options: AddOptions = {}): number {
  if (options.runAt !== undefined) return Math.max(now, options.runAt)
  return now + Math.max(0, options.delayMs ?? 0)
}
