// Scheduled sends (SPEC §21): a send checked now and run at its sendAt through the same pipeline, once, as a job on the queue.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import { isHsmError, OUTCOME_UNKNOWN, problem, type Answer } from '../errors.js'
import { QueueError, type Job, type JobQueue } from '../queue/queue.js'
import { NotSent, type ScheduledSend, type Sender } from '../send.js'
import type { MessageBase, Schedule, ScheduleState, StatusStore } from '../status/types.js'

export const SCHEDULED_JOB = 'scheduled-send'

export type ScheduleOutcome = 'scheduled' | 'sent' | 'cancelled' | 'expired' | 'failed'

/** Answers that say "try again later": the job is retried (with the queue's growing delays), never given up for them alone. */
const TRY_AGAIN = new Set(['IDEMPOTENCY_IN_PROGRESS', 'STORE_UNAVAILABLE', 'OVERLOADED', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_RATE_LIMITED'])
const FINISHED: ReadonlySet<ScheduleState> = new Set(['sent', 'cancelled', 'expired', 'failed'])

/** Thrown by the job to be run again later: the send's outcome is not known yet, or it could not run now. */
class NotYet extends Error {}

export interface SchedulerOptions {
  config: Pick<Config, 'schedule' | 'queue'>
  queue: JobQueue
  /** The status store callbacks watch: every change of a schedule's record is told to its caller. */
  status: StatusStore
  log: FastifyBaseLogger
  observe?: (outcome: ScheduleOutcome) => void
  now?: () => number
  /**
   * Sandbox mode: how many of the latest schedule ids this process took to remember, for the
   * sandbox inbox (GET /sandbox/inbox.json); 0 (the default) remembers none.
   */
  remember?: number
}

const baseOf = (send: ScheduledSend, schedule: Schedule): MessageBase => ({
  messageId: send.id,
  caller: send.caller,
  botId: send.botId,
  template: send.template,
  kind: send.kind,
  to: send.to,
  acceptedAt: send.scheduledAt,
  requestId: send.requestId,
  clientRef: send.clientRef,
  callbackUrl: send.callbackUrl,
  schedule
})

export function createScheduler (options: SchedulerOptions) {
  const { config, queue, status, log, observe, now = Date.now, remember = 0 } = options
  let sender: Sender | undefined
  // The ids of the latest schedules taken here, oldest first, at most `remember` of them.
  const taken: string[] = []

  /** Writes the schedule's record in its new state (the store and the callbacks see it), and waits until it is stored. */
  async function update (send: ScheduledSend, schedule: Omit<Schedule, 'at' | 'sendAt'>): Promise<void> {
    status.record(baseOf(send, { ...schedule, sendAt: send.sendAt, at: now() }))
    if (!await status.flush()) throw problem('STORE_UNAVAILABLE', 'The shared store (Redis) did not store the scheduled send; nothing was scheduled. Retry shortly.')
  }

  /** `stalls`: set when the send's job was given up (its runs stopped mid-way that often) and this settles it. */
  async function end (send: ScheduledSend, state: ScheduleOutcome & ScheduleState, fields: { messageId?: string, code?: string, detail?: string } = {}, stalls?: number): Promise<void> {
    await update(send, { state, ...fields })
    observe?.(state)
    const line = { scheduleId: send.id, caller: send.caller, kind: send.kind, template: send.template, state, code: fields.code, messageId: fields.messageId, givenUp: stalls === undefined ? undefined : { stalls } }
    if (stalls === undefined) log.info(line, `scheduled send ${state}`)
    else log.warn(line, `scheduled send ${state}: its job was given up after ${stalls} stalls, and settled without sending again`)
  }

  /** Takes a send for later: its record first (so a cancel or the job finds it), then its job. */
  async function schedule (send: ScheduledSend): Promise<void> {
    // Scheduled already under this id (the same Idempotency-Key, run again): its record and job stand.
    const existing = (await status.get(send.id))?.base?.schedule
    if (existing !== undefined && !(existing.state === 'failed' && existing.code === 'OVERLOADED')) {
      if (existing.state === 'scheduled') await queue.add(SCHEDULED_JOB, send.id, send, { runAt: send.sendAt })
      return
    }
    await update(send, { state: 'scheduled' })
    try {
      await queue.add(SCHEDULED_JOB, send.id, send, { runAt: send.sendAt })
    } catch (error) {
      await update(send, { state: 'failed', code: 'OVERLOADED', detail: 'the job queue could not take it' }).catch(() => {})
      if (error instanceof QueueError && error.code === 'QUEUE_FULL') throw problem('OVERLOADED', 'The job queue is full (QUEUE_MAX_JOBS scheduled sends wait); nothing was scheduled.', { retryAfterSeconds: 60 })
      throw problem('STORE_UNAVAILABLE', 'The job queue did not take the scheduled send; nothing was scheduled. Retry shortly.', { cause: error })
    }
    if (remember > 0) {
      taken.push(send.id)
      if (taken.length > remember) taken.splice(0, taken.length - remember)
    }
    observe?.('scheduled')
  }

  /**
   * The pipeline, as a request of the schedule's caller with the schedule's own Idempotency-Key: a
   * re-run resolves, never sends twice. `settleOnly`: never send at all (see SendRequest.settleOnly).
   */
  async function runSend (send: ScheduledSend, attempt: number, settleOnly = false): Promise<Answer> {
    const id = `${send.id}.${attempt}${settleOnly ? '.settle' : ''}`
    const request = {
      id,
      caller: send.caller,
      headers: { 'idempotency-key': `schedule:${send.id}` },
      routeOptions: { url: '/schedule' },
      url: '/schedule',
      query: {},
      body: { schedule: send.id },
      log: log.child({ reqId: id })
    } as unknown as FastifyRequest
    const reply = { header: () => reply } as unknown as FastifyReply
    return await (sender as Sender)(request, reply, {
      kind: send.kind,
      template: send.template,
      body: send.body,
      to: `+${send.to}`,
      toPath: '/to',
      botIdIn: 'body',
      country: undefined,
      botId: send.botId,
      language: undefined,
      clientRef: send.clientRef,
      callbackUrl: send.callbackUrl,
      dryRun: false,
      fieldErrors: [],
      scheduleId: send.id,
      settleOnly,
      build: (ctx) => ({ ...send.body, destinations: [ctx.to] })
    })
  }

  async function due (job: Job<ScheduledSend>): Promise<void> {
    const send = job.payload
    const current = (await status.get(send.id))?.base?.schedule
    // Cancelled (the job was removed, but a copy may have been taken), or settled by an earlier run.
    if (current !== undefined && FINISHED.has(current.state)) return
    // Its record is gone (dropped for room, or expired): its caller saw 404 for it and could not cancel it. Never sent unseen.
    if (current === undefined) {
      await end(send, 'failed', { code: 'SCHEDULE_RECORD_LOST', detail: 'the scheduled send\'s record was lost before its sendAt (MESSAGE_MAX_RECORDS or MESSAGE_TTL_SECONDS): not sent' })
      return
    }
    if (current.state === 'scheduled') {
      // Another replica's clock may run ahead of this one: never before sendAt by this clock either.
      if (now() < send.sendAt) throw new NotYet('not due yet by this replica\'s clock')
      const late = now() - send.sendAt
      const next = late > config.schedule.maxLatenessMs ? 'expired' : 'sending'
      // One step, scheduled → sending (or expired): a cancel taking it at the same moment wins or loses whole.
      if (!await status.transition(send.id, 'scheduled', next, now())) {
        const state = (await status.get(send.id))?.base?.schedule?.state
        // Cancelled meanwhile, or another run took it (it sends, or resolves, under the same key).
        if (state !== 'sending') return
      } else if (next === 'expired') {
        await end(send, 'expired', { code: 'SCHEDULE_EXPIRED', detail: `due ${Math.round(late / 1000)} s ago, more than SCHEDULE_MAX_LATENESS_SECONDS (${config.schedule.maxLatenessMs / 1000} s): not sent` })
        return
      }
    }
    await conclude(send, job, await answerOf(send, job))
  }

  /** The pipeline's answer to this run (a coded error as its problem answer). */
  async function answerOf (send: ScheduledSend, job: Job<ScheduledSend>, settleOnly = false): Promise<Answer> {
    try {
      return await runSend(send, job.attempt, settleOnly)
    } catch (error) {
      if (!isHsmError(error)) throw error
      return { status: error.statusCode, contentType: 'application/problem+json', body: { code: error.code, detail: error.message, resolution: error.resolution } }
    }
  }

  /** Ends the schedule as the answer says, or throws NotYet to be run again; `stalls` when its job was given up (and this run only settles). */
  async function conclude (send: ScheduledSend, job: Job<ScheduledSend>, answer: Answer, stalls?: number): Promise<void> {
    const code = String(answer.body.code ?? '')
    const detail = String(answer.body.detail ?? '')
    const givenUp = stalls === undefined ? undefined : `its job was given up after ${stalls} stalls (QUEUE_MAX_STALLS: each replica running it stopped mid-run), and it was not sent again`
    if (answer.status === 202) {
      await end(send, 'sent', { messageId: answer.body.messageId as string }, stalls)
      return
    }
    const resolution = answer.body.resolution
    if (TRY_AGAIN.has(code) || (OUTCOME_UNKNOWN.has(code) && resolution !== 'unresolvable')) {
      // The queue gives up after this one: the schedule ends, told to its caller, never left "sending".
      if (job.final === true) {
        const why = givenUp === undefined
          ? `still so after QUEUE_RETRY_HOURS of retries: given up${OUTCOME_UNKNOWN.has(code) ? '; the outcome of the last attempt is not known' : ''}`
          : `${givenUp}; still so after QUEUE_RETRY_HOURS of retries: whether it was sent is not known`
        await end(send, 'failed', { code, detail: `${detail} (${why})` }, stalls)
        return
      }
      throw new NotYet(`${code}${resolution === undefined ? '' : ` (${String(resolution)})`}: run again later`)
    }
    const why = givenUp === undefined ? '' : ` (${givenUp}${OUTCOME_UNKNOWN.has(code) ? '; whether it was sent cannot be known' : ''})`
    await end(send, 'failed', { code, detail: `${detail}${why}` }, stalls)
  }

  /**
   * A scheduled send whose job was given up (its runs stopped mid-way more than QUEUE_MAX_STALLS
   * times): an earlier run may have reached Jelou, so it is settled, never sent again. It never
   * left `scheduled`: not sent. Else through its Idempotency-Key, as a re-run would: a kept answer
   * (sent, or refused), or the earlier attempt resolved (Jelou has its message: sent); no attempt
   * made, or its message provably absent: failed, SCHEDULE_GIVEN_UP, not sent. Not known yet: run
   * again (the queue's retries); still not known at the last: failed with the code that says so.
   */
  async function givenUp (job: Job<ScheduledSend>): Promise<void> {
    const send = job.payload
    const stalls = job.stalls ?? 0
    const current = (await status.get(send.id))?.base?.schedule
    if (current !== undefined && FINISHED.has(current.state)) return
    const detail = `its job was given up after ${stalls} stalls (QUEUE_MAX_STALLS: each replica running it stopped mid-run)`
    if (current?.state === 'scheduled') {
      // Its runs stopped before it moved to sending, which comes before any send: one step, so a cancel at the same moment wins or loses whole.
      if (await status.transition(send.id, 'scheduled', 'failed', now())) {
        await end(send, 'failed', { code: 'SCHEDULE_GIVEN_UP', detail: `${detail} before it started sending: not sent` }, stalls)
        return
      }
      if ((await status.get(send.id))?.base?.schedule?.state !== 'sending') return
    }
    let answer: Answer
    try {
      answer = await answerOf(send, job, true)
    } catch (error) {
      if (!(error instanceof NotSent)) throw error
      await end(send, 'failed', { code: 'SCHEDULE_GIVEN_UP', detail: `${detail}; none of its runs reached Jelou, or Jelou provably does not have its message: not sent` }, stalls)
      return
    }
    await conclude(send, job, answer, stalls)
  }

  // A send whose outcome is unknown is resolved on the next run; the queue's retries cover QUEUE_RETRY_HOURS.
  queue.handle<ScheduledSend>(SCHEDULED_JOB, due, { givenUp })

  /** Cancels a scheduled send that has not started: true; false when it is sending, sent or finished. */
  async function cancel (base: MessageBase): Promise<boolean> {
    if (base.schedule === undefined) return false
    // One step, scheduled → cancelled: the run at sendAt moves it to sending the same way, so exactly one wins.
    if (!await status.transition(base.messageId, 'scheduled', 'cancelled', now())) {
      // Lost to a cancel at the same moment (cancelled: 200 again), or to the run (409).
      return (await status.get(base.messageId))?.base?.schedule?.state === 'cancelled'
    }
    // The job is no longer needed (if it runs anyway, it finds the send cancelled and does nothing).
    await queue.cancel(SCHEDULED_JOB, base.messageId).catch(() => false)
    status.record({ ...base, schedule: { ...base.schedule, state: 'cancelled', at: now() } })
    await status.flush()
    observe?.('cancelled')
    log.info({ scheduleId: base.messageId, caller: base.caller, state: 'cancelled' }, 'scheduled send cancelled')
    return true
  }

  return {
    schedule,
    cancel,
    /** The ids of the latest schedules this process took (at most `remember`), newest first: the sandbox inbox lists them. */
    recent (): string[] { return [...taken].reverse() },
    /** The pipeline the jobs run (created after the scheduler, which it needs for sendAt). */
    use (send: Sender) { sender = send }
  }
}

export type Scheduler = ReturnType<typeof createScheduler>
