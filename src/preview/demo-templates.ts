// The demo catalogue previews use in sandbox mode: the twelve templates the kind routes' examples send.
import type { CatalogueTemplate, TemplateButton } from '../catalogue/types.js'
import { placeholderPositions, type TemplateLookup } from './render.js'

interface Demo {
  name: string
  kind: string
  language?: string
  text: string
  header?: CatalogueTemplate['header']
  footer?: string
  buttons?: TemplateButton[]
}

const DEMOS: Demo[] = [
  { name: 'order_update', kind: 'text', text: 'Hola {{1}}, tu pedido {{2}} está en camino.' },
  {
    name: 'visit_store',
    kind: 'text',
    text: 'Hola {{1}}, te esperamos en nuestra tienda esta semana.',
    buttons: [{ type: 'URL', text: 'Ver tienda', url: 'https://shop.example.com/' }, { type: 'URL', text: 'Cómo llegar', url: 'https://shop.example.com/map' }]
  },
  { name: 'promo_banner', kind: 'image', text: '{{1}}, solo hoy tienes {{2}} de descuento en toda la tienda.' },
  { name: 'product_tour', kind: 'video', language: 'en', text: 'Hi {{1}}, here is a two-minute tour of what is new.' },
  { name: 'invoice_ready', kind: 'document', text: 'Hola {{1}}, adjuntamos tu factura {{2}}.', footer: 'Gracias por tu compra' },
  {
    name: 'track_order',
    kind: 'url-button',
    text: 'Hola {{1}}, sigue tu pedido {{2}} en línea.',
    buttons: [{ type: 'URL', text: 'Seguir pedido', url: 'https://shop.example.com/track/{{1}}' }]
  },
  {
    name: 'appointment_confirm',
    kind: 'quick-reply',
    text: 'Hola {{1}}, tu cita es el {{2}}. ¿Nos confirmas?',
    buttons: [{ type: 'QUICK_REPLY', text: 'Confirm' }, { type: 'QUICK_REPLY', text: 'Reschedule' }]
  },
  {
    name: 'account_notice',
    kind: 'header-parameter',
    header: { type: 'TEXT', text: 'Aviso para {{1}}' },
    text: 'Tu cuenta {{1}} vence el {{2}}.'
  },
  { name: 'spring_catalog', kind: 'catalog', text: 'Hola {{1}}, ya está aquí nuestro catálogo de primavera.' },
  {
    name: 'flash_sale',
    kind: 'limited-time-offer',
    text: '{{1}}, la oferta relámpago termina pronto.',
    buttons: [{ type: 'COPY_CODE', text: 'Copiar cupón' }, { type: 'URL', text: 'Comprar', url: 'https://shop.example.com/sale?code={{1}}' }]
  },
  {
    name: 'login_code',
    kind: 'authentication',
    text: '{{1}} es tu código de verificación. Por tu seguridad, no lo compartas.',
    buttons: [{ type: 'URL', text: 'Copiar código', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }]
  },
  {
    name: 'weekly_offers',
    kind: 'carousel',
    text: 'Hola {{1}}, estas son las ofertas de la semana.',
    buttons: [{ type: 'URL', text: 'Ver producto', url: 'https://shop.example.com/p/{{1}}' }]
  }
]

function toTemplate (demo: Demo): CatalogueTemplate {
  const language = demo.language ?? 'es'
  const positions = placeholderPositions(demo.text)
  const template: CatalogueTemplate = {
    name: demo.name,
    botId: 'demo',
    languages: [language],
    kind: demo.kind,
    status: 'APPROVED',
    text: { [language]: demo.text },
    variables: positions.map((position) => ({ name: `var${position}`, position })),
    source: 'file',
    problems: []
  }
  if (demo.header !== undefined) template.header = demo.header
  if (demo.footer !== undefined) template.footer = demo.footer
  if (demo.buttons !== undefined) template.buttons = demo.buttons
  return template
}

export const DEMO_TEMPLATES: readonly CatalogueTemplate[] = DEMOS.map(toTemplate)

const byName = new Map(DEMO_TEMPLATES.map((template) => [template.name, template]))

/** Sandbox mode: every bot sees the demo catalogue. The lead re-points this at the real catalogue (SPEC §17) at integration. */
export const demoLookup: TemplateLookup = (_botId, name) => byName.get(name)
