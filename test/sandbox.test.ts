// The sandbox answers like Jelou's HSM endpoint, records what it received, and fails on purpose for reserved template names.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { buildSandbox, startSandbox, type Sandbox, type SandboxOptions } from '../src/sandbox/server.js'

const AUTH = 'Basic ' + Buffer.from('sandbox:sandbox').toString('base64')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const PHONE = '593987654321'

const fixturesDir = new URL('./fixtures/', import.meta.url)
const fixtures = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.json') && !name.endsWith('.schema.json'))
  .sort()
  .map((name) => ({ name, request: (JSON.parse(readFileSync(new URL(name, fixturesDir), 'utf8')) as { request: Record<string, unknown> }).request }))

interface SendOptions {
  botId?: string
  /** Authorization header; null sends none. */
  auth?: string | null
  contentType?: string
  requestId?: string
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

async function start (t: Test, opts: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ port: 0, ...opts })
  t.teardown(() => sandbox.close())
  return sandbox
}

async function send (sandbox: Sandbox, body: unknown, opts: SendOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' }
  const auth = opts.auth === undefined ? AUTH : opts.auth
  if (auth !== null) headers.authorization = auth
  if (opts.requestId !== undefined) headers['x-request-id'] = opts.requestId
  const res = await request(`${sandbox.url}/v2/whatsapp/${encodeURIComponent(opts.botId ?? 'bot-123')}/hsm`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() }
}

function hsm (elementName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { elementName, destinations: [PHONE], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'], ...extra }
}

t.test('listens on loopback and reports a usable url', async (t) => {
  const sandbox = await start(t)
  t.match(sandbox.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await request(`${sandbox.url}/sandbox/messages`)
  t.equal(res.statusCode, 200)
  t.strictSame(await res.body.json(), { messages: [] })
})

t.test('every upstream example gets 200 with one {id, destination} per destination, and is recorded as sent', async (t) => {
  t.ok(fixtures.length >= 12, 'all twelve example bodies are present')
  const sandbox = await start(t)
  for (const fixture of fixtures) {
    t.test(fixture.name, async (t) => {
      const res = await send(sandbox, fixture.request, { requestId: `req-${fixture.name}` })
      t.equal(res.status, 200)
      const destinations = fixture.request.destinations as string[]
      const answer = res.body as Array<{ id: string, destination: string }>
      t.strictSame(answer.map((a) => a.destination), destinations, 'destinations in request order')
      for (const a of answer) {
        t.strictSame(Object.keys(a).sort(), ['destination', 'id'])
        t.match(a.id, UUID)
      }
      const [record] = sandbox.messages()
      t.match(record, {
        method: 'POST',
        path: '/v2/whatsapp/bot-123/hsm',
        botId: 'bot-123',
        authorization: AUTH,
        requestId: `req-${fixture.name}`,
        contentType: 'application/json',
        status: 200
      })
      t.strictSame(record.body, fixture.request, 'the body exactly as sent')
      t.ok(!Number.isNaN(Date.parse(record.receivedAt)), 'receivedAt is an ISO time')
    })
  }
})

t.test('several destinations get distinct ids, in request order', async (t) => {
  const sandbox = await start(t)
  const res = await send(sandbox, hsm('order_update', { destinations: ['593987654321', '5215512345678', '14155550123'] }))
  t.equal(res.status, 200)
  const answer = res.body as Array<{ id: string, destination: string }>
  t.strictSame(answer.map((a) => a.destination), ['593987654321', '5215512345678', '14155550123'])
  t.equal(new Set(answer.map((a) => a.id)).size, 3)
})

t.test('the botId path parameter is recorded decoded, the path as received', async (t) => {
  const sandbox = await start(t)
  const res = await send(sandbox, hsm('order_update'), { botId: 'bot+1.a_b' })
  t.equal(res.status, 200)
  t.match(sandbox.messages()[0], { botId: 'bot+1.a_b', path: '/v2/whatsapp/bot%2B1.a_b/hsm' })
})

t.test('credentials', async (t) => {
  const sandbox = await start(t, { clientId: 'id-1', clientSecret: 's3cret' })
  const good = 'Basic ' + Buffer.from('id-1:s3cret').toString('base64')

  t.test('the configured credentials are accepted, scheme in any case', async (t) => {
    t.equal((await send(sandbox, hsm('order_update'), { auth: good })).status, 200)
    const lower = 'basic ' + Buffer.from('id-1:s3cret').toString('base64')
    t.equal((await send(sandbox, hsm('order_update'), { auth: lower })).status, 200)
    t.equal(sandbox.messages()[0].authorization, lower, 'recorded exactly as received')
  })

  t.test('wrong credentials get 401 and are not stored', async (t) => {
    sandbox.clear()
    const wrong = 'Basic ' + Buffer.from('id-1:wrong').toString('base64')
    const res = await send(sandbox, hsm('order_update'), { auth: wrong })
    t.equal(res.status, 401)
    t.match(res.body, { code: 'unauthorized', description: String })
    t.equal(res.headers['www-authenticate'], 'Basic realm="sandbox"')
    const [record] = sandbox.messages()
    t.equal(record.authorization, null)
    t.equal(record.status, 401)
    t.strictSame(record.body, hsm('order_update'), 'the body is still recorded')
    t.notOk(JSON.stringify(sandbox.messages()).includes(wrong), 'the unknown credentials appear nowhere')
  })

  t.test('the default sandbox credentials are not accepted when others are configured', async (t) => {
    t.equal((await send(sandbox, hsm('order_update'), { auth: AUTH })).status, 401)
  })

  t.test('missing or non-Basic Authorization gets 401', async (t) => {
    for (const auth of [null, 'Bearer abc', 'Basic', `${good}x`]) {
      const res = await send(sandbox, hsm('order_update'), { auth })
      t.equal(res.status, 401, `Authorization: ${String(auth)}`)
      t.match(res.body, { code: 'unauthorized' })
      t.equal(sandbox.messages()[0].authorization, null)
    }
  })

  t.test('credentials are checked before the body', async (t) => {
    t.equal((await send(sandbox, { destinations: ['+1'] }, { auth: null })).status, 401, 'invalid body')
    t.equal((await send(sandbox, '{"elementName":', { auth: null })).status, 401, 'malformed JSON')
    t.equal((await send(sandbox, 'hello', { auth: null, contentType: 'text/plain' })).status, 401, 'not JSON')
    t.equal(sandbox.messages()[0].status, 401)
  })
})

t.test('invalid bodies get 422 naming the field, and are recorded', async (t) => {
  const sandbox = await start(t)
  const cases: Array<{ name: string, body: unknown, path: string, message: RegExp }> = [
    { name: 'missing elementName', body: { destinations: [PHONE] }, path: '/elementName', message: /required/ },
    { name: 'missing destinations', body: { elementName: 'order_update' }, path: '/destinations', message: /required/ },
    { name: 'empty destinations', body: hsm('order_update', { destinations: [] }), path: '/destinations', message: /fewer than 1/ },
    { name: 'destination with +', body: hsm('order_update', { destinations: ['+593987654321'] }), path: '/destinations/0', message: /pattern/ },
    { name: 'destination with a leading 0', body: hsm('order_update', { destinations: ['0987654321'] }), path: '/destinations/0', message: /pattern/ },
    { name: 'image without mediaUrl', body: hsm('promo_banner', { type: 'image' }), path: '/mediaUrl', message: /required when type is image/ },
    { name: 'video without mediaUrl', body: hsm('promo_video', { type: 'video' }), path: '/mediaUrl', message: /required when type is video/ },
    { name: 'carousel without cards', body: hsm('weekly_offers', { type: 'carousel' }), path: '/cards', message: /required when type is carousel/ },
    { name: 'unknown type', body: hsm('order_update', { type: 'sticker' }), path: '/type', message: /must be one of .*"text"/ },
    { name: 'two header parameters', body: hsm('order_update', { headerParameters: ['a', 'b'] }), path: '/headerParameters', message: /more than 1/ },
    { name: 'mediaUrl not a URL', body: hsm('promo_banner', { type: 'image', mediaUrl: 'not a url' }), path: '/mediaUrl', message: /format/ },
    { name: 'button param neither string nor number', body: hsm('track_order', { buttonParameters: [{ type: 'URL', param: true }] }), path: '/buttonParameters/0/param', message: /string or number/ },
    { name: 'ltoParams without expirationTime', body: hsm('flash_sale', { ltoParams: {} }), path: '/ltoParams/expirationTime', message: /required/ },
    { name: 'a JSON array', body: [], path: '', message: /object/ }
  ]
  for (const c of cases) {
    const res = await send(sandbox, c.body)
    t.equal(res.status, 422, c.name)
    const answer = res.body as { code: string, description: string, errors: Array<{ path: string, message: string }> }
    t.equal(answer.code, 'unprocessable_entity', c.name)
    t.type(answer.description, 'string')
    const error = answer.errors.find((e) => e.path === c.path)
    t.ok(error, `${c.name}: names ${c.path} (got ${JSON.stringify(answer.errors)})`)
    t.match(error?.message, c.message, c.name)
    t.match(sandbox.messages()[0], { status: 422, body: c.body })
  }

  t.test('all problems are listed, not only the first', async (t) => {
    const res = await send(sandbox, { elementName: '', destinations: ['+1'], type: 'image' })
    const paths = (res.body as { errors: Array<{ path: string }> }).errors.map((e) => e.path)
    t.strictSame(paths.sort(), ['/destinations/0', '/elementName', '/mediaUrl'])
  })

  t.test('unknown fields are accepted, like Jelou', async (t) => {
    t.equal((await send(sandbox, hsm('order_update', { somethingNew: 1 }))).status, 200)
  })
})

t.test('bodies that are not JSON', async (t) => {
  const sandbox = await start(t)

  t.test('malformed JSON gets 422 and is recorded', async (t) => {
    const res = await send(sandbox, '{"elementName":')
    t.equal(res.status, 422)
    t.match(res.body, { code: 'unprocessable_entity' })
    t.match(sandbox.messages()[0], { status: 422, body: null, authorization: AUTH })
  })

  t.test('an empty JSON body gets 422', async (t) => {
    const res = await send(sandbox, '')
    t.equal(res.status, 422)
  })

  t.test('a non-JSON Content-Type gets 415 and is recorded', async (t) => {
    const res = await send(sandbox, JSON.stringify(hsm('order_update')), { contentType: 'text/plain' })
    t.equal(res.status, 415)
    t.match(res.body, { code: 'unsupported_media_type' })
    t.match(sandbox.messages()[0], { status: 415, contentType: 'text/plain', body: null })
  })

  t.test('a body over 1 MiB gets 413', async (t) => {
    const res = await send(sandbox, hsm('order_update', { campaignId: 'x'.repeat(1024 * 1024) }))
    t.equal(res.status, 413)
    t.match(res.body, { code: 'payload_too_large' })
  })

  t.test('a charset parameter is fine', async (t) => {
    const res = await send(sandbox, hsm('order_update'), { contentType: 'application/json; charset=utf-8' })
    t.equal(res.status, 200)
  })
})

t.test('reserved template names fail on purpose', async (t) => {
  const sandbox = await start(t, { retryAfterSeconds: 7 })

  t.test('sandbox_not_found: 404 bot_not_found', async (t) => {
    const res = await send(sandbox, hsm('sandbox_not_found'))
    t.equal(res.status, 404)
    t.match(res.body, { code: 'bot_not_found', description: String })
  })

  t.test('sandbox_rejected: 422 with Jelou\'s old failure body, echoing phone and parameters', async (t) => {
    const res = await send(sandbox, hsm('sandbox_rejected'), { botId: 'bot-9' })
    t.equal(res.status, 422)
    t.strictSame(res.body, {
      message: ['Template does not exist'],
      status: 'failed',
      _metadata: {
        error: {},
        body: {
          destinations: [{ destination: PHONE }],
          parameters: ['Maria', 'ORD-1234'],
          elementName: 'sandbox_rejected',
          code: 'es',
          type: 'text',
          botId: 'bot-9'
        }
      }
    })
  })

  t.test('sandbox_unauthorized: 401 unauthorized', async (t) => {
    const res = await send(sandbox, hsm('sandbox_unauthorized'))
    t.equal(res.status, 401)
    t.match(res.body, { code: 'unauthorized' })
    t.equal(sandbox.messages()[0].authorization, AUTH, 'the credentials were good: recorded')
  })

  t.test('sandbox_rate_limited: 429 with Retry-After', async (t) => {
    const res = await send(sandbox, hsm('sandbox_rate_limited'))
    t.equal(res.status, 429)
    t.equal(res.headers['retry-after'], '7')
    t.match(res.body, { code: 'rate_limited' })
  })

  t.test('sandbox_server_error: 500 internal_server_error', async (t) => {
    const res = await send(sandbox, hsm('sandbox_server_error'))
    t.equal(res.status, 500)
    t.match(res.body, { code: 'internal_server_error' })
  })

  t.test('each one was recorded with the status it got', async (t) => {
    t.strictSame(sandbox.messages().map((m) => [(m.body as { elementName: string }).elementName, m.status]), [
      ['sandbox_server_error', 500],
      ['sandbox_rate_limited', 429],
      ['sandbox_unauthorized', 401],
      ['sandbox_rejected', 422],
      ['sandbox_not_found', 404]
    ])
  })

  t.test('a reserved name with an invalid body is still a 422 validation failure', async (t) => {
    const res = await send(sandbox, hsm('sandbox_server_error', { destinations: ['+1'] }))
    t.equal(res.status, 422)
    t.match(res.body, { code: 'unprocessable_entity' })
  })

  t.test('Retry-After defaults to 30', async (t) => {
    const other = await start(t)
    const res = await send(other, hsm('sandbox_rate_limited'))
    t.equal(res.headers['retry-after'], '30')
  })
})

t.test('sandbox_slow answers like a success, after slowMs', async (t) => {
  const sandbox = await start(t, { slowMs: 300 })
  const started = performance.now()
  const res = await send(sandbox, hsm('sandbox_slow'))
  const elapsed = performance.now() - started
  t.equal(res.status, 200)
  t.match(res.body, [{ id: UUID, destination: PHONE }])
  t.ok(elapsed >= 250, `answered after ${Math.round(elapsed)} ms`)
  t.equal(sandbox.messages()[0].status, 200)
})

t.test('close() during a slow request finishes promptly', async (t) => {
  const sandbox = await start(t) // default slowMs: 15 s
  const pending = send(sandbox, hsm('sandbox_slow')).then((res) => res, (err: unknown) => err)
  // Wait until the sandbox has the request, so close() really races an in-flight wait.
  while (sandbox.messages().length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(sandbox.messages()[0].status, 0, 'still pending before close')

  const started = performance.now()
  await sandbox.close()
  const closeMs = performance.now() - started
  t.ok(closeMs < 5000, `close() took ${Math.round(closeMs)} ms, not the 15 s wait`)

  // The sandbox answers its in-flight wait before its server closes: a 503, never a dropped connection.
  const res = await pending
  t.notOk(res instanceof Error, `answered, not a transport error${res instanceof Error ? ` (${res.message})` : ''}`)
  t.equal((res as Answer).status, 503, 'the request was answered as shutting down, not as sent')
  t.match((res as Answer).body, { code: 'service_unavailable' })
})

t.test('close() after the caller gave up on a slow request is prompt and quiet', async (t) => {
  const sandbox = await start(t)
  const controller = new AbortController()
  const pending = request(`${sandbox.url}/v2/whatsapp/bot-123/hsm`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(hsm('sandbox_slow')),
    signal: controller.signal
  })
  while (sandbox.messages().length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  controller.abort()
  await t.rejects(pending)
  const started = performance.now()
  await sandbox.close()
  t.ok(performance.now() - started < 5000, 'close() did not wait for slowMs')
})

t.test('GET /sandbox/messages lists the newest first, capped at maxRecords', async (t) => {
  const sandbox = await start(t, { maxRecords: 3 })
  for (let i = 1; i <= 5; i++) {
    t.equal((await send(sandbox, hsm(`template_${i}`))).status, 200)
  }
  const res = await request(`${sandbox.url}/sandbox/messages`)
  t.equal(res.statusCode, 200)
  const { messages } = await res.body.json() as { messages: Array<{ seq: number, body: { elementName: string } }> }
  t.strictSame(messages.map((m) => m.seq), [5, 4, 3])
  t.strictSame(messages.map((m) => m.body.elementName), ['template_5', 'template_4', 'template_3'])
  t.strictSame(messages, sandbox.messages(), 'the HTTP list and messages() agree')

  t.test('clear() empties the list; seq keeps increasing', async (t) => {
    sandbox.clear()
    t.strictSame(sandbox.messages(), [])
    await send(sandbox, hsm('template_6'))
    t.strictSame(sandbox.messages().map((m) => m.seq), [6])
  })

  t.test('messages() returns copies: changing one does not change the record', async (t) => {
    const [first] = sandbox.messages()
    const body = first.body as { elementName: string }
    first.status = 999
    body.elementName = 'changed'
    t.match(sandbox.messages()[0], { status: 200, body: { elementName: 'template_6' } })
  })
})

t.test('unknown routes get 404 in the sandbox error shape', async (t) => {
  const sandbox = await start(t)
  const res = await request(`${sandbox.url}/v1/hsm`, { method: 'POST' })
  t.equal(res.statusCode, 404)
  t.match(await res.body.json(), { code: 'not_found', description: String })
  t.strictSame(sandbox.messages(), [], 'only the HSM route is recorded')
})

t.test('startSandbox rejects when the port is taken', async (t) => {
  const first = await start(t)
  const port = Number(new URL(first.url).port)
  await t.rejects(startSandbox({ port }), { code: 'EADDRINUSE' })
})

t.test('buildSandbox', async (t) => {
  t.test('works without listening, through inject', async (t) => {
    const { app, messages } = buildSandbox()
    t.teardown(() => app.close())
    const res = await app.inject({ method: 'POST', url: '/v2/whatsapp/b/hsm', headers: { authorization: AUTH }, payload: hsm('order_update') })
    t.equal(res.statusCode, 200)
    t.equal(messages().length, 1)
  })

  t.test('rejects nonsense options', async (t) => {
    t.throws(() => buildSandbox({ maxRecords: -1 }), RangeError)
    t.throws(() => buildSandbox({ slowMs: 1.5 }), RangeError)
    t.throws(() => buildSandbox({ clientId: 'a:b' }), RangeError)
  })

  t.test('maxRecords 0 keeps nothing but still answers', async (t) => {
    const { app, messages } = buildSandbox({ maxRecords: 0 })
    t.teardown(() => app.close())
    const res = await app.inject({ method: 'POST', url: '/v2/whatsapp/b/hsm', headers: { authorization: AUTH }, payload: hsm('order_update') })
    t.equal(res.statusCode, 200)
    t.strictSame(messages(), [])
  })
})

t.test('npm run sandbox entry (src/sandbox/main.ts)', async (t) => {
  const main = fileURLToPath(new URL('../src/sandbox/main.ts', import.meta.url))
  // process.execArgv carries the TypeScript loader (scripts/ts-loader.js, .taprc), so the child runs the .ts entry directly.
  function run (env: Record<string, string>): ChildProcessWithoutNullStreams {
    const child = spawn(process.execPath, [...process.execArgv, main], { env: { ...process.env, ...env } })
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
    return child
  }
  async function exited (child: ChildProcessWithoutNullStreams): Promise<{ code: number | null, stdout: string, stderr: string }> {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const [code] = await once(child, 'exit') as [number | null]
    return { code, stdout, stderr }
  }

  t.test('an invalid PORT is one clear error and exit code 1', async (t) => {
    for (const port of ['abc', '70000', '-1', '80.5']) {
      const { code, stderr } = await exited(run({ PORT: port }))
      t.equal(code, 1, `PORT=${port}`)
      t.equal(stderr.trim(), `sandbox: PORT must be an integer from 0 to 65535, got "${port}"`)
    }
  })

  t.test('a client id with a colon is refused', async (t) => {
    const { code, stderr } = await exited(run({ PORT: '0', SANDBOX_CLIENT_ID: 'a:b' }))
    t.equal(code, 1)
    t.match(stderr, /SANDBOX_CLIENT_ID must not contain ":"/)
  })

  t.test('a port in use is one line and exit code 1, no stack', async (t) => {
    const taken = await start(t)
    const { code, stderr } = await exited(run({ PORT: new URL(taken.url).port, LOG_LEVEL: 'silent' }))
    t.equal(code, 1)
    t.match(stderr, /^sandbox: could not start: .*EADDRINUSE/)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  })

  t.test('starts, logs its url, answers with the configured credentials, stops on SIGTERM', async (t) => {
    const child = run({ PORT: '0', HOST: '127.0.0.1', SANDBOX_CLIENT_ID: 'env-id', SANDBOX_CLIENT_SECRET: 'env-secret', LOG_LEVEL: 'info' })
    const done = exited(child)
    let buffered = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        for (const line of buffered.split('\n')) {
          if (line.includes('"sandbox listening"')) resolve((JSON.parse(line) as { url: string }).url)
        }
      })
      child.once('exit', () => reject(new Error(`exited early: ${buffered}`)))
    })
    t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const sandbox = { url } as unknown as Sandbox
    const auth = 'Basic ' + Buffer.from('env-id:env-secret').toString('base64')
    t.equal((await send(sandbox, hsm('order_update'), { auth })).status, 200)
    t.equal((await send(sandbox, hsm('order_update'))).status, 401, 'the default credentials are not accepted')
    child.kill('SIGTERM')
    const { code, stdout } = await done
    t.equal(code, 0)
    t.match(stdout, /"sandbox closing"/)
    t.notMatch(stdout, /env-secret/, 'the secret is never logged')
  })
})
