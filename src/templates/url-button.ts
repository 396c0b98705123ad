// Template with dynamic URL buttons: each button's URL ends with a value sent per message.
import { Type } from 'typebox'
import { HeaderParamSchema, UrlParamsSchema, kindBody } from '../schemas/common.js'
import { baseUpstream, defineKind, urlButtons } from './kind.js'

export const urlButton = defineKind({
  kind: 'url-button',
  summary: 'Send a template with dynamic URL buttons',
  description: 'A text template whose URL buttons end with a per-message suffix (`urlParams`, one per dynamic button, in order). Sent as Jelou `buttonParameters` of type `URL`.',
  schema: kindBody({
    urlParams: UrlParamsSchema,
    headerParam: Type.Optional(HeaderParamSchema)
  }, 'A dynamic URL button template send.'),
  examples: {
    dynamicUrlButtons: {
      summary: 'Text message with dynamic URL action buttons',
      value: { to: '+593 98 765 4327', template: 'track_order', language: 'es', params: ['Maria', 'ORD-1234'], urlParams: ['ORD-1234'], botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', {
    headerParameters: body.headerParam === undefined ? undefined : [body.headerParam],
    buttonParameters: urlButtons(body.urlParams)
  })
})
