// SPEC §6 over the wire: no number is guessed abroad, the echo says where the region came from, live mode warns once.
import t from 'tap'
import { buildLiveApp, buildTestApp, post } from './helper.js'
import { startSandbox } from '../src/sandbox/server.js'

t.test('formatted national numbers without a region: 400 INVALID_PHONE NEEDS_COUNTRY, nothing sent', async (t) => {
  const { app, sandbox } = await buildTestApp(t)
  for (const to of ['(201) 555-0123', '201-555-7788', '321 123 4567']) {
    const res = await post(app, '/v1/messages/text', { to, template: 'order_update' })
    t.equal(res.status, 400, to)
    t.match(res.body, {
      code: 'INVALID_PHONE',
      reason: 'NEEDS_COUNTRY',
      detail: 'The phone number in `to` has no country: write it with + and the country calling code, or give its region in the country field (a two-letter code such as US).',
      errors: [{ in: 'body', path: '/to', rule: 'NEEDS_COUNTRY' }]
    }, to)
  }
  t.equal(sandbox.messages().length, 0, 'nothing reached the sandbox')
})

t.test('the 202 and dry-run echo say which region was used and where it came from', async (t) => {
  const { app } = await buildTestApp(t, { env: { DEFAULT_COUNTRY: 'US' } })
  const CASES = [
    { body: { to: '+593 98 765 4321' }, phone: { country: 'EC', countrySource: 'prefix' } },
    { body: { to: '593987654321' }, phone: { country: 'EC', countrySource: 'digits' } },
    { body: { to: '(201) 555-0123' }, phone: { normalized: '12015550123', country: 'US', countrySource: 'default-country' } },
    { body: { to: '321 123 4567', country: 'CO' }, phone: { normalized: '573211234567', country: 'CO', countrySource: 'country-field' } }
  ]
  for (const c of CASES) {
    const sent = await post(app, '/v1/messages/text', { template: 'shipping_notice', ...c.body })
    t.equal(sent.status, 202, c.body.to)
    t.match(sent.body.phone, { input: c.body.to, ...c.phone }, `202 ${c.body.to}`)
    const dry = await post(app, '/v1/messages/text?dryRun=true', { template: 'shipping_notice', ...c.body })
    t.match(dry.body.phone, c.phone, `dry run ${c.body.to}`)
  }
})

t.test('INVALID_FOR_REGION names the region assumed', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text', { to: '555 123 4567', country: 'US', template: 'order_update' })
  t.match(res.body, {
    code: 'INVALID_PHONE',
    reason: 'INVALID_FOR_REGION',
    detail: 'The phone number in `to` is not a valid number in United States (US), the region given in the country field.',
    errors: [{ path: '/to', rule: 'INVALID_FOR_REGION', region: 'US' }]
  })
})

t.test('live mode without DEFAULT_COUNTRY logs one start-up warning; with it, none', async (t) => {
  const sandbox = await startSandbox({ port: 0 })
  t.teardown(() => sandbox.close())
  const without = await buildLiveApp(t, sandbox.url)
  const warnings = without.logs.lines().filter((line) => /DEFAULT_COUNTRY is not set/.test(line.msg))
  t.equal(warnings.length, 1, 'one warning')
  t.equal(warnings[0]?.level, 40, 'at warn level')
  const withCountry = await buildLiveApp(t, sandbox.url, { DEFAULT_COUNTRY: 'EC' })
  t.equal(withCountry.logs.lines().filter((line) => /DEFAULT_COUNTRY/.test(line.msg)).length, 0, 'no warning when set')
})
