// Callbacks (SPEC §21): every change of a message posted to its caller's URL, signed by Standard Webhooks, in order, at least once, on the job queue.
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { Webhook } from 'standardwebhooks'
import { request, type Dispatcher } from 'undici'
import type { Config } from '../config.js'
import type { JobQueue } from '../queue/queue.js'
import type { AttemptContext } from '../stores/types.js'
import type { CallbackPolicy } from '../send.js'
import { statusUrlOf } from '../status/lookup.js'
import { statusOf, type MessageState, type Status, type StatusStore } from '../status/types.js'
import { refusal } from './allow.js'
import { LedgerGone, type CallbackEvent, type CallbackLedger } from './ledger.js'

export const CALLBACK_JOB = 'callback'

/** What a delivery job carries: which chain, for whom, where. The events themselves are in the ledger. */
export interface CallbackJob {
  chain: string
  caller: string
  url: string
  messageId: string | null
}

export type DeliveryOutcome = 'delivered' | 'error'
export interface CallbackObserver {
  /** One per POST: its outcome and which attempt of its job it was. */
  delivery: (outcome: DeliveryOutcome, attempt: number) => void
  /** A callback that could not be queued (queue full or closing): it waits in the ledger for the message's next change. */
  notQueued: () => void
}

/** A delivery failed: the receiver's answer or the network error, without the body. */
export class DeliveryError extends Error {
  constructor (message: string, readonly status?: number) {
    super(message)
    this.name = 'DeliveryError'
  }
}

/** The order statuses are told in when several are learned at once (a poll that jumped ahead). */
const ORDER: Status[] = ['accepted', 'delivered_channel', 'delivered_user', 'failed', 'read', 'replied']
/** The answer's body is not read beyond this. */
const MAX_ANSWER_BYTES = 4096

const hash = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32)
/** Job ids and webhook ids: letters, digits and `-`, whatever the message id holds. */
const jobIdOf = (chain: string, seq: number) => `${hash(chain)}-${seq}`
const webhookIdOf = (chain: string, seq: number) => `msg_${hash(chain)}_${seq}`

export interface CallbacksOptions {
  config: Pick<Config, 'apiKeys' | 'callbacks'>
  ledger: CallbackLedger
  queue: JobQueue
  /** The status store the events come from (unwrapped: reading it never emits). */
  status: StatusStore
  dispatcher: Dispatcher
  log: FastifyBaseLogger
  observe?: CallbackObserver
}

export function createCallbacks (options: CallbacksOptions) {
  const { config, ledger, queue, status, dispatcher, log, observe } = options
  const callers = new Map(config.apiKeys.map((k) => [k.name, k]))
  const secretOf = (caller: string): string | undefined => callers.get(caller)?.callbackSecret ?? config.callbacks.secret ?? undefined
  const signers = new Map<string, Webhook>()
  const signer = (secret: string): Webhook => {
    let webhook = signers.get(secret)
    if (webhook === undefined) {
      webhook = new Webhook(secret)
      signers.set(secret, webhook)
    }
    return webhook
  }

  const policy: CallbackPolicy = {
    refusal (url, caller) {
      if (secretOf(caller) === undefined) return `cannot be used: no callback secret is configured for caller "${caller}" (API_KEYS ;callbackSecret=, or CALLBACK_SECRET)`
      return refusal(url, config.callbacks.allow)
    },
    defaultUrl: (caller) => secretOf(caller) === undefined ? undefined : callers.get(caller)?.callbackUrl ?? config.callbacks.url ?? undefined
  }

  let notQueued = 0
  let notQueuedLoggedAt = -Infinity

  /** Appends one event to a chain, and queues the chain's delivery when none is running. */
  async function emit (chain: string, job: CallbackJob, event: CallbackEvent): Promise<void> {
    const appended = await ledger.append(chain, event)
    if (appended === null || !appended.start) return
    try {
      await queue.add(CALLBACK_JOB, jobIdOf(chain, appended.seq), job)
    } catch (error) {
      // Queue full or closing: the event stays in the ledger and goes out with the message's next change.
      await ledger.abandon(chain)
      observe?.notQueued()
      // A full queue refuses every callback of a busy service: one line per 10 s, with the count, not one per send.
      notQueued++
      if (Date.now() - notQueuedLoggedAt >= 10000) {
        log.error({ err: { code: (error as { code?: string }).code, message: (error as Error).message }, messageId: job.messageId, type: event.type, notQueued }, 'callbacks not queued (the count since the last such line): each waits for its message\'s next change')
        notQueuedLoggedAt = Date.now()
        notQueued = 0
      }
    }
  }

  const messageData = (state: MessageState, messageId: string): Record<string, unknown> => {
    const base = state.base as NonNullable<MessageState['base']>
    const data: Record<string, unknown> = {
      messageId,
      status: statusOf(state.steps),
      template: base.template,
      kind: base.kind,
      botId: base.botId,
      statusUrl: statusUrlOf(messageId)
    }
    if (base.clientRef !== undefined) data.clientRef = base.clientRef
    return data
  }

  /**
   * Every step the message has reached, as callbacks (the ledger keeps one per type, so telling
   * it again changes nothing): after the send's record and after each piece of news.
   */
  async function sync (messageId: string): Promise<void> {
    const state = await status.get(messageId)
    const base = state?.base
    if (state === undefined || base?.callbackUrl === undefined) return
    const job: CallbackJob = { chain: `m:${messageId}`, caller: base.caller, url: base.callbackUrl, messageId }
    const schedule = base.schedule
    if (schedule !== undefined) {
      // A scheduled send that never became a message: how it ended. (Sent, its message tells its own story, with scheduleId.)
      if (schedule.state !== 'cancelled' && schedule.state !== 'expired' && schedule.state !== 'failed') return
      const data: Record<string, unknown> = { ...messageData(state, messageId), status: schedule.state, at: new Date(schedule.at).toISOString(), scheduleId: messageId, sendAt: new Date(schedule.sendAt).toISOString() }
      if (schedule.code !== undefined) data.failure = { code: schedule.code, message: schedule.detail }
      await emit(job.chain, job, { type: `message.${schedule.state}`, at: schedule.at, data })
      return
    }
    const final = statusOf(state.steps)
    for (const step of ORDER) {
      const at = state.steps[step]
      if (at === undefined || (step === 'failed' && final !== 'failed')) continue
      const data: Record<string, unknown> = { ...messageData(state, messageId), status: step, at: new Date(at).toISOString() }
      let type = `message.${step}`
      if (step === 'accepted' && base.resolved === true) type = 'message.resolved'
      if (step === 'accepted' && base.resent === true) type = 'message.resent'
      if (step === 'accepted' && type !== 'message.accepted') data.resolution = type.slice('message.'.length)
      if (step === 'failed' && state.failure !== undefined) data.failure = state.failure
      if (step === 'replied' && state.reply !== undefined) data.reply = state.reply
      if (base.scheduleId !== undefined) data.scheduleId = base.scheduleId
      await emit(job.chain, job, { type, at, data })
    }
  }

  /** The status store, emitting callbacks: a send's record (in the background: the send never waits) and each news applied. */
  function wrap (store: StatusStore): StatusStore {
    return {
      ...store,
      record (base) {
        store.record(base)
        if (base.callbackUrl !== undefined) {
          store.flush().then(async () => { await sync(base.messageId) }).catch((error: Error) => {
            log.error({ err: { message: error.message }, messageId: base.messageId }, 'callback of an accepted send not stored')
          })
        }
      },
      async apply (messageId, update) {
        const changed = await store.apply(messageId, update)
        // Also when nothing changed: a repeat of an event whose callback was not stored stores it now.
        await sync(messageId)
        return changed
      }
    }
  }

  /** A 504 whose outcome can never be known: told once, on the attempt's own chain (there is no message id). */
  async function unresolvable (attempt: AttemptContext, caller: string): Promise<void> {
    if (attempt.callbackUrl === undefined) return
    const chain = `a:${attempt.attemptId}`
    const data: Record<string, unknown> = { messageId: null, resolution: 'unresolvable', template: attempt.template, kind: attempt.kind, botId: attempt.botId }
    if (attempt.clientRef !== undefined) data.clientRef = attempt.clientRef
    await emit(chain, { chain, caller, url: attempt.callbackUrl, messageId: null }, { type: 'message.unresolvable', at: Date.now(), data })
  }

  /** One POST: Standard Webhooks headers and body; 2xx is delivered, anything else (a redirect too) is an error. */
  async function post (job: CallbackJob, seq: number, event: CallbackEvent, attempt: number): Promise<void> {
    const secret = secretOf(job.caller)
    if (secret === undefined) throw new DeliveryError(`no callback secret is configured for caller "${job.caller}" any more`)
    // The URL was allowed when the send was taken; the list may have changed since.
    const why = refusal(job.url, config.callbacks.allow)
    if (why !== undefined) throw new DeliveryError(`the callbackUrl ${why}`)
    const id = webhookIdOf(job.chain, seq)
    const timestamp = new Date()
    const payload = JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data: event.data })
    try {
      const response = await request(job.url, {
        method: 'POST',
        dispatcher,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'jelou-hsm-proxy',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signer(secret).sign(id, timestamp, payload)
        },
        body: payload,
        headersTimeout: config.callbacks.timeoutMs,
        bodyTimeout: config.callbacks.timeoutMs,
        signal: AbortSignal.timeout(config.callbacks.timeoutMs)
      })
      // Read a little of the answer so the connection can be reused, never the whole of a large one.
      let read = 0
      for await (const chunk of response.body) {
        read += (chunk as Buffer).length
        if (read > MAX_ANSWER_BYTES) { response.body.destroy(); break }
      }
      if (response.statusCode < 200 || response.statusCode >= 300) {
        throw new DeliveryError(response.statusCode >= 300 && response.statusCode < 400
          ? `the receiver answered ${response.statusCode} (redirects are not followed)`
          : `the receiver answered ${response.statusCode}`, response.statusCode)
      }
      observe?.delivery('delivered', attempt)
    } catch (error) {
      observe?.delivery('error', attempt)
      if (error instanceof DeliveryError) throw error
      const code = (error as { code?: string }).code
      throw new DeliveryError(`the receiver could not be reached: ${code ?? (error as Error).name}`)
    }
  }

  /** The delivery job: the chain's undelivered callbacks, oldest first; a failure stops it (retried later, from the same one). */
  async function deliver (job: { payload: CallbackJob, attempt: number }): Promise<void> {
    const { payload } = job
    const next = async () => {
      try {
        return await ledger.next(payload.chain)
      } catch (error) {
        // Gone: said as the delivery's error (the job fails and stays listed), never a silent "completed".
        if (error instanceof LedgerGone) {
          log.error({ messageId: payload.messageId, caller: payload.caller, err: { message: error.message } }, 'callbacks lost: no longer stored')
          throw new DeliveryError(error.message)
        }
        throw error
      }
    }
    for (let pending = await next(); pending !== null; pending = await next()) {
      try {
        await post(payload, pending.seq, pending.event, job.attempt)
      } catch (error) {
        log.warn({ messageId: payload.messageId, caller: payload.caller, type: pending.event.type, attempt: job.attempt, err: { message: (error as Error).message } }, 'callback not delivered; retried later')
        throw error
      }
      await ledger.ack(payload.chain, pending.seq)
      log.info({ messageId: payload.messageId, caller: payload.caller, type: pending.event.type, attempt: job.attempt }, 'callback delivered')
    }
  }

  // No given-up handler: a delivery given up after QUEUE_MAX_STALLS stalls is kept as failed, listed and replayable like one out of retries.
  queue.handle<CallbackJob>(CALLBACK_JOB, deliver, { retry: { totalMs: config.callbacks.retryMs } })

  /** A caller's callbacks that ran out of retries, newest first. */
  async function failed (caller: string) {
    const jobs = await queue.failed(CALLBACK_JOB, 1000)
    const mine = jobs.filter((job) => (job.payload as CallbackJob).caller === caller)
    return await Promise.all(mine.map(async (job) => {
      const payload = job.payload as CallbackJob
      return {
        id: job.id,
        messageId: payload.messageId,
        url: payload.url,
        attempts: job.attempts,
        error: job.error,
        failedAt: new Date(job.failedAt).toISOString(),
        waiting: await ledger.waiting(payload.chain)
      }
    }))
  }

  /** Runs a caller's failed delivery again (and so every callback of its message waiting behind it); false when there is none. */
  async function retry (caller: string, id: string): Promise<boolean> {
    const job = (await queue.failed(CALLBACK_JOB, 1000)).find((candidate) => candidate.id === id)
    if (job === undefined || (job.payload as CallbackJob).caller !== caller) return false
    return await queue.retry(CALLBACK_JOB, id)
  }

  return { policy, wrap, unresolvable, failed, retry }
}

export type Callbacks = ReturnType<typeof createCallbacks>
