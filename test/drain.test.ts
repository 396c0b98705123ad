// Draining deploys on the real process: SIGTERM turns /ready 503 at once, requests are served through SHUTDOWN_DRAIN_MS, in-flight sends finish, exit 0.
import t from 'tap'
import { once } from 'node:events'
import { request } from 'undici'
import { loadConfig } from '../src/config.js'
import { startSandbox } from '../src/sandbox/server.js'
import { liveEnv, startServer } from './process.js'

// Spawning the service under the TypeScript loader takes a while on a busy machine.
t.setTimeout(180000)

t.test('SHUTDOWN_TIMEOUT_MS counts from the signal: it covers the drain, then the in-flight sends', async (t) => {
  t.match(loadConfig({}), { shutdownDrainMs: 0, shutdownTimeoutMs: 15000 }, 'local default: no drain, JELOU_TIMEOUT_MS + 5 s')
  t.match(loadConfig({ SHUTDOWN_DRAIN_MS: '10000' }), { shutdownDrainMs: 10000, shutdownTimeoutMs: 25000 }, 'the image: 10 s drain, 25 s in all')
  t.throws(() => loadConfig({ SHUTDOWN_DRAIN_MS: '10000', SHUTDOWN_TIMEOUT_MS: '8000' }), { name: 'ConfigError', message: /- SHUTDOWN_TIMEOUT_MS must be greater than SHUTDOWN_DRAIN_MS/ })
})

t.test('SIGTERM: /ready 503 draining at once, a send during the drain is answered, the in-flight send finishes, exit 0', async (t) => {
  const sandbox = await startSandbox({ port: 0, slowMs: 4000, clientId: 'proxy', clientSecret: 'proxy-secret' })
  t.teardown(() => sandbox.close())
  const { child, url, output } = await startServer(t, liveEnv(sandbox.url, { SHUTDOWN_DRAIN_MS: '1500', SHUTDOWN_TIMEOUT_MS: '20000' }))
  const send = (template: string) => request(`${url}/v1/messages/text`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: '+593 98 765 4321', template, params: ['Maria'] })
  }).then(async (res) => ({ status: res.statusCode, connection: res.headers.connection, body: await res.body.json() as { messageId?: string } }))
  const ready = async () => {
    const res = await request(`${url}/ready`)
    return { status: res.statusCode, body: await res.body.json() as { status: string } }
  }

  t.equal((await ready()).status, 200, 'ready before the signal')
  const inflight = send('sandbox_slow')
  while (sandbox.messages().length < 1) await new Promise((resolve) => setTimeout(resolve, 20))

  child.kill('SIGTERM')
  // The signal is handled on the child's next turn: its "draining" line says it has been.
  while (!output().includes('"msg":"draining"')) await new Promise((resolve) => setTimeout(resolve, 5))
  const first = await ready()
  t.equal(first.status, 503, 'the first /ready after the signal is 503')
  t.equal(first.body.status, 'draining')

  const during = await send('welcome_back')
  t.equal(during.status, 202, 'a send during the drain window is answered')
  t.equal(during.connection, 'close', '… on a connection that then closes, so the caller reconnects elsewhere')
  t.notOk(output().includes('"msg":"closing"'), 'that send was inside the drain window')

  const slow = await inflight
  t.equal(slow.status, 202, 'the in-flight send finished')
  t.ok(output().includes('"msg":"closing"'), '… after the server had stopped accepting')
  t.ok(slow.body.messageId)
  const [code] = await once(child, 'exit')
  t.equal(code, 0, 'clean exit')
  t.equal(sandbox.messages().length, 2, 'one upstream request per 202')
  await t.rejects(request(`${url}/health`), 'no longer accepting connections')
})
