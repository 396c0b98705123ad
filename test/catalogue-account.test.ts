// A real account's catalogue against a scriptable stand-in for Jelou's list over loopback: every page, live definitions, names, kinds and languages.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createListClient, MAX_PAGES, readTemplateList } from '../src/catalogue/jelou.js'
import { buildLiveApp, CLIENT_ID, CLIENT_SECRET, post } from './helper.js'
import { item, startListStandIn, type ListStandIn } from './list-stand-in.js'

const TO = '+593 98 765 4321'
const dir = mkdtempSync(join(tmpdir(), 'catalogue-account-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

async function standIn (t: { teardown: (fn: () => unknown) => void }): Promise<ListStandIn> {
  const s = await startListStandIn()
  t.teardown(() => s.close())
  return s
}
function client (t: { teardown: (fn: () => unknown) => void }, s: ListStandIn, options: { deadlineMs?: number, maxPages?: number } = {}) {
  const c = createListClient({ origin: s.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, timeoutMs: 5000, deadlineMs: options.deadlineMs ?? 10000, maxPages: options.maxPages })
  t.teardown(() => c.close())
  return c
}
const names = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}_${String(i).padStart(3, '0')}`)

type Catalogue = { templates: Array<{ name: string, kind: string | null, problems: Array<{ code: string }> }>, bots: Array<{ botId: string, truncated: boolean, pages: number }>, problems: Array<{ code: string, botId?: string, template?: string, message: string }> }
async function catalogueOf (app: FastifyInstance): Promise<Catalogue> {
  return (await app.inject({ url: '/v1/templates' })).json()
}
type Doc = { tags: Array<{ name: string }>, paths: Record<string, { post?: Record<string, any> }>, components: { securitySchemes?: Record<string, unknown>, responses: Record<string, any> } }
async function docOf (app: FastifyInstance): Promise<Doc> {
  return (await app.inject({ url: '/docs/json' })).json()
}
const dryRun = async (app: FastifyInstance, name: string, body: Record<string, unknown>) => await post(app, `/v1/templates/${name}?dryRun=true`, { to: TO, ...body })

t.test('what one page says about the list: page counts, totals, page sizes, other key names', async (t) => {
  const one = [item('a', 0)]
  t.match(readTemplateList({ results: one, pagination: { page: 2, totalPages: 3 } }), { next: 3, info: { page: 2, totalPages: 3, paginated: true } })
  t.equal(readTemplateList({ results: one, pagination: { page: 3, totalPages: 3 } }).next, null, 'the last page by count')
  t.match(readTemplateList({ data: one, meta: { page: '1', perPage: '1', totalItems: '5' } }), { next: 2, info: { limit: 1, total: 5, paginated: true } }, '`meta`, `perPage`, `totalItems`, numbers as strings')
  t.equal(readTemplateList({ results: one, pagination: { page: 1, limit: 10 } }).next, null, 'a page shorter than the size it states is the last')
  t.equal(readTemplateList({ results: [item('a', 0), item('b', 0)], pagination: { page: 1, limit: 2 } }).next, 2, 'a full page without totals: ask the next')
  t.equal(readTemplateList({ results: [], pagination: { page: 4 } }).next, null, 'an empty page ends the list')
  t.equal(readTemplateList({ results: one }, 3).next, 4, 'no pagination object: the asked page, then the next')
  t.match(readTemplateList({ data: one }), { next: null, info: { paginated: false } }, '`data` alone is the whole list')
  t.match(readTemplateList({ data: [{ ...item('a', 2), paramsNumber: 500 }] }).items[0], { paramsNumber: 2 }, 'an absurd count falls back to the labels')
})

t.test('every page is read, whatever page size Jelou uses, with and without totals', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', names(36).map((n) => item(n, 1)))
  for (const pageSize of [5, 10, 50, 100]) {
    for (const totals of ['both', 'total', 'none'] as const) {
      s.pageSize = pageSize
      s.totals = totals
      s.requests.length = 0
      const result = await client(t, s).list('bot-123')
      t.equal(result.items.length, 36, `page size ${pageSize}, totals ${totals}: all 36 templates`)
      t.notOk(result.truncated)
      t.ok(s.requests.every((q) => q.includes('limit=100')), 'every page asked with the same limit')
      // Without totals the list ends on an empty page (or one shorter than the page size it states).
      t.ok(result.pages <= Math.ceil(36 / pageSize) + 1, `${result.pages} pages for ${Math.ceil(36 / pageSize)} of data`)
    }
  }
  // An exact multiple of the page size without totals: the empty page after it ends the list.
  s.bots.set('bot-123', names(20).map((n) => item(n, 1)))
  s.pageSize = 10
  s.totals = 'none'
  s.requests.length = 0
  const exact = await client(t, s).list('bot-123')
  t.equal(exact.items.length, 20)
  t.equal(s.requests.length, 3, 'two full pages and the empty one that ends the list')
  // The current shape: one answer is the whole list.
  s.shape = 'data'
  s.requests.length = 0
  t.equal((await client(t, s).list('bot-123')).items.length, 20)
  t.equal(s.requests.length, 1, '`data` without pagination is the whole list')
})

t.test('the page cap stops an endless list and says so; a slow drip is cut by the whole-call deadline', async (t) => {
  const s = await standIn(t)
  s.endless = true
  s.pageSize = 10
  const capped = await client(t, s, { maxPages: 7 }).list('bot-123')
  t.match(capped, { truncated: true, pages: 7 })
  t.equal(capped.items.length, 70)

  s.endless = false
  s.dripMs = 20
  const started = process.hrtime.bigint()
  await t.rejects(client(t, s, { deadlineMs: 300 }).list('bot-123'), /did not finish within 300 ms/)
  t.ok(process.hrtime.bigint() > started, 'the call ended (bounded by its deadline, not by the byte gaps)')
})

t.test('36 templates on pages of 10: all loaded, file entries on later pages found, strict mode sends them', async (t) => {
  const s = await standIn(t)
  s.pageSize = 10
  const all = names(36).map((n) => item(n, 1))
  s.bots.set('bot-123', all)
  const file = join(dir, 'late-page.json')
  writeFileSync(file, JSON.stringify({ templates: [{ name: 't_035', kind: 'text', variables: [{ name: 'who' }] }] }))
  const { app } = await buildLiveApp(t, s.url, { TEMPLATES_STRICT: 'true', TEMPLATES_FILE: file })
  const catalogue = await catalogueOf(app)
  t.equal(catalogue.templates.length, 36, 'all 36 templates, not the first page')
  t.strictSame(catalogue.templates.find((x) => x.name === 't_035')?.problems, [], 'a file entry on page 4 is not TEMPLATE_NOT_IN_JELOU')
  t.match(catalogue.bots, [{ botId: 'bot-123', truncated: false, pages: 4 }])
  const late = await dryRun(app, 't_035', { variables: { who: 'Ana' } })
  t.equal(late.status, 200, 'a template on the last page is sendable under TEMPLATES_STRICT')
  const kindRoute = await post(app, '/v1/messages/text?dryRun=true', { to: TO, template: 't_020', params: ['x'] })
  t.equal(kindRoute.status, 200, 'the kind route knows page 3 too')
})

t.test('a list cut short by the page cap is reported: log, metric, GET /v1/templates, /ready', async (t) => {
  const s = await standIn(t)
  s.endless = true
  s.pageSize = 1
  const { app, logs } = await buildLiveApp(t, s.url)
  const catalogue = await catalogueOf(app)
  t.match(catalogue.bots, [{ botId: 'bot-123', truncated: true, pages: MAX_PAGES }])
  t.match(catalogue.problems, [{ code: 'TEMPLATE_LIST_TRUNCATED', botId: 'bot-123', message: /cut short at 500 pages/ }])
  t.ok(logs.lines().some((l) => l.msg.startsWith('template list cut short by the page cap')), 'a warning is logged')
  t.match((await app.inject({ url: '/metrics' })).body, /hsm_catalogue_list_truncated_total\{bot="bot-123"\} 1/)
  t.match((await app.inject({ url: '/ready' })).json(), { status: 'ready', checks: { catalogue: /cut short at 500 pages/ } })
})

t.test('the catalogue is live: added, changed, renamed, relanguaged, disabled and re-enabled templates through their own path, no restart', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', [item('t_change', 2, { params: [{ label: 'nombre', param: '1' }, { label: 'pedido', param: '2' }] })])
  // The served scheduled example moves each minute; a fixed clock keeps it still, so an ETag changes only with the catalogue.
  const loaded = Date.now()
  const { app, logs } = await buildLiveApp(t, s.url, {}, { exampleClock: () => loaded })
  const first = await app.inject({ url: '/docs/json' })
  const etag = first.headers.etag as string
  t.ok(etag, '/docs/json has an ETag')
  t.match((await app.inject({ url: '/docs/yaml' })).body, /\/v1\/templates\/t_change:/, '/docs/yaml has the same entries')
  t.equal((await app.inject({ url: '/docs/json', headers: { 'if-none-match': etag } })).statusCode, 304, 'unchanged: 304')
  t.equal((await dryRun(app, 't_change', { variables: { nombre: 'A', pedido: 'B' } })).status, 200)

  const setAndRefresh = async (items: Record<string, unknown>[]) => {
    s.bots.set('bot-123', items)
    await app.catalogue.refreshNow()
  }
  // A variable added.
  await setAndRefresh([item('t_change', 3, { params: [{ label: 'nombre', param: '1' }, { label: 'pedido', param: '2' }, { label: 'fecha', param: '3' }] })])
  t.equal((await dryRun(app, 't_change', { variables: { nombre: 'A', pedido: 'B', fecha: 'C' } })).status, 200, 'three variables are sent after the change')
  t.match(await dryRun(app, 't_change', { variables: { nombre: 'A', pedido: 'B' } }), { status: 400, body: { errors: [{ path: '/variables/fecha', rule: 'required' }] } }, 'two are refused by the new definition')
  let doc = await docOf(app)
  t.strictSame(doc.paths['/v1/templates/t_change'].post?.requestBody.content['application/json'].schema.properties.variables.required, ['nombre', 'pedido', 'fecha'], '/docs/json shows the third variable')
  const second = await app.inject({ url: '/docs/json', headers: { 'if-none-match': etag } })
  t.equal(second.statusCode, 200, 'changed: a new document')
  t.not(second.headers.etag, etag, 'with a new ETag')

  // Labels renamed.
  await setAndRefresh([item('t_change', 3, { params: [{ label: 'cliente', param: '1' }, { label: 'pedido', param: '2' }, { label: 'fecha', param: '3' }] })])
  t.equal((await dryRun(app, 't_change', { variables: { cliente: 'A', pedido: 'B', fecha: 'C' } })).status, 200, 'the renamed variable is accepted')
  t.match(await dryRun(app, 't_change', { variables: { nombre: 'A', pedido: 'B', fecha: 'C' } }), { status: 400, body: { errors: [{ path: '/variables/cliente', rule: 'required' }, { path: '/variables/nombre', rule: 'additionalProperties' }] } })

  // Language changed.
  await setAndRefresh([item('t_change', 3, { language: 'EN', params: [{ label: 'cliente', param: '1' }, { label: 'pedido', param: '2' }, { label: 'fecha', param: '3' }] })])
  const vars = { cliente: 'A', pedido: 'B', fecha: 'C' }
  t.match(await dryRun(app, 't_change', { variables: vars, language: 'es' }), { status: 400, body: { errors: [{ path: '/language', rule: 'enum' }] } })
  t.match(await dryRun(app, 't_change', { variables: vars }), { status: 200, body: { upstream: { body: { language: 'en' } } } }, 'the template\'s language is the default')
  doc = await docOf(app)
  t.strictSame(doc.paths['/v1/templates/t_change'].post?.requestBody.content['application/json'].schema.properties.language.enum, ['en'])

  // Disabled, then enabled again; a new template appears.
  await setAndRefresh([item('t_change', 3, { language: 'EN', status: 'DISABLED' })])
  t.match(await dryRun(app, 't_change', { variables: { dato1: 'A', dato2: 'B', dato3: 'C' } }), { status: 422, body: { code: 'TEMPLATE_NOT_APPROVED' } })
  doc = await docOf(app)
  t.equal(doc.paths['/v1/templates/t_change'].post?.deprecated, true, 'a disabled template is deprecated in the document')
  t.match(doc.paths['/v1/templates/t_change'].post?.description, /Cannot be sent now.*TEMPLATE_NOT_APPROVED.*DISABLED/s, 'with the reason')
  await setAndRefresh([item('t_change', 3, { language: 'EN' }), item('t_new', 1)])
  t.equal((await dryRun(app, 't_change', { variables: { dato1: 'A', dato2: 'B', dato3: 'C' } })).status, 200, 're-enabled: sendable again')
  t.equal((await dryRun(app, 't_new', { variables: { dato1: 'A' } })).status, 200, 'a new template is sendable at once')
  doc = await docOf(app)
  t.ok(doc.paths['/v1/templates/t_new'], 'and documented')
  t.notOk(doc.paths['/v1/templates/t_change'].post?.deprecated)
  t.notOk(logs.lines().some((l) => l.level >= 50), 'no error logged')
})

t.test('a refresh that changes nothing keeps the catalogue version and the document', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', names(30).map((n) => item(n, 2)))
  const { app } = await buildLiveApp(t, s.url)
  const version = app.catalogue.version()
  const before = app.servedDocument()
  await app.catalogue.refreshNow()
  t.equal(app.catalogue.version(), version, 'same version')
  t.equal(app.servedDocument(), before, 'the same document object, not rebuilt')
})

t.test('names from Jelou: bad and duplicate names are reported problems, never a crash or a renamed route', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', [
    item('promo:x', 1), item('promo:y', 1), item('Promo', 0), item('promotion_new', 1),
    item('twice', 1), item('twice', 2)
  ])
  const { app } = await buildLiveApp(t, s.url)
  const catalogue = await catalogueOf(app)
  t.strictSame(catalogue.problems.filter((p) => p.code === 'TEMPLATE_NAME_INVALID').map((p) => p.template).sort(), ['Promo', 'promo:x', 'promo:y'])
  t.notOk(catalogue.templates.some((x) => x.name.includes(':') || x.name === 'Promo'), 'bad names are not templates')
  t.match(catalogue.templates.find((x) => x.name === 'twice')?.problems, [{ code: 'TEMPLATE_AMBIGUOUS' }], 'a name twice in one language is ambiguous')
  const doc = await docOf(app)
  t.notOk(Object.keys(doc.paths).some((p) => /promo[{:]|\/Promo/.test(p)), 'no route for a bad name')
  t.ok(doc.paths['/v1/templates/promotion_new'])
  const sent = await dryRun(app, 'promotion_new', { variables: { dato1: 'x' } })
  t.equal(sent.status, 200)
  t.match(sent.body, { upstream: { body: { elementName: 'promotion_new' } } }, 'promotion_new sends promotion_new')
  t.match(await dryRun(app, 'twice', { variables: { dato1: 'x' } }), { status: 422, body: { code: 'TEMPLATE_AMBIGUOUS' } })
})

t.test('one name on two bots with different variables: the body\'s botId picks, else refused and reported', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-a', [item('shared', 1), item('same_everywhere', 1)])
  s.bots.set('bot-b', [item('shared', 2), item('same_everywhere', 1)])
  const { app } = await buildLiveApp(t, s.url, { JELOU_BOT_ID: '', TEMPLATES_BOT_IDS: 'bot-a,bot-b' })
  const catalogue = await catalogueOf(app)
  t.match(catalogue.problems, [{ code: 'TEMPLATE_AMBIGUOUS', template: 'shared', message: /bots bot-a, bot-b/ }])
  t.equal(catalogue.problems.length, 1, 'the same definition on two bots is no problem')
  t.match(await dryRun(app, 'shared', { variables: { dato1: 'x' } }), { status: 422, body: { code: 'TEMPLATE_AMBIGUOUS', detail: /botId/ } })
  t.match(await dryRun(app, 'shared', { botId: 'bot-a', variables: { dato1: 'x' } }), { status: 200, body: { upstream: { path: '/v2/whatsapp/bot-a/hsm' } } })
  t.match(await dryRun(app, 'shared', { botId: 'bot-b', variables: { dato1: 'x', dato2: 'y' } }), { status: 200, body: { upstream: { path: '/v2/whatsapp/bot-b/hsm' } } })
  t.match(await dryRun(app, 'shared', { botId: 'bot-b', variables: { dato1: 'x' } }), { status: 400, body: { errors: [{ path: '/variables/dato2' }] } }, 'each bot\'s own definition')
  t.equal((await dryRun(app, 'same_everywhere', { variables: { dato1: 'x' } })).status, 200)
  const doc = await docOf(app)
  t.match(doc.paths['/v1/templates/shared'].post?.description, /Also on bots bot-b with another definition/)
})

t.test('kinds and languages from Jelou alone: AUTHENTICATION is an authentication template; the language enum is the template\'s own', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', [item('otp_login', 1, { category: 'AUTHENTICATION', params: [{ label: 'codigo', param: '1' }] }), item('bilingual', 1), item('bilingual', 1, { language: 'PT' })])
  const { app } = await buildLiveApp(t, s.url)
  const catalogue = await catalogueOf(app)
  t.equal(catalogue.templates.find((x) => x.name === 'otp_login')?.kind, 'authentication')
  const sent = await dryRun(app, 'otp_login', { variables: { codigo: '483920' } })
  t.match(sent, { status: 200, body: { kind: 'authentication', upstream: { body: { type: 'text', parameters: ['483920'], buttonParameters: [{ type: 'URL', param: '483920' }] } } } }, 'sent as a one-time code, with its button')
  t.match(await dryRun(app, 'otp_login', { variables: { codigo: 'has space' } }), { status: 400, body: { errors: [{ path: '/variables/codigo', rule: 'pattern' }] } }, 'the code\'s rules, at the variable\'s path')
  const doc = await docOf(app)
  const language = (name: string) => doc.paths[`/v1/templates/${name}`].post?.requestBody.content['application/json'].schema.properties.language.enum
  t.strictSame(language('otp_login'), ['es'])
  t.strictSame(language('bilingual'), ['es', 'pt'])
  t.match(await dryRun(app, 'bilingual', { variables: { dato1: 'x' }, language: 'en' }), { status: 400, body: { errors: [{ path: '/language', rule: 'enum' }] } })
})

t.test('each per-template route shows its kind\'s answers and its own request example, and a dry run of that example answers for the template', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', [item('otp_login', 1, { category: 'AUTHENTICATION' }), item('order_news', 2), item('order_more', 3)])
  const { app } = await buildLiveApp(t, s.url)
  const doc = await docOf(app)
  // Shared by every template of a kind: one copy in the document, not one a template.
  const answer = (ref: { $ref: string }) => doc.components.responses[ref.$ref.replace('#/components/responses/', '')]
  for (const [name, kind] of [['otp_login', 'authentication'], ['order_news', 'text'], ['order_more', 'text']]) {
    const op = doc.paths[`/v1/templates/${name}`].post
    t.match(answer(op?.responses['202']).content['application/json'].example, { kind, messageId: String }, `${name}: 202 example of its kind`)
    t.match(answer(op?.responses['200']).content['application/json'].example, { dryRun: true, kind }, `${name}: dry-run example of its kind`)
    t.ok(answer(op?.responses['202']).headers['X-Request-Id'], `${name}: the 202 declares its headers`)
    const [example] = Object.values(op?.requestBody.content['application/json'].examples ?? {}) as Array<{ value: Record<string, unknown> }>
    const res = await post(app, `/v1/templates/${name}?dryRun=true`, example.value)
    t.match(res, { status: 200, body: { kind, upstream: { body: { elementName: name } } } }, `${name}: its own example, dry run, answers with its own Jelou body`)
  }
  t.equal(doc.paths['/v1/templates/order_news'].post?.responses['202'].$ref, doc.paths['/v1/templates/order_more'].post?.responses['202'].$ref, 'two text templates point to one 202 answer')
  t.match(doc.paths['/v1/messages/image'].post?.responses['202'].content['application/json'].example, { kind: 'image', template: 'promo_banner' }, 'a kind route\'s example names its own example template')
})

t.test('live mode with no bot configured: no template, and /ready and GET /v1/templates say why', async (t) => {
  const s = await standIn(t)
  const { app, logs } = await buildLiveApp(t, s.url, { JELOU_BOT_ID: '' })
  t.match((await app.inject({ url: '/ready' })).json(), { status: 'ready', checks: { catalogue: /^empty: no bot is configured/ } })
  t.match((await catalogueOf(app)).problems, [{ code: 'CATALOGUE_NO_BOTS' }])
  t.ok(logs.lines().some((l) => l.msg.startsWith('no bot configured')), 'a start-up warning')
  t.equal(s.requests.length, 0, 'no list is asked for')
})

t.test('anonymous mode declares no caller-key security; with API_KEYS it does; templates come first', async (t) => {
  const s = await standIn(t)
  s.bots.set('bot-123', [item('order_news', 1)])
  const anonymous = await docOf((await buildLiveApp(t, s.url)).app)
  const ops = Object.values(anonymous.paths).flatMap((item) => Object.values(item))
  t.notOk(ops.some((op) => (op.security ?? []).some((r: object) => 'bearerAuth' in r || 'apiKey' in r)), 'no operation asks for a caller key')
  t.notOk('bearerAuth' in (anonymous.components.securitySchemes ?? {}))
  t.equal(anonymous.tags[0].name, 'templates', 'the company\'s templates are the first tag')
  const keyed = await docOf((await buildLiveApp(t, s.url, { API_KEYS: 'crm:k-123456789012345678901234' })).app)
  t.strictSame(keyed.paths['/v1/templates/order_news'].post?.security, [{ bearerAuth: [] }, { apiKey: [] }])
})
