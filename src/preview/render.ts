// renderPreview: a catalogue template and the exact upstream body to the message the customer will see (pure).
import type { CatalogueTemplate, TemplateButton } from '../catalogue/types.js'
import { MEDIA_TYPES, type UpstreamBody } from '../upstream/schema.js'
import type { Preview, PreviewButton, PreviewCard, PreviewHeader, PreviewProblem } from './schema.js'

/** Finds a bot's template by name; undefined when the catalogue does not know it. */
export type TemplateLookup = (botId: string, name: string) => CatalogueTemplate | undefined

// Meta's placeholders are `{{1}}`, `{{2}}`…; tolerate inner spaces so a sloppy catalogue text is still read.
const PLACEHOLDER = /\{\{\s*(\d+)\s*\}\}/g

/** The distinct placeholder positions in a text, ascending: `{{1}}`, `{{2}}` → [1, 2]. */
export function placeholderPositions (text: string): number[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => Number(m[1])))].sort((a, b) => a - b)
}

interface Filled {
  text: string
  /** 1-based positions that received a value. */
  used: Set<number>
  /** 1-based positions without a value, in order of first appearance. */
  missing: number[]
}

/** Fills `{{n}}` with values[n-1]; a placeholder without a value stays as written. Values are inserted verbatim, never parsed. */
function fill (text: string, values: readonly string[]): Filled {
  const used = new Set<number>()
  const missing = new Set<number>()
  const out = text.replace(PLACEHOLDER, (match, digits: string) => {
    const n = Number(digits)
    if (n >= 1 && n <= values.length) {
      used.add(n)
      return values[n - 1]
    }
    missing.add(n)
    return match
  })
  return { text: out, used, missing: [...missing] }
}

/**
 * The message as the customer will see it. `template` is the catalogue entry (undefined when the
 * catalogue does not know the name); `body` is exactly what goes to Jelou, so kind, raw and
 * per-template routes preview alike. Nothing is guessed: a placeholder without a value, a value
 * without a placeholder and text the catalogue lacks are listed in `problems`.
 */
export function renderPreview (template: CatalogueTemplate | undefined, body: UpstreamBody): Preview {
  const problems: PreviewProblem[] = []
  const values = body.parameters ?? []
  const preview: Preview = {
    template: body.elementName,
    language: body.language?.toLowerCase() ?? null,
    known: false,
    body: null,
    values: [...values],
    buttons: [],
    cards: [],
    problems
  }

  if (template === undefined) {
    problems.push({ code: 'UNKNOWN_TEMPLATE', path: '/elementName', message: `the catalogue has no template ${body.elementName}: its text cannot be shown` })
    const media = mediaHeader(body)
    if (media !== undefined) preview.header = media
  } else {
    renderText(template, body, preview)
    const header = renderHeader(template, body, problems)
    if (header !== undefined) preview.header = header
    if (template.footer !== undefined) preview.footer = template.footer
    if (body.type !== 'carousel') {
      preview.buttons = renderButtons(template.buttons ?? [], buttonSources(body.buttonParameters, '/buttonParameters'), quickReplySources(body.buttonPayloads), problems)
    }
  }
  preview.cards = renderCards(template, body, problems)
  if (body.ltoParams !== undefined) {
    const end = new Date(body.ltoParams.expirationTime)
    if (!Number.isNaN(end.getTime())) preview.offerExpiresAt = end.toISOString()
  }
  if (body.thumbnailProduct !== undefined) preview.thumbnailUrl = body.thumbnailProduct
  return preview
}

function renderText (template: CatalogueTemplate, body: UpstreamBody, preview: Preview): void {
  const languages = Object.keys(template.text)
  // Without a language in the body, Jelou uses the template's; that is only unambiguous when there is one text.
  const language = preview.language ?? (languages.length === 1 ? languages[0] : null)
  preview.language = language
  const text = language === null ? undefined : template.text[language]
  if (text === undefined) {
    preview.problems.push(language === null
      ? { code: 'UNKNOWN_LANGUAGE', path: '/language', message: `no language sent and the template has several (${languages.join(', ')})` }
      : { code: 'UNKNOWN_LANGUAGE', path: '/language', message: `the catalogue has no ${language} text for ${template.name} (it has: ${languages.join(', ') || 'none'})` })
    return
  }
  const filled = fill(text, preview.values)
  preview.known = true
  preview.body = filled.text
  reportFit(filled, preview.values, '/parameters', 'the body', preview.problems)
}

/** MISSING_VALUE for each placeholder without a value, EXTRA_VALUE for each value no placeholder uses. */
function reportFit (filled: Filled, values: readonly string[], path: string, where: string, problems: PreviewProblem[]): void {
  for (const n of filled.missing) {
    problems.push({ code: 'MISSING_VALUE', path: `${path}/${n - 1}`, message: `{{${n}}} in ${where} has no value (${values.length} sent)` })
  }
  values.forEach((_, i) => {
    if (!filled.used.has(i + 1)) problems.push({ code: 'EXTRA_VALUE', path: `${path}/${i}`, message: `value ${i + 1} has no {{${i + 1}}} in ${where}` })
  })
}

/** The media header exactly as the body sends it, when the body is a media type with a URL. */
function mediaHeader (body: UpstreamBody): PreviewHeader | undefined {
  if (body.type === undefined || !MEDIA_TYPES.has(body.type) || body.mediaUrl === undefined) return undefined
  const header: PreviewHeader = { type: body.type, url: body.mediaUrl }
  const filename = body.filename ?? body.fileName
  if (body.type === 'document' && filename !== undefined) header.filename = filename
  return header
}

function renderHeader (template: CatalogueTemplate, body: UpstreamBody, problems: PreviewProblem[]): PreviewHeader | undefined {
  const declared = template.header ?? (template.kind !== null && MEDIA_TYPES.has(template.kind)
    ? { type: template.kind.toUpperCase() as 'IMAGE' | 'VIDEO' | 'DOCUMENT' }
    : undefined)
  const headerValues = body.headerParameters ?? []
  const extraHeaderValues = (why: string): void => {
    headerValues.forEach((_, i) => problems.push({ code: 'EXTRA_VALUE', path: `/headerParameters/${i}`, message: `header value ${i + 1} has no place: ${why}` }))
  }
  const extraMedia = (why: string): void => {
    if (body.mediaUrl !== undefined) problems.push({ code: 'EXTRA_VALUE', path: '/mediaUrl', message: `the media URL has no place: ${why}` })
  }

  if (declared === undefined) {
    extraHeaderValues('the template has no header')
    extraMedia('the template has no header')
    return undefined
  }
  if (declared.type === 'TEXT') {
    extraMedia('the template\'s header is text')
    if (declared.text === undefined) {
      problems.push({ code: 'UNKNOWN_TEXT', path: '/template/header', message: 'the catalogue has no header text for this template' })
      return { type: 'text' }
    }
    const filled = fill(declared.text, headerValues)
    reportFit(filled, headerValues, '/headerParameters', 'the header', problems)
    return { type: 'text', text: filled.text }
  }

  const type = declared.type.toLowerCase()
  extraHeaderValues(`the template's header is ${type === 'image' ? 'an' : 'a'} ${type}`)
  if (body.type !== undefined && body.type !== type && MEDIA_TYPES.has(body.type)) {
    problems.push({ code: 'HEADER_MISMATCH', path: '/type', message: `the body sends ${body.type} but the template's header is ${type === 'image' ? 'an' : 'a'} ${type}` })
  }
  if (body.mediaUrl === undefined) {
    problems.push({ code: 'MISSING_VALUE', path: '/mediaUrl', message: `the template's ${type} header has no media URL` })
    return { type }
  }
  const header: PreviewHeader = { type, url: body.mediaUrl }
  const filename = body.filename ?? body.fileName
  if (type === 'document' && filename !== undefined) header.filename = filename
  return header
}

/** One button value from the body, with where it sits for problem paths. */
interface ButtonSource {
  type: string
  value: string | undefined
  path: string
}

interface QuickReplySource {
  action: string | undefined
  flowId: number | string | undefined
  path: string
}

function buttonSources (params: UpstreamBody['buttonParameters'], path: string): ButtonSource[] {
  return (params ?? []).flatMap((p, i) => p.type === 'QUICK_REPLY'
    ? []
    : [{ type: p.type.toUpperCase(), value: p.param === undefined ? undefined : String(p.param), path: `${path}/${i}` }])
}

function quickReplySources (payloads: UpstreamBody['buttonPayloads']): QuickReplySource[] {
  return (payloads ?? []).map((p, i) => ({ action: p.action, flowId: p.flowId, path: `/buttonPayloads/${i}` }))
}

/** Card quick replies travel as `buttonParameters` of type QUICK_REPLY with a `{ flowId, action }` payload. */
function cardQuickReplies (params: UpstreamBody['buttonParameters'], path: string): QuickReplySource[] {
  return (params ?? []).flatMap((p, i) => {
    if (p.type !== 'QUICK_REPLY') return []
    const payload = (typeof p.payload === 'object' && p.payload !== null ? p.payload : {}) as { action?: unknown, flowId?: unknown }
    return [{
      action: typeof payload.action === 'string' ? payload.action : undefined,
      flowId: typeof payload.flowId === 'number' || typeof payload.flowId === 'string' ? payload.flowId : undefined,
      path: `${path}/${i}`
    }]
  })
}

/**
 * The template's buttons in order, each taking its value: a dynamic URL (`…{{1}}`) the next URL
 * parameter, a copy-code button the next COPY_CODE parameter, a quick reply the next payload.
 */
function renderButtons (declared: readonly TemplateButton[], params: ButtonSource[], replies: QuickReplySource[], problems: PreviewProblem[]): PreviewButton[] {
  const queues = new Map<string, ButtonSource[]>()
  for (const param of params) {
    const queue = queues.get(param.type) ?? []
    queue.push(param)
    queues.set(param.type, queue)
  }
  let reply = 0
  const buttons = declared.map((button, i): PreviewButton => {
    const out: PreviewButton = { type: button.type, text: button.text }
    if (button.type === 'URL' && button.url !== undefined) {
      if (button.url.match(PLACEHOLDER) === null) {
        out.url = button.url
      } else {
        const param = queues.get('URL')?.shift()
        if (param?.value === undefined) problems.push({ code: 'MISSING_VALUE', path: '/buttonParameters', message: `URL button ${i + 1} (${button.text}) has no value for its {{1}} suffix` })
        out.url = fill(button.url, param?.value === undefined ? [] : [param.value]).text
      }
    } else if (button.type === 'COPY_CODE') {
      const param = queues.get('COPY_CODE')?.shift()
      if (param?.value === undefined) problems.push({ code: 'MISSING_VALUE', path: '/buttonParameters', message: `copy-code button ${i + 1} (${button.text}) has no code` })
      else out.code = param.value
    } else if (button.type === 'QUICK_REPLY') {
      const source = replies[reply++]
      if (source?.action !== undefined && source.action !== button.text) {
        problems.push({ code: 'LABEL_MISMATCH', path: source.path, message: `quick reply ${reply} is sent as "${source.action}" but the template's button reads "${button.text}"` })
      }
      if (source?.flowId !== undefined) out.flowId = source.flowId
    }
    return out
  })
  for (const queue of queues.values()) {
    for (const param of queue) {
      problems.push({ code: 'EXTRA_VALUE', path: param.path, message: `the template has no ${param.type} button left for this value` })
    }
  }
  for (const source of replies.slice(reply)) {
    problems.push({ code: 'EXTRA_VALUE', path: source.path, message: 'the template has no quick-reply button left for this payload' })
  }
  return buttons
}

/**
 * Carousel cards: header media and values as sent, buttons from the template's buttons (which
 * describe every card, Meta requiring them alike). The catalogue holds no card text, so a card's
 * body stays null and that is reported once.
 */
function renderCards (template: CatalogueTemplate | undefined, body: UpstreamBody, problems: PreviewProblem[]): PreviewCard[] {
  const cards = body.cards ?? []
  if (cards.length > 0 && template !== undefined) {
    problems.push({ code: 'UNKNOWN_TEXT', path: '/cards', message: 'the catalogue has no card text: card values are shown unfilled' })
  }
  return cards.map((card, i) => {
    const path = `/cards/${i}/buttonParameters`
    const out: PreviewCard = {
      body: null,
      values: [...(card.params ?? [])],
      buttons: template === undefined
        ? []
        : renderButtons(template.buttons ?? [], buttonSources(card.buttonParameters, path), cardQuickReplies(card.buttonParameters, path), problems)
    }
    if (card.mediaUrl !== undefined) out.header = { type: /\.mp4([?#].*)?$/i.test(card.mediaUrl) ? 'video' : 'image', url: card.mediaUrl }
    return out
  })
}
