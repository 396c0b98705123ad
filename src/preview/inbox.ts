// The sandbox inbox's data: each received request as the recipient's phone would show it, newest first.
import { Type, type Static } from 'typebox'
import { maskPhone } from '../phone.js'
import type { SandboxRecord } from '../sandbox/server.js'
import type { UpstreamBody } from '../upstream/schema.js'
import { renderPreview, type TemplateLookup } from './render.js'
import { PreviewSchema } from './schema.js'

/** Jelou's delivery states (`sentStatus`), in the order a message moves through them. */
export const DELIVERY_STATES = ['CREATED', 'DELIVERED_CHANNEL', 'DELIVERED_USER', 'READ', 'REPLY', 'FAILED'] as const

export const InboxEntrySchema = Type.Object({
  seq: Type.Integer({ description: 'The sandbox\'s receive counter.' }),
  receivedAt: Type.String({ description: 'When the sandbox received it (ISO 8601).' }),
  botId: Type.String(),
  to: Type.Union([Type.String(), Type.Null()], { description: 'The recipient, masked like in the logs.' }),
  template: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer({ description: 'What the sandbox answered: 200 accepted, 4xx/5xx refused, 0 still pending.' }),
  delivery: Type.Union([Type.Enum(DELIVERY_STATES), Type.Null()], {
    description: 'Delivery state once message status exists (SPEC §18); null until then.'
  }),
  preview: Type.Union([PreviewSchema, Type.Null()], { description: 'Null for a request the sandbox did not accept: its body may not be a valid HSM body.' })
}, { description: 'One message the sandbox received.' })

export const InboxSchema = Type.Object({
  messages: Type.Array(InboxEntrySchema, { description: 'At most the sandbox\'s last 100, newest first.' })
})

export type InboxEntry = Static<typeof InboxEntrySchema>

/** A record as the sandbox keeps it, with its message's delivery status (`sentStatus`) when the sandbox has one. */
type RecordWithStatus = SandboxRecord & { sentStatus?: unknown }

export function inboxEntry (record: RecordWithStatus, lookup: TemplateLookup): InboxEntry {
  // Only an accepted request passed the sandbox's HSM schema, so only its body is read as one.
  const body = record.status === 200 ? record.body as UpstreamBody : undefined
  const raw = record.body as { elementName?: unknown, destinations?: unknown } | null
  const destination = Array.isArray(raw?.destinations) && typeof raw.destinations[0] === 'string' ? raw.destinations[0] : null
  const sentStatus = typeof record.sentStatus === 'string' ? record.sentStatus.toUpperCase() : null
  return {
    seq: record.seq,
    receivedAt: record.receivedAt,
    botId: record.botId,
    to: destination === null ? null : maskPhone(destination),
    template: typeof raw?.elementName === 'string' ? raw.elementName : null,
    status: record.status,
    delivery: DELIVERY_STATES.find((state) => state === sentStatus) ?? null,
    preview: body === undefined ? null : renderPreview(lookup(record.botId, body.elementName), body)
  }
}
