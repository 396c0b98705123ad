// renderPreview (SPEC §20): one pinned preview per demo template, and every mismatch it reports.
import t from 'tap'
import type { CatalogueTemplate } from '../src/catalogue/types.js'
import { DEMO_CATALOGUE, demoLookup } from '../src/sandbox/demo-catalogue.js'
import { renderPreview } from '../src/preview/render.js'
import type { Preview } from '../src/preview/schema.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import type { UpstreamBody } from '../src/upstream/schema.js'

// The upstream body each kind route's example produces, by template name.
const EXAMPLES = new Map(TEMPLATE_KINDS.flatMap((kind) => Object.values(kind.examples).map((example) => {
  const value = example.value as { template: string, language?: 'es' | 'en' | 'pt' }
  return [value.template, kind.toUpstream(value, { to: '593987654321', language: value.language })] as const
})))

const base = { values: [] as string[], buttons: [], cards: [], problems: [] }
const PINNED: Record<string, Omit<Preview, 'template'>> = {
  order_update: { ...base, language: 'es', known: true, body: 'Hola Maria, tu pedido ORD-1234 está en camino.', values: ['Maria', 'ORD-1234'] },
  visit_store: {
    ...base,
    language: 'es',
    known: true,
    body: 'Hola Maria, te esperamos en nuestra tienda esta semana.',
    values: ['Maria'],
    buttons: [{ type: 'URL', text: 'Ver tienda', url: 'https://shop.example.com/' }, { type: 'URL', text: 'Cómo llegar', url: 'https://shop.example.com/map' }]
  },
  promo_banner: {
    ...base,
    language: 'es',
    known: true,
    header: { type: 'image', url: 'https://cdn.example.com/media/promo-banner.png' },
    body: 'Maria, solo hoy tienes 20% de descuento en toda la tienda.',
    values: ['Maria', '20%']
  },
  product_tour: {
    ...base,
    language: 'en',
    known: true,
    header: { type: 'video', url: 'https://cdn.example.com/media/product-tour.mp4' },
    body: 'Hi Maria, here is a two-minute tour of what is new.',
    values: ['Maria']
  },
  invoice_ready: {
    ...base,
    language: 'es',
    known: true,
    header: { type: 'document', url: 'https://cdn.example.com/media/invoice-1234.pdf', filename: 'invoice-1234.pdf' },
    body: 'Hola Maria, adjuntamos tu factura INV-1234.',
    values: ['Maria', 'INV-1234'],
    footer: 'Gracias por tu compra'
  },
  track_order: {
    ...base,
    language: 'es',
    known: true,
    body: 'Hola Maria, sigue tu pedido ORD-1234 en línea.',
    values: ['Maria', 'ORD-1234'],
    buttons: [{ type: 'URL', text: 'Seguir pedido', url: 'https://shop.example.com/track/ORD-1234' }]
  },
  appointment_confirm: {
    ...base,
    language: 'es',
    known: true,
    body: 'Hola Maria, tu cita es el 2025-03-10 10:00. ¿Nos confirmas?',
    values: ['Maria', '2025-03-10 10:00'],
    buttons: [{ type: 'QUICK_REPLY', text: 'Confirm', flowId: 1001 }, { type: 'QUICK_REPLY', text: 'Reschedule', flowId: 1002 }]
  },
  account_notice: {
    ...base,
    language: 'es',
    known: true,
    header: { type: 'text', text: 'Aviso para Maria' },
    body: 'Tu cuenta ACC-5678 vence el 2025-03-31.',
    values: ['ACC-5678', '2025-03-31']
  },
  spring_catalog: {
    ...base,
    language: 'es',
    known: true,
    body: 'Hola Maria, ya está aquí nuestro catálogo de primavera.',
    values: ['Maria'],
    buttons: [{ type: 'URL', text: 'Ver catálogo' }],
    thumbnailUrl: 'https://cdn.example.com/media/catalog-thumb.jpg'
  },
  flash_sale: {
    ...base,
    language: 'es',
    known: true,
    body: 'Maria, la oferta relámpago termina pronto.',
    values: ['Maria'],
    buttons: [{ type: 'COPY_CODE', text: 'Copiar cupón', code: 'SPRING25' }, { type: 'URL', text: 'Comprar', url: 'https://shop.example.com/sale?code=SPRING25' }],
    offerExpiresAt: '2030-01-01T00:00:00.000Z'
  },
  login_code: {
    ...base,
    language: 'es',
    known: true,
    body: '483920 es tu código de verificación. Por tu seguridad, no lo compartas.',
    values: ['483920'],
    buttons: [{ type: 'URL', text: 'Copiar código', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp483920' }]
  },
  weekly_offers: {
    ...base,
    language: 'es',
    known: true,
    body: 'Hola Maria, estas son las ofertas de la semana.',
    values: ['Maria'],
    cards: [
      { header: { type: 'image', url: 'https://cdn.example.com/media/offer-1.png' }, body: null, values: ['Sneakers', '$49'], buttons: [{ type: 'URL', text: 'Ver producto', url: 'https://shop.example.com/p/sku-1001' }] },
      { header: { type: 'image', url: 'https://cdn.example.com/media/offer-2.png' }, body: null, values: ['Backpack', '$35'], buttons: [{ type: 'URL', text: 'Ver producto', url: 'https://shop.example.com/p/sku-1002' }] }
    ],
    problems: [{ code: 'UNKNOWN_TEXT', path: '/cards', message: 'the catalogue has no card text: card values are shown unfilled' }]
  }
}

t.test('the demo catalogue covers exactly the twelve templates the kind routes\' examples send', async (t) => {
  t.same([...EXAMPLES.keys()].sort(), DEMO_CATALOGUE.map((tpl) => tpl.name).sort())
  t.same(Object.keys(PINNED).sort(), [...EXAMPLES.keys()].sort())
})

for (const [name, expected] of Object.entries(PINNED)) {
  t.test(`${name}: the example renders as pinned`, async (t) => {
    const body = EXAMPLES.get(name) as UpstreamBody
    t.strictSame(renderPreview(demoLookup('bot-123', name), body), { template: name, ...expected })
  })
}

const tpl = (over: Partial<CatalogueTemplate>): CatalogueTemplate => ({
  name: 'demo', botId: 'bot-123', languages: ['es'], kind: 'text', status: 'APPROVED', text: { es: 'Hola {{1}}, tu pedido {{2}}.' }, variables: [], source: 'file', problems: [], ...over
})
const send = (over: Partial<UpstreamBody>): UpstreamBody => ({ elementName: 'demo', destinations: ['593987654321'], type: 'text', language: 'es', ...over })
const codes = (preview: Preview): string[] => preview.problems.map((p) => `${p.code} ${p.path}`)

t.test('body: placeholders without values and values without placeholders are reported, never guessed', async (t) => {
  const short = renderPreview(tpl({}), send({ parameters: ['Maria'] }))
  t.equal(short.body, 'Hola Maria, tu pedido {{2}}.', 'the placeholder stays as written')
  t.same(short.problems, [{ code: 'MISSING_VALUE', path: '/parameters/1', message: '{{2}} in the body has no value (1 sent)' }])

  const long = renderPreview(tpl({}), send({ parameters: ['Maria', 'ORD-1', 'extra'] }))
  t.equal(long.body, 'Hola Maria, tu pedido ORD-1.')
  t.same(long.problems, [{ code: 'EXTRA_VALUE', path: '/parameters/2', message: 'value 3 has no {{3}} in the body' }])

  const gap = renderPreview(tpl({ text: { es: 'A {{1}} y {{3}}, otra vez {{3}}' } }), send({ parameters: ['x', 'y'] }))
  t.equal(gap.body, 'A x y {{3}}, otra vez {{3}}')
  t.same(codes(gap), ['MISSING_VALUE /parameters/2', 'EXTRA_VALUE /parameters/1'], 'a repeated placeholder is reported once')

  const none = renderPreview(tpl({}), send({}))
  t.same(codes(none), ['MISSING_VALUE /parameters/0', 'MISSING_VALUE /parameters/1'], 'no parameters at all')
})

t.test('unknown template, unknown language, no language with several texts', async (t) => {
  const unknown = renderPreview(undefined, send({ type: 'image', mediaUrl: 'https://x.example/a.png', parameters: ['Maria'] }))
  t.match(unknown, { known: false, body: null, values: ['Maria'], header: { type: 'image', url: 'https://x.example/a.png' } })
  t.same(unknown.problems, [{ code: 'UNKNOWN_TEMPLATE', path: '/elementName', message: 'the catalogue has no template demo: its text cannot be shown' }])

  const english = renderPreview(tpl({}), send({ language: 'en', parameters: ['Maria', 'X'] }))
  t.match(english, { known: false, body: null, language: 'en' })
  t.same(english.problems, [{ code: 'UNKNOWN_LANGUAGE', path: '/language', message: 'the catalogue has no en text for demo (it has: es)' }])

  const two = tpl({ languages: ['es', 'en'], text: { es: 'Hola {{1}}', en: 'Hi {{1}}' } })
  const noLanguage = renderPreview(two, send({ language: undefined, parameters: ['Maria'] }))
  t.match(noLanguage, { known: false, body: null, language: null })
  t.same(codes(noLanguage), ['UNKNOWN_LANGUAGE /language'])

  const one = renderPreview(tpl({}), send({ language: undefined, parameters: ['Maria', 'X'] }))
  t.match(one, { known: true, language: 'es', body: 'Hola Maria, tu pedido X.' }, 'one text: no language needed')
  t.match(renderPreview(tpl({}), send({ language: 'ES', parameters: ['a', 'b'] })), { known: true, language: 'es' }, 'language read case-insensitively')
})

t.test('header: text placeholder, media, and what does not fit', async (t) => {
  const text = tpl({ header: { type: 'TEXT', text: 'Aviso para {{1}}' } })
  t.same(codes(renderPreview(text, send({ parameters: ['a', 'b'] }))), ['MISSING_VALUE /headerParameters/0'])
  t.match(renderPreview(text, send({ parameters: ['a', 'b'] })).header, { type: 'text', text: 'Aviso para {{1}}' })
  t.same(codes(renderPreview(text, send({ parameters: ['a', 'b'], headerParameters: ['M'], mediaUrl: 'https://x.example/a.png' }))), ['EXTRA_VALUE /mediaUrl'])

  const fixed = tpl({ header: { type: 'TEXT', text: 'Aviso' } })
  t.same(codes(renderPreview(fixed, send({ parameters: ['a', 'b'], headerParameters: ['M'] }))), ['EXTRA_VALUE /headerParameters/0'])

  const untold = tpl({ header: { type: 'TEXT' } })
  const untoldPreview = renderPreview(untold, send({ parameters: ['a', 'b'], headerParameters: ['M'] }))
  t.same(untoldPreview.header, { type: 'text' })
  t.same(codes(untoldPreview), ['UNKNOWN_TEXT /template/header'])

  const image = tpl({ kind: 'image' })
  const noUrl = renderPreview(image, send({ type: 'image', parameters: ['a', 'b'] }))
  t.same(noUrl.header, { type: 'image' })
  t.same(codes(noUrl), ['MISSING_VALUE /mediaUrl'])
  t.same(codes(renderPreview(image, send({ type: 'video', mediaUrl: 'https://x.example/v.mp4', parameters: ['a', 'b'], headerParameters: ['M'] }))),
    ['EXTRA_VALUE /headerParameters/0', 'HEADER_MISMATCH /type'])

  t.same(codes(renderPreview(tpl({}), send({ type: 'image', mediaUrl: 'https://x.example/a.png', parameters: ['a', 'b'], headerParameters: ['M'] }))),
    ['EXTRA_VALUE /headerParameters/0', 'EXTRA_VALUE /mediaUrl'], 'a template without header')
})

t.test('buttons: URL suffixes, copy codes and quick replies that do not fit', async (t) => {
  const dynamic = tpl({ buttons: [{ type: 'URL', text: 'Track', url: 'https://s.example/t/{{1}}' }, { type: 'COPY_CODE', text: 'Copy' }] })
  const missing = renderPreview(dynamic, send({ parameters: ['a', 'b'] }))
  t.same(missing.buttons, [{ type: 'URL', text: 'Track', url: 'https://s.example/t/{{1}}' }, { type: 'COPY_CODE', text: 'Copy' }])
  t.same(codes(missing), ['MISSING_VALUE /buttonParameters', 'MISSING_VALUE /buttonParameters'])

  const extra = renderPreview(dynamic, send({ parameters: ['a', 'b'], buttonParameters: [{ type: 'URL', param: 'x1' }, { type: 'URL', param: 'x2' }, { type: 'COPY_CODE', param: 'C' }, { type: 'OTHER', param: 1 }] }))
  t.same(extra.buttons, [{ type: 'URL', text: 'Track', url: 'https://s.example/t/x1' }, { type: 'COPY_CODE', text: 'Copy', code: 'C' }])
  t.same(codes(extra), ['EXTRA_VALUE /buttonParameters/1', 'EXTRA_VALUE /buttonParameters/3'])

  const replies = tpl({ buttons: [{ type: 'QUICK_REPLY', text: 'Sí' }, { type: 'PHONE_NUMBER', text: 'Llamar' }] })
  const wrong = renderPreview(replies, send({ parameters: ['a', 'b'], buttonPayloads: [{ action: 'Si', flowId: 7 }, { action: 'No' }] }))
  t.same(wrong.buttons, [{ type: 'QUICK_REPLY', text: 'Sí', flowId: 7 }, { type: 'PHONE_NUMBER', text: 'Llamar' }])
  t.same(wrong.problems, [
    { code: 'LABEL_MISMATCH', path: '/buttonPayloads/0', message: 'quick reply 1 is sent as "Si" but the template\'s button reads "Sí"' },
    { code: 'EXTRA_VALUE', path: '/buttonPayloads/1', message: 'the template has no quick-reply button left for this payload' }
  ])
  t.same(codes(renderPreview(tpl({}), send({ parameters: ['a', 'b'], buttonParameters: [{ type: 'URL', param: 'x' }] }))), ['EXTRA_VALUE /buttonParameters/0'], 'a template without buttons')
})

t.test('carousel cards: buttons per card, extra card values reported, unknown templates show cards as sent', async (t) => {
  const carousel = tpl({ kind: 'carousel', text: { es: 'Hola {{1}}' }, buttons: [{ type: 'URL', text: 'Ver', url: 'https://s.example/p/{{1}}' }, { type: 'QUICK_REPLY', text: 'Quiero' }] })
  const body = send({
    type: 'carousel',
    parameters: ['Maria'],
    cards: [
      { mediaUrl: 'https://x.example/1.mp4', params: ['A'], buttonParameters: [{ type: 'URL', param: 'p1' }, { type: 'QUICK_REPLY', payload: { flowId: 5, action: 'Quiero' } }] },
      { mediaUrl: 'https://x.example/2.mp4', params: ['B'], buttonParameters: [{ type: 'QUICK_REPLY', payload: { action: 'Otro' } }, { type: 'QUICK_REPLY', payload: 'junk' }] }
    ]
  })
  const preview = renderPreview(carousel, body)
  t.same(preview.buttons, [], 'the template buttons belong to the cards')
  t.same(preview.cards, [
    { header: { type: 'video', url: 'https://x.example/1.mp4' }, body: null, values: ['A'], buttons: [{ type: 'URL', text: 'Ver', url: 'https://s.example/p/p1' }, { type: 'QUICK_REPLY', text: 'Quiero', flowId: 5 }] },
    { header: { type: 'video', url: 'https://x.example/2.mp4' }, body: null, values: ['B'], buttons: [{ type: 'URL', text: 'Ver', url: 'https://s.example/p/{{1}}' }, { type: 'QUICK_REPLY', text: 'Quiero' }] }
  ])
  t.same(codes(preview), ['UNKNOWN_TEXT /cards', 'MISSING_VALUE /buttonParameters', 'LABEL_MISMATCH /cards/1/buttonParameters/0', 'EXTRA_VALUE /cards/1/buttonParameters/1'])

  const unknown = renderPreview(undefined, body)
  t.same(unknown.cards.map((card) => [card.header?.url, card.values, card.buttons]), [['https://x.example/1.mp4', ['A'], []], ['https://x.example/2.mp4', ['B'], []]])
  t.same(codes(unknown), ['UNKNOWN_TEMPLATE /elementName'])
})

t.test('values are data: markup and replacement patterns are inserted verbatim', async (t) => {
  const values = ['<script>window.pwned=1</script>', '"><img src=x onerror=alert(1)>']
  const preview = renderPreview(tpl({}), send({ parameters: values }))
  t.equal(preview.body, `Hola ${values[0]}, tu pedido ${values[1]}.`)
  const dollar = renderPreview(tpl({}), send({ parameters: ['$&', "$1$'$`"] }))
  t.equal(dollar.body, "Hola $&, tu pedido $1$'$`.", 'String.replace patterns are not expanded')
  t.equal(renderPreview(tpl({}), send({ parameters: ['{{2}}', 'x'] })).body, 'Hola {{2}}, tu pedido x.', 'a value is never filled again')
})

t.test('an unreadable offer expiry is left out rather than invented', async (t) => {
  t.equal(renderPreview(tpl({}), send({ parameters: ['a', 'b'], ltoParams: { expirationTime: 1e20 } })).offerExpiresAt, undefined)
})
