// Test helper: the real service process (src/server.ts under the tests' TypeScript loader), its URL and its output.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

interface TapLike {
  teardown: (fn: () => unknown) => void
}

const server = fileURLToPath(new URL('../src/server.ts', import.meta.url))

/** Starts the service on a free port with exactly `env` (plus PATH); resolves once it listens. */
export async function startServer (t: TapLike, env: Record<string, string>) {
  // process.execArgv carries the TypeScript loader (scripts/ts-loader.js, .taprc), so the child runs
  // the .ts entry directly; the loader needs no environment.
  const child = spawn(process.execPath, [...process.execArgv, server], { env: { PATH: process.env.PATH, PORT: '0', ...env } })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (chunk) => { output += String(chunk) })
  child.stderr.on('data', (chunk) => { output += String(chunk) })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) { clearInterval(timer); resolve(match[1] as string) }
      if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`server exited: ${output}`)) }
    }, 50)
  })
  return { child, url, output: () => output }
}

/** Live mode against a sandbox started with the `proxy`/`proxy-secret` credentials, never shed (a busy machine would shed these sends). */
export function liveEnv (sandboxUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    JELOU_BASE_URL: sandboxUrl,
    JELOU_CLIENT_ID: 'proxy',
    JELOU_CLIENT_SECRET: 'proxy-secret',
    JELOU_BOT_ID: 'bot-123',
    ALLOW_ANONYMOUS: 'true',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  }
}
