// Header-parameter template: a text template whose header has a variable, filled per message.
import { HeaderParamSchema, kindBody } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const headerParameter = defineKind({
  kind: 'header-parameter',
  summary: 'Send a text template with a header parameter',
  description: 'A text template whose header has one variable: `headerParam` (1 to 60 characters) fills it (Jelou `headerParameters`, at most one).',
  schema: kindBody({
    headerParam: HeaderParamSchema
  }, 'A header-parameter template send.'),
  examples: {
    headerParameters: {
      summary: 'Personalized text message with header parameters',
      value: { to: '+593 98 765 4329', template: 'account_notice', language: 'es', headerParam: 'Maria', params: ['ACC-5678', '2025-03-31'], botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', { headerParameters: [body.headerParam] })
})
