// SPEC §18: a replica killed (SIGKILL, a real `node dist/server.js`) after Jelou received its send and before the answer was stored.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { startSandbox } from '../src/sandbox/server.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SERVER = join(ROOT, 'dist', 'server.js')
const body = (template: string) => ({ to: '+593 98 765 4321', template, params: ['Maria'] })
const sendsOf = (sandbox: { messages: () => Array<{ body: unknown, receivedAt: string }> }, template: string) =>
  sandbox.messages().filter((m) => (m.body as { elementName?: string } | null)?.elementName === template)

/** Newest modification time under a folder. */
function newest (dir: string): number {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

// The replicas run the built service, as in production; build it when src/ is newer (slow on a busy machine).
t.setTimeout(300000)
const stale = (() => { try { return statSync(SERVER).mtimeMs < newest(join(ROOT, 'src')) } catch { return true } })()
if (process.env.REDIS_URL !== undefined && stale) {
  const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
  if (built.status !== 0) throw new Error('npm run build failed')
}

function startReplica (env: Record<string, string>): { child: ChildProcess, url: Promise<string> } {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env } })
  const url = new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk) => {
      out += String(chunk)
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match !== null) resolve(match[1] as string)
    })
    child.once('exit', () => { reject(new Error(`replica exited before listening: ${out.slice(-500)}`)) })
  })
  return { child, url }
}

/** The replica's URL once /ready says its Redis answers (a busy machine can take seconds to connect). */
async function ready (url: Promise<string>): Promise<string> {
  const base = await url
  for (let round = 0; round < 300; round++) {
    if ((await fetch(`${base}/ready`)).status === 200) return base
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('replica never ready')
}

/** Replicas on this run's Redis (a key prefix of their own) against the sandbox, live mode. */
function replicaEnv (sandboxUrl: string): Record<string, string> {
  return {
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    JELOU_BASE_URL: sandboxUrl,
    JELOU_CLIENT_ID: 'sandbox',
    JELOU_CLIENT_SECRET: 'sandbox',
    JELOU_BOT_ID: 'bot-123',
    ALLOW_ANONYMOUS: 'true',
    // The claim's lease (derived from this deadline) is what the survivor waits out.
    JELOU_TIMEOUT_MS: '1000',
    // The registration window passes while the survivor waits out the lease.
    RESOLUTION_CLOCK_SKEW_SECONDS: '1',
    RESOLUTION_WINDOW_SECONDS: '2',
    // A busy test machine must not shed these requests (the overload guard has its own tests).
    MAX_EVENT_LOOP_DELAY_MS: '0'
  }
}

t.test('a replica killed between Jelou\'s send and storing the answer: the same-key retry elsewhere answers 202 with that id, one send', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL not set' : false }, async (t) => {
  const sandbox = await startSandbox({ slowMs: 60000, deliveryStepMs: 0 })
  t.teardown(() => sandbox.close())
  const env = replicaEnv(sandbox.url)
  const doomed = startReplica(env)
  t.teardown(() => { doomed.child.kill('SIGKILL') })
  const doomedUrl = await ready(doomed.url)
  const request = { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'crash-1' }, body: JSON.stringify(body('sandbox_timeout_sent')) }
  fetch(`${doomedUrl}/v1/messages/text`, request).catch(() => {})
  // Jelou has the send (and has created the message) when it shows in the sandbox's notifications.
  for (let i = 0; i < 3000 && sandbox.notifications().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(sandbox.notifications().length, 1, 'Jelou created the message and has not answered yet')
  doomed.child.kill('SIGKILL')
  await once(doomed.child, 'exit')

  const survivor = startReplica(env)
  t.teardown(() => { survivor.child.kill('SIGKILL') })
  const survivorUrl = await ready(survivor.url)
  let answer: Response | undefined
  for (let round = 0; round < 60; round++) {
    answer = await fetch(`${survivorUrl}/v1/messages/text`, request)
    if (answer.status !== 409) break
    // 409 while the dead replica's lease runs: wait as Retry-After says.
    await new Promise((resolve) => setTimeout(resolve, Number(answer?.headers.get('retry-after') ?? 1) * 1000))
  }
  const result = await (answer as Response).json() as Record<string, unknown>
  t.equal(answer?.status, 202)
  t.match(result, { messageId: sandbox.notifications()[0]?.id, resolved: true })
  t.equal(sendsOf(sandbox, 'sandbox_timeout_sent').length, 1, 'Jelou received exactly one send')
})

t.test('a scheduled send: two replicas on one Redis run it once; a replica killed while it runs, and it ends sent once', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL is not set (npm test sets it when redis-server is installed)' : false }, async (t) => {
  const sandbox = await startSandbox({ slowMs: 60000, deliveryStepMs: 0 })
  t.teardown(() => sandbox.close())
  // A dead replica's job is taken up by another 2 s after its lock lapses.
  const env = { ...replicaEnv(sandbox.url), SCHEDULE_MIN_AHEAD_SECONDS: '1', QUEUE_LOCK_SECONDS: '2' }
  const replicas = [startReplica(env), startReplica(env)]
  t.teardown(() => { for (const r of replicas) r.child.kill('SIGKILL') })
  const [a] = await Promise.all(replicas.map(async (r) => await ready(r.url)))
  const schedule = async (base: string, template: string) => {
    const res = await fetch(`${base}/v1/messages/text`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body(template), sendAt: new Date(Date.now() + 1500).toISOString() }) })
    t.equal(res.status, 202, `${template} scheduled`)
    return ((await res.json()) as { messageId: string }).messageId
  }
  const state = async (base: string, id: string) => ((await (await fetch(`${base}/v1/messages/${id}`)).json()) as { status: string, messageId: string })

  // Both replicas take jobs from one queue: the send runs on one of them, once.
  const first = await schedule(a as string, 'welcome_back')
  for (let i = 0; i < 300 && (await state(a as string, first)).status !== 'accepted'; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal((await state(a as string, first)).status, 'accepted')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(sendsOf(sandbox, 'welcome_back').length, 1, 'sent once by two replicas')

  // Jelou creates the message and does not answer; both replicas die while the job runs.
  const crashed = await schedule(a as string, 'sandbox_timeout_sent')
  for (let i = 0; i < 600 && sandbox.notifications().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(sendsOf(sandbox, 'sandbox_timeout_sent').length, 1, 'Jelou received it and has not answered')
  for (const r of replicas) {
    r.child.kill('SIGKILL')
    await once(r.child, 'exit')
  }
  const survivor = startReplica(env)
  t.teardown(() => { survivor.child.kill('SIGKILL') })
  const base = await ready(survivor.url)
  let last = await state(base, crashed)
  for (let i = 0; i < 600 && last.status !== 'accepted'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    last = await state(base, crashed)
  }
  t.match(last, { status: 'accepted', messageId: sandbox.notifications().find((n) => n.elementName === 'sandbox_timeout_sent')?.id }, 'the new replica resolved it: Jelou\'s message')
  t.equal(sendsOf(sandbox, 'sandbox_timeout_sent').length, 1, 'never sent twice')
})
