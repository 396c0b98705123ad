// The sandbox inbox's browser script, served as /sandbox/inbox.js: polls the inbox JSON, draws phone-style bubbles, and answers as the recipient.
/// <reference lib="dom" />
import type { InboxEntry, ScheduledEntry } from './inbox.js'

/**
 * Runs in the browser: served as the source of this one function, so it uses nothing from its
 * module. Every value reaches the page through `textContent` or an attribute, never as markup,
 * and links are made only for http(s) URLs (never `javascript:`).
 */
/* c8 ignore start - runs in the browser, never in Node: test/inbox-browser.test.ts drives it in Chromium */
export function inboxClient (pollMs: number): void {
  const list = document.getElementById('inbox') as HTMLOListElement
  const state = document.getElementById('state') as HTMLElement
  let shown = ''
  // What the last answer under each message came to, by message id: kept across redraws.
  const notes = new Map<string, { text: string, failed: boolean }>()
  const scheduledList = document.getElementById('scheduled') as HTMLOListElement
  const scheduledBox = document.getElementById('scheduled-box') as HTMLElement
  let shownScheduled = ''
  // What the last Cancel of each schedule came to, by schedule id: kept across redraws.
  const cancelNotes = new Map<string, { text: string, failed: boolean }>()

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

  /** Posts the recipient's answer; the bubble's status line says what happened. */
  async function answer (entry: InboxEntry, body: { text?: string, payload?: string }, status: HTMLElement): Promise<boolean> {
    const note = (text: string, failed: boolean) => {
      notes.set(entry.messageId ?? '', { text, failed })
      status.textContent = text
      status.className = failed ? 'reply-state failed' : 'reply-state'
    }
    note('sending…', false)
    try {
      const response = await fetch(`/sandbox/messages/${encodeURIComponent(entry.messageId ?? '')}/reply`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store'
      })
      if (response.status === 202) {
        note('Replied: the sandbox posted Jelou\'s reply event to the service.', false)
        draw().catch(() => {})
        return true
      }
      const problem = await response.json().catch(() => ({})) as { detail?: string }
      note(`Not sent (${response.status}): ${problem.detail ?? 'the service refused it'}`, true)
    } catch {
      note('Not sent: cannot reach the service.', true)
    }
    return false
  }

  /**
   * The buttons of a message or card. A quick reply of a message that can be answered is a real
   * button: `taps` hands out the message's `quickReplies` in the order the page draws them (the
   * message's buttons, then each card's), the order the service lists them in.
   */
  function buttons (list: Button[], taps?: { entry: InboxEntry, next: () => InboxEntry['quickReplies'][number] | undefined, status: HTMLElement }): HTMLElement {
    const row = el('div', 'buttons')
    for (const b of list) {
      const label = b.text === '' ? `(${b.type})` : b.text
      const className = `button button-${b.type.toLowerCase()}`
      const tap = taps !== undefined && b.type === 'QUICK_REPLY' && b.text !== '' ? taps.next() : undefined
      let button: HTMLElement
      if (taps !== undefined && tap !== undefined) {
        const { entry, status } = taps
        const real = el('button', `${className} tap`, label)
        real.type = 'button'
        real.title = `Tap as the recipient: replies "${tap.text}" with payload ${tap.payload}`
        real.dataset.payload = tap.payload
        real.addEventListener('click', () => {
          real.disabled = true
          answer(entry, { payload: tap.payload }, status).finally(() => { real.disabled = false }).catch(() => {})
        })
        button = real
      } else {
        button = b.url === undefined ? el('span', className, label) : link(b.url, className, label)
      }
      if (b.url !== undefined) button.title = b.url
      if (b.code !== undefined) button.append(el('span', 'button-code', b.code))
      if (b.flowId !== undefined && tap === undefined) button.title = `flow ${String(b.flowId)}`
      row.append(button)
    }
    return row
  }

  /** A text box to answer as the recipient (Enter or Send), and the recipient's answers so far. */
  function conversation (entry: InboxEntry, status: HTMLElement): HTMLElement {
    const box = el('div', 'conversation')
    if (entry.replies.length > 0) {
      const replies = el('ol', 'replies')
      for (const r of entry.replies) {
        const item = el('li', 'reply', r.text)
        const time = el('div', 'time', new Date(r.at).toLocaleTimeString())
        if (r.payload !== undefined) time.prepend(el('span', 'payload', `payload ${r.payload}`))
        item.append(time)
        replies.append(item)
      }
      box.append(replies)
    }
    const compose = el('div', 'compose')
    const input = el('input', 'reply-text')
    input.type = 'text'
    input.maxLength = 4096
    input.placeholder = 'Reply as the recipient…'
    input.setAttribute('aria-label', `Reply to ${entry.template ?? 'this message'} as its recipient`)
    input.dataset.messageId = entry.messageId ?? ''
    const send = el('button', 'reply-send', 'Send')
    send.type = 'button'
    const submit = () => {
      const text = input.value
      if (text.trim() === '') return
      send.disabled = true
      answer(entry, { text }, status).then((ok) => { if (ok) input.value = '' }).finally(() => { send.disabled = false }).catch(() => {})
    }
    send.addEventListener('click', submit)
    input.addEventListener('keydown', (event) => { if (event.key === 'Enter') submit() })
    compose.append(input, send)
    box.append(compose, status)
    return box
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

    const note = notes.get(entry.messageId ?? '')
    const status = el('p', note?.failed === true ? 'reply-state failed' : 'reply-state', note?.text ?? '')
    status.setAttribute('role', 'status')
    let tapped = 0
    const taps = entry.answerable ? { entry, status, next: () => entry.quickReplies[tapped++] } : undefined
    if (p !== null) {
      if (p.buttons.length > 0) item.append(buttons(p.buttons, taps))
      if (p.cards.length > 0) {
        const cards = el('div', 'cards')
        for (const card of p.cards) {
          const c = el('div', 'card')
          if (card.header !== undefined) c.append(header(card.header))
          c.append(el('div', 'body', card.body ?? card.values.join(' · ')))
          if (card.buttons.length > 0) c.append(buttons(card.buttons, taps))
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
    if (entry.answerable) item.append(conversation(entry, status))
    return item
  }

  /** What the reader is typing, by message: kept across a redraw, with the focus. */
  function drafts (): () => void {
    const inputs = Array.from(list.querySelectorAll<HTMLInputElement>('input.reply-text'))
    const kept = new Map(inputs.map((input) => [input.dataset.messageId, input.value]))
    const focused = inputs.find((input) => input === document.activeElement)?.dataset.messageId
    return () => {
      for (const input of Array.from(list.querySelectorAll<HTMLInputElement>('input.reply-text'))) {
        input.value = kept.get(input.dataset.messageId) ?? ''
        if (focused !== undefined && input.dataset.messageId === focused) input.focus()
      }
    }
  }

  /** Cancels a scheduled send through the sandbox (for its own caller); the row's note says what happened. */
  async function cancelSchedule (entry: ScheduledEntry, note: HTMLElement): Promise<void> {
    const say = (text: string, failed: boolean) => {
      cancelNotes.set(entry.id, { text, failed })
      note.textContent = text
      note.className = failed ? 'schedule-note failed' : 'schedule-note'
    }
    say('cancelling…', false)
    try {
      const response = await fetch(`/sandbox/scheduled/${encodeURIComponent(entry.id)}`, { method: 'DELETE', cache: 'no-store' })
      if (response.status === 200) {
        say('Cancelled: it will not be sent.', false)
      } else {
        const problem = await response.json().catch(() => ({})) as { detail?: string }
        say(`Not cancelled (${response.status}): ${problem.detail ?? 'the service refused it'}`, true)
      }
    } catch {
      say('Not cancelled: cannot reach the service.', true)
    }
    draw().catch(() => {})
  }

  /** One scheduled send: template, masked recipient, when, its state, and Cancel while it waits. */
  function scheduleRow (entry: ScheduledEntry): HTMLLIElement {
    const item = el('li', `schedule schedule-${entry.state}`)
    item.dataset.id = entry.id
    const when = el('time', 'send-at', `at ${new Date(entry.sendAt).toLocaleString()}`)
    when.dateTime = entry.sendAt
    when.title = entry.sendAt
    const state = el('span', `schedule-state state-${entry.state}`, entry.state)
    if (entry.code !== null) state.title = entry.code
    item.append(el('span', 'template', entry.template), el('span', 'to', entry.to), when, state, el('span', 'caller', `by ${entry.caller}`))
    const saved = cancelNotes.get(entry.id)
    const note = el('p', saved?.failed === true ? 'schedule-note failed' : 'schedule-note', saved?.text ?? '')
    note.setAttribute('role', 'status')
    if (entry.cancellable) {
      const cancel = el('button', 'schedule-cancel', 'Cancel')
      cancel.type = 'button'
      cancel.title = `Cancel ${entry.id}: it will not be sent`
      cancel.addEventListener('click', () => {
        cancel.disabled = true
        cancelSchedule(entry, note).finally(() => { cancel.disabled = false }).catch(() => {})
      })
      item.append(cancel)
    } else if (entry.state === 'sent' && entry.messageId !== null) {
      note.textContent = note.textContent === '' ? 'Sent: shown below among the received messages.' : note.textContent
    }
    item.append(note)
    return item
  }

  function drawScheduled (scheduled: ScheduledEntry[]): void {
    const key = JSON.stringify(scheduled.map((s) => [s.id, s.state]))
    if (key === shownScheduled) return
    shownScheduled = key
    scheduledList.replaceChildren(...scheduled.map(scheduleRow))
    scheduledBox.hidden = scheduled.length === 0
  }

  async function draw (): Promise<void> {
    try {
      const response = await fetch('/sandbox/inbox.json', { cache: 'no-store' })
      const { messages, scheduled } = await response.json() as { messages: InboxEntry[], scheduled: ScheduledEntry[] }
      drawScheduled(scheduled)
      // Redraw only when something changed, so a reader's selection is not reset every poll.
      const key = JSON.stringify(messages.map((m) => [m.seq, m.status, m.delivery, m.replies.length]))
      if (key !== shown) {
        shown = key
        const restore = drafts()
        list.replaceChildren(...messages.map(bubble))
        restore()
        const empty = document.getElementById('empty') as HTMLElement
        empty.hidden = messages.length > 0
      }
      const waiting = scheduled.filter((s) => s.state === 'scheduled' || s.state === 'sending').length
      state.textContent = `${messages.length} message${messages.length === 1 ? '' : 's'}${waiting > 0 ? ` · ${waiting} scheduled` : ''} · updated ${new Date().toLocaleTimeString()}`
      document.body.dataset.loaded = 'true'
    } catch {
      state.textContent = 'cannot reach the service; retrying'
    }
  }

  async function poll (): Promise<void> {
    await draw()
    setTimeout(() => { poll().catch(() => {}) }, pollMs)
  }

  poll().catch(() => {})
}
/* c8 ignore stop */
