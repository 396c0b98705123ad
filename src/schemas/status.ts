// Answer schemas of the status routes (SPEC §18): one message's status, a list by clientRef, the events receiver's answer.
import { Type } from 'typebox'
import { STATUSES } from '../status/types.js'

const Time = (description: string) => Type.Optional(Type.String({ format: 'date-time', description }))

/** The customer's answer, as Jelou's reply event carried it (read tolerantly). */
export const ReplySchema = Type.Object({
  text: Type.Optional(Type.String({ description: 'What the customer typed, or the label of the quick-reply button tapped.' })),
  payload: Type.Optional(Type.String({ description: 'The payload of the quick-reply button tapped.' }))
}, { description: 'The customer\'s reply, when the status is replied and Jelou\'s event carried it.' })

export const MessageStatusSchema = Type.Object({
  messageId: Type.String(),
  // Unsafe only to keep the literal type: a mapped list of literals would infer as never.
  status: Type.Unsafe<(typeof STATUSES)[number] | 'scheduled' | 'sending' | 'cancelled' | 'expired'>(Type.Union([...STATUSES, 'scheduled', 'sending', 'cancelled', 'expired'].map((s) => Type.Literal(s)), { description: 'accepted (Jelou has it) → delivered_channel (handed to WhatsApp) → delivered_user (on the phone) → read → replied; or failed (see failure). Only ever moves forward. A scheduled send is scheduled (waiting for sendAt), sending, cancelled, expired (due too late: not sent) or failed, until it is sent; then it is its message.' })),
  scheduleId: Type.Optional(Type.String({ description: 'Set for a scheduled send: its id (`sch-…`).' })),
  sendAt: Type.Optional(Type.String({ format: 'date-time', description: 'Set for a scheduled send: when it goes (or went) out.' })),
  steps: Type.Object({
    accepted: Time('When Jelou accepted it.'),
    delivered_channel: Time('When Jelou handed it to WhatsApp.'),
    delivered_user: Time('When it reached the phone.'),
    read: Time('When it was read.'),
    replied: Time('When the person replied.'),
    failed: Time('When it failed.')
  }, { description: 'The time of each step seen.' }),
  failure: Type.Optional(Type.Object({
    code: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'Meta\'s error code, e.g. 131026 (message undeliverable).' })),
    message: Type.Optional(Type.String())
  }, { description: 'Meta\'s reason, when the status is failed.' })),
  reply: Type.Optional(ReplySchema),
  source: Type.Union([Type.Literal('send'), Type.Literal('event'), Type.Literal('jelou')], { description: 'Where the latest news came from: the send\'s own answer, a status event pushed by Jelou, or a poll of Jelou\'s notifications.' }),
  checkedAt: Type.String({ format: 'date-time', description: 'When the status was last news or confirmed.' }),
  ageSeconds: Type.Integer({ description: 'Seconds since checkedAt.' }),
  stale: Type.Boolean({ description: 'True when the status needed a refresh and Jelou could not answer: this is the last known status.' }),
  resolved: Type.Boolean({ description: 'True when the id was found by resolving a send whose outcome was unknown (504), not from Jelou\'s answer.' }),
  kind: Type.String(),
  template: Type.String(),
  botId: Type.String(),
  to: Type.String({ description: 'The normalized number.' }),
  clientRef: Type.Optional(Type.String()),
  requestId: Type.String({ description: 'The request that sent it.' }),
  statusUrl: Type.String({ description: 'This resource.' })
}, { description: 'One message\'s delivery status.' })

export const MessageListSchema = Type.Object({
  messages: Type.Array(MessageStatusSchema, { description: 'Your messages with this clientRef, oldest first (at most 50).' })
})

export const EventsResultSchema = Type.Object({
  received: Type.Integer({ description: 'Events read and stored.' }),
  changed: Type.Integer({ description: 'Of those, events that told something new (the rest were repeats or older news).' }),
  refused: Type.Array(Type.Object({ in: Type.String(), path: Type.String(), rule: Type.String(), message: Type.String(), limit: Type.Optional(Type.Union([Type.Integer(), Type.String()])) }), {
    description: 'Events in the batch that could not be read (the others were stored).'
  })
})

export const FailedCallbackSchema = Type.Object({
  id: Type.String({ description: 'The delivery\'s id: POST /v1/callbacks/{id}/retry runs it again.' }),
  messageId: Type.Union([Type.String(), Type.Null()], { description: 'The message (null for a send whose outcome could not be known).' }),
  url: Type.String({ description: 'Where it was posted.' }),
  attempts: Type.Integer(),
  error: Type.String({ description: 'The last attempt\'s error: the receiver\'s status, or why it could not be reached.' }),
  failedAt: Type.String({ format: 'date-time' }),
  waiting: Type.Integer({ description: 'Callbacks of this message not delivered yet, this one included: they go out in order once it is.' })
})

export const FailedCallbacksSchema = Type.Object({
  callbacks: Type.Array(FailedCallbackSchema, { description: 'Your deliveries that ran out of retries (CALLBACK_RETRY_HOURS), newest first.' })
})

export const CallbackRetrySchema = Type.Object({
  id: Type.String(),
  retrying: Type.Literal(true)
})
