// The sandbox inbox's browser script, served as /sandbox/inbox.js: polls the inbox JSON and draws phone-style bubbles.
/// <reference lib="dom" />
import type { InboxEntry } from './inbox.js'

/**
 * Runs in the browser: served as the source of this one function, so it uses nothing from its
 * module. Every value reaches the page through `textContent` or an attribute, never as markup,
 * and links are made only for http(s) URLs (never `javascript:`).
 */
export function inboxClient (pollMs: number): void {
  const list = document.getElementById('inbox') as HTMLOListElement
  const state = document.getElementById('state') as HTMLElement
  let shown = ''

  function el<K extends keyof HTMLElementTagNameMap> (tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag)
    node.className = className
    if (text !== undefined) node.textContent = text
    return node
  }

  function link (url: string, className: string, label: string): HTMLElement {
    if (!/^https?:\/\//i.test(url)) return el('span', className, label)
    const a = el('a', className, label)
    a.href = url
    a.rel = 'noopener noreferrer'
    a.target = '_blank'
    return a
  }

  type Header = NonNullable<NonNullable<InboxEntry['preview']>['header']>
  type Button = NonNullable<InboxEntry['preview']>['buttons'][number]

  function header (h: Header): HTMLElement {
    if (h.type === 'text') return el('div', 'header-text', h.text ?? '(header text unknown)')
    // Media are never fetched (CSP img-src 'self'): a placeholder naming the kind, with the URL as a link.
    const box = el('div', `media media-${h.type}`)
    box.append(el('span', 'media-kind', h.type.toUpperCase()))
    if (h.filename !== undefined) box.append(el('span', 'media-name', h.filename))
    box.append(h.url === undefined ? el('span', 'media-url missing', 'no media URL') : link(h.url, 'media-url', h.url))
    return box
  }

  function buttons (list: Button[]): HTMLElement {
    const row = el('div', 'buttons')
    for (const b of list) {
      const label = b.text === '' ? `(${b.type})` : b.text
      const button = b.url === undefined ? el('span', `button button-${b.type.toLowerCase()}`, label) : link(b.url, `button button-${b.type.toLowerCase()}`, label)
      if (b.url !== undefined) button.title = b.url
      if (b.code !== undefined) button.append(el('span', 'button-code', b.code))
      if (b.flowId !== undefined) button.title = `flow ${String(b.flowId)}`
      row.append(button)
    }
    return row
  }

  function ticks (entry: InboxEntry): HTMLElement {
    const marks: Record<string, string> = { CREATED: '✓', DELIVERED_CHANNEL: '✓', DELIVERED_USER: '✓✓', READ: '✓✓', REPLY: '✓✓', FAILED: '!' }
    // Before any delivery status, an accepted send shows WhatsApp's single "sent" tick.
    const delivery = entry.delivery ?? (entry.status === 200 ? 'CREATED' : '')
    const tick = el('span', `ticks ticks-${delivery.toLowerCase() || 'none'}`, marks[delivery] ?? '')
    tick.title = entry.delivery ?? (entry.status === 200 ? 'accepted; no delivery status yet' : 'not accepted')
    return tick
  }

  function bubble (entry: InboxEntry): HTMLLIElement {
    const item = el('li', 'message')
    item.dataset.seq = String(entry.seq)
    const meta = el('div', 'meta')
    meta.append(el('span', 'to', entry.to ?? 'unknown recipient'), el('span', 'template', entry.template ?? '(no template)'), el('span', 'bot', `bot ${entry.botId}`))
    item.append(meta)

    const box = el('div', 'bubble')
    const p = entry.preview
    if (p === null) {
      box.classList.add('refused')
      box.append(el('div', 'body', entry.status === 0 ? 'The sandbox is still answering…' : `The sandbox refused this request (${entry.status}): nothing would be delivered.`))
    } else {
      if (p.header !== undefined) box.append(header(p.header))
      if (p.body !== null) {
        box.append(el('div', 'body', p.body))
      } else {
        box.append(el('div', 'body unknown', 'Template text unknown; values sent:'))
        const values = el('ol', 'values')
        for (const value of p.values) values.append(el('li', 'value', value))
        box.append(values)
      }
      if (p.footer !== undefined) box.append(el('div', 'footer', p.footer))
      if (p.offerExpiresAt !== undefined) box.append(el('div', 'offer', `Offer ends ${new Date(p.offerExpiresAt).toLocaleString()}`))
      if (p.thumbnailUrl !== undefined) box.append(link(p.thumbnailUrl, 'thumbnail', 'View catalog'))
    }
    const time = el('div', 'time')
    const received = new Date(entry.receivedAt)
    time.append(el('time', '', received.toLocaleTimeString()), ticks(entry))
    time.title = entry.receivedAt
    box.append(time)
    item.append(box)

    if (p !== null) {
      if (p.buttons.length > 0) item.append(buttons(p.buttons))
      if (p.cards.length > 0) {
        const cards = el('div', 'cards')
        for (const card of p.cards) {
          const c = el('div', 'card')
          if (card.header !== undefined) c.append(header(card.header))
          c.append(el('div', 'body', card.body ?? card.values.join(' · ')))
          if (card.buttons.length > 0) c.append(buttons(card.buttons))
          cards.append(c)
        }
        item.append(cards)
      }
      if (p.problems.length > 0) {
        const problems = el('ul', 'problems')
        for (const problem of p.problems) problems.append(el('li', 'problem', `${problem.code} ${problem.path}: ${problem.message}`))
        item.append(problems)
      }
    }
    return item
  }

  async function refresh (): Promise<void> {
    try {
      const response = await fetch('/sandbox/inbox.json', { cache: 'no-store' })
      const { messages } = await response.json() as { messages: InboxEntry[] }
      // Redraw only when something changed, so a reader's selection is not reset every poll.
      const key = JSON.stringify(messages.map((m) => [m.seq, m.status, m.delivery]))
      if (key !== shown) {
        shown = key
        list.replaceChildren(...messages.map(bubble))
        const empty = document.getElementById('empty') as HTMLElement
        empty.hidden = messages.length > 0
      }
      state.textContent = `${messages.length} message${messages.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`
      document.body.dataset.loaded = 'true'
    } catch {
      state.textContent = 'cannot reach the service; retrying'
    }
    setTimeout(() => { refresh().catch(() => {}) }, pollMs)
  }

  refresh().catch(() => {})
}
