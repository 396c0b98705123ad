// The tests' TypeScript loader: `node --import=./scripts/ts-loader.js file.ts` (tap passes it to
// every test process, .taprc `node-arg`; tests that spawn the service pass process.execArgv on).
// Transpile only, by SWC, with a disk cache under node_modules/.cache/ts-loader: the hooks are in
// scripts/ts-loader-hooks.js; docs/tests.md, "How long it takes".
//
// In-thread hooks (module.registerHooks) where tap's own processinfo hooks use them too (Node 24.13
// and later, 25.1 and later: earlier ones were buggy, tap says), else off-thread (module.register).
// Either way this loader runs before tap's, which records the transpiled source for coverage.
import module from 'node:module'

const [major, minor] = process.versions.node.split('.').map(Number)
const inThread = typeof module.registerHooks === 'function' &&
  (typeof module.register !== 'function' || major > 25 || (major === 25 && minor >= 1) || (major === 24 && minor >= 13))

if (inThread) {
  const { resolveSync, loadSync } = await import('./ts-loader-hooks.js')
  module.registerHooks({ resolve: resolveSync, load: loadSync })
} else {
  module.register('./ts-loader-hooks.js', import.meta.url)
}
