// Document-header template: the header shows a PDF from an https URL, with an optional file name.
import { Type } from 'typebox'
import { kindBody, mediaUrlSchema, patterned } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const document = defineKind({
  kind: 'document',
  summary: 'Send a template with a PDF document header',
  description: 'A template whose header is a document (Jelou `type: "document"`). `mediaUrl` must be a public https URL ending in .pdf; `filename` is what the recipient sees.',
  schema: kindBody({
    mediaUrl: mediaUrlSchema('document', 'Public https URL of the PDF (at most 15 MB).'),
    filename: Type.Optional(patterned(['pdfName'], { minLength: 1, maxLength: 240, description: 'File name shown to the recipient, 1 to 240 characters ending in .pdf.' }))
  }, 'A document-header template send.'),
  examples: {
    document: {
      summary: 'Message with attached document',
      value: { to: '+593 98 765 4326', template: 'invoice_ready', language: 'es', mediaUrl: 'https://cdn.example.com/media/invoice-1234.pdf', filename: 'invoice-1234.pdf', params: ['Maria', 'INV-1234'], botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'document', { mediaUrl: body.mediaUrl, filename: body.filename })
})
