// Static checks of the container files: compose is valid for Debian's docker-compose, the Dockerfile lints clean and says what SPEC §15 asks.
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../src/config.js'
import { CI } from './helper.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a command in the repository root. */
function run (command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })
}

const dockerfile = read('Dockerfile')
const compose = read('docker-compose.yml')
const composeEnv = read('compose.env')

/** The executable's path when it is on PATH, else null. */
function onPath (name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return null
}

const composeMissing = onPath('docker-compose') === null
  ? 'docker-compose is not installed (apt-get install -y docker-compose; .ci/run does)'
  : null
if (composeMissing !== null && CI) t.fail(`cannot check docker-compose.yml in CI: ${composeMissing}`)

t.test('docker-compose -f docker-compose.yml config -q exits 0', { skip: composeMissing ?? false }, async (t) => {
  // The default env file (compose.env), whatever the caller's shell has set.
  const env = { ...process.env }
  delete env.HSM_ENV_FILE
  const result = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], env)
  t.equal(result.code, 0, `config -q: ${result.stderr.trim() || 'valid'}`)
  for (const profile of ['tracing', 'observability']) {
    const profiled = await run('docker-compose', ['-f', 'docker-compose.yml', '--profile', profile, 'config', '-q'], env)
    t.equal(profiled.code, 0, `--profile ${profile} config -q: ${profiled.stderr.trim() || 'valid'}`)
  }
})

t.test('dockerfile-utils lint Dockerfile reports no errors', async (t) => {
  const result = await run(`${ROOT}node_modules/.bin/dockerfile-utils`, ['lint', 'Dockerfile'])
  // Output: per problem, "Line: N", the line, a caret line, then "Error: ..." or "Warning: ...".
  const errors = result.stdout.split('\n').filter((line) => line.startsWith('Error:'))
  const warnings = result.stdout.split('\n').filter((line) => line.startsWith('Warning:'))
  for (const warning of warnings) t.comment(`dockerfile-utils ${warning}`)
  t.same(errors, [], 'no error lines')
  t.equal(result.code, 0, `exit 0${result.stderr === '' ? '' : `: ${result.stderr.trim()}`}`)
})

/** The Dockerfile's instructions: comments dropped, continuation lines joined, one string each. */
function instructions (text: string): string[] {
  const lines = text.split('\n').filter((line) => !line.trim().startsWith('#'))
  return lines.join('\n').replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '')
}

t.test('Dockerfile: multi-stage Node 24, production dependencies only, non-root, HOST, HEALTHCHECK, CMD', async (t) => {
  const all = instructions(dockerfile)
  const froms = all.filter((line) => line.startsWith('FROM '))
  t.ok(froms.length >= 2, 'multi-stage (two or more FROM)')
  for (const from of froms) t.match(from, /^FROM node:24(-slim)?(\s|$)/, `${from}: on Node 24`)
  const lastFrom = all.findLastIndex((line) => line.startsWith('FROM '))
  const build = all.slice(0, lastFrom).join('\n')
  const runtime = all.slice(lastFrom)
  const has = (pattern: RegExp) => runtime.some((line) => pattern.test(line))
  t.match(build, /^RUN npm ci\b/m, 'the build stage installs with npm ci')
  t.match(build, /^RUN npm run build\b/m, 'the build stage compiles TypeScript')
  t.ok(has(/^RUN npm ci --omit=dev\b/), 'the runtime stage installs production dependencies only (--omit=dev)')
  t.ok(has(/^COPY --from=build \S*dist/), 'the runtime stage takes dist/ from the build stage')
  t.ok(has(/^COPY package\.json\b/), 'package.json is in the image (the app reads its version)')
  t.notOk(has(/^(COPY|ADD) (\.|\.\/|src\/?) /), 'no sources or whole context copied into the runtime stage')
  t.ok(has(/^USER node$/), 'USER node in the runtime stage')
  t.ok(runtime.indexOf('USER node') > runtime.findLastIndex((line) => line.startsWith('RUN ')), 'USER node after the last RUN')
  t.ok(has(/^ENV (.* )?HOST=0\.0\.0\.0( |$)/), 'ENV HOST=0.0.0.0')
  t.ok(has(/^EXPOSE 3000$/), 'EXPOSE 3000')
  const healthcheck = runtime.find((line) => line.startsWith('HEALTHCHECK '))
  t.ok(healthcheck, 'HEALTHCHECK')
  t.notMatch(healthcheck ?? '', /\b(curl|wget)\b/, 'the health check needs no curl or wget')
  t.match(healthcheck ?? '', /\/health\b/, 'the health check probes /health')
  const cmd = runtime.filter((line) => line.startsWith('CMD '))
  t.equal(cmd.length, 1, 'one CMD')
  t.same(JSON.parse(cmd[0]?.slice(4) ?? 'null'), ['node', 'dist/server.js'], 'CMD ["node","dist/server.js"] in exec form')
})

t.test('.dockerignore keeps dependencies, build output, tests, git and secrets out of the context', async (t) => {
  const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
  for (const entry of ['node_modules', 'dist', 'test', '.git', '.env', '.env.*', 'coverage', '.tap', 'bench', 'compose.env']) {
    t.ok(ignored.includes(entry), `${entry} is ignored`)
  }
})

t.test('docker-compose.yml: proxy, sandbox and Redis; init; loopback port; no credentials', async (t) => {
  t.equal(compose.match(/^ {4}init: true$/gm)?.length, 3, 'init: true on every node service (proxy, proxy-live, sandbox)')
  t.match(compose, /^ {2}proxy:$/m, 'a proxy service')
  t.match(compose, /^ {2}sandbox:$/m, 'a sandbox service')
  t.match(compose, /command: \["node", "dist\/sandbox\/main\.js"\]/, 'the sandbox runs dist/sandbox/main.js')
  t.match(compose, /image: redis:7-alpine/, 'Redis 7')
  t.match(compose, /command: \["redis-server", "--save", "", "--appendonly", "no"\]/, 'Redis without persistence')
  t.match(compose, /REDIS_URL: redis:\/\/redis:6379/, 'the proxy uses the compose Redis')
  t.match(compose, /- "127\.0\.0\.1:3000:3000"/, 'the proxy is published on loopback only')
  t.notMatch(compose, /^\s*- "?(0\.0\.0\.0:)?\d+:\d+"?$/m, 'no port published on every interface')
  t.match(compose, /env_file:/, 'configuration from an env file')
  t.notMatch(compose, /JELOU_CLIENT_(ID|SECRET)|API_KEYS|SANDBOX_CLIENT_SECRET/, 'no credentials in the compose file itself')
})

t.test('compose.env: sandbox credentials only', async (t) => {
  t.match(composeEnv, /^JELOU_BASE_URL=http:\/\/sandbox:4010$/m, 'the proxy points at the compose sandbox')
  const secrets = [...composeEnv.matchAll(/^(JELOU_CLIENT_SECRET|SANDBOX_CLIENT_SECRET|JELOU_CLIENT_ID|SANDBOX_CLIENT_ID)=(.*)$/gm)]
  t.equal(secrets.length, 4, 'both credential pairs are set')
  for (const [, name, value] of secrets) t.equal(value, 'sandbox', `${name} is the sandbox value`)
  t.notMatch(composeEnv, /^API_KEYS=\S/m, 'no caller keys committed')
})

t.test('the proxy service starts with what compose gives it: compose.env plus its environment block', async (t) => {
  const fromFile = Object.fromEntries([...composeEnv.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => [name, value]))
  const proxyBlock = /^ {2}proxy:\n((?: {4}.*\n|\n)*)/m.exec(compose)?.[1] ?? ''
  const environment = /^ {4}environment:\n((?: {6}.*\n)*)/m.exec(proxyBlock)?.[1] ?? ''
  // ${NAME:-default} is what compose substitutes when the shell does not set NAME.
  const fromBlock = Object.fromEntries([...environment.matchAll(/^ {6}([A-Z][A-Z0-9_]*): "?([^"\n]*)"?$/gm)].map(([, name, value]) => [name, value.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')]))
  t.same(Object.keys(fromBlock).sort(), ['HOST', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_TRACES_EXPORTER', 'PORT', 'REDIS_URL'], 'the environment block holds addresses and the tracing switch only')
  t.equal(loadConfig({ ...fromFile, ...fromBlock }).tracing, null, 'tracing off unless the shell sets OTEL_TRACES_EXPORTER=otlp')
  t.ok(loadConfig({ ...fromFile, ...fromBlock, OTEL_TRACES_EXPORTER: 'otlp' }).tracing, '… and on with it')
  // environment: wins over env_file in compose.
  const config = loadConfig({ ...fromFile, ...fromBlock })
  t.equal(config.mode, 'live', 'live mode: credentials present, so the proxy really sends over HTTP to the sandbox service')
  t.equal(config.jelou.baseUrl, 'http://sandbox:4010', 'upstream is the compose sandbox')
  t.equal(config.host, '0.0.0.0', 'listens on every interface inside the container')
  t.equal(config.port, 3000, 'port 3000')
  t.equal(config.redis?.url, 'redis://redis:6379', 'shared store is the compose Redis')
})

t.test('compose runs live mode without the sandbox: the `live` profile starts proxy-live and Redis only', { skip: composeMissing ?? false }, async (t) => {
  const env = { ...process.env }
  delete env.HSM_ENV_FILE
  t.match(compose, /^ {2}proxy-live:\n {4}profiles: \["live"\]$/m, 'proxy-live is in the live profile, so a plain `up` does not start it')
  const live = await run('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'live', 'config'], env)
  t.equal(live.code, 0, live.stderr.trim())
  const block = /^ {2}proxy-live:\n((?: {4}.*\n|\n)*)/m.exec(live.stdout)?.[1] ?? ''
  t.match(block, /depends_on:\n\s+redis:/, 'proxy-live waits for Redis')
  t.notMatch(block, /sandbox/, 'and not for the sandbox')
})

t.test('npm start rebuilds only what changed; npm run dev rebuilds and restarts on change', async (t) => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
  t.match(scripts.start, /^npm run build && node dist\/server\.js$/)
  t.match(scripts.dev, /tsc -b tsconfig\.build\.json --watch/, 'dev recompiles on change')
  t.match(scripts.dev, /node --watch dist\/server\.js/, 'and restarts the server when dist/ changes')
  // The build itself, twice: the second finds the tree up to date and writes nothing.
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))
  const root = fileURLToPath(new URL('..', import.meta.url))
  const first = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' })
  t.equal(first.status, 0, `npm run build compiles: ${first.stdout}`)
  const before = statSync(new URL('../dist/server.js', import.meta.url)).mtimeMs
  const second = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json', '--verbose'], { cwd: root, encoding: 'utf8' })
  t.match(second.stdout, /is up to date/, 'an unchanged tree is not compiled again')
  t.equal(statSync(new URL('../dist/server.js', import.meta.url)).mtimeMs, before, 'and nothing in dist/ is rewritten')
  t.match(scripts.test, /^node scripts\/test\.js$/, 'npm test is the runner')
  t.match(read('scripts/test.js'), /'spectral', 'lint'[\s\S]*'redocly', 'lint'/, 'which lints the OpenAPI document')
})
