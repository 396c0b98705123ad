// Every upstream failure mode over real sockets: what the caller gets, how often Jelou was called, the one log line.
import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { LIVE_BASIC, buildLiveApp, buildTestApp, gatedUpstream, post } from './helper.js'
import { classifyNetworkError } from '../src/errors.js'
import { MAX_UPSTREAM_ANSWER_BYTES } from '../src/upstream/schema.js'

const send = (template: string, extra: Record<string, unknown> = {}) =>
  ({ to: '+593 98 765 4321', template, params: ['Maria', '0987654321'], ...extra })

/** A raw TCP server on 127.0.0.1 that hands each send's socket to `onRequest`. */
async function rawServer (t: Test, onRequest: (socket: net.Socket, index: number) => void) {
  let requests = 0
  const heads: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let buffered = ''
    socket.on('data', (chunk) => {
      buffered += chunk.toString()
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? 0)
      if (buffered.length - end - 4 < length) return
      const head = buffered.slice(0, end + 2)
      buffered = ''
      // The template list the service loads at start-up is not these tests' subject: an empty one,
      // on a connection closed after it, so every send opens a connection of its own as before.
      if (head.startsWith('GET /v1/bots/')) {
        answer(socket, 200, '{"data":[]}', { connection: 'close' })
        return socket.end()
      }
      heads.push(head)
      onRequest(socket, requests++)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const { port } = server.address() as net.AddressInfo
  // sends(): the POSTs only; a same-key retry of an outcome-unknown send may ask Jelou's notifications (a GET).
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, heads: () => heads, sends: () => heads.filter((head) => head.startsWith('POST ')).length }
}

function answer (socket: net.Socket, status: number, body: string, headers: Record<string, string> = {}) {
  const lines = [`HTTP/1.1 ${status} X`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

const RESERVED = [
  { template: 'sandbox_not_found', status: 422, code: 'UPSTREAM_REJECTED', outcome: 'rejected', upstreamStatus: 404 },
  { template: 'sandbox_rejected', status: 422, code: 'UPSTREAM_REJECTED', outcome: 'rejected', upstreamStatus: 422 },
  { template: 'sandbox_unauthorized', status: 502, code: 'UPSTREAM_AUTH_FAILED', outcome: 'failed', upstreamStatus: 401 },
  { template: 'sandbox_rate_limited', status: 429, code: 'UPSTREAM_RATE_LIMITED', outcome: 'failed', upstreamStatus: 429 },
  { template: 'sandbox_server_error', status: 502, code: 'UPSTREAM_ERROR', outcome: 'failed', upstreamStatus: 500 },
  { template: 'sandbox_slow', status: 504, code: 'UPSTREAM_TIMEOUT', outcome: 'timeout', upstreamStatus: null }
]

for (const r of RESERVED) {
  t.test(`sandbox ${r.template} → ${r.status} ${r.code}, sent once, one "${r.outcome}" line`, async (t) => {
    // Only the slow case needs a short deadline; the others keep the default so a busy machine cannot time them out.
    const env: Record<string, string> = r.code === 'UPSTREAM_TIMEOUT' ? { JELOU_TIMEOUT_MS: '1000' } : {}
    const { app, sandbox, logs } = await buildTestApp(t, { env, sandbox: { slowMs: 4000, retryAfterSeconds: 30 } })
    const res = await post(app, '/v1/messages/text', send(r.template))
    t.equal(res.status, r.status)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.body, { code: r.code, status: r.status, requestId: String, detail: String, retriable: Boolean })
    t.equal(sandbox.messages().length, 1, 'Jelou was called exactly once (no retry)')
    const sends = logs.sends()
    t.equal(sends.length, 1)
    t.match(sends[0], { outcome: r.outcome, code: r.code, upstreamStatus: r.upstreamStatus, attempts: 1, to: '5939******21' })
    if (r.code === 'UPSTREAM_RATE_LIMITED') t.equal(res.headers['retry-after'], '30')
    if (r.code === 'UPSTREAM_TIMEOUT') t.match(res.body.detail, /may have been sent/)
    const text = JSON.stringify(res.body)
    t.notMatch(text, /593987654321|987654321|Maria|stack/, 'no phone number, parameter or stack in the error body')
  })
}

t.test('an upstream rejection carries Jelou\'s own words, sanitized', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await post(app, '/v1/messages/text', send('sandbox_rejected'))
  t.strictSame(res.body.upstream, { status: 422, body: { message: ['Template does not exist'], status: 'failed' } })
})

t.test('a socket closed mid-response → 502, not retried (the message may have been sent)', async (t) => {
  const server = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n[{"id":')
    setTimeout(() => socket.destroy(), 20)
  })
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-cut' })
  t.equal(res.status, 502)
  t.equal(res.body.code, 'UPSTREAM_ERROR')
  t.equal(server.requests(), 1)
  t.match(logs.sends(), [{ outcome: 'failed', code: 'UPSTREAM_ERROR', attempts: 1 }])
  t.equal((await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-cut' })).headers['idempotent-replayed'], 'true', 'kept for replay')
  t.equal(server.sends(), 1, 'the same-key retry sent nothing again')
})

t.test('a server that never answers → 504 after JELOU_TIMEOUT_MS, not retried', async (t) => {
  const server = await rawServer(t, () => {})
  // The deadline covers connecting and writing too: long enough for a busy machine to get the request out.
  const { app, logs } = await buildLiveApp(t, server.url, { JELOU_TIMEOUT_MS: '1000' })
  const started = Date.now()
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 504)
  t.equal(res.body.code, 'UPSTREAM_TIMEOUT')
  t.ok(Date.now() - started >= 1000, 'waited for the deadline')
  t.equal(server.requests(), 1)
  t.match(logs.sends(), [{ outcome: 'timeout', code: 'UPSTREAM_TIMEOUT', attempts: 1 }])
})

/** Answers 200 with a 40-byte body, then writes it one byte every 100 ms (4 s in all). */
function trickle (socket: net.Socket, progress: { written: number }) {
  const body = `[{"id":"m-slow","destination":"${'5'.repeat(12)}"}]`.padEnd(40, ' ')
  socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`)
  const timer = setInterval(() => {
    if (socket.destroyed) return
    socket.write(body[progress.written++])
    if (progress.written === body.length) clearInterval(timer)
  }, 100)
  socket.on('close', () => clearInterval(timer))
}

t.test('an upstream trickling its body one byte per 100 ms gets 504 at JELOU_TIMEOUT_MS, not a 202 when it finishes', async (t) => {
  const progress = { written: 0 }
  const server = await rawServer(t, (socket) => trickle(socket, progress))
  const { app, logs } = await buildLiveApp(t, server.url, { JELOU_TIMEOUT_MS: '1000' })
  const started = Date.now()
  const res = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'trickle-1' })
  t.equal(res.status, 504)
  t.match(res.body, { code: 'UPSTREAM_TIMEOUT', detail: /may have been sent/ })
  t.ok(Date.now() - started >= 1000, 'not before the deadline')
  t.ok(progress.written < 40, `answered before the upstream finished its body (${progress.written} of 40 bytes written)`)
  t.equal(server.requests(), 1, 'not retried: the message may be out')
  t.match(logs.sends(), [{ outcome: 'timeout', code: 'UPSTREAM_TIMEOUT', attempts: 1, err: { code: 'HSM_DEADLINE' } }])
  const replay = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'trickle-1' })
  t.equal(replay.status, 504, 'the timeout is kept for replay')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(server.sends(), 1, 'the same-key retry sent nothing again')
})

t.test('the deadline covers retries: a 503 retried, then a trickle, ends at JELOU_TIMEOUT_MS from the start', async (t) => {
  const progress = { written: 0 }
  const server = await rawServer(t, (socket, i) => i === 0
    ? answer(socket, 503, '{"code":"busy"}', { 'retry-after': '0' })
    : trickle(socket, progress))
  const { app, logs } = await buildLiveApp(t, server.url, { JELOU_TIMEOUT_MS: '1000' })
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 504)
  t.equal(res.body.code, 'UPSTREAM_TIMEOUT')
  t.equal(server.requests(), 2)
  t.ok(progress.written < 40, `the second attempt was cut off (${progress.written} of 40 bytes written)`)
  t.match(logs.sends(), [{ outcome: 'timeout', attempts: 2 }])
})

t.test('a send still queued for a connection at its deadline gets 504 and is never written', async (t) => {
  const upstream = await gatedUpstream(t)
  const { app } = await buildLiveApp(t, upstream.url, { JELOU_TIMEOUT_MS: '1000', JELOU_CONNECTIONS: '1' })
  // Both start together, so their deadlines fall together: whichever holds the one connection is
  // held by Jelou, and the other is still queued when its deadline comes, however busy the machine.
  const sends = [post(app, '/v1/messages/text', send('order_update')), post(app, '/v1/messages/text', send('order_update'))]
  await upstream.arrived(1)
  const [first, queued] = await Promise.all(sends)
  t.match(queued, { status: 504, body: { code: 'UPSTREAM_TIMEOUT' } })
  t.equal(first?.status, 504, 'the other times out too')
  // The queued request started once the first one's connection was torn down, and was aborted before writing.
  t.equal(upstream.received(), 1, 'Jelou never saw the queued send')
})

t.test('a closed port → 503 after the allowed retries', async (t) => {
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  const { app, logs } = await buildLiveApp(t, `http://127.0.0.1:${port}`)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 503)
  t.match(res.body, { code: 'UPSTREAM_UNAVAILABLE', retriable: true, detail: /nothing was sent/ })
  t.match(logs.sends(), [{ outcome: 'failed', code: 'UPSTREAM_UNAVAILABLE', attempts: 3, upstreamStatus: null }])
})

t.test('a 200 that is not JSON → 502 UPSTREAM_ERROR', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 200, '<html>ok</html>'))
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 502)
  t.match(res.body, { code: 'UPSTREAM_ERROR', detail: /not the documented/ })
  t.equal(server.requests(), 1)
  t.match(logs.sends(), [{ outcome: 'failed', upstreamStatus: 200 }])
})

t.test('an answer that arrives in pieces after a 103, a character split across two writes, is read whole', async (t) => {
  // The id ends in "é" (two bytes in UTF-8): the first write ends after its first byte.
  const body = Buffer.from('[{"id":"msg-é","destination":"593987654321"}]')
  const cut = body.indexOf(0xc3) + 1
  const server = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n')
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n')
    const chunk = (part: Buffer) => socket.write(`${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`, 'latin1')
    chunk(body.subarray(0, cut))
    setTimeout(() => {
      chunk(body.subarray(cut))
      socket.write('0\r\n\r\n')
    }, 50)
  })
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 202)
  t.equal(res.body.messageId, 'msg-é')
  t.equal(server.requests(), 1)
  t.match(logs.sends(), [{ outcome: 'sent', upstreamStatus: 200, messageId: 'msg-é' }])
})

t.test('an answer over 1 MiB is not buffered: 502 UPSTREAM_ERROR, not retried, one "failed" line', async (t) => {
  const server = await rawServer(t, (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${MAX_UPSTREAM_ANSWER_BYTES + 2}\r\n\r\n`)
    socket.write(`"${'x'.repeat(MAX_UPSTREAM_ANSWER_BYTES)}"`)
  })
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 502)
  t.match(res.body, { code: 'UPSTREAM_ERROR', detail: /larger than 1 MiB/ })
  t.equal(server.requests(), 1, 'the message may be out: no retry')
  t.match(logs.sends(), [{ outcome: 'failed', code: 'UPSTREAM_ERROR', err: { code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' } }])
})

t.test('a 200 with JSON that is not the documented list → 502, not retried, kept for replay (the message may be out)', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 200, '{"ok":true}'))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-odd-200' })
  t.match(res, { status: 502, body: { code: 'UPSTREAM_ERROR', detail: /may have been sent/ } })
  t.equal(server.requests(), 1)
  const again = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-odd-200' })
  t.match(again, { status: 502, headers: { 'idempotent-replayed': 'true' } })
  t.equal(server.sends(), 1, 'the same-key retry sent nothing again')
})

t.test('429 with a Retry-After inside the deadline is retried, and the retry succeeds', async (t) => {
  const server = await rawServer(t, (socket, i) => i === 0
    ? answer(socket, 429, '{"code":"rate_limited"}', { 'retry-after': '0' })
    : answer(socket, 200, '[{"id":"m-2","destination":"593987654321"}]'))
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 202)
  t.equal(res.body.messageId, 'm-2')
  t.equal(server.requests(), 2)
  t.match(logs.sends(), [{ outcome: 'sent', attempts: 2 }])
})

t.test('503 with Retry-After is retried at most twice, then 502 UPSTREAM_ERROR, kept for replay', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 503, '{"code":"busy"}', { 'retry-after': '0' }))
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-503' })
  t.match(res, { status: 502, body: { code: 'UPSTREAM_ERROR', upstream: { status: 503, body: { code: 'busy' } } } })
  t.equal(server.requests(), 3)
  t.equal((await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-503' })).headers['idempotent-replayed'], 'true')
  t.equal(server.sends(), 3, 'the replay sent nothing again (it may only ask Jelou about the message)')
  t.match(logs.sends(), [{ outcome: 'failed', attempts: 3, upstreamStatus: 503 }])
})

t.test('a 500 without Retry-After is not retried: 502 UPSTREAM_ERROR', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 500, '{}'))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.match(res, { status: 502, body: { code: 'UPSTREAM_ERROR', retriable: true, upstream: { status: 500, body: {} } } })
  t.equal(server.requests(), 1)
})

t.test('403 → 502 UPSTREAM_AUTH_FAILED; 400 → 422 UPSTREAM_REJECTED', async (t) => {
  const server = await rawServer(t, (socket, i) => answer(socket, i === 0 ? 403 : 400, '{"code":"forbidden_bot","description":"to 593987654321 from 44207946095","_metadata":{"body":{"parameters":["Maria"]}}}'))
  const { app } = await buildLiveApp(t, server.url)
  const first = await post(app, '/v1/messages/text', send('order_update'))
  t.match(first.body, { status: 502, code: 'UPSTREAM_AUTH_FAILED' })
  const second = await post(app, '/v1/messages/text', send('order_update'))
  t.match(second.body, { status: 422, code: 'UPSTREAM_REJECTED', upstream: { status: 400, body: { code: 'forbidden_bot', description: 'to [redacted] from 4420*****95' } } })
  t.notOk('_metadata' in (second.body.upstream as { body: object }).body, 'Jelou\'s echo of the request is dropped')
})

t.test('a connection reset before the request is written is retried over a real socket, and the retry sends', async (t) => {
  let connections = 0
  let armed = false
  const server = await rawServer(t, (socket) => answer(socket, 200, '[{"id":"m-after-reset","destination":"593987654321"}]'))
  // The send's first connection is reset as it is accepted: undici has not begun writing the request.
  const reset = net.createServer((socket) => {
    if (armed && connections++ === 0) return socket.resetAndDestroy()
    socket.pipe(net.connect(Number(new URL(server.url).port), '127.0.0.1')).pipe(socket)
  })
  reset.listen(0, '127.0.0.1')
  await once(reset, 'listening')
  t.teardown(() => { reset.close() })
  const { app, logs } = await buildLiveApp(t, `http://127.0.0.1:${(reset.address() as net.AddressInfo).port}`)
  armed = true
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 202)
  t.equal(res.body.messageId, 'm-after-reset')
  t.equal(connections, 2, 'the reset connection and the retry\'s')
  t.equal(server.requests(), 1, 'one request reached Jelou')
  t.match(logs.sends(), [{ outcome: 'sent', attempts: 2 }])
})

t.test('Retry-After as an HTTP date: past the deadline it is not waited for, and the caller gets the seconds left', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 429, '{"code":"rate_limited"}', { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.match(res, { status: 429, body: { code: 'UPSTREAM_RATE_LIMITED', retriable: true } })
  const seconds = Number(res.headers['retry-after'])
  t.ok(seconds >= 100 && seconds <= 120, `Retry-After ${seconds} s from the date`)
  t.equal(server.requests(), 1, 'not retried: the wait is past the deadline')
})

t.test('Retry-After as an HTTP date inside the deadline is waited for and retried', async (t) => {
  // A date in the past means "now"; HTTP dates have whole seconds, so a near-future one could be up to 1 s late.
  const server = await rawServer(t, (socket, i) => i === 0
    ? answer(socket, 503, '{"code":"busy"}', { 'retry-after': new Date(Date.now() - 5000).toUTCString() })
    : answer(socket, 200, '[{"id":"m-date","destination":"593987654321"}]'))
  const { app, logs } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 202)
  t.equal(server.requests(), 2)
  t.match(logs.sends(), [{ outcome: 'sent', attempts: 2 }])
})

t.test('a 429 without Retry-After: not retried, 429 with Retry-After: 1, not kept for replay', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 429, '{"code":"rate_limited"}'))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-429' })
  t.match(res, { status: 429, headers: { 'retry-after': '1' }, body: { code: 'UPSTREAM_RATE_LIMITED', detail: /nothing was sent/ } })
  t.equal(server.requests(), 1)
  const again = await post(app, '/v1/messages/text', send('order_update'), { 'idempotency-key': 'k-429' })
  t.equal(again.headers['idempotent-replayed'], undefined, 'nothing was sent, so the same key may try again')
  t.equal(server.requests(), 2)
})

t.test('an error with an empty body → 502 UPSTREAM_ERROR with upstream.body null', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 500, ''))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.match(res, { status: 502, body: { code: 'UPSTREAM_ERROR', upstream: { status: 500, body: null } } })
  t.equal(server.requests(), 1)
})

t.test('a long, wide or deep error body is cut: strings at 500 characters, lists at 10 items, 4 levels deep', async (t) => {
  const deep = { message: { message: { message: { message: { message: 'too deep' } } } } }
  const error = { description: 'd'.repeat(5000), message: Array.from({ length: 50 }, (_, i) => `item ${i}`), error: deep }
  const server = await rawServer(t, (socket) => answer(socket, 400, JSON.stringify(error)))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update'))
  t.equal(res.status, 422)
  const body = (res.body.upstream as { body: { description: string, message: string[], error: unknown } }).body
  t.equal(body.description, 'd'.repeat(500))
  t.strictSame(body.message, Array.from({ length: 10 }, (_, i) => `item ${i}`))
  t.strictSame(body.error, { message: { message: {} } }, 'nothing below the fourth level of the body')
})

t.test('the live path sends the configured Basic credentials, JSON and the request id to /v2/whatsapp/{botId}/hsm', async (t) => {
  const server = await rawServer(t, (socket) => answer(socket, 200, '[{"id":"m-1","destination":"593987654321"}]'))
  const { app } = await buildLiveApp(t, server.url)
  const res = await post(app, '/v1/messages/text', send('order_update', { botId: 'bot+eu.1' }), { 'x-request-id': 'live-1' })
  t.equal(res.status, 202)
  const head = server.heads()[0]
  t.match(head, /^POST \/v2\/whatsapp\/bot%2Beu\.1\/hsm HTTP\/1\.1\r\n/)
  t.match(head, new RegExp(`\r\nauthorization: ${LIVE_BASIC}\r\n`, 'i'))
  t.match(head, /\r\ncontent-type: application\/json\r\n/i)
  t.match(head, /\r\nx-request-id: live-1\r\n/i)
  t.equal(res.body.sandbox, false)
})

t.test('retry safety by cause: only provably-unsent failures are retried', async (t) => {
  t.match(classifyNetworkError({ code: 'ECONNREFUSED' }), { code: 'UPSTREAM_UNAVAILABLE', retrySafe: true })
  t.match(classifyNetworkError({ code: 'UND_ERR_CONNECT_TIMEOUT' }), { code: 'UPSTREAM_UNAVAILABLE', retrySafe: true })
  t.match(classifyNetworkError({ code: 'UND_ERR_SOCKET', socket: { bytesWritten: 0 } }), { code: 'UPSTREAM_UNAVAILABLE', retrySafe: true })
  t.match(classifyNetworkError({ code: 'UND_ERR_SOCKET', socket: { bytesWritten: 312 } }), { code: 'UPSTREAM_ERROR', retrySafe: false })
  t.match(classifyNetworkError({ code: 'ECONNRESET' }), { code: 'UPSTREAM_ERROR', retrySafe: false })
  t.match(classifyNetworkError({ code: 'UND_ERR_HEADERS_TIMEOUT' }), { code: 'UPSTREAM_TIMEOUT', retrySafe: false })
  t.match(classifyNetworkError(new Error('boom')), { code: 'UPSTREAM_ERROR', retrySafe: false })
})
