// Template with quick-reply buttons: each button can start a Jelou flow when tapped.
import { Type } from 'typebox'
import { HeaderParamSchema, QuickRepliesSchema, kindBody } from '../schemas/common.js'
import { baseUpstream, defineKind, quickReplyPayloads } from './kind.js'

export const quickReply = defineKind({
  kind: 'quick-reply',
  summary: 'Send a template with quick-reply buttons',
  description: 'A text template with 1 to 3 quick-reply buttons. Each `quickReplies` entry names the button label exactly as approved and, optionally, the flow it starts (Jelou `buttonPayloads`).',
  schema: kindBody({
    quickReplies: QuickRepliesSchema,
    headerParam: Type.Optional(HeaderParamSchema)
  }, 'A quick-reply template send.'),
  examples: {
    quickReply: {
      summary: 'Text message with Quick Reply buttons',
      value: {
        to: '+593 98 765 4328',
        template: 'appointment_confirm',
        language: 'es',
        params: ['Maria', '2025-03-10 10:00'],
        quickReplies: [{ text: 'Confirm', flowId: 1001 }, { text: 'Reschedule', flowId: 1002 }],
        flowId: 2001,
        botId: 'bot-123'
      }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', {
    headerParameters: body.headerParam === undefined ? undefined : [body.headerParam],
    buttonPayloads: quickReplyPayloads(body.quickReplies)
  })
})
