// The job queue as app.queue: BullMQ when REDIS_URL is set, else in-process; its metrics; drained on close.
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import type { Config } from '../config.js'
import { memoryQueue } from '../queue/memory.js'
import type { JobObserver, JobQueue, QueueSettings, TypeCounts } from '../queue/queue.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Work that outlives a request; each capability registers its job types with app.queue.handle(). */
    queue: JobQueue
  }
}

/** Retries start 1 s after the first failure and double up to one attempt an hour, for QUEUE_RETRY_HOURS. */
const FIRST_RETRY_MS = 1000
const MAX_RETRY_DELAY_MS = 3600000

export default fp<{ config: Pick<Config, 'redis' | 'queue' | 'status'> }>(async (app, { config }) => {
  const registry = app.metrics.registry
  // Types are registered by the code (a handful), outcomes are a fixed list: both labels are bounded.
  const jobs = new Counter({ name: 'hsm_queue_jobs_total', help: 'Job queue events by job type and outcome: added, duplicate (id already there), refused (queue full), completed, retried, failed (out of attempts), given_up (more than QUEUE_MAX_STALLS stalls; also counted as completed or failed).', labelNames: ['type', 'outcome'], registers: [registry] })
  const observe: JobObserver = (type, outcome) => { jobs.inc({ type, outcome }) }
  const settings: QueueSettings = {
    maxJobs: config.queue.maxJobs,
    concurrency: config.queue.concurrency,
    retry: { firstDelayMs: FIRST_RETRY_MS, maxDelayMs: MAX_RETRY_DELAY_MS, totalMs: config.queue.retryMs },
    doneTtlMs: config.status.ttlMs,
    lockMs: config.queue.lockMs,
    maxStalls: config.queue.maxStalls,
    observe
  }
  let queue: JobQueue
  if (config.redis === null) {
    queue = memoryQueue(settings)
    app.log.info({ queue: 'memory', maxJobs: settings.maxJobs }, 'job queue in process (no REDIS_URL): not durable: jobs (callbacks, scheduled sends) are lost on restart')
  } else {
    // Loaded only with Redis, like ioredis: a process without it does not pay for BullMQ.
    const { bullQueue } = await import('../queue/bullmq.js')
    queue = bullQueue({ ...settings, url: config.redis.url, keyPrefix: config.redis.keyPrefix, log: app.log })
    app.log.info({ queue: 'bullmq', maxJobs: settings.maxJobs }, 'job queue on Redis (BullMQ): durable, shared by every replica')
  }

  // One read of the counts per scrape serves both gauges.
  let reading: Promise<Map<string, TypeCounts>> | null = null
  const read = async (): Promise<Map<string, TypeCounts>> => {
    reading ??= queue.counts().finally(() => { reading = null })
    return await reading
  }
  registry.registerMetric(new Gauge({
    name: 'hsm_queue_depth',
    help: 'Jobs waiting to run (due, delayed or waiting for a retry), by job type. Bounded by QUEUE_MAX_JOBS per type.',
    labelNames: ['type'],
    registers: [],
    async collect () {
      try {
        for (const [type, c] of await read()) this.set({ type }, c.waiting)
      } catch {
        // Redis away: the gauge keeps its last value and /ready says why.
      }
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'hsm_queue_oldest_waiting_seconds',
    help: 'Seconds the oldest due job of a type has waited to start; 0 when none waits.',
    labelNames: ['type'],
    registers: [],
    async collect () {
      try {
        for (const [type, c] of await read()) this.set({ type }, c.oldestWaitingMs / 1000)
      } catch {
        // As above.
      }
    }
  }))

  app.decorate('queue', queue)
  // After the server stopped taking requests: running jobs finish, waiting ones stay (in Redis) or are dropped (in process).
  app.addHook('onClose', async () => {
    if (!queue.durable) {
      let waiting = 0
      for (const c of (await queue.counts()).values()) waiting += c.waiting
      if (waiting > 0) app.log.warn({ queue: 'memory', waiting }, `job queue closed with ${waiting} jobs waiting: lost (the in-process queue is not durable)`)
    }
    await queue.close()
  })
}, { name: 'queue', fastify: '5.x', dependencies: ['metrics'] })
