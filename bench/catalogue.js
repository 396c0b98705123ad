// `npm run bench:catalogue`: what a template costs. For accounts of 20, 100 and 1,000 generated
// templates on a Jelou stand-in (this process, loopback), the built service runs in a child process
// (live mode, listening on 127.0.0.1) and reports start-up, resident memory, /docs/json, the CPU of
// a refresh that changes nothing and of one that changes one template, and the service's CPU per
// send on a per-template route and on a kind route, both sent by this process over real sockets.
// Then a typed client is generated from the 1,000-template document and type-checked.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import { CONNECTIONS, generate, post, startStandIn } from './account.js'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')
const SIZES = (process.env.BENCH_SIZES ?? '20,100,1000').split(',').map(Number)
const SENDS = Number(process.env.BENCH_SENDS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)

// ---------------------------------------------------------------------------------------------
// The child: the built service in live mode; it reports each figure as one JSON line and waits for commands.

const CHILD = `
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { buildApp } from '${ROOT}/dist/app.js'
import { loadConfig } from '${ROOT}/dist/config.js'
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
const rss = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().rss }
const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed }
const config = loadConfig({ JELOU_CLIENT_ID: 'bench', JELOU_CLIENT_SECRET: 'bench', JELOU_BASE_URL: process.env.STAND_IN, JELOU_BOT_ID: 'bot-123', ALLOW_ANONYMOUS: 'true', RECIPIENT_LIMIT: '1000000/60s', RATE_LIMIT_PER_MINUTE: '100000000', MAX_EVENT_LOOP_DELAY_MS: '0', LOG_LEVEL: 'silent' })
const t0 = performance.now()
const app = await buildApp(config, { logger: pino({ level: 'silent' }) })
await app.ready()
const startup = { processMs: process.uptime() * 1000, buildMs: performance.now() - t0, cpuMs: cpu(), rssReady: rss(), heapReady: heap(), templates: app.catalogue.all().length }
await app.listen({ host: '127.0.0.1', port: 0 })
startup.port = app.server.address().port
say({ startup })
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
async function refresh (rebuildDoc) {
  const v = app.catalogue.version(); const c0 = cpu()
  await app.catalogue.refreshNow()
  const refreshCpu = cpu() - c0
  const c1 = cpu(); if (rebuildDoc) await app.inject({ url: '/docs/json' })
  return { refreshCpuMs: refreshCpu, docCpuMs: cpu() - c1, changed: app.catalogue.version() !== v }
}
process.stdin.setEncoding('utf8')
let buffer = ''
process.stdin.on('data', async (chunk) => {
  buffer += chunk
  let i
  while ((i = buffer.indexOf('\\n')) >= 0) {
    const command = buffer.slice(0, i); buffer = buffer.slice(i + 1)
    // The service's own CPU so far: the parent reads it before and after what it sends.
    if (command === 'cpu') say({ cpu: cpu() })
    if (command === 'mem') say({ mem: { rss: rss(), heap: heap() } })
    if (command === 'same') { const runs = []; for (let k = 0; k < 7; k++) runs.push(await refresh(true)); say({ same: { refreshCpuMs: median(runs.map((r) => r.refreshCpuMs)), docCpuMs: median(runs.map((r) => r.docCpuMs)), changed: runs.some((r) => r.changed) } }) }
    if (command === 'one') say({ one: await refresh(true) })
    if (command === 'template') {
      const t = app.catalogue.all().find((x) => x.name === 'tpl_0001')
      say({ template: { variables: Object.fromEntries(t.variables.map((v) => [v.name, 'x'])), params: t.variables.map(() => 'x') } })
    }
    if (command === 'exit') { await app.close(); process.exit(0) }
  }
})
say({ ready: true })
`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const quartiles = (xs) => { const v = [...xs].sort((a, b) => a - b); return [v[Math.floor((v.length - 1) / 4)], v[Math.ceil((v.length - 1) * 3 / 4)]] }

/** GET over the socket: the answer's bytes. */
async function get (pool, url) {
  const { statusCode, body } = await pool.request({ path: url, method: 'GET' })
  const bytes = Buffer.from(await body.arrayBuffer())
  if (statusCode !== 200) throw new Error(`${url} answered ${statusCode}`)
  return bytes
}

/**
 * The service's CPU per send (user + system, read in the service before and after each round),
 * on the per-template route and on the kind route with the same template: warm-up, then rounds
 * in alternating order, paired; the median round of each and the median paired difference.
 */
async function measureSends (pool, ask) {
  const { template } = await ask('template')
  const to = '+593 98 765 4321'
  const routes = {
    perTemplate: ['/v1/templates/tpl_0001', JSON.stringify({ to, variables: template.variables })],
    kind: ['/v1/messages/text', JSON.stringify({ to, template: 'tpl_0001', language: 'es', params: template.params })]
  }
  const round = async ([url, payload], n) => {
    const c0 = (await ask('cpu')).cpu
    await post(pool, url, payload, n)
    return ((await ask('cpu')).cpu - c0) * 1000 / n
  }
  for (let r = 0; r < 3; r++) {
    await round(routes.perTemplate, 500)
    await round(routes.kind, 500)
  }
  const perTemplate = []
  const kind = []
  for (let r = 0; r < ROUNDS; r++) {
    // Alternating order, so a drift of the machine's load does not favour one route.
    if (r % 2 === 0) {
      perTemplate.push(await round(routes.perTemplate, SENDS))
      kind.push(await round(routes.kind, SENDS))
    } else {
      kind.push(await round(routes.kind, SENDS))
      perTemplate.push(await round(routes.perTemplate, SENDS))
    }
  }
  const differences = perTemplate.map((x, i) => x - kind[i])
  return { perTemplateUs: median(perTemplate), kindUs: median(kind), differenceUs: median(differences), differenceQuartilesUs: quartiles(differences), rounds: { perTemplate, kind, differences } }
}

async function runChild (standIn, keepDocument) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-catalogue-'))
  const file = path.join(dir, 'child.mjs')
  writeFileSync(file, CHILD)
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  const child = spawn(process.execPath, ['--expose-gc', file], { env: { ...process.env, STAND_IN: standIn.url }, stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT })
  let buffer = ''
  const waiters = []
  const unread = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    buffer += chunk
    let i
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, i))
      buffer = buffer.slice(i + 1)
      const waiter = waiters.shift()
      if (waiter === undefined) unread.push(line)
      else waiter(line)
    }
  })
  const next = () => unread.length > 0 ? Promise.resolve(unread.shift()) : new Promise((resolve) => waiters.push(resolve))
  const ask = (command) => {
    const answered = next()
    child.stdin.write(`${command}\n`)
    return answered
  }
  const { startup } = await next()
  await next() // ready
  const pool = new Pool(`http://127.0.0.1:${startup.port}`, { connections: CONNECTIONS })
  // /docs/json over the socket: its bytes, and the service's CPU for the first build and for a cached answer.
  let c = (await ask('cpu')).cpu
  const at = performance.now()
  const first = await get(pool, '/docs/json')
  startup.docFirstMs = performance.now() - at
  startup.docFirstCpuMs = (await ask('cpu')).cpu - c
  startup.docBytes = first.length
  const document = keepDocument ? JSON.parse(first.toString('utf8')) : null
  c = (await ask('cpu')).cpu
  await get(pool, '/docs/json')
  startup.docCachedCpuMs = (await ask('cpu')).cpu - c
  // Memory with the document built: the answers went out over the socket, so only the service's own copy is left.
  const { mem } = await ask('mem')
  startup.rssWithDoc = mem.rss
  startup.heapWithDoc = mem.heap
  const { same } = await ask('same')
  standIn.change()
  const { one } = await ask('one')
  const sends = await measureSends(pool, ask)
  await pool.close()
  child.stdin.write('exit\n')
  await once(child, 'exit')
  rmSync(dir, { recursive: true, force: true })
  return { startup, same, one, sends, document }
}

// ---------------------------------------------------------------------------------------------
// A typed client from the 1,000-template document: openapi-typescript, then tsc on a small caller.

async function typedClient (document, name) {
  const { default: openapiTS, astToString } = await import('openapi-typescript')
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-client-'))
  try {
    let at = process.hrtime.bigint()
    const types = astToString(await openapiTS(document))
    const generateMs = Number(process.hrtime.bigint() - at) / 1e6
    writeFileSync(path.join(dir, 'api.ts'), types)
    writeFileSync(path.join(dir, 'caller.ts'), `import createClient from 'openapi-fetch'
import type { paths } from './api.js'
const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:3000' })
export async function send (): Promise<void> {
  await client.POST('/v1/templates/${name}', { body: { to: '+593 98 765 4321', variables: { nombre: 'a', pedido: 'b', fecha: 'c', monto: 'd' } } })
  // @ts-expect-error monto is a required variable of ${name}
  await client.POST('/v1/templates/${name}', { body: { to: '+593 98 765 4321', variables: { nombre: 'a', pedido: 'b', fecha: 'c' } } })
}
`)
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true }, files: ['caller.ts'] }))
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    at = process.hrtime.bigint()
    const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir, '--extendedDiagnostics'], { encoding: 'utf8' })
    const checkMs = Number(process.hrtime.bigint() - at) / 1e6
    const memory = /Memory used:\s+(\d+)K/.exec(tsc.stdout)?.[1]
    return { typesBytes: Buffer.byteLength(types), generateMs, checkMs, ok: tsc.status === 0, tscMemoryMB: memory === undefined ? null : Math.round(Number(memory) / 1024), errors: tsc.status === 0 ? '' : tsc.stdout.split('\n').filter((l) => l.includes('error')).slice(0, 5).join('\n') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------

const standIn = await startStandIn()
const results = {}
let bigDocument = null
for (const n of SIZES) {
  standIn.set(generate(n))
  const out = await runChild(standIn, n === Math.max(...SIZES))
  if (out.document !== null) bigDocument = out.document
  results[n] = { startup: out.startup, same: out.same, one: out.one, sends: out.sends }
  const s = out.startup
  const q = out.sends.differenceQuartilesUs
  process.stdout.write(`${n} templates: start-up ${s.processMs.toFixed(0)} ms (buildApp ${s.buildMs.toFixed(0)} ms, CPU ${s.cpuMs.toFixed(0)} ms), RSS ${(s.rssReady / 1048576).toFixed(1)} MB ` +
    `(heap ${(s.heapReady / 1048576).toFixed(1)} MB), with /docs/json built ${(s.rssWithDoc / 1048576).toFixed(1)} MB (heap ${(s.heapWithDoc / 1048576).toFixed(1)} MB); /docs/json ${s.docBytes} bytes, first build ${s.docFirstCpuMs.toFixed(0)} ms CPU, cached ${s.docCachedCpuMs.toFixed(1)} ms; ` +
    `refresh, no change: ${out.same.refreshCpuMs.toFixed(1)} ms CPU (changed: ${out.same.changed}, document ${out.same.docCpuMs.toFixed(1)} ms); ` +
    `one template changed: ${out.one.refreshCpuMs.toFixed(1)} ms CPU + document ${out.one.docCpuMs.toFixed(1)} ms; ` +
    `service CPU per send over sockets: per-template ${out.sends.perTemplateUs.toFixed(1)} µs, kind route ${out.sends.kindUs.toFixed(1)} µs, ` +
    `paired difference ${out.sends.differenceUs.toFixed(1)} µs (quartiles ${q[0].toFixed(1)} to ${q[1].toFixed(1)})\n`)
}
await standIn.close()

const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)]
const a = results[small].startup
const b = results[large].startup
const per = (x, y) => (x / (large - small))
process.stdout.write(`\nper template (${small} → ${large}): ready RSS ${(per(b.rssReady - a.rssReady) / 1024).toFixed(1)} KB, heap ${(per(b.heapReady - a.heapReady) / 1024).toFixed(1)} KB; with the document built RSS ${(per(b.rssWithDoc - a.rssWithDoc) / 1024).toFixed(1)} KB, heap ${(per(b.heapWithDoc - a.heapWithDoc) / 1024).toFixed(1)} KB; /docs/json ${(per(b.docBytes - a.docBytes) / 1024).toFixed(2)} KB; start-up ${b.processMs >= a.processMs ? '+' : '−'}${Math.abs(b.processMs - a.processMs).toFixed(0)} ms\n`)
if (bigDocument !== null) {
  // The last template with four variables (the generated ones have 1 + i % 4): the caller names all four.
  let last = large - 1
  while (last % 4 !== 3) last--
  const client = await typedClient(bigDocument, `tpl_${String(last).padStart(4, '0')}`)
  results.typedClient = client
  process.stdout.write(`typed client from the ${large}-template document: types ${(client.typesBytes / 1024).toFixed(0)} KB generated in ${client.generateMs.toFixed(0)} ms; tsc ${client.checkMs.toFixed(0)} ms (${client.tscMemoryMB} MB), ${client.ok ? 'type-checks' : `FAILS:\n${client.errors}`}\n`)
}
mkdirSync(path.join(HERE, 'results'), { recursive: true })
writeFileSync(path.join(HERE, 'results', 'catalogue.json'), `${JSON.stringify(results, null, 2)}\n`)
