// `npm run bench:instructions`: what a per-template send costs against a kind-route send, counted
// in machine instructions, which do not move with the machine's other load (CPU seconds on these
// shared machines vary by tens of µs a send from one round to the next, ten times the 3 µs asked).
//
// The built service runs in live mode (20 generated templates on the stand-in of bench/account.js,
// in this process, on loopback) and this process sends to it over real sockets, 4 at a time: one
// template, on its per-template route (`variables` by name) and on its kind route (`params`).
// 1. Under `valgrind --tool=callgrind`: after a long warm-up (V8 compiles the hot code in the first
//    ten thousand or so sends; under valgrind that compiling is most of what a short run counts),
//    each round zeroes callgrind's counters, sends BENCH_SENDS requests to one route and dumps the
//    count; the routes alternate, paired round by round. Counted: every instruction the service's
//    process runs in user space, its own and V8's (the garbage collector included); V8 compiling
//    is reported apart, and the kernel's work is not counted.
// 2. Without valgrind, the same service, warm-up and rounds: user CPU per send, to turn an
//    instruction difference into µs on this machine (µs per instruction of the kind route).
// Both run with V8's --single-threaded (no background compiling or GC threads), so that the two
// are the same program. Needs valgrind (Debian's package; callgrind_control is part of it).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { CONNECTIONS, generate, post, startStandIn } from './account.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')
const SENDS = Number(process.env.BENCH_SENDS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20000)
const TEMPLATES = 20
/** With BENCH_KEEP=<dir>, each round's callgrind dump is kept there (`callgrind_annotate <dir>/kind-1.out`) to see where a difference goes. */
const KEEP = process.env.BENCH_KEEP

// The service; on stdin, 'cpu' answers its user CPU so far (µs), 'exit' closes it. Its status store
// is kept full at 1,000 records, so every round runs at the same heap size (each send still writes one).
const CHILD = `
import { pino } from 'pino'
import { buildApp } from '${ROOT}/dist/app.js'
import { loadConfig } from '${ROOT}/dist/config.js'
const config = loadConfig({ JELOU_CLIENT_ID: 'bench', JELOU_CLIENT_SECRET: 'bench', JELOU_BASE_URL: process.env.STAND_IN, JELOU_BOT_ID: 'bot-123', ALLOW_ANONYMOUS: 'true', RECIPIENT_LIMIT: '1000000/60s', RATE_LIMIT_PER_MINUTE: '100000000', MAX_EVENT_LOOP_DELAY_MS: '0', LOG_LEVEL: 'silent', JELOU_TIMEOUT_MS: '30000', MESSAGE_MAX_RECORDS: '1000' })
const app = await buildApp(config, { logger: pino({ level: 'silent' }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const t = app.catalogue.all().find((x) => x.name === 'tpl_0001')
process.stdout.write(JSON.stringify({ port: app.server.address().port, variables: Object.fromEntries(t.variables.map((v) => [v.name, 'x'])), params: t.variables.map(() => 'x') }) + '\\n')
process.stdin.setEncoding('utf8')
process.stdin.on('data', async (command) => {
  if (command.startsWith('cpu')) { process.stdout.write(JSON.stringify({ user: process.cpuUsage().user }) + '\\n'); return }
  await app.close(); process.exit(0)
})
`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/**
 * One service (under callgrind or not): warm-up, then ROUNDS paired rounds. Per round and route,
 * what `measure(work)` reads around BENCH_SENDS sends, divided by the sends.
 */
async function run (standIn, valgrind) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-instructions-'))
  writeFileSync(path.join(dir, 'child.mjs'), CHILD)
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  const node = [process.execPath, '--single-threaded', path.join(dir, 'child.mjs')]
  const [command, ...args] = valgrind ? ['valgrind', '--tool=callgrind', `--callgrind-out-file=${dir}/cg.out`, '--dump-instr=no', ...node] : node
  const child = spawn(command, args, { env: { ...process.env, STAND_IN: standIn.url }, stdio: ['pipe', 'pipe', 'ignore'], cwd: ROOT })
  child.stdout.setEncoding('utf8')
  let closing = false
  child.once('exit', (code) => { if (!closing) { process.stderr.write(`the service${valgrind ? ' under valgrind' : ''} exited (${code}) before the benchmark ended\n`); process.exit(1) } })
  const ask = async (line) => { const answer = once(child.stdout, 'data'); child.stdin.write(`${line}\n`); return JSON.parse((await answer)[0]) }
  const [first] = await once(child.stdout, 'data')
  const { port, variables, params } = JSON.parse(first)
  const to = '+593 98 765 4321'
  const routes = {
    perTemplate: ['/v1/templates/tpl_0001', JSON.stringify({ to, variables })],
    kind: ['/v1/messages/text', JSON.stringify({ to, template: 'tpl_0001', language: 'es', params })]
  }
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS })

  let dumps = 0
  /** Instructions (all, and V8 compiling's) while `work` ran; or the user CPU in µs without valgrind. */
  async function measure (work, name) {
    if (!valgrind) {
      const before = (await ask('cpu')).user
      await work()
      return { total: (await ask('cpu')).user - before, compiling: 0, js: 0, fullCollection: 0 }
    }
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' })
    await work()
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' })
    const file = path.join(dir, `cg.out.${++dumps}`)
    const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(file, 'utf8'))
    if (totals === null) throw new Error(`no totals in ${file}`)
    const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')
    const inclusive = (entry) => {
      const line = annotated.find((l) => l.includes(entry))
      return line === undefined ? 0 : Number(line.trim().split(' ')[0].replaceAll(',', ''))
    }
    const compiling = inclusive('v8::internal::Compiler::CompileOptimized(') + inclusive('v8::internal::Compiler::Compile(')
    // V8's full collection: its marking (done in steps, spread over the sends before it) and its pause.
    const fullCollection = inclusive('MarkCompactCollector::ProcessMarkingWorklist(unsigned long)') + inclusive('v8::internal::Heap::MarkCompact()')
    // JavaScript running: V8's compiled code (no symbol: callgrind names its object `???`) and V8's
    // builtins (Builtins_*), exclusive counts. The garbage collector's share moves from round to
    // round; this part does not, and says where a difference is made.
    let js = 0
    for (const line of execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')) {
      const match = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*:(.*)$/.exec(line)
      if (match !== null && (match[2].endsWith('[???]') || match[2].includes('Builtins_'))) js += Number(match[1].replaceAll(',', ''))
    }
    if (KEEP !== undefined) {
      mkdirSync(KEEP, { recursive: true })
      renameSync(file, path.join(KEEP, `${name}-${dumps}.out`))
    } else {
      rmSync(file)
    }
    return { total: Number(totals[1]), compiling, js, fullCollection }
  }

  for (let i = 0; i < WARMUP; i += 100) {
    await post(pool, ...routes.perTemplate, 100)
    await post(pool, ...routes.kind, 100)
  }
  const figures = { perTemplate: [], kind: [], compiling: [], js: { perTemplate: [], kind: [] }, clean: { perTemplate: [], kind: [] } }
  for (let r = 0; r < ROUNDS; r++) {
    // Alternating order, so that neither route always follows the other.
    for (const name of r % 2 === 0 ? ['perTemplate', 'kind'] : ['kind', 'perTemplate']) {
      const { total, compiling, js, fullCollection } = await measure(() => post(pool, ...routes[name], SENDS), name)
      figures[name].push((total - compiling) / SENDS)
      figures.js[name].push(js / SENDS)
      // A round that holds part of one of V8's full collections (over 1,000 instructions a send of it).
      if (fullCollection / SENDS < 1000) figures.clean[name].push((total - compiling) / SENDS)
      figures.compiling.push(compiling / SENDS)
    }
    const unit = valgrind ? 'instructions' : 'µs of user CPU'
    process.stdout.write(`${valgrind ? 'callgrind' : 'plain'} round ${r + 1}: per-template ${figures.perTemplate[r].toFixed(valgrind ? 0 : 1)}, kind ${figures.kind[r].toFixed(valgrind ? 0 : 1)} ${unit} a send\n`)
  }
  await pool.close()
  closing = true
  child.stdin.write('exit\n')
  await once(child, 'exit')
  rmSync(dir, { recursive: true, force: true })
  const differences = figures.perTemplate.map((x, i) => x - figures.kind[i])
  const kindMedian = median(figures.kind)
  const perTemplateMedian = median(figures.perTemplate)
  // The difference of the medians: a round that holds one of V8's full collections (every few
  // thousand sends, some 150 000 instructions a send over a round of 2,000) is an outlier of
  // whichever route it falls on, and would be half of a paired difference.
  const cleanDifference = figures.clean.perTemplate.length > 0 && figures.clean.kind.length > 0 ? median(figures.clean.perTemplate) - median(figures.clean.kind) : NaN
  return { ...figures, differences, kindMedian, perTemplateMedian, difference: perTemplateMedian - kindMedian, compilingMax: Math.max(...figures.compiling), jsDifference: median(figures.js.perTemplate) - median(figures.js.kind), cleanDifference }
}

const standIn = await startStandIn()
standIn.set(generate(TEMPLATES))
const counted = await run(standIn, true)
const timed = await run(standIn, false)
await standIn.close()

const usPerInstruction = timed.kindMedian / counted.kindMedian
const result = {
  settings: { templates: TEMPLATES, warmup: WARMUP, sends: SENDS, rounds: ROUNDS, connections: CONNECTIONS },
  instructions: counted,
  userCpuUs: timed,
  usPerInstruction,
  differenceUs: counted.difference * usPerInstruction
}
const signed = (x, digits = 0) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`
process.stdout.write(`\nkind route: ${counted.kindMedian.toFixed(0)} instructions a send (${timed.kindMedian.toFixed(1)} µs of user CPU without valgrind); ` +
  `V8 compiling at most ${counted.compilingMax.toFixed(0)} instructions a send in any measured round\n` +
  `per-template − kind route: ${signed(counted.difference)} instructions a send (medians of ${ROUNDS} rounds of ${SENDS} each: ${counted.perTemplateMedian.toFixed(0)} against ${counted.kindMedian.toFixed(0)}; paired rounds ${counted.differences.map((d) => signed(d)).join(', ')}), ` +
  `${signed(100 * counted.difference / counted.kindMedian, 2)} %, which is ${signed(result.differenceUs, 2)} µs of user CPU at this machine's ${(usPerInstruction * 1000).toFixed(3)} ns an instruction\n` +
  `over the rounds without a full collection (${counted.clean.perTemplate.length} per-template, ${counted.clean.kind.length} kind): ${signed(counted.cleanDifference)} instructions a send, ${signed(counted.cleanDifference * usPerInstruction, 2)} µs\n` +
  `of which JavaScript running (V8's compiled code and builtins, not its collector): ${signed(counted.jsDifference)} instructions a send (medians ${median(counted.js.perTemplate).toFixed(0)} against ${median(counted.js.kind).toFixed(0)})\n` +
  `(the same difference timed without valgrind: ${signed(timed.difference, 1)} µs, rounds ${timed.differences.map((d) => signed(d, 1)).join(', ')})\n`)
mkdirSync(path.join(HERE, 'results'), { recursive: true })
writeFileSync(path.join(HERE, 'results', 'instructions.json'), `${JSON.stringify(result, null, 2)}\n`)
