// The one send pipeline every route uses: check, normalize, build, forward (or dry-run), answer, log once.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config, Language } from './config.js'
import { problem, validationFailed, type FieldError, type HsmError, type ProblemCode } from './errors.js'
import { normalizePhone, type NormalizedPhone } from './phone.js'
import type { BuildContext } from './templates/kind.js'
import { upstreamPath, type UpstreamClient } from './upstream/client.js'
import type { UpstreamBody } from './upstream/schema.js'

/** What a route hands to the pipeline once its schema has passed. */
export interface SendRequest {
  kind: string
  template: string
  to: string
  /** JSON pointer of the phone field, for INVALID_PHONE. */
  toPath: string
  country: string | undefined
  botId: string | undefined
  language: Language | undefined
  clientRef: string | undefined
  dryRun: boolean
  /** Cross-field rule failures the route found; any of them stops the send. */
  fieldErrors: FieldError[]
  build: (ctx: BuildContext) => UpstreamBody
}

export type Outcome = 'sent' | 'rejected' | 'failed' | 'timeout' | 'replayed' | 'dry_run'

/** Marks an error whose send line is already written, so the error handler does not log it again. */
export const SEND_LOGGED = Symbol('sendLogged')

export interface SenderOptions {
  config: Config
  upstream: UpstreamClient
  now?: () => number
}

export function createSender ({ config, upstream, now = Date.now }: SenderOptions) {
  const sandbox = config.mode === 'sandbox'

  return async function send (request: FastifyRequest, reply: FastifyReply, input: SendRequest) {
    const started = performance.now()
    const errors = [...input.fieldErrors]
    const botId = input.botId ?? config.jelou.botId
    if (botId === null) {
      errors.push({ in: 'body', path: '/botId', rule: 'required', message: 'is required when JELOU_BOT_ID is not set' })
    }
    if (errors.length > 0) throw validationFailed(errors)

    const phoneResult = normalizePhone(input.to, input.country ?? config.defaultCountry ?? undefined)
    if (!phoneResult.ok) {
      throw problem('INVALID_PHONE', `${input.toPath.slice(1)} ${phoneResult.message}`, {
        errors: [{ in: 'body', path: input.toPath, rule: phoneResult.reason, message: phoneResult.message }]
      })
    }
    const phone = phoneResult.phone
    const body = input.build({ to: phone.normalized, language: input.language ?? config.defaultLanguage ?? undefined })
    const path = upstreamPath(botId as string)
    const line = {
      caller: 'anonymous',
      kind: input.kind,
      template: input.template,
      language: body.language,
      botId,
      to: phone.normalized,
      paramCount: countParams(body),
      clientRef: input.clientRef
    }

    if (input.dryRun) {
      request.log.info({ ...line, outcome: 'dry_run' satisfies Outcome, durationMs: elapsed(started) }, 'hsm dry run')
      return reply.code(200).send({
        dryRun: true,
        kind: input.kind,
        requestId: request.id,
        phone: echo(phone),
        sandbox,
        upstream: { method: 'POST', path, body }
      })
    }

    const result = await upstream.send({ botId: botId as string, body, requestId: request.id, secrets: sensitiveValues(phone, body) })
    const common = { ...line, upstreamStatus: result.upstreamStatus, attempts: result.attempts, durationMs: elapsed(started) }
    if (!result.ok) {
      const outcome = outcomeOf(result.error.code)
      const level = outcome === 'rejected' ? 'warn' : 'error'
      request.log[level]({ ...common, outcome, code: result.error.code, err: causeOf(result.error) }, `hsm ${outcome}`)
      Object.assign(result.error, { [SEND_LOGGED]: true })
      throw result.error
    }
    request.log.info({ ...common, outcome: 'sent' satisfies Outcome, messageId: result.messageId }, 'hsm sent')
    return reply.code(202).send({
      messageId: result.messageId,
      to: phone.normalized,
      kind: input.kind,
      template: input.template,
      botId,
      requestId: request.id,
      phone: echo(phone),
      clientRef: input.clientRef,
      sandbox
    })
  }
}

export type Sender = ReturnType<typeof createSender>

function outcomeOf (code: ProblemCode): Outcome {
  if (code === 'UPSTREAM_REJECTED') return 'rejected'
  if (code === 'UPSTREAM_TIMEOUT') return 'timeout'
  return 'failed'
}

/** The network cause, without anything that could hold request data. */
function causeOf (error: HsmError): { code?: string, message?: string } | undefined {
  const cause = error.cause as { code?: string, message?: string } | undefined
  return cause === undefined ? undefined : { code: cause.code, message: cause.message }
}

function echo (phone: NormalizedPhone): NormalizedPhone {
  return phone.allowance === undefined
    ? { input: phone.input, normalized: phone.normalized, country: phone.country }
    : { input: phone.input, normalized: phone.normalized, country: phone.country, allowance: phone.allowance }
}

function elapsed (started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}

/** How many values fill the template: body, header, buttons and cards. Never the values. */
export function countParams (body: UpstreamBody): number {
  let count = (body.parameters?.length ?? 0) + (body.headerParameters?.length ?? 0) + (body.buttonParameters?.length ?? 0)
  for (const card of body.cards ?? []) count += (card.params?.length ?? 0) + (card.buttonParameters?.length ?? 0)
  return count
}

/** Values Jelou might echo in an error body that must not reach the caller's logs twice: numbers, parameters, codes. */
function sensitiveValues (phone: NormalizedPhone, body: UpstreamBody): string[] {
  const values = [phone.input, phone.normalized, ...(body.parameters ?? []), ...(body.headerParameters ?? [])]
  for (const button of body.buttonParameters ?? []) if (button.param !== undefined) values.push(String(button.param))
  for (const card of body.cards ?? []) values.push(...(card.params ?? []))
  return values.filter((value) => value.length >= 3)
}
