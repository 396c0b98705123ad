// Full-catalog template: opens the business catalog, with a product thumbnail.
import { kindBody, patterned } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const catalog = defineKind({
  kind: 'catalog',
  summary: 'Send a full-catalog template',
  description: 'A template that opens the WhatsApp catalog (Jelou `type: "catalog"`). `thumbnailUrl` is the product image shown in the header (Jelou `thumbnailProduct`).',
  schema: kindBody({
    thumbnailUrl: patterned(['https'], { format: 'uri', maxLength: 2048, description: 'Public https URL of the thumbnail image.' })
  }, 'A catalog template send.'),
  examples: {
    catalog: {
      summary: 'Full catalog',
      value: { to: '+593 98 765 4330', template: 'spring_catalog', language: 'es', params: ['Maria'], thumbnailUrl: 'https://cdn.example.com/media/catalog-thumb.jpg', botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'catalog', { thumbnailProduct: body.thumbnailUrl })
})
