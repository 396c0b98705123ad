// Sandbox mode only: POST /sandbox/messages/{messageId}/reply, the recipient's answer (a typed text or a tapped quick reply), posted by the sandbox as Jelou's `reply` event.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problem, validationFailed, type FieldError } from '../errors.js'
import { inboxEntry, type QuickReply } from '../preview/inbox.js'
import type { TemplateLookup } from '../preview/render.js'
import type { Sandbox, SandboxReply } from '../sandbox/server.js'
import { SANDBOX_REPLY_ROUTE, sandboxReplyResponses } from '../schemas/routes.js'

/** What a reply's text may hold: a WhatsApp text message's length, the most the service keeps of a reply. */
export const MAX_REPLY_TEXT = 4096

const ReplyRequestSchema = Type.Object({
  text: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_REPLY_TEXT, description: 'What the recipient typed; with `payload`, the tapped button\'s label (left out, the label is used).' })),
  payload: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Tap a quick-reply button: one of the message\'s `quickReplies[].payload` in GET /sandbox/inbox.json (the button\'s flow id when the send gave one, else its label).' }))
}, {
  additionalProperties: false,
  description: 'A typed reply (`text`) or a tapped quick reply (`payload`, optionally with its label as `text`).',
  // One example, so Swagger UI starts from a typed answer rather than a made-up payload.
  examples: [{ text: 'Running 10 minutes late, sorry!' }]
})

const ReplyAcceptedSchema = Type.Object({
  messageId: Type.String({ description: 'The message answered.' }),
  reply: Type.Object({
    text: Type.String({ description: 'The reply\'s text (a tapped button\'s label).' }),
    payload: Type.Optional(Type.String({ description: 'The tapped button\'s payload.' }))
  }, { description: 'What the sandbox\'s `reply` event carries.' })
}, { description: 'The sandbox posts Jelou\'s `reply` event for the message.' })

/** The body's own rules (present, a button the message has, its label): every broken one, each naming its field. */
function checkReply (body: { text?: string, payload?: string }, buttons: QuickReply[]): { reply: SandboxReply | null, errors: FieldError[] } {
  if (body.payload === undefined) {
    if (body.text === undefined) return { reply: null, errors: [{ in: 'body', path: '/text', rule: 'required', message: 'is required: the text the recipient typed (or send payload to tap a quick-reply button)' }] }
    return { reply: { text: body.text }, errors: [] }
  }
  const button = buttons.find((b) => b.payload === body.payload)
  if (button === undefined) {
    const allowed = buttons.length === 0 ? 'this message has no quick-reply button: send text alone' : buttons.map((b) => `${JSON.stringify(b.payload)} (${b.text})`).join(', ')
    return { reply: null, errors: [{ in: 'body', path: '/payload', rule: 'enum', message: `must be the payload of one of the message's quick-reply buttons: ${allowed}` }] }
  }
  if (body.text !== undefined && body.text !== button.text) {
    return { reply: null, errors: [{ in: 'body', path: '/text', rule: 'const', message: `must be the tapped button's label ${JSON.stringify(button.text)}, or left out` }] }
  }
  return { reply: { text: button.text, payload: button.payload }, errors: [] }
}

export const sandboxReplyRoutes: FastifyPluginAsyncTypebox<{ sandbox: Pick<Sandbox, 'messages' | 'notifications' | 'reply'>, lookupTemplate: TemplateLookup }> = async (app, { sandbox, lookupTemplate }) => {
  app.post('/sandbox/messages/:messageId/reply', {
    schema: {
      tags: ['sandbox'],
      summary: 'Answer a message as its recipient (sandbox)',
      description: 'Sandbox mode only: what the inbox page (GET /sandbox) does when you tap a quick-reply button or send a text under a message. ' +
        'The sandbox moves the message to REPLY and posts Jelou\'s `reply` event (`{ messageId, event: "reply", timestamp, reply: { text, payload } }`) to this service\'s POST /v1/events/jelou, as Jelou does to its Notification URL: ' +
        'GET /v1/messages/{messageId} then shows `status: "replied"` and the `reply` (the first one), and a message sent with a `callbackUrl` gets `message.replied` (try `http://localhost:3000/sandbox/callbacks`, shown on GET /sandbox/callbacks). ' +
        'Send `{ "text": "…" }` for a typed reply, or `{ "payload": "1001" }` to tap the button whose payload that is (see `quickReplies` in GET /sandbox/inbox.json). The text is never logged.',
      operationId: 'sandbox_reply',
      params: Type.Object({ messageId: Type.String({ minLength: 1, maxLength: 128, description: 'The messageId of the send\'s 202 answer.', examples: ['7d9f3c1e-5b8a-4c1e-9f0a-2b6d8e4c1a37'] }) }),
      body: ReplyRequestSchema,
      response: { 202: ReplyAcceptedSchema, ...sandboxReplyResponses },
      'x-answers': SANDBOX_REPLY_ROUTE
    }
  }, async (request, reply) => {
    const { messageId } = request.params
    const record = sandbox.messages().find((r) => r.messageId === messageId)
    const notification = sandbox.notifications().find((n) => n.id === messageId)
    if (record === undefined || notification === undefined) {
      throw problem('NOT_FOUND', 'The sandbox has no message with this id (it keeps the last 100 it received): send one, then use the messageId of its 202 answer.')
    }
    const entry = inboxEntry({ ...record, sentStatus: notification.sentStatus }, lookupTemplate)
    if (!entry.answerable) throw problem('NOT_FOUND', 'This message failed (sandbox_undeliverable): it never reached a recipient who could answer it.')
    const { reply: answer, errors } = checkReply(request.body, entry.quickReplies)
    if (answer === null) throw validationFailed(errors)
    /* c8 ignore next - the message was found a moment ago; only a send pushing it out of the sandbox's list in between gets here */
    if (!sandbox.reply(messageId, answer)) throw problem('NOT_FOUND', 'The sandbox no longer has this message.')
    // The recipient's words are never logged; whether a button was tapped is.
    request.log.info({ messageId, button: answer.payload !== undefined }, 'sandbox reply')
    reply.header('x-request-id', request.id)
    return await reply.code(202).send({ messageId, reply: answer })
  })
}
