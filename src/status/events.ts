// Jelou's status events read tolerantly (upstream reference §3): one event, a list, or a list under `events`/`data`; unknown fields ignored.
import type { FieldError } from '../errors.js'
import { failureOf, statusFromName, timeOf } from './jelou.js'
import type { Reply, StatusUpdate } from './types.js'

export interface ParsedEvent {
  messageId: string
  update: StatusUpdate
}

/** At most this many events per request: Jelou sends one at a time; a larger batch is not from Jelou. */
export const MAX_EVENTS = 100
const MESSAGE_ID = /^[\x21-\x7e]{1,128}$/

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

function listOf (body: unknown): unknown[] | undefined {
  if (Array.isArray(body)) return body
  if (!isObject(body)) return undefined
  for (const field of ['events', 'data', 'results']) {
    const inner = body[field]
    if (Array.isArray(inner)) return inner
    if (isObject(inner) && (inner.messageId ?? inner.id ?? inner.message_id) !== undefined) return [inner]
  }
  return [body]
}

function first (event: Record<string, unknown>, fields: string[]): unknown {
  for (const field of fields) if (event[field] !== undefined && event[field] !== null) return event[field]
  return undefined
}

/** The events in a body, and one field error per event that could not be read. */
export function parseEvents (body: unknown, now: number): { events: ParsedEvent[], errors: FieldError[] } {
  const list = listOf(body)
  if (list === undefined || list.length === 0) {
    return { events: [], errors: [{ in: 'body', path: '', rule: 'type', message: 'must be a JSON object (one event) or a non-empty list of events' }] }
  }
  if (list.length > MAX_EVENTS) {
    return { events: [], errors: [{ in: 'body', path: '', rule: 'maxItems', message: `must hold at most ${MAX_EVENTS} events`, limit: MAX_EVENTS }] }
  }
  const events: ParsedEvent[] = []
  const errors: FieldError[] = []
  list.forEach((raw, index) => {
    const at = Array.isArray(body) || list !== body ? `/${index}` : ''
    if (!isObject(raw)) {
      errors.push({ in: 'body', path: at, rule: 'type', message: 'must be an object' })
      return
    }
    const message = isObject(raw.message) ? raw.message : {}
    const messageId = first(raw, ['messageId', 'message_id', 'id']) ?? message.id
    if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) {
      errors.push({ in: 'body', path: `${at}/messageId`, rule: 'required', message: 'must name the message: messageId (or id), 1 to 128 printable characters' })
      return
    }
    const name = first(raw, ['event', 'status', 'sentStatus', 'type'])
    const status = statusFromName(name)
    if (status === undefined) {
      errors.push({ in: 'body', path: `${at}/event`, rule: 'enum', message: 'must be a status: delivered_channel, delivered_user, read, reply, failed (or Jelou\'s upper-case states)' })
      return
    }
    const time = timeOf(first(raw, ['timestamp', 'date', 'time', 'updatedAt', 'createdAt'])) ?? now
    const update: StatusUpdate = { steps: { [status]: time }, source: 'event', at: now }
    const failure = status === 'failed' ? failureOf(first(raw, ['error', 'errors', 'reason'])) : undefined
    if (failure !== undefined) update.failure = failure
    const answer = status === 'replied' ? replyOf(raw, message) : undefined
    if (answer !== undefined) update.reply = answer
    events.push({ messageId, update })
  })
  return { events, errors }
}

/** A reply's text and payload are kept up to this many characters. */
const MAX_REPLY = 4096

const textOf = (value: unknown): string | undefined => {
  if (typeof value === 'string' && value !== '') return value.slice(0, MAX_REPLY)
  if (typeof value === 'number') return String(value)
  if (isObject(value)) return textOf(value.body ?? value.text ?? value.title)
  return undefined
}

/**
 * The customer's answer in a reply event (its body was never captured: upstream reference §3),
 * read tolerantly: `reply` (a text, or an object with text and payload), `text`, `message.text`
 * or `message.body`, a button's `payload` and label (`button`, `interactive.button_reply`).
 */
function replyOf (raw: Record<string, unknown>, message: Record<string, unknown>): Reply | undefined {
  const reply = raw.reply ?? raw.answer ?? raw.response
  const nested = isObject(reply) ? reply : {}
  const button = [raw.button, message.button, nested.button, (isObject(raw.interactive) ? raw.interactive : {}).button_reply, (isObject(message.interactive) ? message.interactive : {}).button_reply].find(isObject) ?? {}
  const text = textOf(typeof reply === 'string' ? reply : nested.text ?? nested.body) ?? textOf(raw.text) ?? textOf(message.text) ?? textOf(message.body) ?? textOf(button.text ?? button.title)
  const payload = textOf(nested.payload ?? raw.payload ?? message.payload ?? button.payload ?? button.id)
  if (text === undefined && payload === undefined) return undefined
  const result: Reply = {}
  if (text !== undefined) result.text = text
  if (payload !== undefined) result.payload = payload
  return result
}
