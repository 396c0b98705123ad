// The send's Redis round trips (one before Jelou, one after) and commands, counted on a Redis of the test's own behind a
// delaying proxy; and the two paths where the one step before Jelou must act as claim-first did: a kept answer replayed
// to a retry that is invalid now, and a key over the recipient limit left free.
import t from 'tap'
import net from 'node:net'
import readline from 'node:readline'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { buildLiveApp, buildTestApp, freePort, post, redisServerSkip, startRedis, storeVariants } from './helper.js'
import { standin } from './jelou-standin.js'

const TO = '+593 98 765 4321'
const text = (extra: Record<string, unknown> = {}) => ({ to: TO, template: 'order_update', params: ['Maria', 'ORD-1'], ...extra })
const sent = (sandbox: { messages: () => Array<{ body: unknown }> }) =>
  sandbox.messages().filter((m) => (m.body as { elementName?: string } | null)?.elementName === 'order_update').length

/** A TCP proxy to Redis that holds every reply `delayMs`, in order: each round trip then costs at least that. */
async function delayingProxy (t: { teardown: (fn: () => unknown) => void }, redisPort: number, delayMs: number) {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => { setTimeout(() => { if (!client.destroyed) client.write(chunk) }, delayMs) })
    const close = () => { client.destroy(); upstream.destroy() }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as net.AddressInfo).port
}

/** The commands clients send on the keys of `prefix` (MONITOR): not those run inside scripts, BullMQ's polling, or the test's own (`ignore`'s address). */
async function monitor (t: { teardown: (fn: () => unknown) => void }, redisPort: number, prefix: string, ignore: () => string) {
  const socket = net.connect(redisPort, '127.0.0.1')
  await once(socket, 'connect')
  t.teardown(() => socket.destroy())
  socket.write('MONITOR\r\n')
  let commands: string[] = []
  readline.createInterface({ input: socket }).on('line', (line) => {
    const match = /^\+?[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line)
    if (match === null || match[1] === 'lua' || match[1] === ignore() || !line.includes(`"${prefix}`) || line.includes(`${prefix}bull`)) return
    commands.push((match[2] as string).toLowerCase())
  })
  return () => {
    const taken = commands
    commands = []
    return taken
  }
}

t.test('Redis round trips and commands of a send, keyed and unkeyed: one round trip before Jelou, one after', { skip: redisServerSkip, timeout: 60000 }, async (t) => {
  const redisPort = await freePort()
  const redis = await startRedis(redisPort)
  t.teardown(() => { redis.kill('SIGKILL') })
  const DELAY = 250
  const proxy = await delayingProxy(t, redisPort, DELAY)
  let jelouAt = 0
  const jelou = await standin(t, { send: () => { jelouAt = performance.now(); return { create: true, answer: 'ok' } } })
  const prefix = 'trips:'
  const { app } = await buildLiveApp(t, jelou.url, { REDIS_URL: `redis://127.0.0.1:${proxy}`, REDIS_KEY_PREFIX: prefix, JELOU_TIMEOUT_MS: '5000' })
  const direct = new Redis(`redis://127.0.0.1:${redisPort}`)
  t.teardown(() => { direct.disconnect() })
  await direct.ping()
  const commands = await monitor(t, redisPort, prefix, () => `127.0.0.1:${(direct as unknown as { stream: net.Socket }).stream.localPort ?? 0}`)
  // The first use of each script sends its text once (NOSCRIPT, then EVAL): not what is counted.
  const warm = await post(app, '/v1/messages/text', text({ clientRef: 'warm-up' }), { 'idempotency-key': 'warm-up' })
  t.equal(warm.status, 202)
  t.equal((await post(app, '/v1/messages/text', text())).status, 202)
  await sleep(4 * DELAY)
  t.equal(await direct.exists(`${prefix}msg:${warm.body.messageId as string}`), 1, 'a record written when Redis did not have the script yet (NOSCRIPT, then its text)')
  commands()
  /** The per-caller limit's count in its window (one caller: anonymous). */
  const callerCount = async () => {
    const keys = await direct.keys(`${prefix}rl:*`)
    t.equal(keys.length, 1, 'one caller counter')
    return Number(await direct.get(keys[0] as string))
  }

  for (const keyed of [true, false]) {
    t.test(keyed ? 'keyed' : 'unkeyed', async (t) => {
      const counted = await callerCount()
      const started = performance.now()
      const res = await post(app, '/v1/messages/text', text({ clientRef: 'ref-1' }), keyed ? { 'idempotency-key': 'k-trips' } : {})
      const answered = performance.now()
      t.equal(res.status, 202)
      const before = Math.floor((jelouAt - started) / DELAY)
      const after = Math.floor((answered - jelouAt) / DELAY)
      // Before Jelou: the send's one step, which counts the caller against the per-caller limit too.
      t.equal(before, 1, `round trips before Jelou: the send's one step (${Math.round(jelouAt - started)} ms at ${DELAY} ms a round trip)`)
      // After: a keyed send waits for its answer to be kept; an unkeyed one waits for nothing.
      t.equal(after, keyed ? 1 : 0, `round trips the answer waits for after Jelou (${Math.round(answered - jelouAt)} ms)`)
      // The status record (whose script closes the open attempt) went out with the answer's write, waiting
      // for no reply first (the proxy delays replies only: a write sent is in Redis at once).
      await sleep(DELAY / 2)
      const id = res.body.messageId as string
      t.equal(await direct.exists(`${prefix}msg:${id}`), 1, 'the status record is written, waiting for no earlier reply')
      const open = await direct.keys(`${prefix}open:*`)
      for (const key of open) t.equal(await direct.zcard(key), 0, 'and the open attempt closed with it')
      await sleep(2 * DELAY)
      t.strictSame(commands(), keyed ? ['evalsha', 'evalsha', 'evalsha'] : ['evalsha', 'evalsha'],
        keyed ? 'keyed: begin (caller, claim, recipient, mark, open), then record + close and complete' : 'unkeyed: begin (caller, recipient, open), then record + close')
      t.equal(await callerCount(), counted + 1, 'the caller counted once against its limit, in begin')
    })
  }
})

t.test('a retry that fails its checks now still gets its kept answer replayed (the one step was never reached: claimed first)', async (t) => {
  for (const variant of storeVariants(t)) {
    t.test(variant.name, async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: variant.env })
      const first = await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-disabled' })
      t.equal(first.status, 202)
      const bot = 'bot-123'
      sandbox.templates.set(bot, sandbox.templates.get(bot).map((item) => item.elementName === 'order_update' ? { ...item, status: 'PAUSED' } : item))
      await app.catalogue.refreshNow()
      t.match(await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-new' }), { status: 422, body: { code: 'TEMPLATE_NOT_APPROVED' } }, 'the template is refused now')
      const retry = await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-disabled' })
      t.match(retry, { status: 202, headers: { 'idempotent-replayed': 'true' }, body: { messageId: first.body.messageId } }, 'the same key replays its kept answer')
      t.equal(sent(sandbox), 1)
    })
  }
})

t.test('a keyed send over the recipient limit: 429, nothing sent or marked, and the key free for a later retry', async (t) => {
  for (const variant of storeVariants(t)) {
    t.test(variant.name, async (t) => {
      const { app, sandbox } = await buildTestApp(t, { env: { ...variant.env, RECIPIENT_LIMIT: '1/1s' } })
      t.equal((await post(app, '/v1/messages/text', text({ params: ['Maria', 'ORD-0'] }))).status, 202)
      const limited = await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-limited' })
      t.match(limited, { status: 429, body: { code: 'RECIPIENT_RATE_LIMITED' } })
      t.equal(sent(sandbox), 1, 'nothing sent')
      const again = await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-limited' })
      t.match(again, { status: 429, body: { code: 'RECIPIENT_RATE_LIMITED' } }, 'not kept: no replay, no 409 (nothing marked)')
      t.notOk(again.headers['idempotent-replayed'])
      await sleep(1100)
      const later = await post(app, '/v1/messages/text', text(), { 'idempotency-key': 'k-limited' })
      t.match(later, { status: 202 }, 'once the window has passed the key sends')
      t.notOk(later.headers['idempotent-replayed'])
      t.notOk(later.body.resolved, 'as a first attempt: nothing was marked to resolve')
      t.equal(sent(sandbox), 2)
    })
  }
})
