// Video-header template: the header shows a video (.mp4) from an https URL.
import { mediaHeaderKind } from './media-header.js'

export const video = mediaHeaderKind({
  kind: 'video',
  article: 'a video',
  extensions: '.mp4',
  maxSize: '15 MB',
  example: {
    summary: 'Message with video',
    value: { to: '+593 98 765 4325', template: 'product_tour', language: 'en', mediaUrl: 'https://cdn.example.com/media/product-tour.mp4', params: ['Maria'], botId: 'bot-123' }
  }
})
