// Graceful shutdown of the real process: SIGTERM mid-flight, every accepted send still gets its answer.
import t from 'tap'
import { once } from 'node:events'
import { request } from 'undici'
import { startSandbox } from '../src/sandbox/server.js'
import { liveEnv, startServer } from './process.js'

// Spawning the service under the TypeScript loader takes a while on a busy machine.
t.setTimeout(180000)

t.test('SIGTERM mid-flight: every accepted request is answered, the sandbox count equals the 202 count, exit 0', async (t) => {
  const sandbox = await startSandbox({ port: 0, slowMs: 600, clientId: 'proxy', clientSecret: 'proxy-secret' })
  t.teardown(() => sandbox.close())
  const { child, url, output } = await startServer(t, liveEnv(sandbox.url, { SHUTDOWN_TIMEOUT_MS: '5000' }))
  const body = JSON.stringify({ to: '+593 98 765 4321', template: 'sandbox_slow', params: ['Maria'] })
  const inflight = Array.from({ length: 8 }, () => request(`${url}/v1/messages/text`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body
  }).then(async (res) => ({ status: res.statusCode, body: await res.body.json() as { messageId?: string } })))

  while (sandbox.messages().length < 8) await new Promise((resolve) => setTimeout(resolve, 20))
  const signalled = Date.now()
  child.kill('SIGTERM')
  const answers = await Promise.all(inflight)
  const [code] = await once(child, 'exit')

  t.strictSame(answers.map((a) => a.status), Array(8).fill(202), 'every in-flight send answered 202')
  t.equal(new Set(answers.map((a) => a.body.messageId)).size, 8)
  t.equal(sandbox.messages().length, answers.filter((a) => a.status === 202).length, 'one upstream request per 202')
  t.equal(code, 0, 'clean exit')
  t.ok(Date.now() - signalled < 5000, 'exited within SHUTDOWN_TIMEOUT_MS')
  t.equal(output().split('\n').filter((line) => line.includes('"outcome":"sent"')).length, 8, 'one log line per send')
  t.match(output(), /"signal":"SIGTERM"/)
  await t.rejects(request(`${url}/health`), 'no longer accepting connections')
})
