// Docs are executed: every curl example in the README and docs/ runs against a fresh sandbox-mode
// service with the default settings, and answers what its page says it answers.
//
// How a page writes an example (docs/tests.md, "Examples are tests"):
// - a ```sh block holding `curl`; `http://127.0.0.1:3000` is the service (the test substitutes its own);
// - every curl command ends with `# → 202` (the status the page promises; its last line when continued with `\`);
//   a command may capture an answer for the next one, as in `id=$(curl … | node -p …)`;
// - a ```json block right after the ```sh block (only a line such as "answers `202`:" between them)
//   is the answer of the block's last curl: every field it shows must be in the real answer with
//   that value; a string holding "…" stands for any value, `{ … }` for any object.
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

interface Example {
  page: string
  line: number
  script: string
  expected: number[]
  answer?: unknown
}

const ROOT = new URL('../', import.meta.url)
const pages = ['README.md', ...readdirSync(new URL('docs/', ROOT)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** The examples of one page, in order. */
function examplesOf (page: string): Example[] {
  const text = readFileSync(new URL(page, ROOT), 'utf8')
  const blocks = [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] as string, body: m[2] as string, start: m.index, end: m.index + m[0].length }))
  const examples: Example[] = []
  blocks.forEach((block, i) => {
    if (block.lang !== 'sh' || !/(^|[;\s(])curl\s/m.test(block.body)) return
    // A command is its lines joined at trailing backslashes.
    const commands = block.body.replace(/\\\n/g, ' ').split('\n').filter((line) => /(^|[;\s(])curl\s/.test(line))
    const expected = commands.map((command) => Number(/#\s*→\s*(\d{3})\b/.exec(command)?.[1] ?? NaN))
    const next = blocks[i + 1]
    const between = next === undefined ? '' : text.slice(block.end, next.start).trim()
    const answer = next?.lang === 'json' && !between.includes('\n') ? parseDocumented(next.body) : undefined
    examples.push({ page, line: text.slice(0, block.start).split('\n').length, script: block.body, expected, answer })
  })
  return examples
}

const ANY = Symbol('any')

/** The documented answer as a pattern: `{ … }`, `[ … ]` and strings holding "…" match anything. */
function parseDocumented (json: string): unknown {
  const parsed = JSON.parse(json.replace(/\{ … \}|\[ … \]/g, '"…"')) as unknown
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string' && value.includes('…')) return ANY
    if (Array.isArray(value)) return value.map(walk)
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]))
    return value
  }
  return walk(parsed)
}

/** Where `actual` differs from the documented pattern, as JSON pointers; empty when it fits. */
function differences (pattern: unknown, actual: unknown, path = ''): string[] {
  if (pattern === ANY) return actual === undefined ? [`${path} is missing`] : []
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual) || actual.length !== pattern.length) return [`${path} should be an array of ${pattern.length}, is ${JSON.stringify(actual)}`]
    return pattern.flatMap((p, i) => differences(p, actual[i], `${path}/${i}`))
  }
  if (typeof pattern === 'object' && pattern !== null) {
    if (typeof actual !== 'object' || actual === null) return [`${path} should be an object, is ${JSON.stringify(actual)}`]
    return Object.entries(pattern).flatMap(([k, p]) => differences(p, (actual as Record<string, unknown>)[k], `${path}/${k}`))
  }
  return pattern === actual ? [] : [`${path} should be ${JSON.stringify(pattern)}, is ${JSON.stringify(actual)}`]
}

const curl = spawnSync('curl', ['--version']).status === 0
const examples = pages.flatMap(examplesOf)

t.test('the docs hold curl examples, each with the answer it promises', async (t) => {
  t.ok(examples.length >= 3, `${examples.length} example blocks`)
  for (const example of examples) {
    t.notOk(example.expected.some(Number.isNaN), `${example.page}:${example.line}: every curl ends with "# → <status>"`)
  }
})

for (const example of examples) {
  t.test(`${example.page}:${example.line} answers as documented`, { skip: curl ? false : 'curl is not installed' }, async (t) => {
    // A fresh service per example, with the default settings (load shedding off: the machine's load is not the subject).
    const config = loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' })
    const app = await buildApp(config, { logger: pino({ level: 'silent' }) })
    t.teardown(() => app.close())
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const dir = mkdtempSync(join(tmpdir(), 'hsm-doc-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    // Each curl's status and body land in numbered files, and the body is also printed, so an example may
    // capture an answer with $(curl …); the count lives in a file because $(…) and pipes run curl in a subshell.
    // The example's own words run unchanged.
    const wrapper = `curl () { local n=$(( $(cat "${dir}/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "${dir}/count"; command curl -sS -o "${dir}/body.$n" -w '%{http_code}' "$@" > "${dir}/code.$n"; local status=$?; cat "${dir}/body.$n" 2>/dev/null; return $status; }\n`
    // Asynchronous: the service answering these curls runs in this process.
    const run = await promisify(execFile)('bash', ['-c', wrapper + example.script.replaceAll('http://127.0.0.1:3000', base)], { encoding: 'utf8', timeout: 60_000 })
      .then(({ stderr }) => ({ code: 0, stderr }), (error: { code?: number, stderr?: string }) => ({ code: error.code, stderr: error.stderr }))
    t.equal(run.code, 0, `the block runs: ${run.stderr}`)
    const statuses = example.expected.map((_, i) => Number(readFileSync(join(dir, `code.${i + 1}`), 'utf8')))
    t.strictSame(statuses, example.expected, 'each curl answers the status its page gives')
    if (example.answer !== undefined) {
      const body = JSON.parse(readFileSync(join(dir, `body.${example.expected.length}`), 'utf8')) as unknown
      t.strictSame(differences(example.answer, body), [], 'the answer holds every field the page shows')
    }
  })
}
