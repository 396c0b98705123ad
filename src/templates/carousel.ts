// Carousel template: 2 to 10 cards, each with header media, body values and buttons, all cards alike.
import { Type } from 'typebox'
import type { FieldError } from '../errors.js'
import { ParamSchema, QuickRepliesSchema, UrlParamsSchema, kindBody, patterned } from '../schemas/common.js'
import { baseUpstream, compact, defineKind, urlButtons } from './kind.js'

const CardSchema = Type.Object({
  mediaUrl: patterned(['https', 'cardMedia'], { format: 'uri', maxLength: 2048, description: 'Public https URL of the card header: an image (.jpg, .jpeg, .png) or a video (.mp4), the same kind on every card.' }),
  params: Type.Optional(Type.Array(ParamSchema, { maxItems: 20, description: 'Card body placeholder values in order.' })),
  urlParams: Type.Optional(UrlParamsSchema),
  quickReplies: Type.Optional(QuickRepliesSchema)
}, { additionalProperties: false, description: 'One carousel card. Every card must have the same media kind and the same buttons.' })

const mediaKind = (url: string): string => /\.mp4([?#].*)?$/i.test(url) ? 'video' : 'image'
const buttonShape = (card: { urlParams?: readonly string[], quickReplies?: readonly unknown[] }): string =>
  `${card.urlParams?.length ?? 0} URL, ${card.quickReplies?.length ?? 0} quick reply`

export const carousel = defineKind({
  kind: 'carousel',
  summary: 'Send a carousel template',
  description: 'A carousel (Jelou `type: "carousel"`): `params` fill the message bubble, then 2 to 10 `cards`, each with header media, body values and buttons. Meta requires every card to use the same media kind and the same buttons. Card quick replies are sent as `buttonParameters` of type `QUICK_REPLY` (inferred; see docs/design.md).',
  schema: kindBody({
    cards: Type.Array(CardSchema, { minItems: 2, maxItems: 10, description: 'The cards, 2 to 10.' })
  }, 'A carousel template send.'),
  examples: {
    carousel: {
      summary: 'Carousel with 2 cards',
      value: {
        to: '+593 98 765 4333',
        template: 'weekly_offers',
        language: 'es',
        params: ['Maria'],
        cards: [
          { mediaUrl: 'https://cdn.example.com/media/offer-1.png', params: ['Sneakers', '$49'], urlParams: ['sku-1001'] },
          { mediaUrl: 'https://cdn.example.com/media/offer-2.png', params: ['Backpack', '$35'], urlParams: ['sku-1002'] }
        ],
        botId: 'bot-123'
      }
    }
  },
  check: (body) => {
    const errors: FieldError[] = []
    const [first] = body.cards
    body.cards.forEach((card, i) => {
      if (mediaKind(card.mediaUrl) !== mediaKind(first.mediaUrl)) {
        errors.push({ in: 'body', path: `/cards/${i}/mediaUrl`, rule: 'sameMediaKind', message: `must be ${mediaKind(first.mediaUrl) === 'video' ? 'a video' : 'an image'} like card 0` })
      }
      if (buttonShape(card) !== buttonShape(first)) {
        errors.push({ in: 'body', path: `/cards/${i}`, rule: 'sameButtons', message: `must have the same buttons as card 0 (${buttonShape(first)})` })
      }
    })
    return errors
  },
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'carousel', {
    cards: body.cards.map((card) => compact({
      mediaUrl: card.mediaUrl,
      params: card.params,
      buttonParameters: [
        ...(urlButtons(card.urlParams) ?? []),
        ...(card.quickReplies ?? []).map((reply) => ({ type: 'QUICK_REPLY', payload: compact({ flowId: reply.flowId, action: reply.text }) }))
      ]
    }))
  })
})
