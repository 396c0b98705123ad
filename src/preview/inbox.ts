// The sandbox inbox's data: each received request as the recipient's phone would show it, newest first.
import { Type, type Static } from 'typebox'
import { maskPhone } from '../phone.js'
import type { SandboxRecord } from '../sandbox/server.js'
import type { MessageBase } from '../status/types.js'
import type { UpstreamBody } from '../upstream/schema.js'
import { renderPreview, type TemplateLookup } from './render.js'
import { PreviewSchema, type Preview } from './schema.js'

/** Jelou's delivery states (`sentStatus`), in the order a message moves through them. */
export const DELIVERY_STATES = ['CREATED', 'DELIVERED_CHANNEL', 'DELIVERED_USER', 'READ', 'REPLY', 'FAILED'] as const

export const QuickReplySchema = Type.Object({
  text: Type.String({ description: 'The button\'s label, as the recipient sees it: the reply\'s text.' }),
  payload: Type.String({ description: 'The reply\'s payload: the button\'s flow id when the send gave one, else its label (as WhatsApp does for a button sent without a payload).' })
}, { description: 'A quick-reply button the recipient can tap, and the reply it makes.' })

export const InboxReplySchema = Type.Object({
  at: Type.String({ description: 'When the recipient answered (ISO 8601).' }),
  text: Type.String({ description: 'What the recipient typed, or the label of the button tapped.' }),
  payload: Type.Optional(Type.String({ description: 'The tapped button\'s payload.' }))
}, { description: 'One answer of the recipient.' })

export const InboxEntrySchema = Type.Object({
  seq: Type.Integer({ description: 'The sandbox\'s receive counter.' }),
  messageId: Type.Union([Type.String(), Type.Null()], { description: 'The message id the sandbox answered with (the service\'s `messageId`); null when it did not accept the request.' }),
  receivedAt: Type.String({ description: 'When the sandbox received it (ISO 8601).' }),
  botId: Type.String(),
  to: Type.Union([Type.String(), Type.Null()], { description: 'The recipient, masked like in the logs.' }),
  template: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer({ description: 'What the sandbox answered: 200 accepted, 4xx/5xx refused, 0 still pending.' }),
  delivery: Type.Union([Type.Enum(DELIVERY_STATES), Type.Null()], {
    description: 'Delivery state once message status exists (SPEC §18); null until then.'
  }),
  preview: Type.Union([PreviewSchema, Type.Null()], { description: 'Null for a request the sandbox did not accept: its body may not be a valid HSM body.' }),
  answerable: Type.Boolean({ description: 'True when the recipient can answer it: the sandbox accepted it and it has not failed.' }),
  quickReplies: Type.Array(QuickReplySchema, { description: 'The quick-reply buttons the recipient can tap (the preview\'s, cards\' included, in order); empty when the message cannot be answered.' }),
  replies: Type.Array(InboxReplySchema, { description: 'The recipient\'s answers, oldest first (POST /sandbox/messages/{messageId}/reply).' })
}, { description: 'One message the sandbox received.' })

/** Where a scheduled send stands (SPEC §21), as GET /v1/messages/{sch-id} tells it. */
export const SCHEDULE_STATES = ['scheduled', 'sending', 'sent', 'cancelled', 'expired', 'failed'] as const

export const ScheduledEntrySchema = Type.Object({
  id: Type.String({ description: 'The schedule\'s id (`sch-…`), the `messageId` of its 202 answer.' }),
  caller: Type.String({ description: 'Who scheduled it: the API key\'s name, or `anonymous` without API_KEYS.' }),
  kind: Type.String({ description: 'The send route\'s kind (`text`, `authentication`, …).' }),
  template: Type.String(),
  botId: Type.String(),
  to: Type.String({ description: 'The recipient, masked like in the logs.' }),
  sendAt: Type.String({ description: 'When it is due (ISO 8601).' }),
  scheduledAt: Type.String({ description: 'When it was scheduled (ISO 8601).' }),
  state: Type.Enum(SCHEDULE_STATES, { description: 'scheduled (waiting), sending, sent, cancelled, expired (due too late), failed.' }),
  changedAt: Type.String({ description: 'When it came to this state (ISO 8601).' }),
  messageId: Type.Union([Type.String(), Type.Null()], { description: 'Once sent: the message\'s id, the `messageId` of its entry in `messages`.' }),
  code: Type.Union([Type.String(), Type.Null()], { description: 'Why it ended failed or expired (a problem code).' }),
  cancellable: Type.Boolean({ description: 'True while it waits for its sendAt: DELETE /sandbox/scheduled/{id} cancels it.' })
}, { description: 'A send scheduled for later. Its template and recipient only: never its values (an authentication code is not shown before or after it is sent).' })

export const InboxSchema = Type.Object({
  messages: Type.Array(InboxEntrySchema, { description: 'At most the sandbox\'s last 100, newest first.' }),
  scheduled: Type.Array(ScheduledEntrySchema, { description: 'The last 100 sends scheduled through this process, every caller\'s: those still waiting first (soonest first), then the others (latest change first).' })
})

export type ScheduledEntry = Static<typeof ScheduledEntrySchema>

export type InboxEntry = Static<typeof InboxEntrySchema>

export type QuickReply = Static<typeof QuickReplySchema>
export type InboxReply = Static<typeof InboxReplySchema>

/** A record as the sandbox keeps it, with its message's delivery status (`sentStatus`) and answers when the sandbox has them. */
type RecordWithStatus = SandboxRecord & { sentStatus?: unknown, replies?: InboxReply[] }

/**
 * What each quick-reply button of a message sends when tapped: its label (what the recipient
 * sees) as the text, and the flow id the send gave it, else the label, as the payload.
 */
export function quickRepliesOf (preview: Preview | null): QuickReply[] {
  if (preview === null) return []
  const buttons = [...preview.buttons, ...preview.cards.flatMap((card) => card.buttons)]
  return buttons.filter((b) => b.type === 'QUICK_REPLY' && b.text !== '').map((b) => ({ text: b.text, payload: b.flowId === undefined ? b.text : String(b.flowId) }))
}

export function inboxEntry (record: RecordWithStatus, lookup: TemplateLookup): InboxEntry {
  // Only an accepted request passed the sandbox's HSM schema, so only its body is read as one.
  const body = record.status === 200 ? record.body as UpstreamBody : undefined
  const raw = record.body as { elementName?: unknown, destinations?: unknown } | null
  const destination = Array.isArray(raw?.destinations) && typeof raw.destinations[0] === 'string' ? raw.destinations[0] : null
  const sentStatus = typeof record.sentStatus === 'string' ? record.sentStatus.toUpperCase() : null
  const preview = body === undefined ? null : renderPreview(lookup(record.botId, body.elementName), body)
  const answerable = record.messageId !== undefined && sentStatus !== null && sentStatus !== 'FAILED'
  return {
    seq: record.seq,
    messageId: record.messageId ?? null,
    receivedAt: record.receivedAt,
    botId: record.botId,
    to: destination === null ? null : maskPhone(destination),
    template: typeof raw?.elementName === 'string' ? raw.elementName : null,
    status: record.status,
    delivery: DELIVERY_STATES.find((state) => state === sentStatus) ?? null,
    preview,
    answerable,
    quickReplies: answerable ? quickRepliesOf(preview) : [],
    replies: record.replies ?? []
  }
}

/** A schedule's record (its `base`, with `schedule` set) as the inbox lists it: no values, the recipient masked. */
export function scheduledEntry (base: MessageBase & { schedule: NonNullable<MessageBase['schedule']> }): ScheduledEntry {
  const { schedule } = base
  return {
    id: base.messageId,
    caller: base.caller,
    kind: base.kind,
    template: base.template,
    botId: base.botId,
    to: maskPhone(base.to),
    sendAt: new Date(schedule.sendAt).toISOString(),
    scheduledAt: new Date(base.acceptedAt).toISOString(),
    state: schedule.state,
    changedAt: new Date(schedule.at).toISOString(),
    messageId: schedule.messageId ?? null,
    code: schedule.code ?? null,
    cancellable: schedule.state === 'scheduled'
  }
}

const WAITING: ReadonlySet<string> = new Set(['scheduled', 'sending'])

/** The inbox's order: waiting ones first, soonest due on top; then the finished ones, latest change on top. */
export function byInboxOrder (a: ScheduledEntry, b: ScheduledEntry): number {
  const wa = WAITING.has(a.state)
  const wb = WAITING.has(b.state)
  if (wa !== wb) return wa ? -1 : 1
  const order = wa ? a.sendAt.localeCompare(b.sendAt) : b.changedAt.localeCompare(a.changedAt)
  // Due at the same time: the one scheduled first on top.
  return order !== 0 ? order : a.scheduledAt.localeCompare(b.scheduledAt)
}
