// The error table as callers see it: every code's status and retry advice pinned, and the 500 path with nothing of the request.
import t from 'tap'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { PROBLEMS, problem, problemAnswer } from '../src/errors.js'
import { loggerOptions } from '../src/logger.js'
import { NEVER_LOGGED, captureLogs } from './helper.js'

t.test('each code\'s status and retriable flag, as the README error table documents them', async (t) => {
  const documented: Record<string, [number, boolean]> = {
    VALIDATION_FAILED: [400, false],
    INVALID_PHONE: [400, false],
    UNAUTHORIZED: [401, false],
    NOT_FOUND: [404, false],
    METHOD_NOT_ALLOWED: [405, false],
    IDEMPOTENCY_IN_PROGRESS: [409, true],
    PAYLOAD_TOO_LARGE: [413, false],
    UNSUPPORTED_MEDIA_TYPE: [415, false],
    IDEMPOTENCY_KEY_REUSED: [422, false],
    UPSTREAM_REJECTED: [422, false],
    RATE_LIMITED: [429, true],
    RECIPIENT_RATE_LIMITED: [429, true],
    UPSTREAM_RATE_LIMITED: [429, true],
    INTERNAL_ERROR: [500, false],
    UPSTREAM_AUTH_FAILED: [502, false],
    UPSTREAM_ERROR: [502, true],
    UPSTREAM_UNAVAILABLE: [503, true],
    OVERLOADED: [503, true],
    STORE_UNAVAILABLE: [503, true],
    UPSTREAM_TIMEOUT: [504, true]
  }
  const actual = Object.fromEntries(Object.keys(PROBLEMS).map((code) => {
    const { body } = problemAnswer(problem(code as keyof typeof PROBLEMS, 'x'), 'r')
    return [code, [body.status, body.retriable]]
  }))
  t.strictSame(actual, documented)
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
