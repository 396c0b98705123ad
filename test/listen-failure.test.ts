// A listen failure on the real process (port in use, a host that is not ours) is one line without a stack, exit 1.
import t from 'tap'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const server = fileURLToPath(new URL('../src/server.ts', import.meta.url))
// Each child loads the TypeScript sources through the loader; on a loaded machine that alone takes tens of seconds.
t.setTimeout(240_000)

async function run (env: Record<string, string>) {
  // process.execArgv carries the TypeScript loader (scripts/ts-loader.js, .taprc), so the child runs the .ts entry directly.
  const child = spawn(process.execPath, [...process.execArgv, server], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'error', ...env }
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += String(chunk) })
  child.stdout.resume()
  const [code] = await once(child, 'exit')
  return { code, stderr }
}

t.test('port in use', async (t) => {
  const taken = net.createServer().listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => taken.close())
  const { port } = taken.address() as net.AddressInfo
  const { code, stderr } = await run({ PORT: String(port), HOST: '127.0.0.1' })
  t.equal(code, 1)
  t.equal(stderr, `jelou-hsm-proxy: cannot listen on 127.0.0.1:${port}: EADDRINUSE listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`)
})

t.test('a host this machine does not have', async (t) => {
  const { code, stderr } = await run({ PORT: '0', HOST: '192.0.2.1' })
  t.equal(code, 1)
  t.match(stderr, /^jelou-hsm-proxy: cannot listen on 192\.0\.2\.1:0: EADDRNOTAVAIL [^\n]*\n$/)
  t.notMatch(stderr, /\n\s+at /, 'no stack')
})
