// The sandbox inbox in a real browser: every demo example shown as a bubble, markup in values shown as text and run never.
import { maskPhone } from '../src/phone.js'
import t from 'tap'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import type { Browser, Page } from 'playwright-core'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { demoLookup } from '../src/sandbox/demo-catalogue.js'
import { renderPreview } from '../src/preview/render.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { UI_TIMEOUT, chromiumMissing, launchChromium } from './chromium.js'
import { captureLogs } from './helper.js'

const SCREENSHOT = new URL('../artifacts/sandbox-inbox.png', import.meta.url)

// Every named example of every kind route, with the body text its demo template renders to.
const CASES = TEMPLATE_KINDS.flatMap((kind) => Object.values(kind.examples).map((example) => {
  const value = example.value as Record<string, unknown> & { template: string, language?: 'es' | 'en' | 'pt' }
  const body = renderPreview(demoLookup('bot-123', value.template), kind.toUpstream(value, { to: '593987654321', language: value.language })).body
  return { kind: kind.kind, value, body: body as string }
}))

const SCRIPT = '<script>window.__pwned = 1</script>'
const IMG = '"><img src=x onerror="window.__pwned = 2">'

t.test('/sandbox in Chromium: one bubble per send, newest first, values as text', { skip: chromiumMissing }, async (t) => {
  t.equal(CASES.length, 13, 'thirteen named examples across the kind routes')
  t.ok(CASES.every((c) => typeof c.body === 'string' && !c.body.includes('{{')), 'each demo example renders a full body')

  const config = loadConfig({ JELOU_BOT_ID: 'bot-123', RECIPIENT_LIMIT: '1000/60s', MAX_EVENT_LOOP_DELAY_MS: '0' })
  const { stream } = captureLogs(t)
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const sendJson = async (path: string, body: unknown): Promise<number> =>
    (await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status

  for (const c of CASES) t.equal(await sendJson(`/v1/messages/${c.kind}`, c.value), 202, `${c.value.template} sent`)

  const browser: Browser = await launchChromium()
  t.teardown(() => browser.close())
  const page: Page = await browser.newPage({ viewport: { width: 720, height: 1000 } })
  page.setDefaultTimeout(UI_TIMEOUT)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()) })
  // Every request the page makes, to prove media URLs are never fetched.
  const requested: string[] = []
  page.on('request', (request) => { requested.push(request.url()) })
  page.on('response', (response) => { if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`) })

  await page.goto(`${origin}/sandbox`)
  const bubbles = page.locator('#inbox > li.message')
  await page.locator(`#inbox > li.message >> nth=${CASES.length - 1}`).waitFor()
  t.equal(await bubbles.count(), CASES.length, 'one bubble per send')

  // Newest first: the bubbles run from the last example sent back to the first.
  const newestFirst = [...CASES].reverse()
  for (const [i, c] of newestFirst.entries()) {
    const bubble = bubbles.nth(i)
    t.equal(await bubble.locator('.meta .template').textContent(), c.value.template, `bubble ${i} is ${c.value.template}`)
    t.equal(await bubble.locator('.bubble .body').first().textContent(), c.body, `${c.value.template}: the rendered body text`)
    t.equal(await bubble.locator('.meta .to').textContent(), maskPhone(String(c.value.to).replace(/\D/g, '')), `${c.value.template}: the recipient is masked`)
  }
  const byTemplate = (name: string) => bubbles.filter({ has: page.locator('.meta .template', { hasText: new RegExp(`^${name}$`) }) })
  t.equal(await byTemplate('account_notice').locator('.header-text').textContent(), 'Aviso para Maria', 'a text header, filled')
  t.match(await byTemplate('promo_banner').locator('.media').textContent(), /IMAGE.*promo-banner\.png/, 'an image header as a placeholder with its URL')
  t.same(await byTemplate('appointment_confirm').locator('.buttons .button').allTextContents(), ['Confirm', 'Reschedule'], 'quick replies')
  t.equal(await byTemplate('track_order').locator('.buttons a.button').getAttribute('href'), 'https://shop.example.com/track/ORD-1234', 'the URL button with its suffix')
  t.equal(await byTemplate('weekly_offers').locator('.cards .card').count(), 2, 'carousel cards')
  t.equal(await page.locator('img').count(), 0, 'no image element: media are not loaded')

  // Sent after the page opened: it appears without a reload, on top, as plain text.
  t.equal(await sendJson('/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params: [SCRIPT, IMG], botId: 'bot-123' }), 202)
  await page.locator(`#inbox > li.message >> nth=${CASES.length}`).waitFor()
  const top = bubbles.first()
  t.equal(await top.locator('.bubble .body').textContent(), `Hola ${SCRIPT}, tu pedido ${IMG} está en camino.`, 'markup shows as text')
  t.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing ran')
  t.equal(await page.locator('img').count(), 0, 'no image element was injected')
  t.equal(await page.locator('#inbox script').count(), 0, 'no script element was injected')
  t.equal(await top.locator('.ticks').textContent(), '✓', 'accepted by the sandbox: the single "sent" tick')
  // Message status moves the ticks without a reload (the sandbox's delivery timer, SANDBOX_DELIVERY_STEP_MS):
  // two grey ticks once delivered to the phone, blue once read. The locators are re-queried: the page redraws.
  await top.locator('.ticks-delivered_user, .ticks-read').waitFor()
  t.equal(await top.locator('.ticks').textContent(), '✓✓', 'delivered: two ticks')
  await top.locator('.ticks-read').waitFor()
  t.equal(await top.locator('.ticks').getAttribute('title'), 'READ', 'read: the ticks turn blue')

  // Answer as the recipient: tap "Reschedule" under appointment_confirm, sent with a callbackUrl to the service's own
  // catcher. The sandbox posts Jelou's reply event to the service, and the caller's message.replied shows on /sandbox/callbacks.
  const quick = CASES.find((c) => c.value.template === 'appointment_confirm') as typeof CASES[number]
  t.equal(await sendJson('/v1/messages/quick-reply', { ...quick.value, callbackUrl: `${origin}/sandbox/callbacks`, clientRef: 'browser-reply-1' }), 202, 'a quick-reply message with a callbackUrl')
  await page.locator(`#inbox > li.message >> nth=${CASES.length + 1}`).waitFor()
  const asked = bubbles.first()
  t.equal(await asked.locator('.meta .template').textContent(), 'appointment_confirm')
  t.same(await asked.locator('.buttons button.tap').allTextContents(), ['Confirm', 'Reschedule'], 'its quick replies are buttons to tap')
  await asked.locator('.buttons button.tap', { hasText: 'Reschedule' }).click()
  await bubbles.first().locator('.replies .reply').waitFor()
  t.match(await bubbles.first().locator('.replies .reply').textContent(), /^Reschedule.*payload 1002/, 'the answer shows under the message, with its payload')
  await bubbles.first().locator('.ticks-reply').waitFor()
  t.equal(await bubbles.first().locator('.ticks').getAttribute('title'), 'REPLY', 'the message is REPLY')
  // A typed answer under the text message with markup: shown as text.
  const typed = bubbles.nth(1)
  await typed.locator('input.reply-text').fill(SCRIPT)
  await typed.locator('button.reply-send').click()
  await bubbles.nth(1).locator('.replies .reply').waitFor()
  t.match(await bubbles.nth(1).locator('.replies .reply').textContent(), SCRIPT, 'a typed answer, shown as text')
  t.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing ran')
  await page.screenshot({ path: screenshotPath(), fullPage: true })

  // The catcher page is server-rendered and refreshes itself every 3 s: the callback is there, its signature valid.
  const catcher: Page = await browser.newPage()
  catcher.setDefaultTimeout(UI_TIMEOUT)
  catcher.on('request', (request) => { requested.push(request.url()) })
  catcher.on('pageerror', (error) => { pageErrors.push(error.message) })
  await catcher.goto(`${origin}/sandbox/callbacks`)
  const replied = catcher.locator('tbody tr', { hasText: 'message.replied' }).filter({ hasText: 'browser-reply-1' })
  await replied.waitFor()
  t.match(await replied.locator('td').nth(2).textContent(), /^valid/, 'message.replied, its signature valid')
  const body = JSON.parse(await replied.locator('pre').textContent() ?? '{}') as { data?: Record<string, unknown> }
  t.match(body, { type: 'message.replied', data: { status: 'replied', template: 'appointment_confirm', reply: { text: 'Reschedule', payload: '1002' } } }, 'with the tapped button\'s label and payload')

  t.comment(`screenshot: ${SCREENSHOT.pathname}`)
  t.same([...new Set(requested.map((url) => new URL(url).origin))], [origin], 'the page loaded only from the service')
  t.same(pageErrors, [], 'no page or console errors')
})

function screenshotPath (name?: string): string {
  mkdirSync(new URL('.', SCREENSHOT), { recursive: true })
  return name === undefined ? SCREENSHOT.pathname : new URL(name, SCREENSHOT).pathname
}

t.test('/sandbox in Chromium: scheduled sends listed apart, one cancelled with its button, the other arriving as a message', { skip: chromiumMissing }, async (t) => {
  const SHOP = 'shop-key-0123456789abcdef'
  const CRM = 'crm-key-0123456789abcdef0'
  // With caller keys set: the page has none, yet lists every caller's schedules and cancels for the schedule's own caller.
  const config = loadConfig({ JELOU_BOT_ID: 'bot-123', RECIPIENT_LIMIT: '1000/60s', MAX_EVENT_LOOP_DELAY_MS: '0', SCHEDULE_MIN_AHEAD_SECONDS: '1', API_KEYS: `shop:${SHOP},crm:${CRM}` })
  const { stream } = captureLogs(t)
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const schedule = async (path: string, key: string, body: unknown): Promise<{ status: number, id: string }> => {
    const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(body) })
    return { status: res.status, id: ((await res.json()) as { messageId: string }).messageId }
  }

  const browser: Browser = await launchChromium()
  t.teardown(() => browser.close())
  const page: Page = await browser.newPage({ viewport: { width: 720, height: 900 } })
  page.setDefaultTimeout(UI_TIMEOUT)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()) })
  page.on('response', (response) => { if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`) })
  await page.goto(`${origin}/sandbox`)
  await page.locator('body[data-loaded="true"]').waitFor()
  t.equal(await page.locator('#scheduled-box').isHidden(), true, 'nothing scheduled: no scheduled panel')

  // Scheduled once the page is open: the text one 3 s ahead (it will arrive), the code one 6 s ahead (it will be cancelled).
  const arriveAt = Date.now() + 3000
  const cancelAt = Date.now() + 6000
  const arriving = await schedule('/v1/messages/text', SHOP, { to: '+593 98 765 4321', template: 'order_update', params: ['Ana', 'ORD-77'], sendAt: new Date(arriveAt).toISOString() })
  const coded = await schedule('/v1/messages/authentication', CRM, { to: '+593 98 765 4332', template: 'login_code', language: 'es', code: '483920', sendAt: new Date(cancelAt).toISOString() })
  t.same([arriving.status, coded.status], [202, 202], 'both scheduled')

  const rows = page.locator('#scheduled > li.schedule')
  const row = (id: string) => page.locator(`#scheduled > li.schedule[data-id="${id}"]`)
  await rows.nth(1).waitFor()
  t.equal(await page.locator('#scheduled-box').isVisible(), true, 'the scheduled panel shows')
  t.same(await rows.evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.id)), [arriving.id, coded.id], 'soonest first')
  t.same(await row(arriving.id).locator('.template, .to, .schedule-state, .caller').allTextContents(), ['order_update', maskPhone('593987654321'), 'scheduled', 'by shop'], 'template, masked recipient, state, caller')
  t.same(await row(coded.id).locator('.template, .to, .schedule-state, .caller').allTextContents(), ['login_code', maskPhone('593987654332'), 'scheduled', 'by crm'])
  t.equal(await row(coded.id).locator('time.send-at').getAttribute('datetime'), new Date(cancelAt).toISOString(), 'its sendAt')
  t.notMatch(await page.locator('#scheduled-box').textContent() ?? '', /483920|ORD-77|Ana/, 'no values, never the code')
  t.equal(await page.locator('#inbox > li.message').count(), 0, 'nothing received yet')
  t.match(await page.locator('#state').textContent(), /2 scheduled/)

  await row(coded.id).locator('button.schedule-cancel').click()
  await row(coded.id).and(page.locator('.schedule-cancelled')).waitFor()
  t.equal(await row(coded.id).locator('.schedule-state').textContent(), 'cancelled', 'shown cancelled')
  t.equal(await row(coded.id).locator('.schedule-note').textContent(), 'Cancelled: it will not be sent.')
  t.equal(await row(coded.id).locator('button.schedule-cancel').count(), 0, 'no Cancel button once cancelled')
  const status = await (await fetch(`${origin}/v1/messages/${coded.id}`, { headers: { 'x-api-key': CRM } })).json() as { status: string }
  t.equal(status.status, 'cancelled', 'its caller sees it cancelled')

  // The other is sent at its time: a received message on top of the inbox, and "sent" in the panel.
  const received = page.locator('#inbox > li.message')
  await received.first().waitFor()
  t.ok(Date.now() >= arriveAt - 1000, 'not before its sendAt')
  t.equal(await received.first().locator('.meta .template').textContent(), 'order_update')
  t.equal(await received.first().locator('.bubble .body').textContent(), 'Hola Ana, tu pedido ORD-77 está en camino.', 'as the recipient sees it')
  await row(arriving.id).and(page.locator('.schedule-sent')).waitFor()
  t.equal(await row(arriving.id).locator('.schedule-note').textContent(), 'Sent: shown below among the received messages.')
  await page.screenshot({ path: screenshotPath('sandbox-inbox-scheduled.png'), fullPage: true })

  // Past the cancelled one's sendAt, and a poll later: still one received message.
  while (Date.now() < cancelAt + 2000) await new Promise((resolve) => setTimeout(resolve, 250))
  await new Promise((resolve) => setTimeout(resolve, 1600))
  t.equal(await received.count(), 1, 'the cancelled one never arrived')
  t.equal(((await (await fetch(`${origin}/sandbox/messages`)).json()) as { messages: unknown[] }).messages.length, 1, 'the sandbox received one send')
  t.same(pageErrors, [], 'no page or console errors')
})
