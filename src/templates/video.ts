// Video-header template: the header shows a video from an https URL.
import { kindBody, mediaUrlSchema } from '../schemas/common.js'
import { baseUpstream, defineKind } from './kind.js'

export const video = defineKind({
  kind: 'video',
  summary: 'Send a template with a video header',
  description: 'A template whose header is a video (Jelou `type: "video"`). `mediaUrl` must be a public https URL ending in .mp4.',
  schema: kindBody({
    mediaUrl: mediaUrlSchema('video', 'Public https URL of the header video (.mp4, at most 15 MB).')
  }, 'A video-header template send.'),
  examples: {
    video: {
      summary: 'Message with video',
      value: { to: '+593 98 765 4321', template: 'product_tour', language: 'en', mediaUrl: 'https://cdn.example.com/media/product-tour.mp4', params: ['Maria'], botId: 'bot-123' }
    }
  },
  toUpstream: (body, ctx) => ({ ...baseUpstream(body, ctx, 'video'), mediaUrl: body.mediaUrl })
})
