// Authentication template: a one-time code in the body and its copy-code button. The code is never logged.
import { kindBody, patterned } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const authentication = defineKind({
  kind: 'authentication',
  summary: 'Send a one-time code (authentication template)',
  description: 'An authentication template: `code` fills the body and the copy-code button. Meta rules: 1 to 15 characters, no URL, no emoji, no whitespace; no media and no other parameters. The code never appears in logs or error bodies.',
  schema: kindBody({
    code: patterned(['noSpace', 'noUrl', 'noEmoji'], { minLength: 1, maxLength: 15, description: 'The one-time code: 1 to 15 characters, no whitespace, URL or emoji.' })
  }, 'An authentication template send.', ['params']),
  examples: {
    authentication: {
      summary: 'Authentication',
      value: { to: '+593 98 765 4321', template: 'login_code', language: 'es', code: '483920', botId: 'bot-123' }
    }
  },
  // The code fills the body and the button: one value.
  paramCount: () => 1,
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', {
    parameters: [body.code],
    buttonParameters: [{ type: 'URL', param: body.code }]
  })
})
