// /metrics: after a known mix of sends, the counters show exactly that mix; labels stay bounded.
import t from 'tap'
import { buildTestApp, post } from './helper.js'

const body = (template: string, extra: Record<string, unknown> = {}) => ({ to: '+593 98 765 4321', template, params: ['Maria'], ...extra })

/** The value of one sample line, e.g. hsm_sends_total{kind="text",outcome="sent",code="OK"}. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const inner = /\{(.*)\}/.exec(line)?.[1] ?? ''
    const have = inner === '' ? [] : inner.split(',')
    if (want.length === have.length && want.every((w) => have.includes(w))) return Number(line.split(' ').pop())
  }
  return 0
}

t.test('the counters show exactly the mix that was sent', async (t) => {
  const { app } = await buildTestApp(t, { env: { RECIPIENT_LIMIT: '6/60s' } })
  for (let i = 0; i < 3; i++) t.equal((await post(app, '/v1/messages/text', body('shipping_notice'))).status, 202)
  t.equal((await post(app, '/v1/messages/image', body('promo', { mediaUrl: 'https://cdn.example.com/a.png' }))).status, 202)
  t.equal((await post(app, '/v1/messages/text', body('sandbox_rejected'))).status, 422)
  t.equal((await post(app, '/v1/messages/text', body('sandbox_server_error'), { 'idempotency-key': 'k-1' })).status, 502)
  t.equal((await post(app, '/v1/messages/text', body('sandbox_server_error'), { 'idempotency-key': 'k-1' })).status, 502, 'replayed')
  t.equal((await post(app, '/v1/messages/text', body('shipping_notice', { params: ['x'.repeat(1025)] }))).status, 400)
  t.equal((await post(app, '/v1/messages/text', body('Bad-Name'))).status, 400)
  t.equal((await post(app, '/v1/messages/text', body('shipping_notice'))).status, 429, 'seventh to the same number')
  t.equal((await post(app, '/v1/messages/text?dryRun=true', body('shipping_notice'))).status, 200)

  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  const text = res.body
  t.equal(sample(text, 'hsm_sends_total', { kind: 'text', outcome: 'sent', code: 'OK' }), 3)
  t.equal(sample(text, 'hsm_sends_total', { kind: 'image', outcome: 'sent', code: 'OK' }), 1)
  t.equal(sample(text, 'hsm_sends_total', { kind: 'text', outcome: 'rejected', code: 'UPSTREAM_REJECTED' }), 1)
  t.equal(sample(text, 'hsm_sends_total', { kind: 'text', outcome: 'failed', code: 'UPSTREAM_ERROR' }), 1)
  t.equal(sample(text, 'hsm_sends_total', { kind: 'text', outcome: 'replayed', code: 'UPSTREAM_ERROR' }), 1)
  t.equal(sample(text, 'hsm_sends_total', { kind: 'text', outcome: 'dry_run', code: 'OK' }), 1)
  t.equal(sample(text, 'hsm_idempotent_replays_total', { kind: 'text' }), 1)
  t.equal(sample(text, 'hsm_validation_failures_total', { rule: 'maxLength' }), 1)
  t.equal(sample(text, 'hsm_validation_failures_total', { rule: 'pattern' }), 1)
  t.equal(sample(text, 'hsm_rate_limit_refusals_total', { limit: 'recipient' }), 1)
  t.equal(sample(text, 'hsm_refusals_total', { code: 'RECIPIENT_RATE_LIMITED' }), 1)
  t.equal(sample(text, 'hsm_upstream_duration_seconds_count'), 6, 'one observation per upstream call')
  t.ok(sample(text, 'process_cpu_user_seconds_total') > 0, 'process metrics')
  t.equal(sample(text, 'http_request_duration_seconds_count', { method: 'POST', route: '/v1/messages/text', status_code: '202' }), 3)
  t.notMatch(text, /593987654321|987654321|Maria|shipping_notice/, 'no phone number, parameter or template name in any label')
})

t.test('an unknown path is one bounded route label', async (t) => {
  const { app } = await buildTestApp(t)
  for (const path of ['/a', '/b/c', '/v1/nope/x']) await app.inject({ url: path })
  const text = (await app.inject({ url: '/metrics' })).body
  t.equal(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }), 3)
  t.notMatch(text, /route="\/a"/)
})
