// Benchmark runner (`npm run bench`): stub, baseline, naive and the built service under autocannon, interleaved rounds.
//
// Layout: every target (stub, baseline, naive, service) is its own child process. With `taskset`
// and at least two allowed CPUs, the targets run on the first CPU and the stub plus this process
// (which runs autocannon in-process through its programmatic API) on the second; this process
// pins itself with `taskset -a -p` at start-up, so every thread it creates later inherits it.
//
// Latency: autocannon 8's own latency histogram stores whole milliseconds (a loopback p50 reads
// 0), so each 2xx response's hrtime-based `responseTime` from autocannon's 'response' event is
// recorded here, in microseconds, into a node:perf_hooks histogram.
import { execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createHistogram } from 'node:perf_hooks'
import readline from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { carousel } from '../dist/templates/carousel.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')
const RESULTS_DIR = path.join(HERE, 'results')

function envInt (name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

const QUICK = process.env.BENCH_QUICK === '1'
const SETTINGS = {
  quick: QUICK,
  rounds: QUICK ? 1 : envInt('BENCH_ROUNDS', 3),
  seconds: QUICK ? 2 : envInt('BENCH_SECONDS', 5),
  warmupSeconds: QUICK ? 1 : 2,
  connections: envInt('BENCH_CONNECTIONS', 50),
  pipelining: 1,
  delayMs: 20,
  // Distinct numbers the sends rotate over. At most 4,096: autocannon builds every request of the
  // list for each connection (20,000 took the load generator to 2.6 GB and timeouts), and 4,096 is
  // what src/phone.ts remembers; what a number read afresh costs is `npm run bench:steps`'s figure.
  recipients: envInt('BENCH_RECIPIENTS', 256),
  // Before each warm-up, wait (at most this many seconds over the whole benchmark) until the
  // machine's other CPU use is at most noisyOtherCpuPercent of one core; 0 disables the wait.
  quietWaitBudgetSeconds: process.env.BENCH_QUIET_WAIT === '0' ? 0 : envInt('BENCH_QUIET_WAIT', 60),
  noisyOtherCpuPercent: 25
}
if (SETTINGS.recipients > 4096) throw new Error('BENCH_RECIPIENTS must be at most 4096 (see SETTINGS.recipients)')

// ---------------------------------------------------------------------------------------------
// Machine, CPU pinning, /proc readings

function cpuList (text) {
  const cpus = []
  for (const part of text.trim().split(',')) {
    const [from, to = from] = part.split('-').map(Number)
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu)
  }
  return cpus
}

function allowedCpus () {
  try {
    const out = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
    return cpuList(out.slice(out.lastIndexOf(':') + 1))
  } catch {
    return null // no taskset
  }
}

const ALLOWED = allowedCpus()
const PIN = ALLOWED !== null && ALLOWED.length >= 2 ? { target: ALLOWED[0], load: ALLOWED[1] } : null
if (PIN !== null) execFileSync('taskset', ['-a', '-pc', String(PIN.load), String(process.pid)], { stdio: 'ignore' })

function clockTicks () {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
}
const CLK_TCK = clockTicks()

/** utime + stime of a process (all its threads), in clock ticks. */
function cpuTicks (pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** Busy ticks of the whole machine (all CPUs; idle and iowait excluded), and stolen ticks. */
function machineTicks () {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  return { busy: user + nice + system + irq + softirq, steal }
}

/** CPU ticks of this process and every child still running. */
function ownTicks () {
  let ticks = cpuTicks(process.pid)
  for (const proc of children) {
    try { ticks += cpuTicks(proc.pid) } catch {}
  }
  return ticks
}

let quietWaitUsed = 0

/** Wait until nothing else keeps the machine busy (within the budget); returns the seconds waited. */
async function waitForQuiet () {
  const started = Date.now()
  while (quietWaitUsed < SETTINGS.quietWaitBudgetSeconds) {
    const machine = machineTicks().busy
    const own = ownTicks()
    await sleep(500)
    const other = (machineTicks().busy - machine) - (ownTicks() - own)
    if (other / CLK_TCK / 0.5 * 100 <= SETTINGS.noisyOtherCpuPercent) break
    quietWaitUsed += 0.5
  }
  return (Date.now() - started) / 1000
}

/** Peak resident set size (VmHWM) in kB. */
function peakRssKb (pid) {
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? null : Number(match[1])
}

function machine () {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  let commit = null
  try {
    commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {}
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    allowedCpus: ALLOWED,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    taskset: PIN === null
      ? (ALLOWED === null ? 'not available' : 'available, but fewer than 2 allowed CPUs: not pinned')
      : `targets on CPU ${PIN.target}, stub + autocannon on CPU ${PIN.load}`,
    clockTicksPerSecond: CLK_TCK,
    commit
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set()

function startProcess ({ name, args, env, cpu, stdout = 'ignore' }) {
  const command = PIN === null ? process.execPath : 'taskset'
  const argv = PIN === null ? args : ['-c', String(cpu), process.execPath, ...args]
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...env },
    stdio: ['ignore', stdout, 'pipe']
  })
  const proc = { name, child, pid: child.pid, stderr: '', exited: false, stopping: false }
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => { proc.stderr = (proc.stderr + chunk).slice(-4000) })
  child.on('exit', (code, signal) => {
    proc.exited = true
    proc.exit = signal ?? code
    children.delete(proc)
  })
  children.add(proc)
  return proc
}

function assertAlive (proc) {
  if (proc.exited) throw new Error(`${proc.name} exited (${proc.exit}):\n${proc.stderr}`)
}

async function stopProcess (proc) {
  if (proc.exited) return
  proc.stopping = true
  const exited = once(proc.child, 'exit')
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

function killAll () {
  for (const proc of children) {
    try { proc.child.kill('SIGKILL') } catch {}
  }
}

async function startStub (delayMs) {
  const proc = startProcess({ name: `stub (${delayMs} ms)`, args: [path.join(HERE, 'stub.js')], env: { STUB_DELAY_MS: String(delayMs) }, cpu: PIN?.load, stdout: 'pipe' })
  const lines = readline.createInterface({ input: proc.child.stdout })
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line),
    once(proc.child, 'exit').then(() => null),
    sleep(10_000).then(() => null)
  ])
  lines.close()
  proc.child.stdout.resume()
  if (first === null) throw new Error(`the stub did not start:\n${proc.stderr}`)
  proc.port = JSON.parse(first).port
  return proc
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function httpRequest (port, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: body === undefined ? {} : { 'content-type': 'application/json' }, agent: false, timeout: 5000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

/** Wait until the port answers HTTP (any status). */
async function waitReady (proc, port, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    assertAlive(proc)
    try {
      await httpRequest(port, 'GET', '/health')
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${proc.name} did not answer on port ${port}: ${error.message}\n${proc.stderr}`)
      await sleep(50)
    }
  }
}

async function startTarget (name, args, env, port) {
  const fd = env.STDOUT_FILE === undefined ? null : fs.openSync(env.STDOUT_FILE, 'w')
  const proc = startProcess({ name, args, env: { ...env, PORT: String(port) }, cpu: PIN?.target, stdout: fd ?? 'ignore' })
  if (fd !== null) fs.closeSync(fd)
  proc.port = port
  await waitReady(proc, port)
  return proc
}

function startBaseline (stub, port, stdoutFile) {
  return startTarget('baseline', [path.join(HERE, 'baseline.js')], { UPSTREAM_URL: `http://127.0.0.1:${stub.port}`, BOT_ID: 'bot-123', ...(stdoutFile && { STDOUT_FILE: stdoutFile }) }, port)
}

function startNaive (stub, port) {
  return startTarget('naive', [path.join(HERE, 'naive.js')], { UPSTREAM_URL: `http://127.0.0.1:${stub.port}`, BOT_ID: 'bot-123' }, port)
}

function startService (stub, port, stdoutFile, extraEnv = {}) {
  return startTarget('service', [path.join(ROOT, 'dist', 'server.js')], {
    ...extraEnv,
    JELOU_CLIENT_ID: 'bench',
    JELOU_CLIENT_SECRET: 'bench',
    JELOU_BASE_URL: `http://127.0.0.1:${stub.port}`,
    JELOU_BOT_ID: 'bot-123',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ALLOW_ANONYMOUS: 'true',
    RATE_LIMIT_PER_MINUTE: '100000000',
    RECIPIENT_LIMIT: '100000000/60s',
    CALLBACK_URL_ALLOW: 'http://127.0.0.1:*',
    CALLBACK_SECRET: `whsec_${Buffer.from('bench-callback-secret-32-bytes!!').toString('base64')}`,
    ...(stdoutFile && { STDOUT_FILE: stdoutFile })
  }, port)
}

// ---------------------------------------------------------------------------------------------
// Request bodies: the phone number varies over SETTINGS.recipients numbers.

// +593 98 765 0000 onwards: valid Ecuadorian mobiles for up to 2.3 million recipients.
const phone = (i) => { const n = String(7650000 + i); return `+593 98 ${n.slice(0, 3)} ${n.slice(3)}` }
const digits = (i) => phone(i).replace(/\D/g, '')

const carouselExample = carousel.examples.carousel.value

const BODIES = {
  direct: (i) => ({ elementName: 'order_update', destinations: [digits(i)], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] }),
  text: (i) => ({ to: phone(i), template: 'order_update', language: 'es', params: ['Maria', 'ORD-1234'] }),
  // The per-template route of the same template; variable names from the stub's list labels.
  template: (i) => ({ to: phone(i), language: 'es', variables: { customerName: 'Maria', orderId: 'ORD-1234' } }),
  // The carousel route's own OpenAPI example (built output; `npm run bench` builds first), bot from JELOU_BOT_ID.
  carousel: (i) => ({ ...carouselExample, botId: undefined, to: phone(i) }),
  // The text send with a callbackUrl to a receiver that accepts connections and never answers.
  callback: (i) => ({ ...BODIES.text(i), callbackUrl: HANG.url })
}

/** A callback receiver that never answers: what a dead caller costs the send path. */
const HANG = { url: '', server: null }
async function startHang () {
  HANG.server = http.createServer(() => {})
  await new Promise((resolve) => HANG.server.listen(0, '127.0.0.1', resolve))
  HANG.url = `http://127.0.0.1:${HANG.server.address().port}/hsm-callbacks`
}

function requestsFor (target) {
  const requests = []
  for (let i = 0; i < SETTINGS.recipients; i++) {
    requests.push({ method: 'POST', path: target.path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODIES[target.body](i)) })
  }
  return requests
}

// ---------------------------------------------------------------------------------------------
// Measuring

function load (target, seconds, onResponse) {
  const instance = autocannon({
    url: `http://127.0.0.1:${target.proc.port}`,
    connections: SETTINGS.connections,
    pipelining: SETTINGS.pipelining,
    duration: seconds,
    requests: requestsFor(target)
  })
  if (onResponse !== undefined) instance.on('response', onResponse)
  return instance
}

const round3 = (x) => Math.round(x * 1000) / 1000

/**
 * Warm up, then one measured run. Besides the target's own CPU time, the machine's busy time is
 * read over the same window: what neither the target, the stub nor this process used is
 * "other CPU" (anything else running on the machine), reported so that a noisy run shows.
 */
async function measure (target, stub) {
  const { proc } = target
  assertAlive(proc)
  const quietWaitSeconds = await waitForQuiet()
  const warm = await load(target, SETTINGS.warmupSeconds)
  const histogram = createHistogram()
  const ours = () => cpuTicks(proc.pid) + (stub.pid === proc.pid ? 0 : cpuTicks(stub.pid)) + cpuTicks(process.pid)
  const machineBefore = machineTicks()
  const oursBefore = ours()
  const before = cpuTicks(proc.pid)
  const started = process.hrtime.bigint()
  const result = await load(target, SETTINGS.seconds, (client, statusCode, bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) histogram.record(Math.max(1, Math.round(responseTime * 1000)))
  })
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpuMicros = (cpuTicks(proc.pid) - before) * 1e6 / CLK_TCK
  const machineAfter = machineTicks()
  const otherTicks = Math.max(0, (machineAfter.busy - machineBefore.busy) - (ours() - oursBefore))
  const percentOfCore = (ticks) => Math.round(ticks / CLK_TCK / wallSeconds * 1000) / 10
  assertAlive(proc)
  const completed = result.requests.total
  const bad = result.errors + result.timeouts + result.non2xx
  return {
    target: target.name,
    rps: result.requests.average,
    rpsFromTotal: Math.round(completed / result.duration),
    p50Ms: round3(histogram.percentile(50) / 1000),
    p99Ms: round3(histogram.percentile(99) / 1000),
    maxMs: round3(histogram.max / 1000),
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    cpuMicrosPerSend: completed > 0 ? Math.round(cpuMicros / completed * 10) / 10 : null,
    cpuPercent: Math.round(cpuMicros / 1e6 / wallSeconds * 1000) / 10,
    peakRssMb: Math.round(peakRssKb(proc.pid) / 1024 * 10) / 10,
    otherCpuPercent: percentOfCore(otherTicks),
    stealPercent: percentOfCore(machineAfter.steal - machineBefore.steal),
    quietWaitSeconds,
    completed,
    sent: result.requests.sent,
    '2xx': result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
    flagged: bad > 0,
    warmup: { completed: warm.requests.total, sent: warm.requests.sent, '2xx': warm['2xx'], non2xx: warm.non2xx, errors: warm.errors + warm.timeouts }
  }
}

/** One request before loading: the target must answer 2xx, else the run stops with its answer. */
async function sanity (target) {
  // A target just started may still shed (503) while its event-loop delay sample holds the start-up's module loading.
  let answer
  for (let tries = 0; tries < 20; tries++) {
    answer = await httpRequest(target.proc.port, 'POST', target.path, JSON.stringify(BODIES[target.body](0)))
    if (answer.status !== 503) break
    await sleep(500)
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new Error(`${target.name}: POST ${target.path} answered ${answer.status}: ${answer.text.slice(0, 1000)}\n${target.proc.stderr}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

function median (values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const METRICS = ['rps', 'p50Ms', 'p99Ms', 'cpuMicrosPerSend', 'cpuPercent', 'peakRssMb', 'otherCpuPercent', 'stealPercent']

function summarize (runs) {
  const out = {}
  for (const metric of METRICS) out[metric] = median(runs.map((run) => run[metric]))
  out.peakRssMb = Math.max(...runs.map((run) => run.peakRssMb))
  out.badResponses = runs.reduce((sum, run) => sum + run.non2xx + run.errors + run.timeouts, 0)
  return out
}

const RATIO_METRICS = ['rps', 'p50Ms', 'p99Ms', 'cpuMicrosPerSend']
const RATIOS = [
  ['service-text', 'baseline'], ['service-text', 'naive'],
  ['service-carousel', 'baseline'], ['service-carousel', 'naive'],
  ['service-template', 'service-text'], ['service-traced', 'service-text']
]

function ratios (rounds) {
  const out = {}
  for (const [a, b] of RATIOS) {
    const key = `${a}/${b}`
    out[key] = {}
    for (const metric of RATIO_METRICS) {
      out[key][metric] = median(rounds.map((round) => round[a][metric] / round[b][metric]))
    }
  }
  return out
}

const fmt = (value, digits = 0) => value === null || value === undefined ? 'n/a' : value.toFixed(digits)

function markdown (report) {
  const lines = []
  const { settings, machine: m } = report
  lines.push('## Benchmark results', '')
  lines.push(`Machine: ${m.cpuModel}, ${m.cores} cores; Node ${m.node}; ${m.os}; taskset: ${m.taskset}.`)
  lines.push(`Run: ${settings.rounds} interleaved round(s); per target ${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured; autocannon, ${settings.connections} connections, pipelining ${settings.pipelining}; ${settings.recipients} recipient numbers in rotation. Medians over rounds (peak RSS: max). Commit ${m.commit ?? 'unknown'}, ${report.date}.`)
  lines.push('')
  lines.push('| target | req/s | p50 ms | p99 ms | CPU µs/send | CPU % | peak RSS MB | non-2xx / errors | other CPU % |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const [name, s] of Object.entries(report.medians)) lines.push(row(name, s))
  lines.push('')
  lines.push('CPU µs/send: the target process\'s user + system time over the measured window divided by the answered requests (for `direct`, the stub\'s). CPU %: of one core. Other CPU %: busy time of the whole machine not used by the target, the stub or the load generator, in % of one core; a high value means something else was running and the run is noisy.')
  lines.push('')
  lines.push('Ratios, computed per round from the same round, then the median:', '')
  lines.push('| ratio | req/s | p50 | p99 | CPU µs/send |')
  lines.push('|---|---:|---:|---:|---:|')
  for (const [key, r] of Object.entries(report.ratios)) {
    lines.push(`| ${key} | ${fmt(r.rps, 2)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.cpuMicrosPerSend, 2)} |`)
  }
  lines.push('')
  for (const [name, added] of Object.entries(report.cpuAddedOverText)) {
    lines.push(`CPU µs/send added over \`/v1/messages/text\` by ${LABELS[name]} (median of per-round differences): **${fmt(added.median, 1)}** (per round: ${added.perRound.map((x) => fmt(x, 1)).join(', ')}).`)
  }
  const d = report.delayed
  lines.push('')
  lines.push(`Stub answering after ${d.delayMs} ms, the realistic case (fresh processes, same rounds, warm-up, connections and durations; medians):`, '')
  lines.push('| target | req/s | p50 ms | p99 ms | CPU µs/send | CPU % | peak RSS MB | non-2xx / errors | other CPU % |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const [name, s] of Object.entries(d.medians)) lines.push(row(name, s))
  lines.push('')
  lines.push(`p99 added over the baseline by the service (median of per-round differences): **${fmt(d.p99AddedOverBaselineMs, 3)} ms** (per round: ${d.p99AddedPerRoundMs.map((x) => fmt(x, 3)).join(', ')}); p50 added: ${fmt(d.p50AddedOverBaselineMs, 3)} ms.`)
  lines.push('')
  for (const [name, check] of Object.entries(d.logLines)) {
    lines.push(`Log lines (${d.delayMs} ms runs, ${LABELS[name]}): ${check.outcomeLines} send lines (${check.sentLines} "sent") for ${check.completed} answered and ${check.sent} sent requests: ${check.ok ? 'one line per send' : '**NOT one line per send** ⚠'}.`)
  }
  if (report.flagged.length > 0) {
    lines.push('', '**Runs with errors or non-2xx answers:**', '')
    for (const flag of report.flagged) lines.push(`- ${flag}`)
  }
  if (report.noisy.length > 0) {
    lines.push('', `**Noisy runs** (something else used more than ${settings.noisyOtherCpuPercent}% of a core; ${report.quietWaitSeconds} s spent waiting for a quiet machine): ${report.noisy.length} of ${report.runCount}. Rerun on a quiet machine before quoting these numbers.`)
  }
  return lines.join('\n')
}

function row (name, s) {
  const bad = s.badResponses === 0 ? '0' : `**${s.badResponses}** ⚠`
  const other = s.otherCpuPercent > SETTINGS.noisyOtherCpuPercent ? `**${fmt(s.otherCpuPercent)}** ⚠` : fmt(s.otherCpuPercent)
  return `| ${LABELS[name]} | ${fmt(s.rps)} | ${fmt(s.p50Ms, 3)} | ${fmt(s.p99Ms, 3)} | ${fmt(s.cpuMicrosPerSend, 1)} | ${fmt(s.cpuPercent)} | ${fmt(s.peakRssMb, 1)} | ${bad} | ${other} |`
}

const LABELS = {
  direct: 'direct (autocannon → stub, the ceiling)',
  baseline: 'baseline (Fastify + undici + TypeBox + pino)',
  naive: 'naive (Express + axios)',
  'service-text': 'service, `/v1/messages/text`',
  'service-carousel': 'service, `/v1/messages/carousel`',
  'service-template': 'service, `/v1/templates/order_update`',
  'service-traced': 'service with tracing on (OTLP to the stub), `/v1/messages/text`',
  'service-callback': 'service, `/v1/messages/text` with a `callbackUrl` that never answers'
}

function progress (label, r) {
  const warn = r.flagged ? `  ⚠ non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}` : ''
  process.stderr.write(`${label.padEnd(16)} ${r.target.padEnd(17)} ${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50Ms, 3)} ms  p99 ${fmt(r.p99Ms, 3)} ms  ${fmt(r.cpuMicrosPerSend, 1)} µs/send  other CPU ${fmt(r.otherCpuPercent)}%${warn}\n`)
}

async function countLogLines (file) {
  let outcomeLines = 0
  let sentLines = 0
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
  for await (const line of lines) {
    if (line.includes('"outcome":')) outcomeLines++
    if (line.includes('"outcome":"sent"')) sentLines++
  }
  return { outcomeLines, sentLines }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main () {
  const report = { date: new Date().toISOString(), machine: machine(), settings: SETTINGS }
  const plan = SETTINGS.rounds * 11 * (SETTINGS.warmupSeconds + SETTINGS.seconds)
  const limit = plan + SETTINGS.quietWaitBudgetSeconds + 120
  setTimeout(() => {
    process.stderr.write(`bench: stopped after the ${limit} s time limit\n`)
    killAll()
    process.exit(2)
  }, limit * 1000).unref()
  process.stderr.write(`bench: ${SETTINGS.rounds} round(s), about ${Math.ceil(plan / 60 + 0.3)} min (plus up to ${SETTINGS.quietWaitBudgetSeconds} s waiting for a quiet machine); ${report.machine.taskset}\n`)

  if (!fs.existsSync(path.join(ROOT, 'dist', 'server.js'))) throw new Error('dist/server.js is missing: run `npm run build` first (npm run bench does)')

  const stub = await startStub(0)
  await startHang()
  const [baselinePort, naivePort, servicePort, tracedPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const baseline = await startBaseline(stub, baselinePort)
  const naive = await startNaive(stub, naivePort)
  const service = await startService(stub, servicePort)
  // Tracing on (SPEC §19): every span exported over OTLP/HTTP to the stub, batched as in production.
  const traced = await startService(stub, tracedPort, undefined, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${stub.port}`, OTEL_SERVICE_NAME: 'bench' })

  const targets = [
    { name: 'direct', proc: stub, path: '/v2/whatsapp/bot-123/hsm', body: 'direct' },
    { name: 'baseline', proc: baseline, path: '/v1/messages/text', body: 'text' },
    { name: 'naive', proc: naive, path: '/v1/messages/text', body: 'text' },
    { name: 'service-text', proc: service, path: '/v1/messages/text', body: 'text' },
    { name: 'service-carousel', proc: service, path: '/v1/messages/carousel', body: 'carousel' },
    { name: 'service-template', proc: service, path: '/v1/templates/order_update', body: 'template' },
    { name: 'service-traced', proc: traced, path: '/v1/messages/text', body: 'text' },
    // Last in each round: its callbacks keep the service's queue busy for a while after it.
    { name: 'service-callback', proc: service, path: '/v1/messages/text', body: 'callback' }
  ]
  for (const target of targets) await sanity(target)

  report.rounds = []
  for (let round = 1; round <= SETTINGS.rounds; round++) {
    const results = {}
    for (const target of targets) {
      results[target.name] = await measure(target, stub)
      progress(`round ${round}`, results[target.name])
    }
    report.rounds.push(results)
  }
  for (const proc of [baseline, naive, service, traced, stub]) await stopProcess(proc)
  HANG.server.closeAllConnections()
  HANG.server.close()

  report.medians = Object.fromEntries(targets.map(({ name }) => [name, summarize(report.rounds.map((round) => round[name]))]))
  report.ratios = ratios(report.rounds)
  // Same process or same build, same round: what the per-template route and tracing add per send.
  report.cpuAddedOverText = Object.fromEntries(['service-template', 'service-traced', 'service-callback'].map((name) => {
    const perRound = report.rounds.map((round) => round[name].cpuMicrosPerSend - round['service-text'].cpuMicrosPerSend)
    return [name, { median: median(perRound), perRound }]
  }))

  // The realistic case: the stub answers after 20 ms. Fresh processes; the proxies' stdout goes
  // to files so the run can also check one log line per send (both proxies pay the same file writes).
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jelou-bench-'))
  try {
    const slowStub = await startStub(SETTINGS.delayMs)
    const files = { baseline: path.join(tmp, 'baseline.log'), 'service-text': path.join(tmp, 'service.log') }
    const slowBaseline = await startBaseline(slowStub, await freePort(), files.baseline)
    const slowService = await startService(slowStub, await freePort(), files['service-text'])
    const slowTargets = [
      { ...targets[0], proc: slowStub },
      { ...targets[1], proc: slowBaseline },
      { ...targets[3], proc: slowService }
    ]
    for (const target of slowTargets) await sanity(target)
    const rounds = []
    for (let round = 1; round <= SETTINGS.rounds; round++) {
      const results = {}
      for (const target of slowTargets) {
        results[target.name] = await measure(target, slowStub)
        progress(`${SETTINGS.delayMs} ms round ${round}`, results[target.name])
      }
      rounds.push(results)
    }
    for (const proc of [slowBaseline, slowService, slowStub]) await stopProcess(proc)
    const logLines = {}
    for (const [name, file] of Object.entries(files)) {
      const runs = rounds.map((round) => round[name])
      // The sanity request, the warm-ups and the measured runs. Requests cut off when autocannon
      // stops may still be sent and logged, so the count must lie between answered and sent.
      const completed = 1 + runs.reduce((sum, run) => sum + run.warmup.completed + run.completed, 0)
      const sent = 1 + runs.reduce((sum, run) => sum + run.warmup.sent + run.sent, 0)
      const counts = await countLogLines(file)
      logLines[name] = { ...counts, completed, sent, ok: counts.outcomeLines >= completed && counts.outcomeLines <= sent }
    }
    const added = (metric) => rounds.map((round) => round3(round['service-text'][metric] - round.baseline[metric]))
    report.delayed = {
      delayMs: SETTINGS.delayMs,
      rounds,
      medians: Object.fromEntries(slowTargets.map(({ name }) => [name, summarize(rounds.map((round) => round[name]))])),
      p99AddedPerRoundMs: added('p99Ms'),
      p99AddedOverBaselineMs: median(added('p99Ms')),
      p50AddedOverBaselineMs: median(added('p50Ms')),
      logLines
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }

  report.flagged = []
  report.noisy = []
  report.rounds.forEach((round, i) => {
    for (const run of Object.values(round)) {
      if (run.flagged) report.flagged.push(`round ${i + 1} ${run.target}: non-2xx ${run.non2xx} ${JSON.stringify(run.statusCodes)}, errors ${run.errors}, timeouts ${run.timeouts}`)
      if (run.otherCpuPercent > SETTINGS.noisyOtherCpuPercent) report.noisy.push(`round ${i + 1} ${run.target}: other CPU ${run.otherCpuPercent}%`)
    }
  })
  report.delayed.rounds.forEach((round, i) => {
    for (const run of Object.values(round)) {
      if (run.flagged) report.flagged.push(`${SETTINGS.delayMs} ms round ${i + 1} ${run.target}: non-2xx ${run.non2xx} ${JSON.stringify(run.statusCodes)}, errors ${run.errors}, timeouts ${run.timeouts}`)
      if (run.otherCpuPercent > SETTINGS.noisyOtherCpuPercent) report.noisy.push(`${SETTINGS.delayMs} ms round ${i + 1} ${run.target}: other CPU ${run.otherCpuPercent}%`)
    }
  })

  report.quietWaitSeconds = quietWaitUsed
  report.runCount = report.rounds.length * Object.keys(report.rounds[0] ?? {}).length + report.delayed.rounds.length * 3
  const text = markdown(report)
  report.markdown = text
  fs.mkdirSync(RESULTS_DIR, { recursive: true })
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${text}\n\nWritten to ${path.relative(ROOT, path.join(RESULTS_DIR, 'latest.json'))}\n`)
}

// ---------------------------------------------------------------------------------------------
// Soak (BENCH_SOAK=1): memory with a full idempotency store. Unique Idempotency-Keys until the
// memory store holds IDEMPOTENCY_MAX_KEYS, then as many again (eviction at work); resident memory
// and heap are sampled every second. Bounded by BENCH_SOAK_SENDS and BENCH_SOAK_SECONDS.

function vmRssKb (pid) {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? null : Number(match[1])
}

function metricValue (text, name) {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return match === null ? null : Number(match[1])
}

async function soak () {
  const maxKeys = envInt('BENCH_SOAK_KEYS', 50_000)
  const sends = envInt('BENCH_SOAK_SENDS', maxKeys * 2)
  const limitSeconds = envInt('BENCH_SOAK_SECONDS', 600)
  if (!fs.existsSync(path.join(ROOT, 'dist', 'server.js'))) throw new Error('dist/server.js is missing: run `npm run build` first (npm run bench does)')
  setTimeout(() => {
    process.stderr.write(`bench: soak stopped after the ${limitSeconds + 60} s time limit\n`)
    killAll()
    process.exit(2)
  }, (limitSeconds + 60) * 1000).unref()
  process.stderr.write(`bench: soak, ${sends} sends with unique keys into a store of ${maxKeys}, at most ${limitSeconds} s\n`)

  const stub = await startStub(0)
  // BENCH_SOAK_NODE_OPTIONS: e.g. the heap limits Node sets itself in a 512 MB container
  // (`--max-old-space-size=256 --max-semi-space-size=2`: a quarter of the memory, times two on 64 bits).
  const nodeOptions = process.env.BENCH_SOAK_NODE_OPTIONS
  const service = await startService(stub, await freePort(), undefined, { IDEMPOTENCY_MAX_KEYS: String(maxKeys), LOG_LEVEL: 'warn', ...(nodeOptions !== undefined && nodeOptions !== '' && { NODE_OPTIONS: nodeOptions }) })
  const idleRssMb = vmRssKb(service.pid) / 1024
  // Idle, settled: V8's memory reducer releases the start-up garbage after some seconds without
  // work; the lowest resident memory within BENCH_SOAK_IDLE_SECONDS (0: not waited for).
  let settledRssMb = idleRssMb
  for (let second = 0; second < envInt('BENCH_SOAK_IDLE_SECONDS', 45); second++) {
    await sleep(1000)
    settledRssMb = Math.min(settledRssMb, vmRssKb(service.pid) / 1024)
  }
  process.stderr.write(`soak: resident memory ${Math.round(idleRssMb)} MB once ready, ${Math.round(settledRssMb)} MB idle after V8 released the start-up garbage\n`)
  const samples = []
  let full = null
  const sample = async () => {
    const metrics = (await httpRequest(service.port, 'GET', '/metrics')).text
    const point = {
      seconds: samples.length,
      keys: metricValue(metrics, 'hsm_idempotency_keys'),
      rssMb: Math.round(vmRssKb(service.pid) / 1024),
      heapUsedMb: Math.round(metricValue(metrics, 'nodejs_heap_size_used_bytes') / 1048576)
    }
    samples.push(point)
    if (full === null && point.keys >= maxKeys) full = point
    process.stderr.write(`soak ${String(point.seconds).padStart(4)} s  keys ${String(point.keys).padStart(8)}  RSS ${point.rssMb} MB  heap ${point.heapUsedMb} MB\n`)
  }
  const sampling = { on: true }
  const sampler = (async () => {
    while (sampling.on) {
      await sleep(1000)
      await sample()
    }
  })()
  let answered = 0
  const statusCodes = {}
  const instance = autocannon({
    url: `http://127.0.0.1:${service.port}`,
    connections: SETTINGS.connections,
    amount: sends,
    requests: [{
      method: 'POST',
      path: '/v1/messages/text',
      setupRequest: (request) => ({ ...request, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: JSON.stringify(BODIES.text(answered % SETTINGS.recipients)) })
    }]
  })
  instance.on('response', (_client, statusCode) => {
    answered++
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1
  })
  const stop = setTimeout(() => instance.stop(), limitSeconds * 1000)
  await instance
  clearTimeout(stop)
  sampling.on = false
  await sampler
  await sample()
  const peakRssMb = Math.round(peakRssKb(service.pid) / 1024)
  for (const proc of [service, stub]) await stopProcess(proc)
  const last = samples.at(-1)
  const report = {
    machine: machine(),
    maxKeys,
    sends: answered,
    statusCodes,
    idleRssMb: Math.round(idleRssMb),
    settledIdleRssMb: Math.round(settledRssMb),
    atFullStore: full,
    end: last,
    peakRssMb,
    // What the full store adds over the idle process, per key (resident memory includes heap slack).
    rssPerKeyBytes: full === null ? null : Math.round((last.rssMb - idleRssMb) * 1048576 / last.keys),
    samples
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true })
  fs.writeFileSync(path.join(RESULTS_DIR, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`)
  const { samples: _, machine: __, ...summary } = report
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n\nWritten to ${path.relative(ROOT, path.join(RESULTS_DIR, 'soak.json'))}\n`)
  if (full === null) throw new Error(`the store never filled: ${answered} answers, ${JSON.stringify(statusCodes)}`)
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping every child process\n`)
    killAll()
    process.exit(130)
  })
}
process.on('exit', killAll)

try {
  await (process.env.BENCH_SOAK === '1' ? soak() : main())
} catch (error) {
  process.stderr.write(`bench: ${error.stack ?? error}\n`)
  killAll()
  process.exitCode = 1
}
