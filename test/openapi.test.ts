// The committed OpenAPI document is exactly what the routes produce, declares every code, header and status, and holds real examples.
import t from 'tap'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateOpenApi } from '../src/openapi.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
import { KEPT_FOR_REPLAY, PROBLEMS, type ProblemCode } from '../src/errors.js'
import { CANCEL_ROUTE, EVENTS_ROUTE, LOOKUP_ROUTE, OPEN_ROUTE, ROUTE_ANSWERS, SANDBOX_CANCEL_ROUTE, SANDBOX_REPLY_ROUTE, SEND_ROUTE, UNROUTED_CODES } from '../src/schemas/routes.js'
import { RETRY_AFTER_CODES, problemExample, type OpenApiDocument } from '../src/plugins/openapi-answers.js'
import { scheduledExample } from '../src/plugins/swagger.js'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { buildTestApp, captureLogs, post } from './helper.js'

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
const doc = JSON.parse(committed)
const ALL_CODES = Object.keys(PROBLEMS) as ProblemCode[]
const SEND_PATHS = [...TEMPLATE_KINDS.map((k) => `/v1/messages/${k.kind}`), '/v1/messages']
const OPEN_PATHS = ['/health', '/ready', '/metrics', '/sandbox/messages']
/** Each declaration with the operations that carry it. */
const OPERATIONS = [
  // The catalogue's routes (docs/catalogue.md): one per-template route of the demo catalogue, the generic one and the listings.
  [SEND_ROUTE, [...SEND_PATHS.map((path) => [path, 'post']), ['/v1/templates/order_update', 'post'], ['/v1/templates/login_code', 'post'], ['/v1/templates/{name}', 'post']]],
  [OPEN_ROUTE, OPEN_PATHS.map((path) => [path, 'get'])],
  [LOOKUP_ROUTE, [['/v1/messages/{messageId}', 'get'], ['/v1/messages', 'get'], ['/v1/templates', 'get'], ['/v1/templates/{name}', 'get'], ['/v1/callbacks', 'get'], ['/v1/callbacks/{id}/retry', 'post']]],
  [CANCEL_ROUTE, [['/v1/messages/{messageId}', 'delete']]],
  [EVENTS_ROUTE, [['/v1/events/jelou', 'post']]],
  [SANDBOX_REPLY_ROUTE, [['/sandbox/messages/{messageId}/reply', 'post']]],
  [SANDBOX_CANCEL_ROUTE, [['/sandbox/scheduled/{id}', 'delete']]]
] as const

type Json = Record<string, any>
const deref = (node: Json): Json => {
  if (typeof node?.$ref !== 'string') return node
  return deref(node.$ref.slice(2).split('/').reduce((at: Json, part: string) => at[part.replaceAll('~1', '/')], doc))
}
/** Each problem status of an operation and the codes its `code` enum lists. */
function documentedCodes (op: Json): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [status, response] of Object.entries(op.responses as Json)) {
    const media = deref(response).content?.['application/problem+json']
    if (media !== undefined) out.set(status, media.schema.allOf[1].properties.code.enum)
  }
  return out
}

/** Every string literal naming a code in the source, outside the files that only declare or describe codes. */
function codesRaisedInSource (): Map<ProblemCode, string[]> {
  const root = fileURLToPath(new URL('../src', import.meta.url))
  const declarations = new Set([join(root, 'schemas/routes.ts'), join(root, 'plugins/openapi-answers.ts')])
  const found = new Map<ProblemCode, string[]>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = join(dir, name)
      if (statSync(file).isDirectory()) { walk(file); continue }
      if (!file.endsWith('.ts') || declarations.has(file)) continue
      for (const [, code] of readFileSync(file, 'utf8').matchAll(/'([A-Z][A-Z_]+)'/g)) {
        if (code in PROBLEMS) found.set(code as ProblemCode, [...(found.get(code as ProblemCode) ?? []), file.slice(root.length + 1)])
      }
    }
  }
  walk(root)
  return found
}

t.test('openapi/openapi.json is up to date (run `npm run openapi` after changing a route)', async (t) => {
  const fresh = await generateOpenApi()
  t.ok(fresh === committed, 'committed document equals the generated one')
})

t.test('every code the source can raise is declared by a route (or answers unmatched requests), and every code in the table is', async (t) => {
  const raised = codesRaisedInSource()
  t.ok(raised.size >= 15, `the scan finds the codes the source raises (${raised.size})`)
  const declared = new Set<ProblemCode>([...ROUTE_ANSWERS.flatMap((answers) => answers.codes), ...UNROUTED_CODES])
  for (const [code, files] of raised) t.ok(declared.has(code), `${code} (raised in ${files.join(', ')}) is declared in src/schemas/routes.ts`)
  for (const code of ALL_CODES) t.ok(declared.has(code), `${code} from the PROBLEMS table is declared`)
  for (const code of UNROUTED_CODES) t.notOk(SEND_ROUTE.codes.includes(code) || OPEN_ROUTE.codes.includes(code), `${code} is for unmatched requests only`)
})

t.test('each route documents every status it can answer, with exactly the codes of that status', async (t) => {
  t.equal(OPERATIONS.length, ROUTE_ANSWERS.length, 'every declaration is checked on its routes')
  for (const [answers, operations] of OPERATIONS) {
    for (const [path, method] of operations) {
      const op = doc.paths[path]?.[method] as Json
      t.ok(op, `${method} ${path} is documented`)
      t.notOk(op['x-answers'], `${path}: the declaration is expanded, not left in the document`)
      const byStatus = documentedCodes(op)
      t.strictSame([...byStatus.values()].flat().sort(), [...answers.codes].sort(), `${path} lists exactly its declared codes`)
      for (const [status, codes] of byStatus) {
        const response = deref(op.responses[status])
        for (const code of codes) {
          t.equal(PROBLEMS[code as ProblemCode].status, Number(status), `${path} ${status}: ${code} has this status`)
          t.match(response.description, `\`${code}\``, `${path} ${status}: the description names ${code}`)
          t.strictSame(deref(response.content['application/problem+json'].examples[code]).value, problemExample(code as ProblemCode), `${path} ${status}: ${code} has a real example`)
        }
        t.equal((response.description.match(/`[A-Z_]+` \(/g) ?? []).length, codes.length, `${path} ${status}: the description names no other code`)
      }
    }
  }
  for (const path of SEND_PATHS) {
    const statuses = Object.keys(doc.paths[path].post.responses)
    for (const status of ['200', '202', '400', '401', '409', '413', '415', '422', '429', '500', '502', '503', '504']) t.ok(statuses.includes(status), `${path} documents ${status}`)
  }
})

t.test('send routes declare their request headers; every answer declares the headers it carries', async (t) => {
  for (const path of SEND_PATHS) {
    const op = doc.paths[path].post
    const names = (op.parameters as Json[]).map((p) => deref(p)).filter((p) => p.in === 'header').map((p) => p.name)
    t.ok(names.includes('Idempotency-Key') && names.includes('X-Request-Id'), `${path} declares Idempotency-Key and X-Request-Id`)
    for (const [status, response] of Object.entries(op.responses as Json)) {
      const headers = Object.keys(deref(response).headers ?? {})
      t.ok(headers.includes('X-Request-Id'), `${path} ${status} has X-Request-Id`)
      if (status !== '401') t.ok(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'].every((h) => headers.includes(h)), `${path} ${status} has RateLimit-*`)
      const codes = documentedCodes(op).get(status) ?? []
      t.equal(headers.includes('Retry-After'), codes.some((c) => RETRY_AFTER_CODES.has(c as ProblemCode)), `${path} ${status}: Retry-After exactly where a code sets it`)
      t.equal(headers.includes('Idempotent-Replayed'), status === '202' || codes.some((c) => KEPT_FOR_REPLAY.has(c as ProblemCode)), `${path} ${status}: Idempotent-Replayed exactly where an answer can be replayed`)
    }
    t.ok(op.responses['202'].content['application/json'].example.messageId, `${path} has a 202 example`)
  }
  for (const path of OPEN_PATHS) {
    const op = Object.values(doc.paths[path] as Json)[0] as Json
    for (const [status, response] of Object.entries(op.responses as Json)) t.ok(deref(response).headers['X-Request-Id'], `${path} ${status} has X-Request-Id`)
    t.strictSame(op.security, [], `${path} needs no key`)
  }
})

t.test('the source sets Retry-After for exactly the codes the document says', async (t) => {
  const root = fileURLToPath(new URL('../src', import.meta.url))
  const setting = new Set<string>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = join(dir, name)
      if (statSync(file).isDirectory()) walk(file)
      else if (file.endsWith('.ts')) {
        const text = readFileSync(file, 'utf8')
        for (const match of text.matchAll(/problem\('([A-Z_]+)'/g)) {
          // The call's own text, up to its balanced closing parenthesis.
          let depth = 0
          let end = match.index + 'problem'.length
          do depth += text[end] === '(' ? 1 : text[end] === ')' ? -1 : 0; while (depth > 0 && ++end < text.length)
          if (text.slice(match.index, end).includes('retryAfterSeconds')) setting.add(match[1] as string)
        }
      }
    }
  }
  walk(root)
  t.strictSame([...setting].sort(), [...RETRY_AFTER_CODES].sort())
})

t.test('the documented headers are the ones real answers carry', async (t) => {
  const { app } = await buildTestApp(t, { env: { RECIPIENT_LIMIT: '1/60s' } })
  const body = Object.values(TEMPLATE_KINDS[0].examples)[0].value as Record<string, unknown>
  const url = `/v1/messages/${TEMPLATE_KINDS[0].kind}`
  const sent = await post(app, url, body, { 'idempotency-key': 'doc-headers-1' })
  const replayed = await post(app, url, body, { 'idempotency-key': 'doc-headers-1' })
  const limited = await post(app, url, body)
  const invalid = await post(app, url, { ...body, template: 'Bad Name' })
  const answers = { 202: sent, replayed, 429: limited, 400: invalid }
  t.equal(sent.status, 202)
  t.equal(replayed.headers['idempotent-replayed'], 'true')
  t.equal(limited.status, 429)
  for (const [name, res] of Object.entries(answers)) {
    const status = String(res.status)
    const documented = Object.keys(deref(doc.paths[url].post.responses[status]).headers).map((h) => h.toLowerCase())
    for (const header of documented) {
      if (header === 'idempotent-replayed' && name !== 'replayed') continue
      if (header === 'retry-after' && res.status === 400) continue
      t.ok(res.headers[header] !== undefined, `${name}: documented ${header} is sent`)
    }
    t.same(Object.keys(res.body).sort(), Object.keys(status === '202' ? doc.paths[url].post.responses['202'].content['application/json'].example : problemExample(res.body.code as ProblemCode)).sort(), `${name}: the example has the real body's fields`)
  }
  for (const path of OPEN_PATHS) {
    const res = await app.inject({ url: path, headers: { 'x-request-id': 'open-route-1' } })
    t.equal(res.headers['x-request-id'], 'open-route-1', `${path} answers with X-Request-Id`)
  }
})

t.test('every example in the document, executed top to bottom with the default configuration, answers 202', async (t) => {
  // What Swagger UI does: the body example as is, query parameters filled from their examples.
  // Defaults throughout (no JELOU_BOT_ID, RECIPIENT_LIMIT 10/60s), except load shedding: it measures
  // this busy test machine (parallel files, first-import compiles), not the examples.
  const config = loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' })
  const { stream } = captureLogs(t)
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  let count = 0
  let templateExamples = 0
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    const op = item.post
    // The events receiver is Jelou's, not a send route (its own token; test/message-status.test.ts).
    // Posts without a request body (retrying a callback, the sandbox's callback catcher) are not sends.
    if (op === undefined || op.requestBody === undefined || path === '/v1/events/jelou') continue
    const query = new URLSearchParams()
    for (const parameter of (op.parameters as Json[]).map(deref)) {
      if (parameter.in === 'query' && parameter.example !== undefined) query.set(parameter.name, String(parameter.example))
    }
    for (const [name, example] of Object.entries((op.requestBody.content['application/json'].examples ?? {}) as Json)) {
      const res = await post(app, `${path}${query.size > 0 ? `?${query}` : ''}`, example.value)
      t.equal(res.status, 202, `${path} example ${name} answers 202 (${String(res.body.code ?? '')} ${String(res.body.detail ?? '')})`)
      if (path.startsWith('/v1/templates/')) templateExamples++
      else count++
    }
  }
  t.equal(count, SEND_PATHS.length + TEMPLATE_KINDS.reduce((n, k) => n + Object.keys(k.examples).length - 1, 0), 'every example of every send route, raw included')
  t.ok(templateExamples >= 12, 'and every per-template route of the demo catalogue')
  t.ok(count > loadConfig({}).recipientLimit.max, `more examples (${count}) than the default recipient limit allows to one number`)
})

t.test('no pattern needs JavaScript\'s u flag; rules that would are described instead', async (t) => {
  const patterns: string[] = []
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit)
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'pattern' && typeof value === 'string') patterns.push(value)
        else visit(value)
      }
    }
  }
  visit(doc)
  t.ok(patterns.length > 10, `${patterns.length} patterns checked`)
  for (const pattern of patterns) {
    t.doesNotThrow(() => new RegExp(pattern), `${pattern} compiles without the u flag`)
    t.notMatch(pattern, /\\[pP]\{|\\u\{/, `${pattern} uses no Unicode property or code point escape`)
  }
  t.match(doc.paths['/v1/messages/authentication'].post.requestBody.content['application/json'].schema.properties.code.description, /emoji/)
})

t.test('document metadata: open routes, named examples, no dead license link', async (t) => {
  t.equal(doc.openapi, '3.0.3')
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      t.ok((op.tags as string[]).length > 0 && op.summary && op.description && op.operationId, `${method} ${path} is described`)
    }
  }
  for (const path of OPEN_PATHS) t.ok(doc.paths[path].get, `${path} is documented`)
  for (const kind of TEMPLATE_KINDS) {
    const examples = doc.paths[`/v1/messages/${kind.kind}`].post.requestBody.content['application/json'].examples
    t.strictSame(Object.keys(examples), Object.keys(kind.examples), `${kind.kind} carries its named examples`)
  }
  t.equal(doc.info.license.url, undefined, 'no license URL: there is no public license page to link')
  t.ok(doc.components.schemas.Problem.properties.errors, 'problem body documented once, with its errors list')
})

t.test('the served document, and it only, has a scheduled example whose sendAt is always ahead: executed, it answers 202 "scheduled"', async (t) => {
  // The page stays loaded within one minute however slow this machine is: the clock stands still for the document.
  const loaded = Date.now()
  const { app, config } = await buildTestApp(t, { exampleClock: () => loaded })
  const first = await app.inject({ url: '/docs/json' })
  const served = first.json() as Json
  const example = served.paths['/v1/messages/text'].post.requestBody.content['application/json'].examples.scheduled
  t.notOk('scheduled' in doc.paths['/v1/messages/text'].post.requestBody.content['application/json'].examples, 'the committed document has no instant that would go stale')
  const sendAt = Date.parse(example.value.sendAt)
  t.equal(sendAt % 60_000, 0, 'a whole minute')
  const ahead = sendAt - loaded
  t.ok(ahead > config.schedule.minAheadMs + 55_000 && ahead <= config.schedule.minAheadMs + 120_000, `1 to 2 minutes past SCHEDULE_MIN_AHEAD_SECONDS (${ahead} ms ahead)`)
  const res = await post(app, '/v1/messages/text', example.value)
  t.match(res, { status: 202, body: { status: 'scheduled', sendAt: new Date(sendAt).toISOString() } }, 'executed as served, it is scheduled')
  t.equal((await app.inject({ url: '/docs/json', headers: { 'if-none-match': String(first.headers.etag) } })).statusCode, 304, 'the same minute serves the same text and ETag')
  t.equal((await app.inject({ url: '/docs/yaml' })).body.includes(new Date(sendAt).toISOString().replace('.000Z', 'Z')), true, '/docs/yaml has it too')
})

t.test('the scheduled example moves with the clock: a new minute, a new sendAt and ETag; the same minute, the same text', async (t) => {
  const { app } = await buildTestApp(t)
  const base = app.swagger() as unknown as OpenApiDocument
  const live = scheduledExample(base, 60_000)
  if (live === null) throw new Error('the text route has no examples')
  const document = app.servedDocument()
  const at = Date.parse('2026-12-07T09:00:10Z')
  const one = live(document, at)
  const sendAtOf = (d: { document: OpenApiDocument }) => (d.document.paths['/v1/messages/text'] as Json).post.requestBody.content['application/json'].examples.scheduled.value.sendAt
  t.equal(sendAtOf(one), '2026-12-07T09:03:00Z', 'min ahead 1 minute: the whole minute 1 to 2 minutes after the earliest allowed')
  t.equal(live(document, at + 40_000), one, 'within the same minute: the same served text')
  const next = live(document, at + 50_000)
  t.equal(sendAtOf(next), '2026-12-07T09:04:00Z')
  t.not(next.etag, one.etag, 'a new ETag')
  t.same(Object.keys((next.document.paths['/v1/messages/text'] as Json).post.requestBody.content['application/json'].examples), [...Object.keys((document.document.paths['/v1/messages/text'] as Json).post.requestBody.content['application/json'].examples), 'scheduled'], 'the route\'s own examples first, unchanged')
})
