// Process entry: read config, build the app, listen, and shut down cleanly on SIGINT/SIGTERM.
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'

let config
try {
  config = loadConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`jelou-hsm-proxy: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

const app = await buildApp(config)

// In-flight sends may take the whole upstream deadline; past SHUTDOWN_TIMEOUT_MS the process exits 1.
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  // Port in use, a host that is not local, no permission: an operator's fix, so one line like a
  // configuration error, without a stack.
  const { code, message } = error as NodeJS.ErrnoException
  process.stderr.write(`jelou-hsm-proxy: cannot listen on ${config.host}:${config.port}: ${code ?? 'error'} ${message}\n`)
  await app.close().catch(() => {})
  process.exit(1)
}
app.log.info({ mode: config.mode, docs: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/docs` }, 'jelou-hsm-proxy ready')
