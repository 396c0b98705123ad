// SPEC §17: the template catalogue from Jelou's list (the sandbox over a socket) and the file, merged, refreshed, and checked on every send.
import t from 'tap'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { stringify as toYaml } from 'yaml'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { CatalogueFileError, checkTemplatesFile, loadTemplatesFile, templatesFileJsonSchema } from '../src/catalogue/file.js'
import { readTemplateList } from '../src/catalogue/jelou.js'
import { mergeCatalogue, namesFromLabels } from '../src/catalogue/merge.js'
import { toPositions, variableErrors } from '../src/catalogue/variables.js'
import { demoCatalogueFile, demoJelouList } from '../src/sandbox/demo-catalogue.js'
import { startSandbox } from '../src/sandbox/server.js'
import { SANDBOX_BASIC, buildTestApp, post } from './helper.js'

const TO = '+593 98 765 4321'
const dir = mkdtempSync(join(tmpdir(), 'catalogue-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
function writeFile (content: unknown, ext: 'json' | 'yaml' = 'json'): string {
  const path = join(dir, `templates-${++files}.${ext}`)
  writeFileSync(path, ext === 'json' ? JSON.stringify(content) : toYaml(content))
  return path
}
const EMPTY_FILE = writeFile({ templates: [] })

type Info = { name: string, source: string, kind: string | null, status: string, variables: Array<{ name: string }>, problems: Array<{ code: string }>, languages: string[] }
async function catalogue (app: FastifyInstance): Promise<Info[]> {
  return (await app.inject({ url: '/v1/templates' })).json().templates
}
const byName = (list: Info[], name: string) => list.find((i) => i.name === name)
async function metric (app: FastifyInstance, line: RegExp): Promise<number | undefined> {
  const text = (await app.inject({ url: '/metrics' })).body
  const found = text.split('\n').find((l) => line.test(l))
  return found === undefined ? undefined : Number(found.split(' ').pop())
}
const jelouItem = (elementName: string, paramsNumber: number, extra: Record<string, unknown> = {}) => ({
  template: 'Hola', elementName, params: Array.from({ length: paramsNumber }, (_, i) => ({ label: `dato ${i + 1}`, param: String(i + 1) })), paramsNumber, language: 'ES', status: 'APPROVED', category: 'UTILITY', ...extra
})

t.test('pure pieces', async (t) => {
  t.test('toPositions: named variables in Jelou\'s position order', async (t) => {
    const template = { variables: [{ name: 'orderId', position: 2 }, { name: 'customerName', position: 1 }] }
    t.strictSame(toPositions(template, { orderId: 'ORD-1', customerName: 'Maria' }), ['Maria', 'ORD-1'])
    t.strictSame(toPositions({ variables: [] }, {}), [])
  })
  t.test('variableErrors: missing, extra, too long, bad characters', async (t) => {
    const template = { variables: [{ name: 'a', position: 1, maxLength: 3 }, { name: 'b', position: 2 }] }
    t.match(variableErrors(template, { a: 'abcd', c: 'x' }), [
      { path: '/variables/a', rule: 'maxLength', limit: 3 },
      { path: '/variables/b', rule: 'required' },
      { path: '/variables/c', rule: 'additionalProperties' }
    ])
    t.match(variableErrors(template, { a: 'x\ny', b: 'a     b' }), [{ path: '/variables/a', rule: 'pattern' }, { path: '/variables/b', rule: 'pattern' }])
    t.strictSame(variableErrors(template, { a: 'abc', b: 'ok' }), [])
    // Each rule on its own, where all else is right (a well-formed body skips the full check).
    t.match(variableErrors(template, { a: 'abc', c: 'x' }), [{ path: '/variables/b', rule: 'required' }, { path: '/variables/c', rule: 'additionalProperties' }], 'as many keys as variables, one of them not a variable')
    t.match(variableErrors(template, { a: 'abc', b: 'ok', c: 'x' }), [{ path: '/variables/c', rule: 'additionalProperties' }], 'one key too many')
    t.match(variableErrors(template, { a: 'a\tb', b: 'ok' }), [{ path: '/variables/a', rule: 'pattern' }], 'a tab')
    t.match(variableErrors(template, { a: 'abc', b: 'a     b' }), [{ path: '/variables/b', rule: 'pattern' }], 'five spaces')
    t.match(variableErrors(template, { a: '', b: 'ok' }), [{ path: '/variables/a', rule: 'minLength' }], 'empty')
    t.match(variableErrors(template, { a: 'abc', b: 7 }), [{ path: '/variables/b', rule: 'type' }], 'not a string')
  })
  t.test('names from Jelou\'s labels: safe identifiers, else var1…', async (t) => {
    t.strictSame(namesFromLabels(['Nombre del cliente', 'pedido']), ['nombreDelCliente', 'pedido'])
    t.strictSame(namesFromLabels(['nombre', 'nombre']), ['var1', 'var2'], 'a repeat falls back for all')
    t.strictSame(namesFromLabels(['', 'x']), ['var1', 'var2'], 'an empty label falls back for all')
    t.strictSame(namesFromLabels(['1st']), ['var1'], 'a name may not start with a digit')
  })
  t.test('both documented answer shapes', async (t) => {
    const item = { elementName: 'a_b', template: 'x {{1}}', language: 'ES', status: 'approved', params: [{ label: 'n', param: '1' }], paramsNumber: 1 }
    t.match(readTemplateList({ data: [item] }), { items: [{ name: 'a_b', language: 'es', status: 'APPROVED', paramsNumber: 1, labels: ['n'] }], next: null })
    t.match(readTemplateList({ results: [item], pagination: { page: 1, limit: 1, total: 3 } }), { items: [{ name: 'a_b' }], next: 2 })
    t.equal(readTemplateList({ results: [item], pagination: { page: 3, limit: 1, total: 3 } }).next, null)
    t.throws(() => readTemplateList({ templates: [] }), /neither/)
  })
  t.test('merge: Jelou decides status, languages and count; the file names and kinds', async (t) => {
    const jelou = new Map([['b', readTemplateList({ data: [jelouItem('t1', 2), jelouItem('t2', 1, { status: 'PENDING' }), jelouItem('t3', 1)] }).items]])
    const file = [
      { name: 't1', kind: 'image', variables: [{ name: 'x' }, { name: 'y' }] },
      { name: 't3', kind: 'text', languages: ['es', 'en'], variables: [{ name: 'x' }, { name: 'y' }] },
      { name: 't4', kind: 'text' }
    ]
    const merged = mergeCatalogue({ jelou, file, defaultBot: 'b' })
    t.match(merged.find((m) => m.name === 't1'), { source: 'both', kind: 'image', status: 'APPROVED', languages: ['es'], variables: [{ name: 'x', position: 1 }, { name: 'y', position: 2 }], problems: [] })
    t.match(merged.find((m) => m.name === 't2'), { source: 'jelou', kind: null, variables: [{ name: 'dato1' }], problems: [{ code: 'TEMPLATE_NOT_APPROVED' }] })
    t.match(merged.find((m) => m.name === 't3')?.problems, [{ code: 'TEMPLATE_VARIABLES_CONFLICT' }, { code: 'TEMPLATE_LANGUAGE_CONFLICT' }])
    t.match(merged.find((m) => m.name === 't4'), { source: 'file', status: 'UNKNOWN', problems: [{ code: 'TEMPLATE_NOT_IN_JELOU' }] })
    const unloaded = mergeCatalogue({ jelou: new Map([['b', null]]), file, defaultBot: 'b' })
    t.strictSame(unloaded.find((m) => m.name === 't4')?.problems, [], 'a file entry is not a problem while Jelou\'s list has never loaded')
  })
})

t.test('the catalogue file', async (t) => {
  t.test('the published JSON Schema is the TypeBox schema', async (t) => {
    const published = JSON.parse(readFileSync(new URL('../schemas/templates-file.schema.json', import.meta.url), 'utf8'))
    t.strictSame(published, templatesFileJsonSchema(), 'run `npm run openapi` to rewrite schemas/templates-file.schema.json')
  })
  t.test('YAML and JSON read the same', async (t) => {
    const content = { templates: demoCatalogueFile() }
    t.strictSame(loadTemplatesFile(writeFile(content, 'yaml'), null), loadTemplatesFile(writeFile(content), null))
  })
  t.test('a bad file stops start-up with one message naming each bad entry and rule', async (t) => {
    const bad = writeFile({
      templates: [
        { name: 'order_update', kind: 'text', variables: [{ name: 'first name' }] },
        { name: 'Bad-Name', kind: 'text' },
        { name: 'promo', kind: 'banner' },
        { name: 'promo2', kind: 'image', color: 'red' },
        { name: 'dup', kind: 'text', variables: [{ name: 'a' }, { name: 'a' }] },
        { name: 'dup', kind: 'text' }
      ]
    })
    const error = await buildApp(loadConfig({ TEMPLATES_FILE: bad }), { logger: pino({ level: 'silent' }) }).then(() => null, (e: unknown) => e)
    t.ok(error instanceof CatalogueFileError, 'buildApp refuses the file')
    const message = (error as Error).message
    t.match(message, `invalid TEMPLATES_FILE ${bad}`)
    t.match(message, 'templates[0] (order_update)/variables/0/name must match pattern')
    t.match(message, 'templates[1] (Bad-Name)/name must match pattern')
    t.match(message, 'templates[2] (promo)/kind must be equal to one of the allowed values')
    t.match(message, 'templates[3] (promo2)/color is not an allowed field')
    const second = checkTemplatesFile({ templates: [{ name: 'dup', kind: 'text', variables: [{ name: 'a' }, { name: 'a' }] }, { name: 'dup', kind: 'text' }] }, 'b')
    t.match(second, { ok: false, problems: ['templates[0] (dup)/variables/1/name repeats "a" (rule unique)', 'templates[1] (dup) repeats the template dup for bot b (rule unique)'] })
    t.match(checkTemplatesFile({ templates: [{ name: 'x', kind: 'text' }] }, null), { ok: false, problems: [/bot is required when JELOU_BOT_ID is not set/] })
    t.match(await buildApp(loadConfig({ TEMPLATES_FILE: join(dir, 'missing.yaml') }), { logger: pino({ level: 'silent' }) }).catch((e: Error) => e.message), /cannot be read/)
  })
})

t.test('loading', async (t) => {
  t.test('from Jelou alone: names from the labels, both answer shapes, pages followed', async (t) => {
    const sandbox = await startSandbox()
    sandbox.templates.shape('results', 5)
    const { app } = await buildTestApp(t, { sandbox, env: { TEMPLATES_FILE: EMPTY_FILE } })
    const list = await catalogue(app)
    t.equal(list.length, 12, 'all three pages read')
    t.match(byName(list, 'order_update'), { source: 'jelou', kind: null, status: 'APPROVED', languages: ['es'], variables: [{ name: 'nombre' }, { name: 'pedido' }], problems: [] })
    const res = await post(app, '/v1/templates/order_update', { to: TO, variables: { nombre: 'Maria', pedido: 'ORD-1234' } })
    t.equal(res.status, 202, 'a Jelou-only template is sent as text')
    t.match(sandbox.messages()[0].body, { elementName: 'order_update', type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] })
  })
  t.test('from the file alone while Jelou\'s list is down at start-up: sends go on, metrics and /ready say so', async (t) => {
    const sandbox = await startSandbox()
    sandbox.templates.fail(503)
    const { app } = await buildTestApp(t, { sandbox })
    const list = await catalogue(app)
    t.match(byName(list, 'order_update'), { source: 'file', status: 'UNKNOWN', kind: 'text', variables: [{ name: 'customerName' }, { name: 'orderId' }], problems: [] })
    t.equal((await post(app, '/v1/templates/order_update', { to: TO, variables: { customerName: 'Maria', orderId: 'ORD-1' } })).status, 202)
    t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'not_listed_anywhere', params: ['x'] })).status, 202, 'unknown templates are sent')
    // At least the start-up try; the backoff may have retried since.
    t.ok((await metric(app, /^hsm_catalogue_refresh_failures_total\{bot="bot-123"\}/) ?? 0) >= 1, 'the failed load is counted')
    t.equal(await metric(app, /^hsm_catalogue_age_seconds\{bot="bot-123"\}/), -1)
    t.equal(await metric(app, /^hsm_catalogue_unknown_sends_total\{kind="text"\}/), 1)
    const ready = await app.inject({ url: '/ready' })
    t.equal(ready.statusCode, 200, 'a catalogue outage does not make the service unready')
    t.match(ready.json().checks.catalogue, /degraded: Jelou's template list for bot-123 has not loaded/)
  })
  t.test('from both: Jelou\'s status and text, the file\'s names and kind', async (t) => {
    const { app } = await buildTestApp(t)
    const list = await catalogue(app)
    t.equal(list.length, 12)
    t.ok(list.every((i) => i.source === 'both' && i.problems.length === 0), 'every demo template is known to both, without problems')
    t.match((await app.inject({ url: '/v1/templates/promo_banner' })).json(), { kind: 'image', status: 'APPROVED', category: 'MARKETING', text: { es: /descuento/ }, variables: [{ name: 'customerName' }, { name: 'discount' }], route: '/v1/templates/promo_banner' })
    t.equal(await metric(app, /^hsm_catalogue_templates\{bot="bot-123"\}/), 12)
    t.match((await app.inject({ url: '/v1/templates/nope' })).json(), { code: 'NOT_FOUND' })
  })
})

t.test('merge problems refuse sends with their code, nothing sent', async (t) => {
  const sandbox = await startSandbox()
  sandbox.templates.set('bot-123', [...demoJelouList(), jelouItem('waiting_review', 1, { status: 'PENDING' })])
  const file = writeFile({
    templates: [
      { name: 'order_update', kind: 'text', variables: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] },
      { name: 'visit_store', kind: 'text', languages: ['es', 'pt'], variables: [{ name: 'customerName' }] },
      { name: 'ghost_template', kind: 'text' }
    ]
  })
  const { app, logs } = await buildTestApp(t, { sandbox, env: { TEMPLATES_FILE: file } })
  const warning = logs.lines().find((l) => l.msg.startsWith('template catalogue has problems'))
  t.ok(warning, 'the problems are logged at start-up')
  const cases = [
    { name: 'order_update', code: 'TEMPLATE_VARIABLES_CONFLICT', body: { params: ['1', '2'] } },
    { name: 'visit_store', code: 'TEMPLATE_LANGUAGE_CONFLICT', body: { params: ['1'] } },
    { name: 'ghost_template', code: 'TEMPLATE_NOT_IN_JELOU', body: {} },
    { name: 'waiting_review', code: 'TEMPLATE_NOT_APPROVED', body: { params: ['1'] } }
  ]
  const list = await catalogue(app)
  for (const c of cases) {
    t.match(byName(list, c.name)?.problems, [{ code: c.code }], `${c.name} listed with ${c.code}`)
    const res = await post(app, '/v1/messages/text', { to: TO, template: c.name, ...c.body })
    t.equal(res.status, 422, c.name)
    t.equal(res.body.code, c.code, c.name)
  }
  t.equal(sandbox.messages().length, 0, 'nothing reached Jelou')
  t.equal(await metric(app, /^hsm_catalogue_refusals_total\{reason="TEMPLATE_NOT_IN_JELOU"\}/), 1)
})

t.test('checks on the kind and raw routes', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const cases = [
    { url: '/v1/messages/text', body: { to: TO, template: 'order_update', params: ['Maria'] }, code: 'TEMPLATE_VARIABLE_COUNT' },
    { url: '/v1/messages/text', body: { to: TO, template: 'order_update', language: 'en', params: ['Maria', 'O-1'] }, code: 'TEMPLATE_LANGUAGE_UNAVAILABLE' },
    { url: '/v1/messages/image', body: { to: TO, template: 'order_update', params: ['Maria', 'O-1'], mediaUrl: 'https://cdn.example.com/a.png' }, code: 'TEMPLATE_KIND_MISMATCH' },
    { url: '/v1/messages/text', body: { to: TO, template: 'promo_banner', params: ['Maria', '20%'] }, code: 'TEMPLATE_KIND_MISMATCH' },
    { url: '/v1/messages', body: { elementName: 'order_update', destinations: [TO], type: 'text', language: 'es', parameters: ['Maria', 'O-1', 'extra'] }, code: 'TEMPLATE_VARIABLE_COUNT' }
  ]
  for (const c of cases) {
    const res = await post(app, c.url, c.body)
    t.equal(res.status, 422, `${c.url} ${c.code}`)
    t.equal(res.body.code, c.code)
    t.notMatch(String(res.body.detail), /Maria/, 'no value in the detail')
  }
  const dry = await post(app, '/v1/messages/text?dryRun=true', { to: TO, template: 'order_update', params: ['Maria'] })
  t.equal(dry.body.code, 'TEMPLATE_VARIABLE_COUNT', 'a dry run runs the checks too')
  t.equal(sandbox.messages().length, 0)
  t.equal(await metric(app, /^hsm_refusals_total\{code="TEMPLATE_KIND_MISMATCH"\}/), 2)
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['Maria', 'O-1'] })).status, 202)
})

t.test('TEMPLATES_STRICT refuses unknown templates; without it they are sent and counted', async (t) => {
  const strict = await buildTestApp(t, { env: { TEMPLATES_STRICT: 'true' } })
  const res = await post(strict.app, '/v1/messages/text', { to: TO, template: 'not_in_catalogue', params: ['x'] })
  t.equal(res.status, 422)
  t.equal(res.body.code, 'TEMPLATE_UNKNOWN')
  t.equal(strict.sandbox.messages().length, 0)
  const loose = await buildTestApp(t)
  t.equal((await post(loose.app, '/v1/messages/text', { to: TO, template: 'not_in_catalogue', params: ['x'] })).status, 202)
  t.equal(await metric(loose.app, /^hsm_catalogue_unknown_sends_total\{kind="text"\}/), 1)
})

t.test('refresh: changes take effect without a restart; a failed refresh keeps the last good catalogue', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const items = demoJelouList()
  const set = (name: string, change: Record<string, unknown>) => items.map((i) => i.elementName === name ? { ...i, ...change } : i)

  sandbox.templates.set('bot-123', set('order_update', { status: 'DISABLED' }))
  await app.catalogue.refreshNow()
  const disabled = await post(app, '/v1/templates/order_update', { to: TO, variables: { customerName: 'Maria', orderId: 'O-1' } })
  t.match(disabled, { status: 422, body: { code: 'TEMPLATE_NOT_APPROVED' } }, 'DISABLED is refused')

  sandbox.templates.set('bot-123', set('visit_store', { paramsNumber: 2, params: [{ label: 'a', param: '1' }, { label: 'b', param: '2' }] }))
  await app.catalogue.refreshNow()
  const changed = await post(app, '/v1/messages/text', { to: TO, template: 'visit_store', params: ['Maria'] })
  t.match(changed, { status: 422, body: { code: 'TEMPLATE_VARIABLES_CONFLICT' } }, 'a changed variable count is refused')

  sandbox.templates.set('bot-123', [...items, jelouItem('brand_new', 2, { language: 'EN' })])
  await app.catalogue.refreshNow()
  const fresh = await post(app, '/v1/templates/brand_new', { to: TO, language: 'en', variables: { dato1: 'a', dato2: 'b' } })
  t.equal(fresh.status, 202, 'a new template is sendable through the generic route')
  t.match(sandbox.messages()[0].body, { elementName: 'brand_new', language: 'en', parameters: ['a', 'b'] })
  const missing = await post(app, '/v1/templates/brand_new', { to: TO, variables: { dato1: 'a' } })
  t.match(missing, { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/variables/dato2', rule: 'required' }] } })
  const foreign = await post(app, '/v1/templates/brand_new', { to: TO, language: 'en', variables: { dato1: 'a', dato2: 'b' }, mediaUrl: 'https://cdn.example.com/a.png' })
  t.match(foreign, { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/mediaUrl', rule: 'additionalProperties' }] } }, 'the generic route checks the kind\'s own fields')
  t.equal((await post(app, '/v1/messages/text', { to: TO, template: 'order_update', params: ['a', 'b'] })).status, 202, 'order_update is back')

  sandbox.templates.fail(500)
  await app.catalogue.refreshNow()
  t.equal((await post(app, '/v1/templates/brand_new', { to: TO, language: 'en', variables: { dato1: 'a', dato2: 'b' } })).status, 202, 'the last good catalogue stays in force')
  t.ok((await metric(app, /^hsm_catalogue_refresh_failures_total\{bot="bot-123"\}/) ?? 0) >= 1, 'the failed refresh is counted')
  t.ok((await metric(app, /^hsm_catalogue_age_seconds\{bot="bot-123"\}/) ?? -1) >= 0, 'age counts from the last good load')
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.match(ready.json().checks.catalogue, /failed \d+ times; the list from .* stays in force/)
  t.ok((await app.inject({ url: '/v1/templates' })).json().bots[0].failures >= 1)
})

t.test('per-template routes', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const send = (name: string, body: Record<string, unknown>) => post(app, `/v1/templates/${name}`, { to: TO, ...body })
  const bad = [
    { name: 'missing variable', template: 'order_update', body: { variables: { customerName: 'Maria' } }, path: '/variables/orderId', rule: 'required' },
    { name: 'extra variable', template: 'order_update', body: { variables: { customerName: 'Maria', orderId: 'O', coupon: 'X' } }, path: '/variables/coupon', rule: 'additionalProperties' },
    { name: 'too long (the catalogue\'s limit)', template: 'order_update', body: { variables: { customerName: 'Maria', orderId: 'O'.repeat(21) } }, path: '/variables/orderId', rule: 'maxLength' },
    { name: 'no variables at all', template: 'order_update', body: {}, path: '/variables', rule: 'required' },
    { name: 'positional params are not taken', template: 'order_update', body: { variables: { customerName: 'M', orderId: 'O' }, params: ['M', 'O'] }, path: '/params', rule: 'additionalProperties' },
    { name: 'image needs mediaUrl', template: 'promo_banner', body: { variables: { customerName: 'M', discount: '5%' } }, path: '/mediaUrl', rule: 'required' },
    { name: 'url-button needs urlParams', template: 'track_order', body: { variables: { customerName: 'M', orderId: 'O' } }, path: '/urlParams', rule: 'required' },
    { name: 'quick-reply needs quickReplies', template: 'appointment_confirm', body: { variables: { customerName: 'M', appointmentTime: 'now' } }, path: '/quickReplies', rule: 'required' },
    { name: 'header-parameter needs headerParam', template: 'account_notice', body: { variables: { accountId: 'A', dueDate: 'D' } }, path: '/headerParam', rule: 'required' },
    { name: 'catalog needs thumbnailUrl', template: 'spring_catalog', body: { variables: { customerName: 'M' } }, path: '/thumbnailUrl', rule: 'required' },
    { name: 'lto needs offerExpiresAt', template: 'flash_sale', body: { variables: { customerName: 'M' } }, path: '/offerExpiresAt', rule: 'required' },
    { name: 'authentication code rules', template: 'login_code', body: { variables: { code: '12 34' } }, path: '/variables/code', rule: 'pattern' },
    { name: 'carousel needs cards', template: 'weekly_offers', body: { variables: { customerName: 'M' } }, path: '/cards', rule: 'required' },
    { name: 'document field rules', template: 'invoice_ready', body: { variables: { customerName: 'M', invoiceId: 'I' }, mediaUrl: 'https://cdn.example.com/a.png' }, path: '/mediaUrl', rule: 'pattern' }
  ]
  for (const c of bad) {
    const res = await send(c.template, c.body)
    t.equal(res.status, 400, c.name)
    t.match(res.body, { code: 'VALIDATION_FAILED', errors: [{ path: c.path, rule: c.rule }] }, c.name)
  }
  const wrongLanguage = await send('order_update', { language: 'pt', variables: { customerName: 'M', orderId: 'O' } })
  t.match(wrongLanguage, { status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: '/language', rule: 'enum', message: /es/ }] } }, 'the language enum is the template\'s own')
  t.match(await send('no_such_template', { variables: {} }), { status: 422, body: { code: 'TEMPLATE_UNKNOWN' } })
  t.equal(sandbox.messages().length, 0, 'nothing was sent')
})

t.test('per-template routes: the path, the body\'s shape and the query string answer as the document\'s schemas say, in Fastify\'s order', async (t) => {
  // The route checks these itself (a well-formed send is checked once, by its template's rules): a
  // request that breaks them answers what Fastify's own check would, the first failing part in its
  // order (params, body, query string), before any catalogue answer (422) and with nothing sent.
  const { app, sandbox } = await buildTestApp(t)
  const raw = async (url: string, payload: string) => {
    const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } })
    return { status: res.statusCode, body: res.json() as Record<string, unknown> }
  }
  const fine = JSON.stringify({ to: TO, variables: { customerName: 'M', orderId: 'O' } })
  const cases: Array<[string, string, string, string, string, string]> = [
    ['a name the pattern refuses', '/v1/templates/Order-Update', fine, 'params', '/name', 'pattern'],
    ['a bad name before a bad body and query', '/v1/templates/Order-Update?dryRun=maybe', '[]', 'params', '/name', 'pattern'],
    ['a body that is not an object', '/v1/templates/order_update', '[]', 'body', '/', 'type'],
    ['a body that is null', '/v1/templates/order_update', 'null', 'body', '/', 'type'],
    ['a bad body before a bad query', '/v1/templates/order_update?dryRun=maybe', JSON.stringify({ to: 5 }), 'body', '/to', 'type'],
    ['a bad body before the catalogue\'s 422', '/v1/templates/no_such_template', JSON.stringify({ variables: {} }), 'body', '/to', 'required'],
    ['a recipient too long', '/v1/templates/order_update', JSON.stringify({ to: '1'.repeat(65), variables: { customerName: 'M', orderId: 'O' } }), 'body', '/to', 'maxLength'],
    ['a bad query string alone', '/v1/templates/order_update?dryRun=maybe', fine, 'querystring', '/dryRun', 'enum'],
    ['a bad query string before the catalogue\'s 422', '/v1/templates/no_such_template?dryRun=maybe', fine, 'querystring', '/dryRun', 'enum']
  ]
  for (const [name, url, payload, part, path, rule] of cases) {
    const res = await raw(url, payload)
    t.equal(res.status, 400, name)
    t.match(res.body, { code: 'VALIDATION_FAILED', errors: [{ in: part, path, rule }] }, `${name}: ${part} ${path} ${rule}`)
    t.equal((res.body.errors as unknown[]).length, 1, `${name}: only the first failing part is reported`)
  }
  const both = await raw('/v1/templates/order_update', JSON.stringify({ to: 7, variables: { customerName: 1, orderId: 'O' } }))
  t.match(both.body, { errors: [{ path: '/to', rule: 'type' }, { path: '/variables/customerName', rule: 'type' }] }, 'every problem of the body\'s shape at once')
  t.match(await raw('/v1/templates/no_such_template?dryRun=true', fine), { status: 422, body: { code: 'TEMPLATE_UNKNOWN' } }, 'a well-formed request for an unknown name: 422')
  t.match(await raw('/v1/templates/order_update?dryRun=1', fine), { status: 200, body: { dryRun: true } }, 'and a well-formed one for a known name passes every check')
  t.equal(sandbox.messages().length, 0, 'nothing was sent')
})

t.test('per-template routes: each demo template\'s example sends the exact upstream body', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, { post?: { tags: string[], requestBody: { content: { 'application/json': { examples: Record<string, { value: Record<string, unknown> }> } } } } }> }
  const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')).request as Record<string, unknown>
  // The seed cases' bodies (test/fixtures), less what the per-template example does not send (a reply flow id, a fixed expiry);
  // the recipient is the one of the template's kind example (so examples spread over the recipient limit).
  const PINNED: Record<string, Record<string, unknown>> = {
    order_update: fixture('text'),
    visit_store: fixture('url-buttons-static'),
    promo_banner: fixture('image'),
    product_tour: fixture('video'),
    invoice_ready: fixture('document'),
    track_order: fixture('url-buttons-dynamic'),
    appointment_confirm: { ...fixture('quick-reply'), actions: undefined },
    account_notice: fixture('header-parameters'),
    spring_catalog: fixture('catalog'),
    flash_sale: { ...fixture('lto'), ltoParams: { expirationTime: Date.parse('2030-01-01T00:00:00Z') } },
    login_code: fixture('authentication'),
    weekly_offers: fixture('carousel')
  }
  const routes = Object.entries(doc.paths).filter(([path, item]) => /^\/v1\/templates\/[a-z_]+$/.test(path) && item.post !== undefined)
  t.equal(routes.length, 12, 'one documented route per demo template')
  for (const [path, item] of routes) {
    const name = path.split('/').pop() as string
    t.strictSame(item.post?.tags, ['templates'], `${name} is grouped under templates`)
    const [example] = Object.values(item.post?.requestBody.content['application/json'].examples ?? {})
    const res = await post(app, path, example.value)
    t.equal(res.status, 202, `${name}: ${JSON.stringify(res.body).slice(0, 200)}`)
    t.match(res.body, { template: name, botId: 'bot-123' })
    t.strictSame(sandbox.messages()[0].body, JSON.parse(JSON.stringify({ ...PINNED[name], destinations: [res.body.to] })), `${name}: the upstream body`)
  }
})

t.test('the sandbox list endpoint and its variable-count check, over HTTP', async (t) => {
  const sandbox = await startSandbox()
  t.teardown(() => sandbox.close())
  const get = async (query: string, auth = SANDBOX_BASIC) => await fetch(`${sandbox.url}/v1/bots/bot-123/templates${query}`, { headers: { authorization: auth } })
  t.equal((await get('', 'Basic eDp5')).status, 401)
  t.equal(((await (await get('')).json()) as { data: unknown[] }).data.length, 12)
  t.match(await (await get('?query=order')).json(), { data: [{ elementName: 'order_update', language: 'ES', paramsNumber: 2 }] })
  t.equal(((await (await get('?category=authentication')).json()) as { data: unknown[] }).data.length, 1)
  t.equal(((await (await get('?status=PENDING')).json()) as { data: unknown[] }).data.length, 0)
  t.strictSame(await (await fetch(`${sandbox.url}/v1/bots/other-bot/templates`, { headers: { authorization: SANDBOX_BASIC } })).json(), { data: [] }, 'the demo catalogue belongs to bot-123')
  const hsm = async (parameters: string[]) => await fetch(`${sandbox.url}/v2/whatsapp/bot-123/hsm`, {
    method: 'POST',
    headers: { authorization: SANDBOX_BASIC, 'content-type': 'application/json' },
    body: JSON.stringify({ elementName: 'order_update', destinations: ['593987654321'], type: 'text', language: 'es', parameters })
  })
  const refused = await hsm(['Maria'])
  t.equal(refused.status, 422, 'a known template with the wrong number of variables is refused, as Jelou does')
  t.match(await refused.json(), { status: 'failed', error: { code: 132000 } })
  t.equal((await hsm(['Maria', 'ORD-1'])).status, 200)
})

t.test('the sandbox list honours `limit` and `page`, over HTTP, and the service reads every page of it', async (t) => {
  const sandbox = await startSandbox()
  t.teardown(() => sandbox.close())
  const items = Array.from({ length: 230 }, (_, i) => ({ ...demoJelouList()[0], elementName: `t_${String(i).padStart(3, '0')}`, displayName: `T ${i}` }))
  sandbox.templates.set('bot-123', items)
  type Page = { data?: Array<{ elementName: string }>, results?: Array<{ elementName: string }>, pagination?: Record<string, number> }
  const get = async (query: string): Promise<Page> => await (await fetch(`${sandbox.url}/v1/bots/bot-123/templates${query}`, { headers: { authorization: SANDBOX_BASIC } })).json() as Page
  const names = (page: Page) => (page.data ?? page.results ?? []).map((i) => i.elementName)
  t.equal((await get('')).data?.length, 230, 'no limit and no page: the whole list, as Jelou\'s current answer')
  t.notOk((await get('')).pagination)
  const second = await get('?page=2&limit=5')
  t.strictSame(names(second), ['t_005', 't_006', 't_007', 't_008', 't_009'], 'limit 5, page 2: items 6 to 10')
  t.strictSame(second.pagination, { page: 2, limit: 5, total: 230, totalPages: 46 })
  t.strictSame(names(await get('?limit=100&page=3')), items.slice(200).map((i) => i.elementName), 'the last page is short')
  t.strictSame(names(await get('?limit=100&page=4')), [], 'past the end: empty')
  t.equal((await get('?limit=3')).data?.length, 3, 'limit alone: page 1')
  t.equal((await get('?limit=0')).data?.length, 230, 'an unusable limit is ignored')
  t.equal((await get('?query=t_01&limit=4')).pagination?.total, 10, 'filters apply before the page is cut')
  sandbox.templates.shape('results', 10)
  t.strictSame(names(await get('?page=2&limit=4')), ['t_004', 't_005', 't_006', 't_007'], 'older shape: limit 4 honoured')
  t.match(await get('?limit=100'), { pagination: { limit: 10, totalPages: 23 } }, 'older shape: at most its page size')
  sandbox.templates.shape('data')
  const before = sandbox.templates.requests()
  const { app } = await buildTestApp(t, { sandbox, env: { TEMPLATES_FILE: EMPTY_FILE } })
  t.equal((await catalogue(app)).filter((i) => i.name.startsWith('t_')).length, 230, 'every template of the sandbox\'s list is in the catalogue')
  t.equal(sandbox.templates.requests() - before, 3, 'read as three pages of 100')
  t.equal((await post(app, '/v1/templates/t_229?dryRun=true', { to: TO, variables: { nombre: 'Maria', pedido: 'ORD-1' } })).status, 200, 'a template from the last page can be sent')
})
