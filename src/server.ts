// Process entry: read config, build the app, listen, and shut down cleanly on SIGINT/SIGTERM.
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'
import { CatalogueFileError } from './catalogue/file.js'

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

let app
try {
  app = await buildApp(config)
} catch (error) {
  if (error instanceof CatalogueFileError) {
    process.stderr.write(`jelou-hsm-proxy: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

// In-flight sends may take the whole upstream deadline; past SHUTDOWN_TIMEOUT_MS the process exits 1.
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })
app.log.info({ mode: config.mode, docs: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/docs` }, 'jelou-hsm-proxy ready')
