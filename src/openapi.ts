// `npm run openapi`: build the app (sandbox mode, demo catalogue) and write its OpenAPI document and the catalogue file's JSON Schema.
import { writeFileSync } from 'node:fs'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { templatesFileJsonSchema } from './catalogue/file.js'

export async function generateOpenApi (): Promise<string> {
  const app = await buildApp(loadConfig({}), { logger: pino({ level: 'silent' }) })
  try {
    await app.ready()
    return `${JSON.stringify(app.servedDocument().document, null, 2)}\n`
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL('../openapi/openapi.json', import.meta.url)
  writeFileSync(target, await generateOpenApi())
  process.stdout.write(`wrote ${target.pathname}\n`)
  const schema = new URL('../schemas/templates-file.schema.json', import.meta.url)
  writeFileSync(schema, `${JSON.stringify(templatesFileJsonSchema(), null, 2)}\n`)
  process.stdout.write(`wrote ${schema.pathname}\n`)
}
