// Swagger UI in a real browser, default configuration: every named example of every send route, picked, tried out and executed.
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { RAW_EXAMPLES } from '../src/routes/raw.js'
import { CI, captureLogs } from './helper.js'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = new URL('../artifacts/swagger-ui.png', import.meta.url)
const FAILURE_SCREENSHOT = new URL('../artifacts/swagger-ui-failure.png', import.meta.url)

const UI_TIMEOUT = 15_000
// A real browser clicking through every example (13) takes longer than .taprc's 60 s on a busy
// machine; the root test tells the runner its own limit.
t.setTimeout(300_000)

// Every send route, from the kinds table, and the raw route; each with its named examples.
const ROUTES: Array<{ kind: string, operationId: string, examples: Record<string, { value: unknown }> }> = [
  ...TEMPLATE_KINDS.map((kind) => ({ kind: kind.kind, operationId: `send_${kind.kind.replaceAll('-', '_')}`, examples: kind.examples })),
  { kind: 'raw', operationId: 'send_raw', examples: RAW_EXAMPLES }
]
const CASES = ROUTES.flatMap((route) => Object.entries(route.examples).map(([name, example]) => {
  const value = example.value as Record<string, unknown>
  return { kind: route.kind, operationId: route.operationId, name, value, template: String(value.template ?? value.elementName) }
}))

const missing = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y --no-install-recommends chromium; .ci/run does)`
if (missing !== null && CI) t.fail(`browser test cannot run in CI: ${missing}`)

t.test('Swagger UI: every example of every send route, Try it out, Execute, 202, with the default configuration', { skip: missing ?? false }, async (t) => {
  t.ok(CASES.length > ROUTES.length, `${CASES.length} named examples across ${ROUTES.length} routes`)

  // The service as `npm start` runs it with no settings (sandbox mode, no JELOU_BOT_ID, RECIPIENT_LIMIT
  // 10/60s), on a real loopback port, except load shedding: it measures this busy test machine, not
  // the examples. Logs are captured (and checked for leaks at teardown) instead of written to the TAP stream.
  const config = loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' })
  const { stream } = captureLogs(t)
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
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
  const kinds = [...new Set(CASES.map((c) => c.kind))]
  try {
    await executeEveryExample()
  } catch (error) {
    // Leave a picture of the page as it was when a step failed, then fail.
    await page.screenshot({ path: FAILURE_SCREENSHOT.pathname, fullPage: true }).catch(() => {})
    t.comment(`failure screenshot: ${FAILURE_SCREENSHOT.pathname}`)
    throw error
  }

  async function executeEveryExample (): Promise<void> {
    for (const [kindIndex, kind] of kinds.entries()) {
      const cases = CASES.filter((c) => c.kind === kind)
      const op: Locator = page.locator(`#operations-messages-${cases[0].operationId}`)
      await op.locator('.opblock-summary-control').click()
      const select = op.locator('.opblock-section-request-body select.examples-select-element')
      await select.waitFor()
      t.same((await select.locator('option').all()).length, cases.length, `${kind}: the examples dropdown lists its ${cases.length} example(s)`)

      for (const [caseIndex, c] of cases.entries()) {
        await select.selectOption(c.name)
        if (caseIndex === 0) await op.getByRole('button', { name: 'Try it out' }).click()
        // The editable body is exactly the example picked from the dropdown.
        const body = op.locator('textarea.body-param__text')
        await body.waitFor()
        t.same(JSON.parse(await body.inputValue()), c.value, `${kind}/${c.name}: the request body is the example`)

        await op.getByRole('button', { name: 'Execute' }).click()
        const status = op.locator('.live-responses-table td.response-col_status:not(.col_header)')
        await status.waitFor()
        t.equal((await status.textContent())?.trim(), '202', `${kind}/${c.name}: the page shows 202`)
        const answer = await op.locator('.live-responses-table .response-col_description pre').first().textContent() ?? ''
        t.match(answer, `"template": "${c.template}"`, `${kind}/${c.name}: the answer names the template`)
        t.match(answer, '"sandbox": true', `${kind}/${c.name}: the answer says sandbox`)
        executed.push(c.template)

        // Clear the live response so the next Execute is read fresh; keep the very last one for the screenshot.
        const last = kindIndex === kinds.length - 1 && caseIndex === cases.length - 1
        if (!last) {
          await op.getByRole('button', { name: 'Clear' }).click()
          await status.waitFor({ state: 'detached' })
        }
      }
      if (kindIndex < kinds.length - 1) {
        await op.getByRole('button', { name: 'Cancel' }).click()
        await op.locator('.opblock-summary-control').click()
      }
    }
  }

  // One message reached the sandbox per Execute, the newest first.
  const received = await app.inject({ method: 'GET', url: '/sandbox/messages' })
  const messages = (received.json() as { messages: Array<{ body: { elementName: string, destinations: string[] } }> }).messages
  t.equal(messages.length, CASES.length, 'the sandbox received one message per Execute')
  t.same(messages.map((m) => m.body.elementName).reverse(), executed, 'in the order executed, each with its template')
  t.equal(new Set(messages.map((m) => m.body.destinations[0])).size, CASES.length, 'each example reaches its own recipient')

  await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true })
  t.comment(`screenshot: ${SCREENSHOT.pathname}`)
  t.same(pageErrors, [], 'no page or console errors')
})
