// Redis round trips per send (`npm run bench:redis`): the built service against the bench stub, memory store vs a
// redis-server of its own, keyed and unkeyed sends one at a time; p50/p99 latency, service and Redis CPU per send,
// and the Redis commands per send (MONITOR on a second connection): those the send path sends, the per-caller
// limit's, and those its scripts run inside Redis. Bounded: BENCH_REDIS_SENDS sends per case and
// round (default 1000), BENCH_REDIS_ROUNDS rounds (default 3), each case cut at BENCH_REDIS_SECONDS (default 30).
// Loopback only. BENCH_SERVICE_DIR runs another build (e.g. an older commit's) with this script.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SERVICE = path.resolve(process.env.BENCH_SERVICE_DIR ?? path.join(HERE, '..'))
const SENDS = Number(process.env.BENCH_REDIS_SENDS ?? 1000)
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_REDIS_SECONDS ?? 30)
const WARMUP = 200
// /proc/<pid>/stat counts CPU in clock ticks: 100 a second on Linux.
const TICK_MS = 10

const children = []
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

async function freePort () {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

function start (command, args, env = {}) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  child.stderr.text = () => stderr
  return child
}

async function stop (child) {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await Promise.race([once(child, 'exit'), sleep(5000).then(() => child.kill('SIGKILL'))])
}

/** utime + stime of a process, in ms (Linux /proc). */
function cpuMs (pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

function request (agent, port, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: urlPath, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      let text = ''
      res.on('data', (chunk) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

async function waitHttp (port, child) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the service exited: ${child.stderr.text()}`)
    const ok = await new Promise((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/ready', agent: false }, (res) => { res.resume(); resolve(res.statusCode === 200) }).on('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`the service did not get ready: ${child.stderr.text()}`)
}

/**
 * Counts the commands on this run's keys on a MONITOR connection: those the service sends (each
 * EVALSHA one, whatever its script does), the per-caller limit's own apart (its script has one key,
 * `rl:`; a send counts its caller inside its BEGIN instead, since 2026-12-07), and the commands
 * scripts run inside Redis. BullMQ's own polling is left out.
 */
async function monitor (port, prefix) {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('MONITOR\r\n')
  // Commands without a key (MULTI, EXEC, WAIT) count for the connection that sends this run's keys: the service's.
  let counts = { sent: new Map(), limit: 0, inScripts: 0, keyless: new Map() }
  const service = new Set()
  readline.createInterface({ input: socket }).on('line', (line) => {
    const match = /^\+?[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line)
    if (match === null) return
    const [, client, name] = match
    const command = name.toLowerCase()
    if (client === 'lua') {
      if (line.includes(`"${prefix}`)) counts.inScripts++
      return
    }
    if (!line.includes(`"${prefix}`)) {
      const keyless = counts.keyless.get(client) ?? new Map()
      keyless.set(command, (keyless.get(command) ?? 0) + 1)
      counts.keyless.set(client, keyless)
      return
    }
    if (line.includes(`${prefix}bull`)) return
    if (line.includes(`"1" "${prefix}rl:`)) counts.limit++
    else counts.sent.set(command, (counts.sent.get(command) ?? 0) + 1)
    service.add(client)
  })
  return {
    take () {
      for (const client of service) {
        for (const [command, count] of counts.keyless.get(client) ?? []) counts.sent.set(command, (counts.sent.get(command) ?? 0) + count)
      }
      const taken = { sent: Object.fromEntries(counts.sent), limit: counts.limit, inScripts: counts.inScripts }
      counts = { sent: new Map(), limit: 0, inScripts: 0, keyless: new Map() }
      return taken
    },
    close () { socket.destroy() }
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (value, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

async function measure (store, stubPort, redisPort) {
  const port = await freePort()
  const prefix = `bench-${randomUUID().slice(0, 8)}:`
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    JELOU_CLIENT_ID: 'bench',
    JELOU_CLIENT_SECRET: 'bench',
    JELOU_BASE_URL: `http://127.0.0.1:${stubPort}`,
    JELOU_BOT_ID: 'bot-123',
    LOG_LEVEL: 'warn',
    ALLOW_ANONYMOUS: 'true',
    RATE_LIMIT_PER_MINUTE: '100000000',
    RECIPIENT_LIMIT: '100000000/60s',
    // Start-up on a busy machine can stall the loop past the default 1 s: load shedding is not what this measures.
    MAX_EVENT_LOOP_DELAY_MS: '0'
  }
  if (store === 'redis') Object.assign(env, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_KEY_PREFIX: prefix })
  const service = start(process.execPath, [path.join(SERVICE, 'dist', 'server.js')], env)
  const results = {}
  try {
    await waitHttp(port, service)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const watch = store === 'redis' ? await monitor(redisPort, prefix) : undefined
    const redisPid = store === 'redis' ? redis.pid : undefined
    for (const keyed of [true, false]) {
      const send = (i) => request(agent, port, '/v1/messages/text', { to: `+593 98 765 ${String(i % 1000).padStart(4, '0')}`, template: 'order_update', params: ['Maria', `ORD-${i}`] }, keyed ? { 'idempotency-key': randomUUID() } : {})
      for (let i = 0; i < WARMUP; i++) {
        const { status, text } = await send(i)
        if (status !== 202) throw new Error(`a warm-up send (${store}, ${keyed ? 'keyed' : 'unkeyed'}) answered ${status}: ${text}`)
      }
      await sleep(100)
      watch?.take()
      const times = []
      const cpu0 = cpuMs(service.pid)
      const redisCpu0 = redisPid === undefined ? 0 : cpuMs(redisPid)
      const deadline = Date.now() + SECONDS * 1000
      for (let i = 0; i < SENDS && Date.now() < deadline; i++) {
        const t0 = process.hrtime.bigint()
        const { status, text } = await send(i)
        times.push(Number(process.hrtime.bigint() - t0) / 1e6)
        if (status !== 202) throw new Error(`a send (${store}, ${keyed ? 'keyed' : 'unkeyed'}) answered ${status}: ${text}`)
      }
      // The status records are written just after the answers: let the last ones land before counting.
      await sleep(200)
      const sorted = times.sort((a, b) => a - b)
      const commands = watch?.take()
      results[keyed ? 'keyed' : 'unkeyed'] = {
        sends: times.length,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        serviceCpuUs: (cpuMs(service.pid) - cpu0) * 1000 / times.length,
        redisCpuUs: redisPid === undefined ? 0 : (cpuMs(redisPid) - redisCpu0) * 1000 / times.length,
        commands: commands === undefined ? 0 : Object.values(commands.sent).reduce((a, b) => a + b, 0) / times.length,
        limit: commands === undefined ? 0 : commands.limit / times.length,
        inScripts: commands === undefined ? 0 : commands.inScripts / times.length,
        byCommand: commands === undefined ? {} : Object.fromEntries(Object.entries(commands.sent).map(([name, count]) => [name, round(count / times.length)]))
      }
    }
    watch?.close()
    agent.destroy()
  } finally {
    await stop(service)
  }
  return results
}

const stub = start(process.execPath, [path.join(HERE, 'stub.js')])
const stubPort = JSON.parse((await once(readline.createInterface({ input: stub.stdout }), 'line'))[0]).port
const redisPort = await freePort()
const redis = start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
for (let i = 0; i < 100; i++) {
  const up = await new Promise((resolve) => { const s = net.connect(redisPort, '127.0.0.1', () => { s.end(); resolve(true) }).on('error', () => resolve(false)) })
  if (up) break
  await sleep(50)
}

const rounds = []
try {
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved: a slow moment of the machine falls on both stores.
    const memory = await measure('memory', stubPort, redisPort)
    const onRedis = await measure('redis', stubPort, redisPort)
    rounds.push({ memory, redis: onRedis })
    process.stderr.write(`round ${r + 1}/${ROUNDS}: keyed p50 memory ${round(memory.keyed.p50, 3)} ms, Redis ${round(onRedis.keyed.p50, 3)} ms\n`)
  }
} finally {
  await stop(stub)
  await stop(redis)
}

const summary = {}
for (const store of ['memory', 'redis']) {
  for (const kind of ['keyed', 'unkeyed']) {
    const all = rounds.map((r) => r[store][kind])
    summary[`${store} ${kind}`] = {
      'p50 ms': round(median(all.map((x) => x.p50)), 3),
      'p99 ms': round(median(all.map((x) => x.p99)), 3),
      'p50 ms per round': all.map((x) => round(x.p50, 3)).join(' / '),
      'service CPU µs/send': Math.round(median(all.map((x) => x.serviceCpuUs))),
      'Redis CPU µs/send': Math.round(median(all.map((x) => x.redisCpuUs))),
      'send commands': round(median(all.map((x) => x.commands))),
      'per-caller limit': round(median(all.map((x) => x.limit))),
      'run in scripts': round(median(all.map((x) => x.inScripts))),
      'send commands, by name': JSON.stringify(all[all.length - 1].byCommand)
    }
  }
}
for (const kind of ['keyed', 'unkeyed']) {
  summary[`Redis over memory, ${kind}`] = {
    'p50 ms': round(summary[`redis ${kind}`]['p50 ms'] - summary[`memory ${kind}`]['p50 ms'], 3),
    'p99 ms': round(summary[`redis ${kind}`]['p99 ms'] - summary[`memory ${kind}`]['p99 ms'], 3),
    'service CPU µs/send': summary[`redis ${kind}`]['service CPU µs/send'] - summary[`memory ${kind}`]['service CPU µs/send']
  }
}
console.table(summary)
console.log(JSON.stringify({ service: SERVICE, sends: SENDS, rounds: ROUNDS, node: process.version, loadavg: os.loadavg().map((x) => round(x)), summary }))
