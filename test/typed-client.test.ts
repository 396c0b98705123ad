// A caller's typed client: openapi-typescript types from the served /docs/json (demo catalogue), a small openapi-fetch caller type-checked by tsc.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import { buildTestApp } from './helper.js'

const CALLER = `// What an internal service writes: the per-template route, typed from this service's document.
import createClient from 'openapi-fetch'
import type { paths } from './api.js'

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:3000', headers: { authorization: 'Bearer key' } })

export async function orderUpdate (): Promise<string | undefined> {
  const { data, error } = await client.POST('/v1/templates/order_update', {
    body: { to: '+593 98 765 4321', variables: { customerName: 'Maria', orderId: 'ORD-1234' } }
  })
  if (error !== undefined) return error.code
  return data !== undefined && 'messageId' in data ? data.messageId : undefined
}

export async function promoBanner (): Promise<void> {
  await client.POST('/v1/templates/promo_banner', {
    body: { to: '+593 98 765 4321', variables: { customerName: 'Maria', discount: '20%' }, mediaUrl: 'https://cdn.example.com/promo.png' }
  })
}

export async function missingVariable (): Promise<void> {
  await client.POST('/v1/templates/order_update', {
    // @ts-expect-error orderId is a required variable of order_update
    body: { to: '+593 98 765 4321', variables: { customerName: 'Maria' } }
  })
}

export async function missingKindField (): Promise<void> {
  await client.POST('/v1/templates/promo_banner', {
    // @ts-expect-error an image template needs its mediaUrl
    body: { to: '+593 98 765 4321', variables: { customerName: 'Maria', discount: '20%' } }
  })
}
`

t.test('a client generated from /docs/json types each template\'s route', async (t) => {
  const { app } = await buildTestApp(t)
  const document = (await app.inject({ url: '/docs/json' })).json()
  const types = astToString(await openapiTS(document))

  const root = fileURLToPath(new URL('..', import.meta.url))
  const dir = mkdtempSync(join(tmpdir(), 'typed-client-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(dir, 'api.d.ts'), types)
  writeFileSync(join(dir, 'caller.ts'), CALLER)

  const tsc = spawnSync(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--skipLibCheck',
    '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'caller.ts'
  ], { cwd: dir, encoding: 'utf8', timeout: 240000 })
  t.equal(tsc.status, 0, `tsc accepts the caller, and each @ts-expect-error is an error:\n${tsc.stdout}${tsc.stderr}`)
  t.match(types, /"\/v1\/templates\/order_update"/, 'the route is in the generated paths')
  t.notMatch(types, /orderId\?: string/, 'the variable is not optional')
})
