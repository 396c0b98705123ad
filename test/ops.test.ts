// The shipped dashboard and alert rules: promtool checks and rule unit tests pass, and every metric they query is one /metrics really exports.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CI, buildTestApp, post } from './helper.js'

const OPS = fileURLToPath(new URL('../ops/', import.meta.url))
const read = (file: string) => readFileSync(join(OPS, file), 'utf8')

function run (command: string, args: string[]): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: OPS, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, output: `${stdout}${stderr}`.trim() })
    })
  })
}

const promtool = (process.env.PATH ?? '').split(delimiter).some((dir) => {
  try { readFileSync(join(dir, 'promtool')); return true } catch { return false }
})
const promtoolMissing = promtool ? false : 'promtool is not installed (apt-get install -y prometheus; .ci/run does)'
if (promtoolMissing !== false && CI) t.fail(`cannot check the alert rules in CI: ${promtoolMissing}`)

t.test('promtool: the rules are valid, their unit tests pass, the compose Prometheus config is valid', { skip: promtoolMissing }, async (t) => {
  const check = await run('promtool', ['check', 'rules', 'alerts.yml'])
  t.equal(check.code, 0, `check rules: ${check.output}`)
  const tests = await run('promtool', ['test', 'rules', 'alerts.test.yml'])
  t.equal(tests.code, 0, `test rules: ${tests.output}`)
  // prometheus.yml names the rules by their path inside the container; check a copy pointing here.
  const dir = mkdtempSync(join(tmpdir(), 'hsm-ops-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'prometheus.yml'), read('prometheus.yml').replace('/etc/prometheus/alerts.yml', join(OPS, 'alerts.yml')))
  const config = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')])
  t.equal(config.code, 0, `check config: ${config.output}`)
})

interface Query { where: string, expr: string }

function dashboardQueries (): { queries: Query[], titles: string[] } {
  const dashboard = JSON.parse(read('grafana-dashboard.json')) as { panels: Array<{ id: number, title: string, datasource: { uid: string }, targets: Array<{ expr: string }> }> }
  const ids = dashboard.panels.map((p) => p.id)
  if (new Set(ids).size !== ids.length) throw new Error('panel ids repeat')
  return {
    titles: dashboard.panels.map((p) => p.title),
    queries: dashboard.panels.flatMap((p) => p.targets.map((target) => ({ where: `panel "${p.title}"`, expr: target.expr })))
  }
}

/** Each `- alert:` block's name and expression (one line or a `|` block). */
function ruleQueries (): Query[] {
  return read('alerts.yml').split(/^ {6}- alert: /m).slice(1).map((block) => {
    const name = block.slice(0, block.indexOf('\n'))
    const inline = /^ {8}expr: (?!\|)(.+)$/m.exec(block)
    const folded = /^ {8}expr: \|\n((?: {10}.*\n)+)/m.exec(block)
    return { where: `alert ${name}`, expr: inline?.[1] ?? folded?.[1] ?? '' }
  })
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels, strings, ranges or Grafana variables. */
function metricNames (expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '')
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\(|[a-zA-Z0-9_:])/g)]
    .map((m) => m[0])
    .filter((name) => !PROMQL_WORDS.has(name) && !/^\d/.test(name) && !/^e\d+$/.test(name))
}

t.test('metricNames reads PromQL the way the checks below need', async (t) => {
  t.strictSame(metricNames('histogram_quantile(0.99, sum by (le) (rate(hsm_upstream_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))'), ['hsm_upstream_duration_seconds_bucket'])
  t.strictSame(metricNames('(sum(increase(a_total{outcome="sent"}[30m])) or vector(0)) == 0 and on() (sum(up{job="x"}) > 0)'), ['a_total', 'up'])
  t.strictSame(metricNames('max by (instance) (process_resident_memory_bytes) / 1e9'), ['process_resident_memory_bytes'])
})

t.test('every metric the dashboard and the alert rules query is exported by /metrics', async (t) => {
  const { app } = await buildTestApp(t)
  // One send of each outcome family, so labelled series exist as they would in production.
  await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'welcome_back', params: ['Maria'] })
  await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'sandbox_rejected', params: ['Maria'] })
  const scrape = (await app.inject({ url: '/metrics' })).body
  const exported = new Set<string>()
  for (const [, name, type] of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name as string)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name as string}${suffix}`)
    if (type === 'summary') for (const suffix of ['_sum', '_count']) exported.add(`${name as string}${suffix}`)
  }
  // Prometheus writes `up` itself for every scrape target.
  exported.add('up')

  const { queries: panels, titles } = dashboardQueries()
  const rules = ruleQueries()
  t.ok(panels.length >= 10 && rules.length >= 5, 'the files were read')
  for (const query of [...panels, ...rules]) {
    const names = metricNames(query.expr)
    t.ok(names.length > 0, `${query.where} queries a metric`)
    for (const name of names) t.ok(exported.has(name), `${query.where}: ${name} is in /metrics`)
  }

  for (const topic of [/sends by outcome/i, /failure ratio/i, /latency percentiles/i, /refusals by code/i, /rate-limit/i, /load shedding/i, /event-loop/i, /catalogue age/i, /delivery status/i, /job queue/i, /callback deliveries/i, /scheduled sends/i]) {
    t.ok(titles.some((title) => topic.test(title)), `a panel for ${String(topic)}`)
  }
  const alerts = rules.map((r) => r.where)
  for (const alert of ['HsmNoSends', 'HsmFailureRatioHigh', 'HsmUpstreamLatencyHigh', 'HsmUpstreamAuthFailed', 'HsmCatalogueRefreshFailing', 'HsmIdempotencyReplayWindowShort', 'HsmQueueBacklog', 'HsmCallbacksFailing', 'HsmScheduledSendsLate']) {
    t.ok(alerts.includes(`alert ${alert}`), `an alert rule ${alert}`)
  }
})
