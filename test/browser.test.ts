// Swagger UI in a real browser, default configuration: every named example of every route (each demo template, the kinds, raw, the events receiver), picked, tried out and executed.
import t from 'tap'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import type { Browser, Locator, Page } from 'playwright-core'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { RAW_EXAMPLES } from '../src/routes/raw.js'
import { UI_TIMEOUT, chromiumMissing, launchChromium } from './chromium.js'
import { captureLogs } from './helper.js'

const SCREENSHOT = new URL('../artifacts/swagger-ui.png', import.meta.url)
const FAILURE_SCREENSHOT = new URL('../artifacts/swagger-ui-failure.png', import.meta.url)

// A real browser clicking through every example (about 40) takes about 100 s on a quiet 2-core
// machine and over 300 s with two suites running at once: the root test sets its own bound.
t.setTimeout(900_000)

// Every send route, from the kinds table, and the raw route; each with its named examples.
const ROUTES: Array<{ kind: string, operationId: string, examples: Record<string, { value: unknown }> }> = [
  ...TEMPLATE_KINDS.map((kind) => ({ kind: kind.kind, operationId: `send_${kind.kind.replaceAll('-', '_')}`, examples: kind.examples })),
  { kind: 'raw', operationId: 'send_raw', examples: RAW_EXAMPLES }
]
/** One example to execute: its operation, its value, and what the page must show (status, a text in the answer). */
interface Case { group: string, kind: string, tag: string, operationId: string, name: string, value: Record<string, unknown>, template: string, status: string, shows: string[] }
const KIND_CASES: Case[] = ROUTES.flatMap((route) => Object.entries(route.examples).map(([name, example]) => {
  const value = example.value as Record<string, unknown>
  const template = String(value.template ?? value.elementName)
  return { group: route.kind, kind: route.kind, tag: 'messages', operationId: route.operationId, name, value, template, status: '202', shows: [`"template": "${template}"`, '"sandbox": true'] }
}))

t.test('Swagger UI: every example of every route (kinds, raw, each template, the events receiver), Try it out, Execute, answered as documented, with the default configuration', { skip: chromiumMissing }, async (t) => {
  t.ok(KIND_CASES.length > ROUTES.length, `${KIND_CASES.length} named examples across ${ROUTES.length} kind and raw routes`)

  // The service as `npm start` runs it with no settings (sandbox mode, no JELOU_BOT_ID, RECIPIENT_LIMIT
  // 10/60s), on a real loopback port, except load shedding: it measures this busy test machine, not
  // the examples. Logs are captured (and checked for leaks at teardown) instead of written to the TAP stream.
  // Scheduled sends at least an hour ahead: the served scheduled example (sendAt set when the page
  // loads) must not come due while this test counts the messages the sandbox received.
  const config = loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0', SCHEDULE_MIN_AHEAD_SECONDS: '3600' })
  const { stream } = captureLogs(t)
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // The per-template routes (SPEC §17) of the demo catalogue, with the examples the served document gives them.
  type Operation = { operationId: string, tags: string[], requestBody: { content: Record<string, { examples: Record<string, { value: Record<string, unknown> }> }> } }
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, { post?: Operation }> }
  const TEMPLATE_CASES: Case[] = app.catalogue.all().map((template) => {
    const operation = document.paths[`/v1/templates/${template.name}`]?.post
    if (operation === undefined) throw new Error(`no POST /v1/templates/${template.name} in the served document`)
    const [name, example] = Object.entries(operation.requestBody.content['application/json'].examples)[0]
    return { group: template.name, kind: template.kind ?? '', tag: operation.tags[0], operationId: operation.operationId, name, value: example.value, template: template.name, status: '202', shows: [`"template": "${template.name}"`, `"kind": "${template.kind ?? 'text'}"`, '"sandbox": true'] }
  })
  t.equal(TEMPLATE_CASES.length, 12, 'one route per demo template')
  // The events receiver, authorized by the page with the sandbox's made-up token.
  const events = document.paths['/v1/events/jelou'].post as Operation
  const EVENT_CASES: Case[] = Object.entries(events.requestBody.content['application/json'].examples).map(([name, example]) => (
    { group: 'events', kind: 'events', tag: events.tags[0], operationId: events.operationId, name, value: example.value, template: '', status: '200', shows: ['"received": 1'] }
  ))
  t.strictSame(EVENT_CASES.map((c) => c.name), ['delivered', 'failed'])
  // The text route's scheduled example is in the served document only: its sendAt is set when
  // the page loads, so it is executed last, on a freshly loaded page (executeScheduled below).
  t.ok(document.paths['/v1/messages/text'].post?.requestBody.content['application/json'].examples.scheduled !== undefined, 'the served document has the text route\'s scheduled example')
  // Every operation with a request example is here: nothing in the document goes untried.
  const withExamples = Object.values(document.paths).flatMap((item) => Object.values(item)).filter((op) => op?.requestBody?.content['application/json']?.examples !== undefined).length
  const CASES = [...TEMPLATE_CASES, ...KIND_CASES, ...EVENT_CASES]
  t.equal(new Set(CASES.map((c) => c.operationId)).size, withExamples, 'every operation with examples is executed')

  const browser: Browser = await launchChromium()
  t.teardown(() => browser.close())
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const pageErrors: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()) })
  page.setDefaultTimeout(UI_TIMEOUT)

  mkdirSync(new URL('.', SCREENSHOT), { recursive: true })
  await page.goto(`${origin}/docs`)
  await page.locator('.swagger-ui .info .title').waitFor()
  t.match(await page.locator('.swagger-ui .info .title').textContent(), /jelou-hsm-proxy/, 'the UI rendered the document title')

  const executed: string[] = []
  const groups = [...new Set(CASES.map((c) => c.group))]
  try {
    await executeEveryExample()
    await executeScheduled()
  } catch (error) {
    // Leave a picture of the page as it was when a step failed, then fail.
    await page.screenshot({ path: FAILURE_SCREENSHOT.pathname, fullPage: true }).catch(() => {})
    t.comment(`failure screenshot: ${FAILURE_SCREENSHOT.pathname}`)
    throw error
  }

  /** The scheduled example on a page loaded now (a page loaded minutes ago would offer a sendAt too close): 202 "scheduled", waiting in /sandbox. */
  async function executeScheduled (): Promise<void> {
    await page.goto(`${origin}/docs`)
    const op: Locator = page.locator('#operations-messages-send_text')
    await op.locator('.opblock-summary-control').click()
    const select = op.locator('.opblock-section-request-body select.examples-select-element')
    await select.selectOption('scheduled')
    await op.getByRole('button', { name: 'Try it out' }).click()
    const body = op.locator('textarea.body-param__text')
    await body.waitFor()
    const value = JSON.parse(await body.inputValue()) as Record<string, unknown>
    const sendAt = Date.parse(String(value.sendAt))
    const ahead = sendAt - Date.now()
    t.ok(ahead > 3600_000 && ahead <= 3720_000, `scheduled: the page offers a sendAt 1 to 2 minutes past the earliest allowed (${ahead} ms ahead)`)
    await op.getByRole('button', { name: 'Execute' }).click()
    const status = op.locator('.live-responses-table td.response-col_status:not(.col_header)')
    await status.waitFor()
    t.equal((await status.textContent())?.trim(), '202', 'scheduled: the page shows 202')
    const answer = await op.locator('.live-responses-table .response-col_description pre').first().textContent() ?? ''
    for (const text of ['"status": "scheduled"', '"sandbox": true']) t.match(answer, text, `scheduled: the answer shows ${text}`)
    const inbox = (await app.inject({ url: '/sandbox/inbox.json' })).json() as { scheduled: Array<{ template: string, sendAt: string, state: string, cancellable: boolean }> }
    t.match(inbox.scheduled, [{ template: String(value.template), sendAt: new Date(sendAt).toISOString(), state: 'scheduled', cancellable: true }], 'scheduled: it waits in /sandbox, cancellable')
  }

  async function executeEveryExample (): Promise<void> {
    for (const [groupIndex, group] of groups.entries()) {
      const cases = CASES.filter((c) => c.group === group)
      const op: Locator = page.locator(`#operations-${cases[0].tag}-${cases[0].operationId}`)
      await op.locator('.opblock-summary-control').click()
      const select = op.locator('.opblock-section-request-body select.examples-select-element')
      await select.waitFor()
      // The text route also lists its scheduled example, executed on its own below.
      const listed = cases.length + (group === 'text' ? 1 : 0)
      t.same((await select.locator('option').all()).length, listed, `${group}: the examples dropdown lists its ${listed} example(s)`)

      for (const [caseIndex, c] of cases.entries()) {
        await select.selectOption(c.name)
        if (caseIndex === 0) await op.getByRole('button', { name: 'Try it out' }).click()
        // The editable body is exactly the example picked from the dropdown.
        const body = op.locator('textarea.body-param__text')
        await body.waitFor()
        t.same(JSON.parse(await body.inputValue()), c.value, `${group}/${c.name}: the request body is the example`)

        await op.getByRole('button', { name: 'Execute' }).click()
        const status = op.locator('.live-responses-table td.response-col_status:not(.col_header)')
        await status.waitFor()
        t.equal((await status.textContent())?.trim(), c.status, `${group}/${c.name}: the page shows ${c.status}`)
        const answer = await op.locator('.live-responses-table .response-col_description pre').first().textContent() ?? ''
        for (const text of c.shows) t.match(answer, text, `${group}/${c.name}: the answer shows ${text}`)
        if (c.status === '202') executed.push(c.template)

        // Clear the live response so the next Execute is read fresh; keep the very last one for the screenshot.
        const last = groupIndex === groups.length - 1 && caseIndex === cases.length - 1
        if (!last) {
          await op.getByRole('button', { name: 'Clear' }).click()
          await status.waitFor({ state: 'detached' })
        }
      }
      if (groupIndex < groups.length - 1) {
        await op.getByRole('button', { name: 'Cancel' }).click()
        await op.locator('.opblock-summary-control').click()
      }
    }
  }

  // One message reached the sandbox per Execute, the newest first.
  const received = await app.inject({ method: 'GET', url: '/sandbox/messages' })
  const messages = (received.json() as { messages: Array<{ body: { elementName: string, destinations: string[] } }> }).messages
  t.equal(messages.length, TEMPLATE_CASES.length + KIND_CASES.length, 'the sandbox received one message per send Execute')
  t.same(messages.map((m) => m.body.elementName).reverse(), executed, 'in the order executed, each with its template')
  // Newest first: the kind and raw examples' messages come before the per-template ones.
  const kindMessages = messages.slice(0, KIND_CASES.length).reverse()
  t.equal(new Set(kindMessages.map((m) => m.body.destinations[0])).size, KIND_CASES.length, 'each kind and raw example reaches its own recipient')
  // Per-template examples reuse the recipient of their kind's first example, so the default limit of 10 per recipient per minute holds.
  const kindRecipients = new Map(kindMessages.map((m, i) => [KIND_CASES[i], m.body.destinations[0]]))
  const firstOfKind = (kind: string) => kindRecipients.get(KIND_CASES.find((c) => c.kind === kind) as Case)
  t.same(messages.slice(KIND_CASES.length).reverse().map((m) => m.body.destinations[0]),
    TEMPLATE_CASES.map((c) => firstOfKind(c.kind)),
    'each per-template example reaches the recipient of its kind\'s first example')

  await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true })
  t.comment(`screenshot: ${SCREENSHOT.pathname}`)
  t.same(pageErrors, [], 'no page or console errors')
})
