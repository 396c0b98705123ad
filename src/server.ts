// Process entry: read config, start tracing if asked, build the app, listen, and drain then shut down cleanly on SIGINT/SIGTERM.
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'
import { loadEnvFile } from './env-file.js'
import { CatalogueFileError } from './catalogue/file.js'

let config
let envFile: string | null = null
try {
  envFile = loadEnvFile()
  config = loadConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`jelou-hsm-proxy: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

// Imported only when asked for: with tracing off no OpenTelemetry module is loaded at all.
const tracing = config.tracing === null ? undefined : await (await import('./tracing.js')).startTracing(config.tracing)
let app
try {
  app = await buildApp(config, { tracing })
} catch (error) {
  if (error instanceof CatalogueFileError) {
    process.stderr.write(`jelou-hsm-proxy: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}
tracing?.reportTo(app.log)
// Say where the settings came from, so a forgotten .env never surprises anyone.
app.log.info({ envFile: envFile ?? 'none (no .env in the working directory)' }, envFile === null ? 'settings from the environment only' : `settings from ${envFile} and the environment (the environment wins)`)

// On a signal: /ready answers 503 at once while requests are still served for SHUTDOWN_DRAIN_MS
// (load balancers take that long to stop sending here), then the server stops accepting and
// in-flight sends finish. SHUTDOWN_TIMEOUT_MS counts from the signal; past it the process exits 1.
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) {
    app.log.error({ err }, 'closing after an unexpected error')
  } else {
    app.drain()
    app.log.info({ signal, drainMs: config.shutdownDrainMs }, 'draining')
    if (config.shutdownDrainMs > 0) await sleep(config.shutdownDrainMs)
    app.log.info({ signal }, 'closing')
  }
  await app.close()
  await tracing?.shutdown()
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
