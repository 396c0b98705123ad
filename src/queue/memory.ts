// The in-process job queue: timers in this process, bounded, not durable (jobs are lost on restart).
import {
  QueueError, checkId, checkType, dueAt, retryDelays,
  type FailedJob, type JobHandler, type JobQueue, type QueueSettings, type RetryPolicy, type TypeCounts
} from './queue.js'

/** Time as the queue sees it; tests pass a clock they move by hand. */
export interface QueueClock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (timer: unknown) => void
}

const realClock: QueueClock = {
  now: Date.now,
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  },
  clearTimeout: (timer) => { clearTimeout(timer as NodeJS.Timeout) }
}

/** The longest delay Node's timers take as given (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Entry {
  id: string
  payload: unknown
  /** Order of adding, so due jobs run first in, first out. */
  seq: number
  dueAt: number
  attempt: number
  timer: unknown
}

interface TypeState {
  handler: JobHandler<any>
  delays: number[]
  waiting: Map<string, Entry>
  running: Map<string, Entry>
  /** Ids of finished jobs with when they finished, oldest first (a Map keeps insertion order). */
  done: Map<string, number>
  /** Failed jobs, oldest first, at most maxJobs. */
  failed: Map<string, FailedJob>
}

export function memoryQueue (settings: QueueSettings, clock: QueueClock = realClock): JobQueue {
  const types = new Map<string, TypeState>()
  const observe = settings.observe ?? (() => {})
  const active = new Set<Promise<void>>()
  let closing = false
  let seq = 0

  const state = (type: string): TypeState => {
    const s = types.get(type)
    if (s === undefined) throw new QueueError('QUEUE_UNKNOWN_TYPE', `no handler is registered for job type ${JSON.stringify(type.slice(0, 40))}`)
    return s
  }

  const forget = (s: TypeState): void => {
    const oldest = clock.now() - settings.doneTtlMs
    for (const [id, at] of s.done) {
      if (at > oldest && s.done.size <= settings.maxJobs) break
      s.done.delete(id)
    }
  }

  const schedule = (type: string, s: TypeState, entry: Entry): void => {
    s.waiting.set(entry.id, entry)
    arm(type, s, entry)
  }

  /** A timer for the entry's due time; Node fires a timer longer than 2^31-1 ms after 1 ms, so a far one is set in steps. */
  const arm = (type: string, s: TypeState, entry: Entry): void => {
    const wait = entry.dueAt - clock.now()
    if (wait <= 0) {
      entry.timer = undefined
      pump(type, s)
      return
    }
    entry.timer = clock.setTimeout(() => {
      entry.timer = undefined
      if (s.waiting.get(entry.id) === entry) arm(type, s, entry)
      else pump(type, s)
    }, Math.min(wait, MAX_TIMER_MS))
  }

  const pump = (type: string, s: TypeState): void => {
    while (s.running.size < settings.concurrency) {
      if (closing) return
      const now = clock.now()
      let next: Entry | undefined
      for (const e of s.waiting.values()) {
        if (e.dueAt <= now && (next === undefined || e.seq < next.seq)) next = e
      }
      if (next === undefined) return
      s.waiting.delete(next.id)
      s.running.set(next.id, next)
      run(type, s, next)
    }
  }

  const run = (type: string, s: TypeState, entry: Entry): void => {
    entry.attempt++
    const attempt = entry.attempt
    const done = (async () => {
      try {
        await s.handler({ type, id: entry.id, payload: entry.payload, attempt, final: s.delays[attempt - 1] === undefined })
        s.running.delete(entry.id)
        s.done.set(entry.id, clock.now())
        forget(s)
        observe(type, 'completed')
      } catch (err) {
        s.running.delete(entry.id)
        const delay = s.delays[attempt - 1]
        if (delay !== undefined && !closing) {
          observe(type, 'retried')
          schedule(type, s, { ...entry, dueAt: clock.now() + delay, seq: ++seq })
        } else {
          // Out of attempts; or closing, when a retry would be lost with the process anyway.
          keepFailed(type, s, entry, err)
        }
      }
      pump(type, s)
    })()
    active.add(done)
    done.finally(() => active.delete(done)).catch(() => {})
  }

  const keepFailed = (type: string, s: TypeState, entry: Entry, err: unknown): void => {
    s.failed.set(entry.id, { type, id: entry.id, payload: entry.payload, attempts: entry.attempt, error: err instanceof Error ? err.message : String(err), failedAt: clock.now() })
    for (const id of s.failed.keys()) {
      if (s.failed.size <= settings.maxJobs) break
      s.failed.delete(id)
    }
    observe(type, 'failed')
  }

  return {
    kind: 'memory',
    durable: false,
    // options.givenUp is never called here: a job is given up only after stalls, and a handler in
    // process cannot stop mid-run without its process, which loses this queue and every job in it.
    handle (type, handler, options) {
      checkType(type)
      if (types.has(type)) throw new Error(`job type ${type} already has a handler`)
      const policy: RetryPolicy = { ...settings.retry, ...options?.retry }
      types.set(type, { handler, delays: retryDelays(policy), waiting: new Map(), running: new Map(), done: new Map(), failed: new Map() })
    },
    async add (type, id, payload, options) {
      if (closing) throw new QueueError('QUEUE_CLOSED', 'the job queue is closing: no job is taken')
      const s = state(type)
      checkId(type, id)
      forget(s)
      if (s.waiting.has(id) || s.running.has(id) || s.done.has(id) || s.failed.has(id)) {
        observe(type, 'duplicate')
        return { id, added: false }
      }
      if (s.waiting.size >= settings.maxJobs) {
        observe(type, 'refused')
        throw new QueueError('QUEUE_FULL', `the job queue holds ${s.waiting.size} waiting ${type} jobs, its limit (QUEUE_MAX_JOBS)`)
      }
      schedule(type, s, { id, payload, seq: ++seq, dueAt: dueAt(clock.now(), options), attempt: 0, timer: undefined })
      observe(type, 'added')
      return { id, added: true }
    },
    async failed (type, limit = 100) {
      return [...state(type).failed.values()].reverse().slice(0, limit)
    },
    async retry (type, id) {
      const s = state(type)
      const job = s.failed.get(id)
      if (job === undefined || closing) return false
      s.failed.delete(id)
      schedule(type, s, { id, payload: job.payload, seq: ++seq, dueAt: clock.now(), attempt: 0, timer: undefined })
      return true
    },
    async cancel (type, id) {
      const s = state(type)
      const entry = s.waiting.get(id)
      if (entry === undefined) return false
      if (entry.timer !== undefined) clock.clearTimeout(entry.timer)
      s.waiting.delete(id)
      return true
    },
    async counts () {
      const now = clock.now()
      const counts = new Map<string, TypeCounts>()
      for (const [type, s] of types) {
        let oldest = now
        for (const e of s.waiting.values()) if (e.dueAt < oldest) oldest = e.dueAt
        counts.set(type, { waiting: s.waiting.size, running: s.running.size, failed: s.failed.size, oldestWaitingMs: now - oldest })
      }
      return counts
    },
    async close () {
      closing = true
      for (const s of types.values()) for (const e of s.waiting.values()) if (e.timer !== undefined) clock.clearTimeout(e.timer)
      while (active.size > 0) await Promise.allSettled([...active])
    }
  }
}
