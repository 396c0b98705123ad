// `npm run sandbox` entry: runs the Jelou look-alike alone, configured from the environment.
import closeWithGrace from 'close-with-grace'
import { startSandbox, type Sandbox } from './server.js'

/** An unset or empty variable takes the default, so `VAR=` in an env file means "not set". */
function env (name: string, fallback: string): string {
  const value = process.env[name]
  return value === undefined || value === '' ? fallback : value
}

function parsePort (raw: string): number | undefined {
  if (!/^\d{1,5}$/.test(raw)) return undefined
  const port = Number(raw)
  return port <= 65535 ? port : undefined
}

const rawPort = env('PORT', '4010')
const port = parsePort(rawPort)
if (port === undefined) {
  console.error(`sandbox: PORT must be an integer from 0 to 65535, got ${JSON.stringify(rawPort)}`)
  process.exit(1)
}
const clientId = env('SANDBOX_CLIENT_ID', 'sandbox')
if (clientId.includes(':')) {
  console.error('sandbox: SANDBOX_CLIENT_ID must not contain ":" (Basic credentials join id and secret with a colon)')
  process.exit(1)
}

const rawStep = env('SANDBOX_DELIVERY_STEP_MS', '1500')
if (!/^\d{1,9}$/.test(rawStep)) {
  console.error(`sandbox: SANDBOX_DELIVERY_STEP_MS must be a whole number of milliseconds, got ${JSON.stringify(rawStep)}`)
  process.exit(1)
}

let sandbox: Sandbox
try {
  sandbox = await startSandbox({
    host: env('HOST', '127.0.0.1'),
    port,
    clientId,
    clientSecret: env('SANDBOX_CLIENT_SECRET', 'sandbox'),
    // Delivery timer and status events (docs/message-status.md): events go nowhere unless SANDBOX_EVENTS_URL is set.
    deliveryStepMs: Number(rawStep),
    eventsUrl: process.env.SANDBOX_EVENTS_URL === undefined || process.env.SANDBOX_EVENTS_URL === '' ? undefined : process.env.SANDBOX_EVENTS_URL,
    eventsToken: process.env.SANDBOX_EVENTS_TOKEN === undefined || process.env.SANDBOX_EVENTS_TOKEN === '' ? undefined : process.env.SANDBOX_EVENTS_TOKEN,
    logger: { level: env('LOG_LEVEL', 'info') }
  })
} catch (err) {
  // Port in use, bad HOST or LOG_LEVEL: one line, no stack.
  console.error(`sandbox: could not start: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
}
sandbox.app.log.info({ url: sandbox.url, route: `${sandbox.url}/v2/whatsapp/:botId/hsm`, messages: `${sandbox.url}/sandbox/messages` }, 'sandbox listening')

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err !== undefined) sandbox.app.log.error({ err }, 'sandbox closing after an error')
  else sandbox.app.log.info({ signal }, 'sandbox closing')
  await sandbox.close()
})
