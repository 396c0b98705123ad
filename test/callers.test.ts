// Callers (SPEC §11): named API keys, Bearer or X-API-Key, open health and docs, live mode refuses to start without keys.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../src/config.js'
import { buildTestApp, post } from './helper.js'

const KEYS = 'billing:billing-key-0123456789,login:login-key-abcdefghij'
const body = { to: '+593 98 765 4321', template: 'shipping_notice', params: ['Maria'] }

t.test('without a valid key: 401 and nothing sent', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { API_KEYS: KEYS } })
  const cases: Array<[string, Record<string, string>]> = [
    ['no key', {}],
    ['a wrong key of the same length', { authorization: 'Bearer billing-key-0123456780' }],
    ['a key of a different length', { 'x-api-key': 'short' }],
    ['a prefix of a real key', { 'x-api-key': 'billing-key' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from('billing:billing-key-0123456789').toString('base64')}` }]
  ]
  for (const [name, headers] of cases) {
    const res = await post(app, '/v1/messages/text', body, headers)
    t.equal(res.status, 401, name)
    t.match(res.body, { code: 'UNAUTHORIZED', status: 401, retriable: false }, name)
    t.notMatch(JSON.stringify(res.body), /billing-key|login-key/, `${name}: no key echoed`)
  }
  t.equal(sandbox.messages().length, 0)
  t.equal(logs.sends().length, 0)
  t.notMatch(logs.text(), /billing-key|login-key|short/, 'presented keys never logged')
})

t.test('a valid key as Bearer or as X-API-Key: sent, and the key\'s name is the caller in the log', async (t) => {
  const { app, sandbox, logs } = await buildTestApp(t, { env: { API_KEYS: KEYS } })
  const a = await post(app, '/v1/messages/text', body, { authorization: 'Bearer billing-key-0123456789' })
  const b = await post(app, '/v1/messages/text', body, { 'x-api-key': 'login-key-abcdefghij' })
  t.equal(a.status, 202)
  t.equal(b.status, 202)
  t.equal(sandbox.messages().length, 2)
  t.match(logs.sends(), [{ caller: 'billing' }, { caller: 'login' }])
  t.notMatch(logs.text(), /billing-key|login-key/)
})

t.test('health, readiness and docs need no key', async (t) => {
  const { app } = await buildTestApp(t, { env: { API_KEYS: KEYS } })
  for (const url of ['/health', '/ready', '/docs/json', '/docs/', '/sandbox/messages']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
  }
})

t.test('without API_KEYS every caller is "anonymous"', async (t) => {
  const { app, logs } = await buildTestApp(t)
  t.equal((await post(app, '/v1/messages/text', body)).status, 202)
  t.match(logs.sends(), [{ caller: 'anonymous' }])
})

t.test('the OpenAPI document declares the schemes, so Swagger UI\'s Authorize button works', async (t) => {
  const { app } = await buildTestApp(t, { env: { API_KEYS: 'crm:k-123456789012345678901234' } })
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.match(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } })
  t.strictSame(doc.paths['/v1/messages/text'].post.security, [{ bearerAuth: [] }, { apiKey: [] }])
  t.strictSame(doc.paths['/health'].get.security, [], 'open routes say they need no key')
})

t.test('live mode without keys refuses to start, unless ALLOW_ANONYMOUS=true', async (t) => {
  const live = { JELOU_CLIENT_ID: 'id', JELOU_CLIENT_SECRET: 'secret' }
  t.throws(() => loadConfig(live), ConfigError)
  t.throws(() => loadConfig(live), /API_KEYS is required in live mode/)
  t.equal(loadConfig({ ...live, ALLOW_ANONYMOUS: 'true' }).mode, 'live')
  t.equal(loadConfig({ ...live, API_KEYS: KEYS }).apiKeys.length, 2)
  t.throws(() => loadConfig({ ...live, API_KEYS: 'billing:short' }), /API_KEYS must be comma-separated name:key pairs/)
  t.throws(() => loadConfig({ ...live, API_KEYS: 'a:aaaaaaaaaaaaaaaaaaaa,a:bbbbbbbbbbbbbbbbbbbb' }), /unique/)
})

t.test('the process itself exits 1 with the message, and never prints the secret', async (t) => {
  const server = fileURLToPath(new URL('../src/server.ts', import.meta.url))
  // process.execArgv carries the TypeScript loader (scripts/ts-loader.js, .taprc), so the child runs the .ts entry directly.
  const child = spawn(process.execPath, [...process.execArgv, server], {
    env: { PATH: process.env.PATH, JELOU_CLIENT_ID: 'id', JELOU_CLIENT_SECRET: 'do-not-print-me', PORT: '0' }
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += String(chunk) })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(stderr, /API_KEYS is required in live mode/)
  t.notMatch(stderr, /do-not-print-me/)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
})
