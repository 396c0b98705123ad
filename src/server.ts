// Process entry: read config, build the app, listen, and shut down cleanly on SIGINT/SIGTERM.
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'
import { loadEnvFile } from './env-file.js'

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

const app = await buildApp(config)
// Say where the settings came from, so a forgotten .env never surprises anyone.
app.log.info({ envFile: envFile ?? 'none (no .env in the working directory)' }, envFile === null ? 'settings from the environment only' : `settings from ${envFile} and the environment (the environment wins)`)

// In-flight sends may take the whole upstream deadline; past SHUTDOWN_TIMEOUT_MS the process exits 1.
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })
app.log.info({ mode: config.mode, docs: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/docs` }, 'jelou-hsm-proxy ready')
