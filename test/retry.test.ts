// SPEC §7, §18: every problem says how to retry, per code, and no detail contradicts what a retry does.
import t from 'tap'
import { PROBLEMS, problem, problemAnswer, type ProblemCode, type RetryPolicy } from '../src/errors.js'
import { buildTestApp, post } from './helper.js'

/** Pinned by hand: a new code must be added here, with its policy chosen on purpose. */
const EXPECTED: Record<ProblemCode, { retriable: boolean, policy: RetryPolicy, afterSeconds?: number }> = {
  VALIDATION_FAILED: { retriable: false, policy: 'never' },
  INVALID_PHONE: { retriable: false, policy: 'never' },
  UNAUTHORIZED: { retriable: false, policy: 'never' },
  NOT_FOUND: { retriable: false, policy: 'never' },
  METHOD_NOT_ALLOWED: { retriable: false, policy: 'never' },
  IDEMPOTENCY_IN_PROGRESS: { retriable: true, policy: 'same-key', afterSeconds: 1 },
  MESSAGE_NOT_CANCELLABLE: { retriable: false, policy: 'never' },
  PAYLOAD_TOO_LARGE: { retriable: false, policy: 'never' },
  UNSUPPORTED_MEDIA_TYPE: { retriable: false, policy: 'never' },
  IDEMPOTENCY_KEY_REUSED: { retriable: false, policy: 'never' },
  UPSTREAM_REJECTED: { retriable: false, policy: 'never' },
  TEMPLATE_UNKNOWN: { retriable: false, policy: 'never' },
  TEMPLATE_NOT_APPROVED: { retriable: false, policy: 'never' },
  TEMPLATE_LANGUAGE_UNAVAILABLE: { retriable: false, policy: 'never' },
  TEMPLATE_VARIABLE_COUNT: { retriable: false, policy: 'never' },
  TEMPLATE_KIND_MISMATCH: { retriable: false, policy: 'never' },
  TEMPLATE_NOT_IN_JELOU: { retriable: false, policy: 'never' },
  TEMPLATE_VARIABLES_CONFLICT: { retriable: false, policy: 'never' },
  TEMPLATE_LANGUAGE_CONFLICT: { retriable: false, policy: 'never' },
  TEMPLATE_AMBIGUOUS: { retriable: false, policy: 'never' },
  REQUEST_TIMEOUT: { retriable: true, policy: 'same-key', afterSeconds: 1 },
  HEADERS_TOO_LARGE: { retriable: false, policy: 'never' },
  RATE_LIMITED: { retriable: true, policy: 'same-key', afterSeconds: 60 },
  RECIPIENT_RATE_LIMITED: { retriable: true, policy: 'same-key', afterSeconds: 60 },
  UPSTREAM_RATE_LIMITED: { retriable: true, policy: 'same-key', afterSeconds: 1 },
  INTERNAL_ERROR: { retriable: false, policy: 'never' },
  UPSTREAM_AUTH_FAILED: { retriable: false, policy: 'never' },
  UPSTREAM_ERROR: { retriable: true, policy: 'same-key', afterSeconds: 30 },
  UPSTREAM_UNAVAILABLE: { retriable: true, policy: 'same-key', afterSeconds: 5 },
  OVERLOADED: { retriable: true, policy: 'same-key', afterSeconds: 1 },
  STORE_UNAVAILABLE: { retriable: true, policy: 'same-key', afterSeconds: 5 },
  UPSTREAM_TIMEOUT: { retriable: true, policy: 'same-key', afterSeconds: 30 }
}

t.test('each code has its pinned retry policy, and retriable follows it', async (t) => {
  t.strictSame(Object.keys(PROBLEMS).sort(), Object.keys(EXPECTED).sort(), 'every code is pinned')
  for (const code of Object.keys(PROBLEMS) as ProblemCode[]) {
    const { body, retryAfter } = problemAnswer(problem(code, 'Something happened.'), 'r-1')
    const want = EXPECTED[code]
    t.equal(body.retriable, want.retriable, `${code} retriable`)
    t.strictSame(body.retry, want.afterSeconds === undefined ? { policy: want.policy } : { policy: want.policy, afterSeconds: want.afterSeconds }, `${code} retry`)
    t.equal(retryAfter, want.afterSeconds === undefined ? undefined : String(want.afterSeconds), `${code} Retry-After equals retry.afterSeconds`)
    if (want.policy === 'never') t.notMatch(body.detail, /retry/i, `${code}: a never-retry detail does not invite a retry`)
    else t.match(body.detail, /Retry .*after \d+ s/, `${code}: the detail says when to retry`)
  }
})

t.test('the wait of the error itself wins over the table default, in body and header', async (t) => {
  const { body, retryAfter } = problemAnswer(problem('RATE_LIMITED', 'Too many.', { retryAfterSeconds: 17 }), 'r-2')
  t.strictSame(body.retry, { policy: 'same-key', afterSeconds: 17 })
  t.equal(retryAfter, '17')
  t.match(body.detail, /after 17 s/)
})

t.test('"may have been sent" answers say: same key to learn the outcome, a new key may send twice', async (t) => {
  for (const code of ['UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'] as const) {
    const { body } = problemAnswer(problem(code, 'The message may have been sent.'), 'r-3')
    t.match(body.detail, /Retry with the same Idempotency-Key after 30 s to learn the outcome; a new key may send the message twice\./, code)
    t.notMatch(body.detail, /nothing was sent/, code)
  }
})

t.test('over the wire: a 504 carries retry, Retry-After and a detail that agrees', async (t) => {
  const { app } = await buildTestApp(t, { env: { JELOU_TIMEOUT_MS: '300' }, sandbox: { slowMs: 4000 } })
  const res = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'sandbox_slow' }, { 'idempotency-key': 'slow-1' })
  t.equal(res.status, 504)
  // The wait is the resolution's: when Jelou will surely have registered the message (RESOLUTION_WINDOW_SECONDS).
  t.match(res.body, { code: 'UPSTREAM_TIMEOUT', retriable: true, retry: { policy: 'same-key' }, detail: /may have been sent\. Retry only with the same Idempotency-Key, after Retry-After.*A new key may send the message twice\.$/ })
  const wait = (res.body.retry as { afterSeconds: number }).afterSeconds
  t.ok(wait > 0 && wait <= 60, `a wait within the resolution window (${wait} s)`)
  t.equal(res.headers['retry-after'], String(wait), 'Retry-After says the same wait')
  t.equal((res.body.detail as string).match(/Idempotency-Key/g)?.length, 1, 'the advice is given once')

  const bad = await post(app, '/v1/messages/text', { to: '+593 98 765 4321' })
  t.match(bad.body, { code: 'VALIDATION_FAILED', retriable: false, retry: { policy: 'never' } })
  t.notOk('afterSeconds' in (bad.body.retry as object), 'no wait on a never-retry problem')
  t.equal(bad.headers['retry-after'], undefined)
})
