// Image- and video-header templates are the same shape: one factory, so the two kinds cannot drift apart.
import { kindBody, mediaUrlSchema } from '../schemas/common.js'
import { baseUpstream, defineKind, type NamedExample } from './kind.js'

interface MediaHeader {
  kind: 'image' | 'video'
  /** "an image", "a video" */
  article: string
  extensions: string
  maxSize: string
  example: NamedExample<{ to: string, template: string, language: 'en' | 'es' | 'pt', mediaUrl: string, params: string[], botId: string }>
}

export function mediaHeaderKind ({ kind, article, extensions, maxSize, example }: MediaHeader) {
  return defineKind({
    kind,
    summary: `Send a template with ${article} header`,
    description: `A template whose header is ${article} (Jelou \`type: "${kind}"\`). \`mediaUrl\` must be a public https URL ending in ${extensions}.`,
    schema: kindBody({
      mediaUrl: mediaUrlSchema(kind, `Public https URL of the header ${kind} (${extensions}, at most ${maxSize}).`)
    }, `One ${kind}-header template send.`),
    examples: { [kind]: example },
    toUpstream: (body, ctx) => baseUpstream(body, ctx, kind, { mediaUrl: body.mediaUrl })
  })
}
