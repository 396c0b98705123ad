// The one call to Jelou: POST /v2/whatsapp/{botId}/hsm with Basic auth, deadlines, safe retries and outcome mapping.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Dispatcher } from 'undici'
import { classifyNetworkError, problem, type HsmError } from '../errors.js'
import { maskPhonesIn } from '../phone.js'
import type { UpstreamBody } from './schema.js'

export interface UpstreamClientOptions {
  dispatcher: Dispatcher
  clientId: string
  clientSecret: string
  /** Hard deadline for the whole send, retries included: at this point the caller gets 504 UPSTREAM_TIMEOUT. */
  timeoutMs: number
  /** Tracing (src/tracing.ts); absent when tracing is off, so an attempt pays one check. */
  tracer?: AttemptTracer
}

/** One span per attempt: started before the request is dispatched, ended with that attempt's outcome. */
export interface AttemptTracer {
  /** May add trace context to `headers` (only with JELOU_SEND_TRACEPARENT=true). */
  start: (input: SendInput, attempt: number, headers: Record<string, string>) => { end: (outcome: SendOutcome) => void }
}

/** At most this many retries, and only where SPEC §8 allows them. */
const MAX_RETRIES = 2
/** First backoff step; doubled per retry and jittered. */
const BACKOFF_MS = 100

/** Raised when the whole send's deadline passes, whatever undici was doing (queued, writing, reading a trickle). */
export class DeadlineError extends Error {
  readonly code = 'HSM_DEADLINE'
  constructor (timeoutMs: number) {
    super(`the send did not finish within ${timeoutMs} ms`)
    this.name = 'DeadlineError'
  }
}

export interface SendInput {
  /** The template kind, for traces only. */
  kind?: string
  botId: string
  body: UpstreamBody
  requestId: string
  /** Values that must not leave in an error body even if Jelou echoes them (phone, parameters, codes); read only on an error. */
  secrets: () => readonly string[]
  /** Time already spent since the attempt's recorded start: the deadline counts from that start, not from this call. */
  spentMs?: number
}

export type SendOutcome =
  | { ok: true, messageId: string, upstreamStatus: number, attempts: number }
  | { ok: false, error: HsmError, upstreamStatus: number | null, attempts: number }

export function upstreamPath (botId: string): string {
  return `/v2/whatsapp/${encodeURIComponent(botId)}/hsm`
}

export interface UpstreamClient {
  send: (input: SendInput) => Promise<SendOutcome>
}

export function createUpstreamClient (options: UpstreamClientOptions): UpstreamClient {
  const { dispatcher, timeoutMs, tracer } = options
  const authorization = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`

  async function send (input: SendInput): Promise<SendOutcome> {
    const deadline = Date.now() + timeoutMs - Math.max(0, input.spentMs ?? 0)
    const payload = JSON.stringify(input.body)
    const path = upstreamPath(input.botId)
    let attempts = 0
    for (;;) {
      attempts++
      let retryAfterMs: number | null = null
      let outcome: SendOutcome
      const headers: Record<string, string> = {
        authorization,
        'content-type': 'application/json',
        accept: 'application/json',
        'x-request-id': input.requestId
      }
      const span = tracer?.start(input, attempts, headers)
      try {
        const response = await post(dispatcher, {
          method: 'POST',
          path,
          headers,
          body: payload
        }, deadline, timeoutMs)
        outcome = interpret(response.statusCode, response.headers, response.text, input.secrets, attempts)
        if (!outcome.ok && (response.statusCode === 429 || response.statusCode === 503)) {
          retryAfterMs = retryAfterToMs(response.headers['retry-after'])
        }
      } catch (failed) {
        const { reason: error, written } = failed as Failed
        const failure = classifyNetworkError(error, written)
        outcome = { ok: false, error: problem(failure.code, failure.detail, { cause: error }), upstreamStatus: null, attempts }
        if (failure.retrySafe) retryAfterMs = 0
      }
      span?.end(outcome)
      if (outcome.ok || retryAfterMs === null || attempts > MAX_RETRIES) return outcome
      const wait = retryAfterMs + jitter(BACKOFF_MS * 2 ** (attempts - 1))
      if (Date.now() + wait >= deadline) return outcome
      await sleep(wait)
    }
  }

  return { send }
}

interface Answered {
  statusCode: number
  headers: IncomingHeaders
  text: string
}

type IncomingHeaders = Record<string, string | string[] | undefined>

/** A failed request, and whether undici had begun writing it (after that, bytes may have reached Jelou). */
class Failed extends Error {
  constructor (readonly reason: unknown, readonly written: boolean) {
    super('upstream request failed')
  }
}

/**
 * One request through undici's dispatcher API, the answer read whole as text. The body is
 * always read to the end, so the keep-alive connection goes back to the pool. This is what
 * `dispatcher.request()` + `body.text()` do, without a Readable stream and its ticks per
 * answer (see docs/performance.md).
 *
 * undici's headersTimeout/bodyTimeout bound the gaps between chunks, not the answer: an
 * upstream trickling one byte at a time would hold the send open for ever. So a timer at the
 * send's deadline rejects at once and aborts the request (destroying its socket); a request
 * still queued for a connection is aborted when undici starts it, before any byte is written.
 */
function post (dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, deadline: number, timeoutMs: number): Promise<Answered> {
  return new Promise((resolve, reject) => {
    let statusCode = 0
    let headers: IncomingHeaders = {}
    const chunks: Buffer[] = []
    let expired: DeadlineError | null = null
    let abort: ((reason: Error) => void) | null = null
    const fail = (error: unknown) => reject(new Failed(error, abort !== null))
    const timer = setTimeout(() => {
      expired = new DeadlineError(timeoutMs)
      abort?.(expired)
      fail(expired)
    }, Math.max(0, deadline - Date.now()))
    dispatcher.dispatch(options, {
      // undici calls this just before it writes the request: a failure before it sent nothing.
      onRequestStart (controller) {
        if (expired !== null) controller.abort(expired)
        else abort = (reason) => controller.abort(reason)
      },
      onResponseStart (_controller, status, responseHeaders) {
        if (status < 200) return // 1xx informational: the real answer follows
        statusCode = status
        headers = responseHeaders as IncomingHeaders
      },
      onResponseData (_controller, chunk) { chunks.push(chunk) },
      onResponseEnd () {
        clearTimeout(timer)
        resolve({ statusCode, headers, text: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') })
      },
      onResponseError (_controller, error) {
        clearTimeout(timer)
        fail(error)
      }
    })
  })
}

function jitter (ms: number): number {
  return Math.round(ms / 2 + Math.random() * ms)
}

function retryAfterToMs (value: string | string[] | undefined): number | null {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return null
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000
  const date = Date.parse(raw)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

function interpret (status: number, headers: IncomingHeaders, text: string, secrets: () => readonly string[], attempts: number): SendOutcome {
  const fail = (error: HsmError): SendOutcome => ({ ok: false, error, upstreamStatus: status, attempts })
  const json = parseJson(text)
  if (status >= 200 && status < 300) {
    const first = Array.isArray(json) ? json[0] as unknown : undefined
    const id = typeof first === 'object' && first !== null ? (first as { id?: unknown }).id : undefined
    if (typeof id !== 'string' || id === '') {
      return fail(problem('UPSTREAM_ERROR', `Jelou answered ${status} with a body that is not the documented [{ id, destination }] list; the message may have been sent.`))
    }
    return { ok: true, messageId: id, upstreamStatus: status, attempts }
  }
  const upstream = { status, body: sanitizeUpstreamBody(json, secrets()) }
  if (status === 400 || status === 404 || status === 422) {
    return fail(problem('UPSTREAM_REJECTED', `Jelou rejected the message (${status}): check the template, bot and parameters.`, { upstream }))
  }
  if (status === 401 || status === 403) {
    return fail(problem('UPSTREAM_AUTH_FAILED', `Jelou refused our credentials (${status}); nothing was sent. The service operator must check JELOU_CLIENT_ID, JELOU_CLIENT_SECRET and the bot.`, { upstream }))
  }
  if (status === 429) {
    const retryAfterMs = retryAfterToMs(headers['retry-after'])
    const retryAfterSeconds = retryAfterMs === null ? 1 : Math.max(1, Math.ceil(retryAfterMs / 1000))
    return fail(problem('UPSTREAM_RATE_LIMITED', 'Jelou is rate limiting this account; nothing was sent.', { upstream, retryAfterSeconds }))
  }
  return fail(problem('UPSTREAM_ERROR', `Jelou answered ${status}.`, { upstream }))
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text.length > 0 ? '[unreadable body]' : null
  }
}

const KEPT_KEYS = new Set(['code', 'key', 'description', 'message', 'status', 'statusMessage', 'error'])

/**
 * Keep only Jelou's error fields that help a caller (code, message, description), never its
 * echo of the request: phone numbers are masked and the request's own values removed.
 */
export function sanitizeUpstreamBody (value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') {
    let clean = value.slice(0, 500)
    for (const secret of secrets) {
      if (secret.length > 0) clean = clean.split(secret).join('[redacted]')
    }
    return maskPhonesIn(clean)
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value
  if (depth > 3) return undefined
  if (Array.isArray(value)) return value.slice(0, 10).map((item) => sanitizeUpstreamBody(item, secrets, depth + 1))
  if (typeof value === 'object') {
    const kept: Record<string, unknown> = {}
    for (const [key, inner] of Object.entries(value)) {
      if (KEPT_KEYS.has(key)) kept[key] = sanitizeUpstreamBody(inner, secrets, depth + 1)
    }
    return kept
  }
  return undefined
}
