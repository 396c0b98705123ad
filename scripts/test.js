#!/usr/bin/env node
// The test command's runner: `npm test` (build, lint, type check, OpenAPI lint, every test file) and
// `npm run test:files -- test/x.test.ts …` (those files only: no lint, no coverage floor).
// - Build and lint: `npm run build` (so the tests that run dist/ find it built), eslint, tsc --noEmit,
//   Spectral and Redocly over openapi/openapi.json, run while the test files run; one line when
//   clean, their whole output when not (after the files' lines).
// - Redis: uses REDIS_URL when set; otherwise starts its own redis-server on a free loopback port
//   (persistence off) and stops it at the end; without redis-server the Redis variants are
//   skipped, said in one line (under CI a missing redis-server fails the run instead).
// - Output: one line per test file, every failure in full at the end, then one summary line
//   `N passed, N failed, N skipped`.
// - Coverage: enforced on the whole suite only (no file arguments); without Redis the Redis
//   modules are left out of the measure, so the floor judges what ran. A miss names the metric.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Parser } from 'tap-parser'
import { parse } from 'yaml'

/** The floor lives in .taprc (so a bare `npx tap` enforces it too). */
const taprc = parse(readFileSync('.taprc', 'utf8'))
const FLOOR = { statements: taprc.statements, branches: taprc.branches, functions: taprc.functions, lines: taprc.lines }
/** Modules only a Redis run exercises: left out of the coverage measure when Redis is absent. */
const REDIS_ONLY = ['src/stores/redis.ts', 'src/status/redis.ts', 'src/plugins/redis.ts', 'src/queue/bullmq.ts']
const SUMMARY = '.tap/report/coverage-summary.json'
/** The lint caches (`npm run lint` uses the same). */
const ESLINT_CACHE = ['--cache', '--cache-strategy', 'content', '--cache-location', 'node_modules/.cache/eslint/']
const TSC_CACHE = ['--incremental', '--tsBuildInfoFile', 'node_modules/.cache/tsc/noemit.tsbuildinfo']

const args = process.argv.slice(2)
const lint = !args.includes('--no-lint')
const files = args.filter((arg) => arg !== '--no-lint')
const whole = files.length === 0
const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

function onPath (command) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${command}`))
}

async function freePort () {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function ping (port) {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('error', () => resolve(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
  })
}

/** REDIS_URL for the run and a stop function, or undefined when Redis tests are skipped. */
async function redis () {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: () => {}, own: false }
  if (!onPath('redis-server')) {
    if (ci) throw new Error('redis-server is not installed and REDIS_URL is not set: CI needs Redis (apt-get install redis-server)')
    console.log('Redis tests SKIPPED: redis-server is not installed (apt-get install redis-server, or set REDIS_URL) — see docs/tests.md')
    return undefined
  }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 100 && !(await ping(port)); i++) await sleep(50)
  if (!(await ping(port))) throw new Error(`redis-server did not answer on 127.0.0.1:${port}`)
  console.log(`Redis: started redis-server on 127.0.0.1:${port} for this run (stopped at the end)`)
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM'), own: true }
}

/**
 * tap runs each test file with the plugins its Test class was built with (node_modules/@tapjs/test/
 * test-built): the package ships one built with every default plugin, and `tap` rebuilds it for
 * .taprc's list only after it has started the run. So the first run after `npm ci` gave the test
 * files tap's TypeScript plugin (ts-node, type-checking the already transpiled source of any child
 * they spawn) beside our loader. Built here first when the lists differ (about 12 s, once).
 */
async function tapBuilt () {
  // In a process of its own: tap's config reads the command line, which holds this runner's arguments.
  const check = `const { TapConfig } = await import('@tapjs/config'); const { signature } = await import('@tapjs/test')
    process.exit((await TapConfig.load()).pluginSignature === signature ? 0 : 1)`
  const built = spawn(process.execPath, ['--input-type=module', '-e', check], { stdio: 'inherit' })
  if (await new Promise((resolve) => built.once('close', resolve)) === 0) return
  console.log('tap: building its Test class for the plugins in .taprc (once after npm ci)')
  const failure = await quietly('tap build', 'npx', ['tap', 'build'])
  if (failure !== '') throw new Error(failure)
}

function seconds (ms) { return `${(ms / 1000).toFixed(1)} s` }

/** Runs one lint command with its output captured: silent when it passes, all of it when it fails. */
async function quietly (name, command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const code = await new Promise((resolve) => child.once('close', resolve))
  return code === 0 ? '' : `✗ ${name} failed:\n${output}`
}

/**
 * The build and the four checks, one after another, while the test files run (the tests spend much of their
 * time waiting on sockets and timers): their report, printed after the files' lines.
 */
async function runLint () {
  const started = Date.now()
  const redocly = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  const failures = [
    // The build first: the tests that run dist/ (replica-crash, packaging) find it up to date
    // instead of each compiling it again at the same moment (about 30 s of CPU each on a fresh clone).
    await quietly('npm run build', 'npm', ['run', 'build']),
    // Both keep what they learnt under node_modules/.cache: a run after the first checks only what changed
    // (measured: eslint 20 s of CPU the first time, 3 s after; tsc 33 s, 8 s).
    await quietly('eslint', 'npx', ['eslint', '.', ...ESLINT_CACHE]),
    await quietly('tsc --noEmit', 'npx', ['tsc', '--noEmit', ...TSC_CACHE]),
    await quietly('spectral lint openapi/openapi.json', 'npx', ['spectral', 'lint', '--fail-severity=error', 'openapi/openapi.json']),
    await quietly('redocly lint openapi/openapi.json', 'npx', ['redocly', 'lint', 'openapi/openapi.json'], redocly)
  ].filter((failure) => failure !== '')
  const ok = failures.length === 0
  const report = [...failures, `${ok ? '✓' : '✗'} build and lint: npm run build, eslint, tsc --noEmit, spectral and redocly over openapi/openapi.json  ${seconds(Date.now() - started)}`]
  return { ok, report }
}

/** Runs tap with the raw TAP reporter and turns its stream into one line per file, failures at the end. */
async function runTap (env) {
  const args = ['tap', '--reporter=tap']
  if (whole) {
    args.push('--coverage-report=json-summary', '--allow-incomplete-coverage')
    // On the command line a list replaces .taprc's: its own exclusions (the TypeScript loader) go along.
    if (env.REDIS_URL === undefined) for (const file of [...(taprc['coverage-exclude'] ?? []), ...REDIS_ONLY]) args.push(`--coverage-exclude=${file}`)
  } else {
    args.push('--disable-coverage')
  }
  args.push(...files)
  const child = spawn('npx', args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const parser = new Parser()
  const failures = []
  let counts
  parser.on('assert', (result) => {
    const time = result.time === undefined ? '' : `  ${seconds(result.time)}`
    const mark = result.skip ? '-' : result.ok ? '✓' : '✗'
    console.log(`${mark} ${result.name}${time}${result.skip ? `  (skipped: ${result.skip})` : ''}`)
  })
  parser.on('fail', (result) => failures.push(result))
  parser.on('comment', (line) => {
    const match = /^# (\{ total: .*\})\s*$/.exec(line)
    if (match !== null) counts = Object.fromEntries([...match[1].matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]))
  })
  child.stdout.pipe(parser)
  const [code] = await Promise.all([
    new Promise((resolve) => child.once('close', resolve)),
    new Promise((resolve) => parser.once('complete', resolve))
  ])
  return { code, failures, counts }
}

/** Leaf failures only: a failed file or subtest whose failure is already listed by a child is left out. */
function printFailures (failures) {
  const names = failures.map((f) => f.fullname)
  const leaves = failures.filter((f) => !names.some((other) => other !== f.fullname && other.startsWith(`${f.fullname} `)))
  if (leaves.length === 0) return
  console.log(`\n${leaves.length} failure${leaves.length === 1 ? '' : 's'}:`)
  for (const failure of leaves) {
    console.log(`\n✗ ${failure.fullname}`)
    if (failure.diag !== undefined && failure.diag !== null) {
      // handles and requests: what a timed-out file still had open, hundreds of lines of little use.
      const { at, stack, source, diff, handles, requests, ...rest } = failure.diag
      const text = JSON.stringify(rest, null, 2)
      if (text !== '{}') console.log(text.replace(/^/gm, '    '))
      if (typeof diff === 'string') console.log(diff.replace(/^/gm, '    '))
      if (at !== undefined) console.log(`    at ${typeof at === 'object' ? `${at.fileName}:${at.lineNumber}:${at.columnNumber}` : at}`)
      if (source !== undefined) console.log(String(source).replace(/^/gm, '    | '))
    }
  }
}

/** The floor, read from the run's json-summary: a miss names the metric, the figure and the floor. */
function checkCoverage () {
  if (!existsSync(SUMMARY)) return ['coverage: no report was written (.tap/report/coverage-summary.json)']
  const total = JSON.parse(readFileSync(SUMMARY, 'utf8')).total
  const parts = Object.keys(FLOOR).map((metric) => `${metric} ${total[metric].pct.toFixed(2)} %`)
  console.log(`coverage: ${parts.join(', ')} (floor ${Object.values(FLOOR).join(' / ')})`)
  return Object.entries(FLOOR)
    .filter(([metric, floor]) => total[metric].pct < floor)
    .map(([metric, floor]) => `coverage: ${metric} ${total[metric].pct.toFixed(2)} % is below the floor of ${floor} % (npx tap report text lists the files; docs/tests.md)`)
}

const started = Date.now()
// The build and lint start first: on a fresh clone tap's build of its Test class (about 12 s, once) runs beside them.
const linting = lint ? runLint() : Promise.resolve({ ok: true, report: [] })
await tapBuilt()
const store = await redis()
const env = { ...process.env }
if (store !== undefined) env.REDIS_URL = store.url
else delete env.REDIS_URL
if (whole) rmSync(SUMMARY, { force: true })
let result
try {
  result = await runTap(env)
} finally {
  store?.stop()
}
const linted = await linting
for (const line of linted.report) console.log(line)
printFailures(result.failures)
const problems = whole ? checkCoverage() : []
for (const line of problems) console.log(line)
const { pass = 0, fail = 0, skip = 0, todo = 0 } = result.counts ?? {}
if (result.counts === undefined && result.code !== 0) console.log(`tap exited with code ${result.code} before its summary`)
console.log(`(${seconds(Date.now() - started)}${store === undefined ? ', Redis tests skipped' : ''}${whole ? '' : ', coverage not measured for a part of the suite'})`)
console.log(`${pass} passed, ${fail} failed${skip + todo > 0 ? `, ${skip + todo} skipped` : ''}`)
if (!linted.ok) console.log('lint failed (above)')
process.exit(result.code !== 0 || fail > 0 || problems.length > 0 || !linted.ok ? 1 : 0)
