// Image-header template: the header shows an image from an https URL.
import { kindBody, mediaUrlSchema } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const image = defineKind({
  kind: 'image',
  summary: 'Send a template with an image header',
  description: 'A template whose header is an image (Jelou `type: "image"`). `mediaUrl` must be a public https URL ending in .jpg, .jpeg or .png.',
  schema: kindBody({
    mediaUrl: mediaUrlSchema('image', 'Public https URL of the header image (.jpg, .jpeg or .png, at most 5 MB).')
  }, 'A image-header template send.'),
  examples: {
    image: {
      summary: 'Message with image',
      value: { to: '+593 98 765 4321', template: 'promo_banner', language: 'es', mediaUrl: 'https://cdn.example.com/media/promo-banner.png', params: ['Maria', '20%'], botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => ({ ...baseUpstream(body, ctx, 'image'), mediaUrl: body.mediaUrl })
})
