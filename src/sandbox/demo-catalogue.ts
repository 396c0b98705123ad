// The demo company's twelve templates (one per seed case): Jelou's list items the sandbox serves, and the catalogue file entries sandbox mode uses.
import { SANDBOX_BOT_ID } from '../config.js'
import type { FileTemplate } from '../catalogue/file.js'
import { readTemplateList } from '../catalogue/jelou.js'
import { mergeCatalogue } from '../catalogue/merge.js'
import type { CatalogueTemplate } from '../catalogue/types.js'
import type { TemplateLookup } from '../preview/render.js'

/** One demo template: the file entry (kind, names, examples) plus what only Jelou's list says. */
interface Demo extends FileTemplate {
  text: string
  category: 'UTILITY' | 'MARKETING' | 'AUTHENTICATION'
  displayName: string
  /** Jelou's human labels, by position. */
  labels: string[]
}

const v = (name: string, example: string, description: string, maxLength?: number) => maxLength === undefined ? { name, example, description } : { name, example, description, maxLength }

/** Names, kinds, languages and variable counts match the kind routes' OpenAPI examples, so those keep answering 202. */
const DEMO: Demo[] = [
  {
    name: 'order_update',
    kind: 'text',
    languages: ['es'],
    category: 'UTILITY',
    displayName: 'Order update',
    text: 'Hola {{1}}, tu pedido {{2}} está en camino.',
    labels: ['nombre', 'pedido'],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60), v('orderId', 'ORD-1234', 'Order number.', 20)]
  },
  {
    name: 'visit_store',
    kind: 'text',
    languages: ['es'],
    category: 'MARKETING',
    displayName: 'Visit our store',
    text: 'Hola {{1}}, te esperamos en nuestra tienda esta semana.',
    labels: ['nombre'],
    buttons: [{ type: 'URL', text: 'Ver tienda', url: 'https://shop.example.com/' }, { type: 'URL', text: 'Cómo llegar', url: 'https://shop.example.com/map' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60)]
  },
  {
    name: 'promo_banner',
    kind: 'image',
    languages: ['es'],
    category: 'MARKETING',
    displayName: 'Promo banner',
    text: '{{1}}, solo hoy tienes {{2}} de descuento en toda la tienda.',
    labels: ['nombre', 'descuento'],
    header: { type: 'IMAGE' },
    variables: [v('customerName', 'Maria', 'Customer first name.', 60), v('discount', '20%', 'Discount shown in the text.', 10)]
  },
  {
    name: 'product_tour',
    kind: 'video',
    languages: ['en'],
    category: 'MARKETING',
    displayName: 'Product tour',
    text: 'Hi {{1}}, here is a two-minute tour of what is new.',
    labels: ['name'],
    header: { type: 'VIDEO' },
    variables: [v('customerName', 'Maria', 'Customer first name.', 60)]
  },
  {
    name: 'invoice_ready',
    kind: 'document',
    languages: ['es'],
    category: 'UTILITY',
    displayName: 'Invoice ready',
    text: 'Hola {{1}}, adjuntamos tu factura {{2}}.',
    labels: ['nombre', 'factura'],
    header: { type: 'DOCUMENT' },
    footer: 'Gracias por tu compra',
    variables: [v('customerName', 'Maria', 'Customer first name.', 60), v('invoiceId', 'INV-1234', 'Invoice number.', 20)]
  },
  {
    name: 'track_order',
    kind: 'url-button',
    languages: ['es'],
    category: 'UTILITY',
    displayName: 'Track order',
    text: 'Hola {{1}}, sigue tu pedido {{2}} en línea.',
    labels: ['nombre', 'pedido'],
    buttons: [{ type: 'URL', text: 'Seguir pedido', url: 'https://shop.example.com/track/{{1}}' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60), v('orderId', 'ORD-1234', 'Order number.', 20)],
    example: { urlParams: ['ORD-1234'] }
  },
  {
    name: 'appointment_confirm',
    kind: 'quick-reply',
    languages: ['es'],
    category: 'UTILITY',
    displayName: 'Appointment confirmation',
    text: 'Hola {{1}}, tu cita es el {{2}}. ¿Nos confirmas?',
    labels: ['nombre', 'fecha'],
    buttons: [{ type: 'QUICK_REPLY', text: 'Confirm' }, { type: 'QUICK_REPLY', text: 'Reschedule' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60), v('appointmentTime', '2025-03-10 10:00', 'Date and time of the appointment.', 40)]
  },
  {
    name: 'account_notice',
    kind: 'header-parameter',
    languages: ['es'],
    category: 'UTILITY',
    displayName: 'Account notice',
    text: 'Tu cuenta {{1}} vence el {{2}}.',
    labels: ['cuenta', 'vencimiento'],
    header: { type: 'TEXT', text: 'Aviso para {{1}}' },
    variables: [v('accountId', 'ACC-5678', 'Account number.', 20), v('dueDate', '2025-03-31', 'Due date.', 20)]
  },
  {
    name: 'spring_catalog',
    kind: 'catalog',
    languages: ['es'],
    category: 'MARKETING',
    displayName: 'Spring catalog',
    text: 'Hola {{1}}, ya está aquí nuestro catálogo de primavera.',
    labels: ['nombre'],
    buttons: [{ type: 'URL', text: 'Ver catálogo' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60)]
  },
  {
    name: 'flash_sale',
    kind: 'limited-time-offer',
    languages: ['es'],
    category: 'MARKETING',
    displayName: 'Flash sale',
    text: '{{1}}, la oferta relámpago termina pronto.',
    labels: ['nombre'],
    buttons: [{ type: 'COPY_CODE', text: 'Copiar cupón' }, { type: 'URL', text: 'Comprar', url: 'https://shop.example.com/sale?code={{1}}' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60)]
  },
  {
    name: 'login_code',
    kind: 'authentication',
    languages: ['es'],
    category: 'AUTHENTICATION',
    displayName: 'Login code',
    text: '{{1}} es tu código de verificación. Por tu seguridad, no lo compartas.',
    labels: ['código'],
    buttons: [{ type: 'URL', text: 'Copiar código', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }],
    variables: [v('code', '483920', 'The one-time code (1 to 15 characters).', 15)]
  },
  {
    name: 'weekly_offers',
    kind: 'carousel',
    languages: ['es'],
    category: 'MARKETING',
    displayName: 'Weekly offers',
    text: 'Hola {{1}}, estas son las ofertas de la semana.',
    labels: ['nombre'],
    buttons: [{ type: 'URL', text: 'Ver producto', url: 'https://shop.example.com/p/{{1}}' }],
    variables: [v('customerName', 'Maria', 'Customer first name.', 60)]
  }
]

/** The catalogue file sandbox mode uses when TEMPLATES_FILE is not set. */
export function demoCatalogueFile (): FileTemplate[] {
  return DEMO.map(({ text, category, displayName, labels, ...entry }) => ({ ...entry, bot: SANDBOX_BOT_ID }))
}

/** Jelou's list items for the demo bot, as Jelou returns them (language upper case). */
export function demoJelouList (): Array<Record<string, unknown>> {
  return DEMO.map((d) => ({
    template: d.text,
    displayName: d.displayName,
    elementName: d.name,
    params: d.labels.map((label, i) => ({ label, param: String(i + 1) })),
    paramsNumber: d.labels.length,
    isVisible: true,
    language: (d.languages?.[0] ?? 'es').toUpperCase(),
    status: 'APPROVED',
    category: d.category,
    createdAt: '2025-01-10T15:00:00.000Z',
    updatedAt: '2025-01-12T09:30:00.000Z'
  }))
}

/**
 * The catalogue sandbox mode loads at start-up (the same merge of the same two sources), for what
 * reads it without a running service: the dry-run example of the OpenAPI document and tests.
 */
export const DEMO_CATALOGUE: readonly CatalogueTemplate[] = mergeCatalogue({
  jelou: new Map([[SANDBOX_BOT_ID, readTemplateList({ data: demoJelouList() }).items]]),
  file: demoCatalogueFile(),
  defaultBot: SANDBOX_BOT_ID
})

const byName = new Map(DEMO_CATALOGUE.map((template) => [template.name, template]))

/** `catalogue.find` of a sandbox-mode service, without one. */
export const demoLookup: TemplateLookup = (botId, name) => botId === SANDBOX_BOT_ID ? byName.get(name) : undefined
