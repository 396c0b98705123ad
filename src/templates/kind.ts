// What one template kind is: its route, body schema, named examples and pure mapping to Jelou's body.
import type { Static, TSchema } from 'typebox'
import type { Language } from '../config.js'
import type { FieldError } from '../errors.js'
import type { UpstreamBody } from '../upstream/schema.js'
import type { CommonFields } from '../schemas/common.js'
import { secondsHint } from '../schemas/field-errors.js'

export interface BuildContext {
  /** The normalized recipient number. */
  to: string
  /** The request's language, else DEFAULT_LANGUAGE, else undefined (omitted upstream). */
  language: Language | undefined
}

export interface NamedExample<T> {
  summary: string
  description?: string
  value: T
}

/** The fields every kind body has; each kind adds its own. */
export type CommonBody = Partial<{ [K in keyof typeof CommonFields]: Static<typeof CommonFields[K]> }> & { to: string, template: string }

export interface TemplateKind<S extends TSchema = TSchema> {
  /** Stable name used in answers, logs and metrics, and as the route path under /v1/messages/. */
  kind: string
  summary: string
  description: string
  schema: S
  examples: Record<string, NamedExample<Static<S>>>
  /** Cross-field rules a JSON Schema cannot say (dates in the future, all cards alike). */
  check?: (body: Static<S>, now: number) => FieldError[]
  /** How many values the caller filled, when Jelou's body repeats one (the authentication code); else counted from Jelou's body. */
  paramCount?: (body: Static<S>) => number
  /** Pure: the request body to Jelou's body. One small function, so a correction is a one-line change. */
  toUpstream: (body: Static<S>, ctx: BuildContext) => UpstreamBody
}

/** Identity with inference, so each kind file is checked against its own schema. */
export function defineKind<S extends TSchema> (kind: TemplateKind<S>): TemplateKind<S> {
  return kind
}

export function toEpochMs (value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value)
}

export function futureError (path: string, value: string | number | undefined, now: number): FieldError[] {
  if (value === undefined) return []
  const ms = toEpochMs(value)
  // JSON Schema's date-time admits leap seconds (…:60Z), which Date cannot represent.
  if (Number.isNaN(ms)) return [{ in: 'body', path, rule: 'format', message: 'must be a date-time JavaScript can represent (no leap second)' }]
  if (ms > now) return []
  return [{ in: 'body', path, rule: 'future', message: `must be in the future${secondsHint(value)}` }]
}

/**
 * The fields every kind maps the same way (SPEC §4, common table), plus the kind's own `extra`
 * fields, of which only those with a value (not undefined, not an empty list) are kept.
 */
export function baseUpstream (body: CommonBody, ctx: BuildContext, type: NonNullable<UpstreamBody['type']>, extra?: Partial<UpstreamBody>): UpstreamBody {
  const upstream: UpstreamBody = { elementName: body.template, destinations: [ctx.to], type }
  if (ctx.language !== undefined) upstream.language = ctx.language
  if (body.params !== undefined) upstream.parameters = body.params as string[]
  if (body.campaignId !== undefined) upstream.campaignId = body.campaignId
  if (body.expiresAt !== undefined) upstream.expirationTime = String(toEpochMs(body.expiresAt as string | number))
  if (body.flowId !== undefined || body.memory !== undefined) {
    upstream.actions = {}
    if (body.flowId !== undefined) upstream.actions.setFlow = { id: body.flowId }
    if (body.memory !== undefined) upstream.actions.setMemoryParams = body.memory as Record<string, string>
  }
  if (extra !== undefined) Object.assign(upstream, compact(extra))
  return upstream
}

export function urlButtons (urlParams: readonly string[] | undefined): UpstreamBody['buttonParameters'] {
  return urlParams?.map((param) => ({ type: 'URL', param }))
}

export function quickReplyPayloads (replies: ReadonlyArray<{ text: string, flowId?: number }> | undefined): UpstreamBody['buttonPayloads'] {
  return replies?.map((reply) => reply.flowId === undefined ? { action: reply.text } : { flowId: reply.flowId, action: reply.text })
}

/**
 * The same object without keys that are undefined or empty arrays, so the upstream body holds
 * only what was asked for. A fresh object rather than `delete`, which would leave the body in
 * V8's slow dictionary mode on the hot path.
 */
export function compact<T extends object> (value: T): T {
  const out: Record<string, unknown> = {}
  for (const key in value) {
    const inner = value[key]
    if (inner !== undefined && !(Array.isArray(inner) && inner.length === 0)) out[key] = inner
  }
  return out as T
}
