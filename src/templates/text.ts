// Text template: body parameters, with optional header parameter, dynamic URL buttons and quick replies.
import { Type } from 'typebox'
import { HeaderParamSchema, QuickRepliesSchema, UrlParamsSchema, kindBody } from '../schemas/common.js'
import { baseUpstream, defineKind, quickReplyPayloads, urlButtons } from './kind.js'

export const text = defineKind({
  kind: 'text',
  summary: 'Send a text template',
  description: 'A text template (Jelou `type: "text"`). Also serves templates with static URL buttons (nothing to send for them), a header variable (`headerParam`), dynamic URL buttons (`urlParams`) and quick replies (`quickReplies`).',
  schema: kindBody({
    headerParam: Type.Optional(HeaderParamSchema),
    urlParams: Type.Optional(UrlParamsSchema),
    quickReplies: Type.Optional(QuickRepliesSchema)
  }, 'A text template send.'),
  examples: {
    text: {
      summary: 'Text message',
      value: { to: '+593 98 765 4321', template: 'order_update', language: 'es', params: ['Maria', 'ORD-1234'], botId: 'bot-123' }
    },
    staticUrlButtons: {
      summary: 'Text message with static URL action buttons',
      description: 'Static URL buttons are part of the approved template: nothing extra to send.',
      value: { to: '+593 98 765 4322', template: 'visit_store', language: 'es', params: ['Maria'], botId: 'bot-123' }
    },
    withCallback: {
      summary: 'Text message whose changes are posted back (sandbox catcher)',
      description: 'Every change of the message (accepted, delivered, read, the reply) is posted, signed, to callbackUrl. In sandbox mode on the default port, open /sandbox/callbacks to see them arrive; in live mode the URL must match CALLBACK_URL_ALLOW.',
      value: { to: '+593 98 765 4323', template: 'order_update', language: 'es', params: ['Maria', 'ORD-1234'], botId: 'bot-123', callbackUrl: 'http://localhost:3000/sandbox/callbacks' }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', {
    headerParameters: body.headerParam === undefined ? undefined : [body.headerParam],
    buttonParameters: urlButtons(body.urlParams),
    buttonPayloads: quickReplyPayloads(body.quickReplies)
  })
})
