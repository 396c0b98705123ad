// The error table as callers see it: every code's status and retry advice pinned, and the 500 path with nothing of the request.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { PROBLEMS, problem, problemAnswer } from '../src/errors.js'
import { loggerOptions } from '../src/logger.js'
import { NEVER_LOGGED, captureLogs } from './helper.js'

t.test('each code\'s status and retriable flag, as the error table in docs/errors.md documents them', async (t) => {
  // | status | `CODE` | when | retry |: retriable unless the retry column says never.
  const table = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const documented = Object.fromEntries([...table.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \| .+ \| ([^|]+) \|$/gm)]
    .map(([, status, code, retry]) => [code, [Number(status), retry.trim() !== 'never']]))
  t.ok(Object.keys(documented).length >= 20, 'the table was read')
  const actual = Object.fromEntries(Object.keys(PROBLEMS).map((code) => {
    const { body } = problemAnswer(problem(code as keyof typeof PROBLEMS, 'x'), 'r')
    return [code, [body.status, body.retriable]]
  }))
  t.strictSame(actual, documented, 'every code documented once, with its status and whether it is retriable')
})

t.test('an unexpected error answers 500 INTERNAL_ERROR with no stack, message or request data, and logs no number', async (t) => {
  const { stream, capture } = captureLogs(t)
  const config = loadConfig({ JELOU_BOT_ID: 'bot-123', MAX_EVENT_LOOP_DELAY_MS: '0' })
  const app = await buildApp(config, { logger: pino({ ...loggerOptions(config), level: 'info' }, stream) })
  t.teardown(() => app.close())
  // A handler bug whose message carries request data, as a careless throw would.
  app.post('/v1/boom', async (request) => {
    throw new TypeError(`cannot read ${(request.body as { to: string }).to} of undefined`)
  })
  const res = await app.inject({ method: 'POST', url: '/v1/boom', headers: { 'content-type': 'application/json', 'x-request-id': 'boom-1' }, payload: { to: '+593987654321' } })
  t.equal(res.statusCode, 500)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.strictSame(Object.keys(res.json()).sort(), ['code', 'detail', 'requestId', 'retriable', 'retry', 'status', 'title', 'type'])
  t.match(res.json(), { code: 'INTERNAL_ERROR', status: 500, retriable: false, requestId: 'boom-1', detail: /Quote the requestId/ })
  for (const leak of ['stack', 'TypeError', 'cannot read', 'at ', ...NEVER_LOGGED]) t.notOk(res.body.includes(leak), `no "${leak}" in the answer`)
  const line = capture.lines().find((l) => l.msg === 'unexpected error')
  t.match(line, { reqId: 'boom-1', err: { name: 'TypeError', message: 'cannot read 5939******21 of undefined', stack: String } }, 'the log keeps the cause, the number masked')
})
