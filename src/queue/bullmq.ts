// The durable job queue: BullMQ on Redis, one BullMQ queue and worker per job type, shared by every replica.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq'
import { Redis } from 'ioredis'
import {
  QueueError, checkId, checkType, dueAt, retryDelays,
  type FailedJob, type HandleOptions, type JobHandler, type JobQueue, type QueueSettings, type TypeCounts
} from './queue.js'

export interface BullQueueOptions extends QueueSettings {
  url: string
  /** Key prefix: REDIS_KEY_PREFIX, so services sharing one Redis keep apart (keys are `<prefix>bull:<type>:…`). */
  keyPrefix: string
  log?: { warn: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void }
}

/**
 * Stored as the job's data: the payload, a token telling this add from an earlier one with the
 * same id, and when it is due (BullMQ zeroes a job's delay once it is due, so the age of a waiting
 * job could not be told from its hash). `stallBase`: BullMQ's stall count when the job was last
 * retried by hand (BullMQ never resets it), so a retried job gets its stalls afresh.
 */
interface Data { payload: unknown, token: string, dueAt: number, stallBase?: number }

interface TypeState {
  queue: Queue<Data>
  worker: Worker<Data>
  delays: number[]
}

/** BullMQ refuses ids that are integers; every id gets this prefix in Redis. */
const ID_PREFIX = 'j-'
/** The caller's id of a BullMQ job. */
const idOf = (job: BullJob<Data>): string => (job.id ?? '').slice(ID_PREFIX.length)
/**
 * Stalls a job may have and still be run again by its handler, unless QUEUE_MAX_STALLS
 * (`maxStalls`) says otherwise (BullMQ's own default is 1). A stall is a replica that stopped
 * renewing the job's lock: killed, closed mid-run (a rolling restart closes one replica after
 * another), or frozen. Each is an ordinary event, and the job must simply run again (handlers are
 * safe to repeat: a scheduled send resolves its own earlier attempt, a callback is at least once).
 * The bound only stops a job that takes its replica down every time: one stall more and the job
 * is given up, and its type's given-up handler runs instead (HandleOptions.givenUp); it may stall
 * as often again, then the job is failed unrun. BullMQ's own limit is set out of reach, so that
 * this process decides, with the job in hand.
 */
const DEFAULT_MAX_STALLS = 20
const BULLMQ_MAX_STALLS = 1_000_000
/** How a given-up job's error and log line begin. */
const GIVEN_UP = 'job given up'
/** BullMQ's default lock of a running job, when QUEUE_LOCK_SECONDS does not set one. */
const DEFAULT_LOCK_MS = 30_000
/** Counts and metrics reads give up after this long while Redis is away, so a scrape never hangs. */
const READ_TIMEOUT_MS = 2000

export function bullQueue (options: BullQueueOptions): JobQueue {
  const observe = options.observe ?? (() => {})
  const maxStalls = options.maxStalls ?? DEFAULT_MAX_STALLS
  const prefix = `${options.keyPrefix}bull`
  // Workers block on Redis and must wait through outages (BullMQ requires maxRetriesPerRequest: null);
  // adding fails fast instead, so a caller never waits on a dead Redis. Both are opened when the
  // first job type is registered, so an app with no job types opens none. Never lazy: BullMQ calls
  // connect() on a lazy client once, and when that first attempt fails (Redis restarting, or a
  // connect timeout on a busy machine) the queue or worker refuses every job until the process
  // restarts. A client already connecting is waited for through ioredis's own reconnects.
  let connections: { worker: Redis, add: Redis } | null = null
  const connect = (): { worker: Redis, add: Redis } => {
    if (connections === null) {
      connections = { worker: new Redis(options.url, { maxRetriesPerRequest: null }), add: new Redis(options.url, { maxRetriesPerRequest: 1, connectTimeout: 2000 }) }
      for (const connection of Object.values(connections)) connection.on('error', () => {})
    }
    return connections
  }
  const types = new Map<string, TypeState>()
  let closing: Promise<void> | null = null
  /** Handlers of this process running now, every type. */
  let running = 0

  const state = (type: string): TypeState => {
    const s = types.get(type)
    if (s === undefined) throw new QueueError('QUEUE_UNKNOWN_TYPE', `no handler is registered for job type ${JSON.stringify(type.slice(0, 40))}`)
    return s
  }

  const failedJob = (type: string, job: BullJob<Data>): FailedJob => ({
    type,
    id: idOf(job),
    payload: job.data.payload,
    attempts: job.attemptsMade,
    error: job.failedReason,
    failedAt: job.finishedOn ?? job.timestamp
  })

  return {
    kind: 'bullmq',
    durable: true,
    handle<P>(type: string, handler: JobHandler<P>, handleOptions: HandleOptions<P> = {}) {
      checkType(type)
      if (types.has(type)) throw new Error(`job type ${type} already has a handler`)
      const { givenUp } = handleOptions
      const delays = retryDelays({ ...options.retry, ...handleOptions.retry })
      const { worker: workerConnection, add: addConnection } = connect()
      const queue = new Queue<Data>(type, { connection: addConnection, prefix })
      queue.on('error', (err) => { options.log?.warn({ type, err: { message: err.message } }, 'job queue error') })
      const worker = new Worker<Data>(type, async (job) => {
        running++
        try {
          const run = { type, id: idOf(job), payload: job.data.payload as P, attempt: job.attemptsMade + 1, final: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }
          const stalls = job.stalledCounter - (job.data.stallBase ?? 0)
          if (stalls <= maxStalls) {
            await handler(run)
            return
          }
          // Given up: what its cut-short runs did is not known. Its type's given-up handler ends it, or it fails unrun.
          if (givenUp === undefined) throw new UnrecoverableError(`${GIVEN_UP} after ${stalls} stalls, more than QUEUE_MAX_STALLS (${maxStalls}) (each replica running it stopped mid-run): failed without a last attempt`)
          if (stalls > 2 * maxStalls + 1) throw new UnrecoverableError(`${GIVEN_UP} after ${maxStalls + 1} stalls, more than QUEUE_MAX_STALLS (${maxStalls}), and its given-up handler stalled ${stalls - maxStalls - 1} more times: failed without a last attempt`)
          // Its one log line is the given-up handler's, saying how it ended the job.
          await givenUp({ ...run, stalls })
          observe(type, 'given_up')
        } finally {
          running--
        }
      }, {
        connection: workerConnection,
        prefix,
        concurrency: options.concurrency,
        // A dead replica's running job is taken up again by another once its lock lapses, checked as often.
        ...(options.lockMs !== undefined && { lockDuration: options.lockMs, stalledInterval: options.lockMs }),
        maxStalledCount: BULLMQ_MAX_STALLS,
        settings: { backoffStrategy: (attemptsMade) => delays[attemptsMade - 1] ?? 0 },
        // Finished ids stay known for doneTtlMs, so adding one again is still a no-op; failed ones stay listable.
        removeOnComplete: { age: Math.ceil(options.doneTtlMs / 1000), count: options.maxJobs },
        removeOnFail: { count: options.maxJobs }
      })
      worker.on('error', (err) => { options.log?.warn({ type, err: { message: err.message } }, 'job worker error') })
      worker.on('completed', () => { observe(type, 'completed') })
      worker.on('failed', (job, err) => {
        if (job === undefined) return
        // An UnrecoverableError fails the job whatever attempts remain.
        observe(type, job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError) ? 'retried' : 'failed')
        // Given up and failed unrun: never silent (its handler did not see a last attempt).
        if (err instanceof UnrecoverableError && err.message.startsWith(GIVEN_UP)) {
          observe(type, 'given_up')
          options.log?.error({ type, jobId: idOf(job) }, err.message)
        }
      })
      types.set(type, { queue, worker, delays })
    },
    async add (type, id, payload, addOptions) {
      if (closing !== null) throw new QueueError('QUEUE_CLOSED', 'the job queue is closing: no job is taken')
      const s = state(type)
      checkId(type, id)
      // Not atomic with the add: replicas adding at the same moment may pass the bound by a few jobs.
      const waiting = await s.queue.count()
      if (waiting >= options.maxJobs) {
        observe(type, 'refused')
        throw new QueueError('QUEUE_FULL', `the job queue holds ${waiting} waiting ${type} jobs, its limit (QUEUE_MAX_JOBS)`)
      }
      const now = Date.now()
      const token = randomUUID()
      const due = dueAt(now, addOptions)
      const job = await s.queue.add(type, { payload, token, dueAt: due }, {
        jobId: ID_PREFIX + id,
        delay: due - now,
        attempts: s.delays.length + 1,
        backoff: { type: 'growing' }
      })
      // BullMQ answers an existing id with that job: the token says whether this add stored it.
      const stored = job.id === undefined ? null : await s.queue.getJob(job.id)
      const added = stored === undefined || stored === null || stored.data.token === token
      observe(type, added ? 'added' : 'duplicate')
      return { id, added }
    },
    async failed (type, limit = 100) {
      const jobs = await state(type).queue.getFailed(0, Math.max(1, limit) - 1)
      return jobs.map((job) => failedJob(type, job))
    },
    async retry (type, id) {
      const job = await state(type).queue.getJob(ID_PREFIX + id)
      if (job === undefined || job === null || closing !== null || (await job.getState()) !== 'failed') return false
      await job.updateData({ ...job.data, dueAt: Date.now(), stallBase: job.stalledCounter })
      await job.retry('failed', { resetAttemptsMade: true })
      return true
    },
    async cancel (type, id) {
      const job = await state(type).queue.getJob(ID_PREFIX + id)
      if (job === undefined || job === null) return false
      const now = await job.getState()
      if (now !== 'waiting' && now !== 'delayed' && now !== 'prioritized') return false
      try {
        // Refused by BullMQ when a worker took the job meanwhile (its lock): then it is running.
        await job.remove()
        return true
      } catch {
        return false
      }
    },
    async counts () {
      const read = async (): Promise<Map<string, TypeCounts>> => {
        const counts = new Map<string, TypeCounts>()
        const now = Date.now()
        for (const [type, s] of types) {
          const c = await s.queue.getJobCounts('wait', 'delayed', 'prioritized', 'active', 'failed')
          // The oldest due job is the last of the wait list. A retry is due its backoff delay after
          // its last attempt started (so its age is short by that attempt's run time).
          const [oldest] = await s.queue.getJobs(['wait'], 0, 0, true)
          const since = oldest === undefined
            ? now
            : oldest.attemptsMade > 0
              ? (oldest.processedOn ?? oldest.timestamp) + (s.delays[oldest.attemptsMade - 1] ?? 0)
              : oldest.data.dueAt ?? oldest.timestamp
          counts.set(type, {
            waiting: (c.wait ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0),
            running: c.active ?? 0,
            failed: c.failed ?? 0,
            oldestWaitingMs: Math.max(0, now - since)
          })
        }
        return counts
      }
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`job queue counts: Redis did not answer within ${READ_TIMEOUT_MS} ms`)) }, READ_TIMEOUT_MS)
      })
      try {
        return await Promise.race([read(), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    async close () {
      closing ??= (async () => {
        // Workers first: each stops taking jobs and waits for its running ones. BullMQ's graceful
        // close waits for its blocking connection to end, which never happens while that
        // connection is between two reconnect attempts (a Redis outage, or just after one): so it
        // is used only when a job is running. With none running there is nothing to wait for, and
        // without a connection to Redis no running job could be finished anyway: the workers are
        // closed at once (a job one had started is taken up again when its lock lapses). A
        // graceful close that outlasts the lock gives up waiting (SHUTDOWN_TIMEOUT_MS bounds the rest).
        const graceful = running > 0 && connections?.worker.status === 'ready'
        const workers = Promise.all([...types.values()].map(async (s) => { await s.worker.close(!graceful) }))
        if (!graceful) {
          await workers
        } else {
          // Not a ref'd timer: a close that finished in time leaves nothing holding the process.
          const lapsed = sleep(options.lockMs ?? DEFAULT_LOCK_MS, true, { ref: false })
          if (await Promise.race([workers.then(() => false), lapsed])) options.log?.warn({ running }, 'job queue: running jobs did not finish within the lock; closing without them')
        }
        await Promise.all([...types.values()].map(async (s) => { await s.queue.close() }))
        connections?.worker.disconnect()
        connections?.add.disconnect()
      })()
      await closing
    }
  }
}
