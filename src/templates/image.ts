// Image-header template: the header shows an image (.jpg, .jpeg, .png) from an https URL.
import { mediaHeaderKind } from './media-header.js'

export const image = mediaHeaderKind({
  kind: 'image',
  article: 'an image',
  extensions: '.jpg, .jpeg or .png',
  maxSize: '5 MB',
  example: {
    summary: 'Message with image',
    value: { to: '+593 98 765 4324', template: 'promo_banner', language: 'es', mediaUrl: 'https://cdn.example.com/media/promo-banner.png', params: ['Maria', '20%'], botId: 'bot-123' }
  }
})
