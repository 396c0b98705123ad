// OpenTelemetry: spans reach an OTLP/HTTP JSON receiver on loopback, continue the caller's trace, never hold a number, value or code.
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logger.js'
import { startSandbox, type Sandbox } from '../src/sandbox/server.js'
import { startTracing } from '../src/tracing.js'
import { NEVER_LOGGED, captureLogs, post } from './helper.js'
import { startServer } from './process.js'

// The last test spawns the service twice under the TypeScript loader: slow on a busy machine.
t.setTimeout(180000)

interface OtlpValue { stringValue?: string, intValue?: number | string, boolValue?: boolean }
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: Array<{ key: string, value: OtlpValue }>
}
const SERVER = 2
const CLIENT = 3

/** A collector stand-in: keeps every OTLP/HTTP JSON export it is sent. */
async function startReceiver (t: Test) {
  const bodies: string[] = []
  const server = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/json') bodies.push(body)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const spans = (): OtlpSpan[] => bodies.flatMap((body) => (JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> })
    .resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, spans }
}

function attrs (span: OtlpSpan): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries(span.attributes.map(({ key, value }) => [key, value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue))]))
}

/** The sandbox records bodies, not headers: read the traceparent header off its server, per request. */
function traceparentsSeen (sandbox: Sandbox): { sends: string[], all: string[] } {
  const seen = { sends: [] as string[], all: [] as string[] }
  sandbox.app.server.on('request', (req: IncomingMessage) => {
    const traceparent = String(req.headers.traceparent ?? 'none')
    seen.all.push(traceparent)
    if (req.method === 'POST' && req.url?.endsWith('/hsm') === true) seen.sends.push(traceparent)
  })
  return seen
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN = '00f067aa0ba902b7'
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`
const PARAM = 'Valentina-Secret-Param'

t.test('the switch: tracing is on only when the OTEL_* variables ask for it', async (t) => {
  const base = { JELOU_BOT_ID: 'bot-123' }
  t.equal(loadConfig(base).tracing, null, 'nothing set: off')
  t.match(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing,
    { endpoint: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', serviceName: 'jelou-hsm-proxy', sendTraceparent: false }, 'endpoint set: on, /v1/traces appended, protobuf, package name')
  t.match(loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://x.example/otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'hsm-eu' }).tracing,
    { endpoint: 'https://x.example/otlp', protocol: 'http/json', serviceName: 'hsm-eu' }, 'the signal-specific endpoint is used as is')
  t.match(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'otlp' }).tracing, { endpoint: 'http://localhost:4318/v1/traces' }, 'OTEL_TRACES_EXPORTER=otlp alone: the spec default endpoint')
  t.equal(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing, null, 'exporter none wins')
  t.equal(loadConfig({ ...base, OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }).tracing, null, 'OTEL_SDK_DISABLED wins')
  for (const [env, message] of [
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /- OTEL_TRACES_EXPORTER must be otlp or none/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /- OTEL_EXPORTER_OTLP_PROTOCOL .*grpc is not supported/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /- OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/],
    [{ JELOU_SEND_TRACEPARENT: 'yes' }, /- JELOU_SEND_TRACEPARENT must be true or false/]
  ] as const) {
    t.throws(() => loadConfig({ ...base, ...env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('in process: one traced send continues the caller trace; the Jelou attempt spans are its children with the send attributes', async (t) => {
  const receiver = await startReceiver(t)
  const sandbox = await startSandbox({ port: 0, retryAfterSeconds: 0 })
  t.teardown(() => sandbox.close())
  const seen = traceparentsSeen(sandbox)
  const config = loadConfig({
    JELOU_BOT_ID: 'bot-123',
    RECIPIENT_LIMIT: '1000/60s',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'
  })
  t.ok(config.tracing, 'an OTLP endpoint turns tracing on')
  const tracing = await startTracing(config.tracing!)
  t.teardown(() => tracing.shutdown())
  const { stream, capture } = captureLogs(t, [...NEVER_LOGGED, PARAM])
  const app = await buildApp(config, { sandbox, tracing, logger: pino({ ...loggerOptions(config, tracing.logMixin), level: 'info' }, stream) })
  t.teardown(() => app.close())

  // Over a real socket, the body of the first send in two packets: the second arrives on a socket
  // event, outside the context the request span was opened in (the context must still follow).
  let headersIn = (): void => {}
  const headersArrived = new Promise<void>((resolve) => { headersIn = resolve })
  app.addHook('onRequest', async (request) => { if (request.headers['x-split'] === '1') headersIn() })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const send = async (kind: string, body: object, headers: Record<string, string> = {}) =>
    (await fetch(`${url}/v1/messages/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })).status
  const first = JSON.stringify({ to: '+593 98 765 4321', template: 'welcome_back', params: [PARAM] })
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`POST /v1/messages/text HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${first.length}\r\n` +
    `traceparent: ${TRACEPARENT}\r\nx-split: 1\r\nconnection: close\r\n\r\n${first.slice(0, 10)}`)
  await headersArrived
  socket.write(first.slice(10))
  let answer = ''
  for await (const chunk of socket) answer += String(chunk)
  t.match(answer, /^HTTP\/1\.1 202 /, 'the split send is accepted')
  t.equal(await send('authentication', { to: '+593 98 765 4321', template: 'login_code', code: '483920' }), 202)
  t.equal(await send('text', { to: '+593 98 765 4321', template: 'sandbox_rate_limited', params: [PARAM] }, { traceparent: TRACEPARENT }), 429)
  t.equal((await fetch(`${url}/health`)).status, 200)
  await tracing.forceFlush()

  const spans = receiver.spans()
  const servers = spans.filter((s) => s.kind === SERVER)
  t.equal(servers.length, 3, 'one server span per send request, none for /health')
  const server = servers.find((s) => s.traceId === TRACE_ID && attrs(s)['hsm.template'] === 'welcome_back') as OtlpSpan
  t.ok(server, 'the server span continues the incoming trace')
  t.equal(server.parentSpanId, CALLER_SPAN, "its parent is the caller's span")
  t.match(attrs(server), {
    'http.route': '/v1/messages/text',
    'http.response.status_code': 202,
    'hsm.kind': 'text',
    'hsm.template': 'welcome_back',
    'hsm.outcome': 'sent',
    'hsm.code': 'OK',
    'hsm.attempts': 1,
    'hsm.upstream_status': 200
  })

  const clients = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === server.spanId)
  t.equal(clients.length, 1, 'one client span for the one Jelou call, child of the request span')
  t.equal(clients[0]?.traceId, TRACE_ID)
  t.equal(clients[0]?.name, 'POST /v2/whatsapp/{botId}/hsm')
  t.match(attrs(clients[0] as OtlpSpan), {
    'hsm.kind': 'text',
    'hsm.template': 'welcome_back',
    'hsm.outcome': 'sent',
    'hsm.code': 'OK',
    'hsm.attempt': 1,
    'hsm.upstream_status': 200,
    'http.response.status_code': 200
  })
  t.equal(spans.filter((s) => s.name === 'POST /v2/whatsapp/{botId}/hsm').length, 1 + 1 + 3, 'one span per Jelou attempt: 1, 1, and 3 for the rate-limited send')
  // The undici instrumentation traces other calls (here the test's own fetch), never the send a second time.
  t.notOk(spans.some((s) => String(attrs(s)['url.full']).includes('/hsm')), 'no second span for a Jelou send')

  const retried = servers.find((s) => attrs(s)['hsm.template'] === 'sandbox_rate_limited') as OtlpSpan
  t.match(attrs(retried), { 'hsm.outcome': 'failed', 'hsm.code': 'UPSTREAM_RATE_LIMITED', 'hsm.attempts': 3, 'hsm.upstream_status': 429, 'http.response.status_code': 429, 'error.type': 'UPSTREAM_RATE_LIMITED' })
  const attempts = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === retried.spanId).map(attrs)
  t.strictSame(attempts.map((a) => a['hsm.attempt']).sort(), [1, 2, 3], 'each retry is its own span')
  t.ok(attempts.every((a) => a['hsm.code'] === 'UPSTREAM_RATE_LIMITED' && a['http.response.status_code'] === 429))

  const exported = receiver.bodies.join('')
  for (const value of ['593987654321', '987654321', PARAM, '483920', 'c2FuZGJveDpzYW5kYm94']) {
    t.notOk(exported.includes(value), `no span holds ${value}`)
  }
  t.strictSame(seen.sends, Array(5).fill('none'), 'no traceparent sent to Jelou with the five send attempts')
  t.ok(seen.all.every((v) => v === 'none'), 'nor with any other call (template list, notifications)')

  const line = capture.sends().find((l) => l.template === 'welcome_back')
  t.equal(line?.trace_id, TRACE_ID, "the send's log line carries the trace id")
  t.equal(line?.span_id, server.spanId, '… and the request span id')
})

t.test('JELOU_SEND_TRACEPARENT=true: Jelou gets the attempt span as its parent', async (t) => {
  const receiver = await startReceiver(t)
  const sandbox = await startSandbox({ port: 0 })
  t.teardown(() => sandbox.close())
  const config = loadConfig({ JELOU_BOT_ID: 'bot-123', MAX_EVENT_LOOP_DELAY_MS: '0', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', JELOU_SEND_TRACEPARENT: 'true' })
  const tracing = await startTracing(config.tracing!)
  t.teardown(() => tracing.shutdown())
  const app = await buildApp(config, { sandbox, tracing, logger: pino({ level: 'silent' }) })
  t.teardown(() => app.close())
  const seen = traceparentsSeen(sandbox)
  t.equal((await post(app, '/v1/messages/text', { to: '+593 98 765 4321', template: 'welcome_back', params: ['x'] }, { traceparent: TRACEPARENT })).status, 202)
  await tracing.forceFlush()
  // The send's attempt span (the catalogue's start-up list call has a client span of its own).
  const client = receiver.spans().find((s) => s.kind === CLIENT && attrs(s)['hsm.attempt'] === 1) as OtlpSpan
  t.equal(seen.sends[0], `00-${TRACE_ID}-${client.spanId}-01`)
})

t.test('the real process: tracing follows the OTEL_* variables, and with OTEL_TRACES_EXPORTER=none nothing is exported', async (t) => {
  for (const [name, extra, expectSpans] of [
    ['endpoint set', {}, true],
    ['exporter none', { OTEL_TRACES_EXPORTER: 'none' }, false]
  ] as const) {
    const receiver = await startReceiver(t)
    const { child, url, output } = await startServer(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', JELOU_BOT_ID: 'bot-123', MAX_EVENT_LOOP_DELAY_MS: '0', ...extra })
    const res = await fetch(`${url}/v1/messages/text`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: TRACEPARENT }, body: JSON.stringify({ to: '+593 98 765 4321', template: 'welcome_back', params: ['x'] }) })
    t.equal(res.status, 202, name)
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    t.equal(code, 0, `${name}: clean exit`)
    const sendLine = output().split('\n').find((line) => line.includes('"outcome":"sent"')) ?? ''
    if (expectSpans) {
      t.ok(receiver.spans().some((s) => s.traceId === TRACE_ID && s.kind === SERVER), `${name}: spans flushed before exit`)
      t.match(sendLine, `"trace_id":"${TRACE_ID}"`, `${name}: the log line carries the trace id`)
    } else {
      t.equal(receiver.bodies.length, 0, `${name}: no export at all`)
      t.notMatch(sendLine, 'trace_id', `${name}: no trace ids in logs`)
    }
  }
})
