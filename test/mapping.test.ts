// Each kind's pure mapping to Jelou's body, pinned, including the optional fields the examples do not use.
import t from 'tap'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import type { TemplateKind } from '../src/templates/kind.js'

const kind = (name: string) => TEMPLATE_KINDS.find((k) => k.kind === name) as TemplateKind
const ctx = { to: '593987654321', language: undefined }
const base = { to: '+593 98 765 4321', template: 'x_template' }

t.test('common fields map the same way on every kind', async (t) => {
  const body = kind('text').toUpstream({
    ...base,
    params: ['a'],
    campaignId: 'camp-1',
    expiresAt: '2030-01-01T00:00:00Z',
    flowId: 77,
    memory: { plan: 'gold' },
    clientRef: 'ref-1',
    country: 'EC',
    botId: 'b'
  }, { to: '593987654321', language: 'pt' })
  t.strictSame(body, {
    elementName: 'x_template',
    destinations: ['593987654321'],
    type: 'text',
    language: 'pt',
    parameters: ['a'],
    campaignId: 'camp-1',
    expirationTime: String(Date.parse('2030-01-01T00:00:00Z')),
    actions: { setFlow: { id: 77 }, setMemoryParams: { plan: 'gold' } }
  }, 'clientRef, country and botId never go upstream; expiresAt becomes an epoch-ms string')
  t.equal(kind('text').toUpstream({ ...base, expiresAt: 1893456000000 }, ctx).expirationTime, '1893456000000')
})

t.test('text with every optional button kind', async (t) => {
  t.strictSame(kind('text').toUpstream({
    ...base,
    headerParam: 'H',
    urlParams: ['u1', 'u2'],
    quickReplies: [{ text: 'Yes', flowId: 5 }, { text: 'No' }]
  }, ctx), {
    elementName: 'x_template',
    destinations: ['593987654321'],
    type: 'text',
    headerParameters: ['H'],
    buttonParameters: [{ type: 'URL', param: 'u1' }, { type: 'URL', param: 'u2' }],
    buttonPayloads: [{ flowId: 5, action: 'Yes' }, { action: 'No' }]
  })
})

t.test('limited-time offer: expiry as epoch ms, coupon first, URL buttons after, none when absent', async (t) => {
  t.strictSame(kind('limited-time-offer').toUpstream({ ...base, offerExpiresAt: 1893456000000 }, ctx), {
    elementName: 'x_template', destinations: ['593987654321'], type: 'text', ltoParams: { expirationTime: 1893456000000 }
  })
  t.strictSame(kind('limited-time-offer').toUpstream({ ...base, offerExpiresAt: '2030-01-01T00:00:00Z', urlParams: ['p'] }, ctx).buttonParameters, [{ type: 'URL', param: 'p' }])
})

t.test('authentication: the code fills the body and the URL button, nothing else', async (t) => {
  t.strictSame(kind('authentication').toUpstream({ ...base, code: 'A1B2' }, ctx), {
    elementName: 'x_template', destinations: ['593987654321'], type: 'text', parameters: ['A1B2'], buttonParameters: [{ type: 'URL', param: 'A1B2' }]
  })
})

t.test('carousel: card quick replies become QUICK_REPLY buttons; cards without buttons carry none', async (t) => {
  const body = kind('carousel').toUpstream({
    ...base,
    cards: [
      { mediaUrl: 'https://c/1.mp4', quickReplies: [{ text: 'Buy', flowId: 9 }] },
      { mediaUrl: 'https://c/2.mp4', params: ['p'] }
    ]
  }, ctx)
  t.strictSame(body.cards, [
    { mediaUrl: 'https://c/1.mp4', buttonParameters: [{ type: 'QUICK_REPLY', payload: { flowId: 9, action: 'Buy' } }] },
    { mediaUrl: 'https://c/2.mp4', params: ['p'] }
  ])
})

t.test('document without filename, and the media kinds carry their type', async (t) => {
  t.strictSame(kind('document').toUpstream({ ...base, mediaUrl: 'https://c/a.pdf' }, ctx), {
    elementName: 'x_template', destinations: ['593987654321'], type: 'document', mediaUrl: 'https://c/a.pdf'
  })
  t.equal(kind('video').toUpstream({ ...base, mediaUrl: 'https://c/a.mp4' }, ctx).type, 'video')
  t.equal(kind('image').toUpstream({ ...base, mediaUrl: 'https://c/a.png' }, ctx).type, 'image')
  t.equal(kind('catalog').toUpstream({ ...base, thumbnailUrl: 'https://c/t.png' }, ctx).thumbnailProduct, 'https://c/t.png')
})

t.test('carousel check: media kind and buttons must match card 0', async (t) => {
  const check = kind('carousel').check as NonNullable<TemplateKind['check']>
  t.strictSame(check({ ...base, cards: [{ mediaUrl: 'https://c/1.png' }, { mediaUrl: 'https://c/2.jpg' }] }, 0), [])
  t.match(check({ ...base, cards: [{ mediaUrl: 'https://c/1.png', urlParams: ['a'] }, { mediaUrl: 'https://c/2.mp4' }] }, 0), [
    { path: '/cards/1/mediaUrl', rule: 'sameMediaKind' },
    { path: '/cards/1', rule: 'sameButtons' }
  ])
})
