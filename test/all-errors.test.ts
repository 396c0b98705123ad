// SPEC §7: a body with several problems gets all of them at once (schema, cross-field, phone), in document order, capped.
import t from 'tap'
import { buildTestApp, post } from './helper.js'
import { MAX_FIELD_ERRORS } from '../src/schemas/field-errors.js'

t.test('schema, cross-field and phone problems together, in the order the body holds them', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text', {
    template: 'Order-Update',
    to: '(201) 555-0123',
    params: ['ok', 'line\nbreak'],
    expiresAt: '2020-01-01T00:00:00Z',
    colour: 'red',
    language: 'fr'
  }, { 'x-request-id': 'many' })
  t.equal(res.status, 400)
  t.equal(res.body.code, 'VALIDATION_FAILED', 'several kinds of problem: VALIDATION_FAILED, the phone one among them')
  t.match(res.body.errors, [
    { in: 'body', path: '/template', rule: 'pattern' },
    { in: 'body', path: '/to', rule: 'NEEDS_COUNTRY' },
    { in: 'body', path: '/params/1', rule: 'pattern' },
    { in: 'body', path: '/expiresAt', rule: 'future' },
    { in: 'body', path: '/colour', rule: 'additionalProperties' },
    { in: 'body', path: '/language', rule: 'enum' }
  ])
  t.equal(res.body.errors?.length, 6)
  t.match(res.body.detail, /^The request has 6 problems\. Body field \/template must be .*\. Body field \/to: The phone number has no country.* And 3 more\.$/)
  t.equal(sandbox.messages().length, 0)
  t.match(logs.lines().find((line) => line.msg === 'request refused'), { kind: 'text', code: 'VALIDATION_FAILED' })
})

t.test('a required field missing sorts after the fields present; the raw route reports the phone with the schema', async (t) => {
  const { app } = await buildTestApp(t)
  const kind = await post(app, '/v1/messages/image', { mediaUrl: 'http://x.example/a.gif', to: 'call me' })
  t.match(kind.body.errors, [
    { path: '/mediaUrl', rule: 'pattern', message: /https URL/ },
    { path: '/mediaUrl', rule: 'pattern', message: /\.jpg/ },
    { path: '/to', rule: 'NOT_A_NUMBER' },
    { path: '/template', rule: 'required' }
  ])
  const raw = await post(app, '/v1/messages', { destinations: ['0987654321'], type: 'image', botId: 'bot-1' })
  t.match(raw.body.errors, [
    { path: '/destinations/0', rule: 'NEEDS_COUNTRY' },
    { path: '/botId', rule: 'additionalProperties', message: 'is not a field of Jelou\'s body: give it in the query string as ?botId=' },
    { path: '/elementName', rule: 'required' }
  ])
})

t.test('a phone problem alone stays INVALID_PHONE with its reason', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text', { to: '0987654321', template: 'order_update' })
  t.match(res.body, { code: 'INVALID_PHONE', reason: 'NEEDS_COUNTRY', errors: [{ path: '/to' }] })
  t.equal(res.body.errors?.length, 1)
})

t.test(`at most ${MAX_FIELD_ERRORS} problems are listed; the detail says how many there were`, async (t) => {
  const { app } = await buildTestApp(t)
  const params = Array.from({ length: 30 }, () => 'tab\there')
  const res = await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'order_update', params })
  t.equal(res.status, 400)
  t.equal(res.body.errors?.length, MAX_FIELD_ERRORS)
  t.match(res.body.errors?.[0], { path: '/params/0' })
  t.match(res.body.errors?.[MAX_FIELD_ERRORS - 1], { path: `/params/${MAX_FIELD_ERRORS - 1}` })
  t.match(res.body.detail, new RegExp(`^The request has 30 problems\\..* Only the first ${MAX_FIELD_ERRORS} are listed in errors\\.$`))
})

t.test('a body that is not an object has one problem, not a crash', async (t) => {
  const { app } = await buildTestApp(t)
  for (const payload of ['null', '[]', '"text"', '12']) {
    const res = await app.inject({ method: 'POST', url: '/v1/messages/carousel', headers: { 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 400, payload)
    t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ path: '/', rule: 'type' }] }, payload)
  }
  const carousel = await post(app, '/v1/messages/carousel', { to: '+593 98 765 4321', template: 'x', cards: 'abc' })
  t.match(carousel.body, { code: 'VALIDATION_FAILED', errors: [{ path: '/cards', rule: 'type' }] }, 'a cross-field rule on a malformed field does not crash')
  t.equal(carousel.body.errors?.length, 1)
})

t.test('a huge refused list keeps only the first problem: allErrors work stays bounded', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await post(app, '/v1/messages', { elementName: 'x', destinations: ['+593 98 765 4321'], parameters: Array.from({ length: 5000 }, () => 1) })
  t.equal(res.status, 400)
  t.equal(res.body.errors?.length, 1, 'the first error only')
  t.match(res.body.errors?.[0], { path: '/parameters/0', rule: 'type' })
})
