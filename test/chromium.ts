// Debian's Chromium for the browser tests: whether it is there, and one way to launch it.
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { CI } from './helper.js'

const CHROMIUM = '/usr/bin/chromium'

/** Why the browser tests skip, or false when Chromium is installed; in CI a missing Chromium fails the file. */
export const chromiumMissing: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y --no-install-recommends chromium; .ci/run does)`
if (chromiumMissing !== false && CI) t.fail(`browser test cannot run in CI: ${chromiumMissing}`)

export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

/**
 * How long a page step may take before the test fails: a bound, not a speed claim. Generous,
 * because two suites at once on a busy 2-core machine make Chromium slow (docs/tests.md).
 */
export const UI_TIMEOUT = 60_000
