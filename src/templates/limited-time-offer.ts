// Limited-time-offer template: an expiry countdown, an optional copy-code coupon and URL buttons.
import { Type } from 'typebox'
import { FutureTimeSchema, UrlParamsSchema, kindBody, patterned } from '../schemas/common.js'
import { baseUpstream, defineKind, futureError, toEpochMs, urlButtons } from './kind.js'

export const limitedTimeOffer = defineKind({
  kind: 'limited-time-offer',
  summary: 'Send a limited-time-offer template',
  description: 'A limited-time offer (LTO): `offerExpiresAt` (future) becomes Jelou `ltoParams.expirationTime` in epoch ms; `couponCode` fills the copy-code button (`COPY_CODE`), then `urlParams` fill the URL buttons. The button shapes are inferred from Meta\'s LTO template (see docs/design.md).',
  schema: kindBody({
    offerExpiresAt: FutureTimeSchema('When the offer ends; must be in the future.'),
    couponCode: Type.Optional(patterned(['noSpace'], { minLength: 1, maxLength: 15, description: 'Code copied by the copy-code button, 1 to 15 characters, no spaces.' })),
    urlParams: Type.Optional(UrlParamsSchema)
  }, 'A limited-time-offer template send.'),
  examples: {
    ltoCopyCode: {
      summary: 'LTO with copy code button',
      value: { to: '+593 98 765 4331', template: 'flash_sale', language: 'es', params: ['Maria'], offerExpiresAt: '2030-01-01T00:00:00Z', couponCode: 'SPRING25', urlParams: ['SPRING25'], botId: 'bot-123' }
    }
  },
  check: (body, now) => futureError('/offerExpiresAt', body.offerExpiresAt, now),
  toUpstream: (body, ctx) => baseUpstream(body, ctx, 'text', {
    ltoParams: { expirationTime: toEpochMs(body.offerExpiresAt) },
    buttonParameters: [
      ...(body.couponCode === undefined ? [] : [{ type: 'COPY_CODE', param: body.couponCode }]),
      ...(urlButtons(body.urlParams) ?? [])
    ]
  })
})
