// The committed OpenAPI document is exactly what the routes produce, and it documents every route fully.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { generateOpenApi } from '../src/openapi.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')

t.test('openapi/openapi.json is up to date (run `npm run openapi` after changing a route)', async (t) => {
  const fresh = await generateOpenApi()
  t.ok(fresh === committed, 'committed document equals the generated one')
})

t.test('every route has tags, summary, description, and an answer for each status it can give', async (t) => {
  const doc = JSON.parse(committed)
  t.equal(doc.openapi, '3.0.3')
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
    for (const [method, op] of Object.entries(item)) {
      t.ok((op.tags as string[]).length > 0 && op.summary && op.description, `${method} ${path} is described`)
      if (method === 'post' && path === '/v1/events/jelou') {
        t.strictSame(Object.keys(op.responses as object), ['200', '400', '401', '413', '415', '500', '503'], `${path} documents every status`)
      } else if (method === 'post') {
        const statuses = Object.keys(op.responses as object)
        t.strictSame(statuses, ['200', '202', '400', '413', '415', '422', '429', '500', '502', '503', '504'], `${path} documents every status`)
      }
    }
  }
  for (const kind of TEMPLATE_KINDS) {
    const op = doc.paths[`/v1/messages/${kind.kind}`].post
    const examples = op.requestBody.content['application/json'].examples
    t.strictSame(Object.keys(examples), Object.keys(kind.examples), `${kind.kind} carries its named examples`)
  }
  t.ok(doc.paths['/v1/messages'].post, 'raw route documented')
  t.ok(doc.paths['/sandbox/messages'].get, 'sandbox route documented')
  t.ok(doc.components.schemas.Problem.properties.errors, 'problem body documented once, with its errors list')
})
