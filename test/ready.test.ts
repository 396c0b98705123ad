// /ready: 503 naming Redis while a configured Redis is down, 200 again when it is back.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from './helper.js'

const hasRedis = spawnSync('redis-server', ['--version']).status === 0

async function freePort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function startRedis (port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) return child
    await sleep(50)
  }
  throw new Error('redis-server did not start')
}

t.test('/ready follows Redis', { skip: !hasRedis && process.env.CI === undefined ? 'redis-server is not installed (CI installs it)' : false }, async (t) => {
  t.ok(hasRedis, 'redis-server is installed')
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => { redis.kill('SIGKILL') })
  const { app } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })

  const waitFor = async (status: number) => {
    for (let i = 0; i < 100; i++) {
      const res = await app.inject({ url: '/ready' })
      if (res.statusCode === status) return res.json()
      await sleep(100)
    }
    return (await app.inject({ url: '/ready' })).json()
  }

  t.match(await waitFor(200), { status: 'ready', checks: { config: 'ok', upstream: 'ok', redis: 'ok' } })
  redis.kill('SIGKILL')
  await once(redis, 'exit')
  t.match(await waitFor(503), { status: 'not_ready', checks: { redis: 'unreachable', upstream: 'ok' } }, 'names Redis')
  const send = await app.inject({ method: 'POST', url: '/v1/messages/text', headers: { 'idempotency-key': 'k' }, payload: { to: '+593 98 765 4321', template: 'shipping_notice' } })
  t.equal(send.statusCode, 503, 'sends fail closed while the shared store is down')
  t.equal(send.json().code, 'STORE_UNAVAILABLE')
  redis = await startRedis(port)
  t.match(await waitFor(200), { status: 'ready', checks: { redis: 'ok' } }, 'back to ready')
})

t.test('/ready without Redis configured reports the upstream and the catalogue', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/ready' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { status: 'ready', mode: 'sandbox', checks: { config: 'ok', upstream: 'ok', catalogue: 'ok' } })
})
