// The TypeScript loader's hooks (registered by scripts/ts-loader.js): `.ts` files transpiled by
// SWC to ES modules with an inline source map, kept in a disk cache; `./x.js` resolved to `./x.ts`
// when there is no `x.js`. The same functions serve module.register() (off-thread, Node 20) and
// module.registerHooks() (in-thread): each returns what the next hook returns, awaited or not.
// See docs/tests.md, "How long it takes".
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { threadId } from 'node:worker_threads'

const require = createRequire(import.meta.url)

/** Next to the other tools' caches: gitignored with node_modules, emptied by `npm ci`. */
const CACHE = fileURLToPath(new URL('../node_modules/.cache/ts-loader/', import.meta.url))

/**
 * The options ts-node derived from tsconfig.json for SWC (its `"swc": true` mode, target ES2022,
 * module NodeNext in an ES module package), so the output is the same code it ran. No `.tsx`:
 * the code base has none (tsconfig sets no `jsx`).
 */
const SWC_OPTIONS = {
  sourceMaps: true,
  swcrc: false,
  module: { type: 'es6', strictMode: true, noInterop: false, ignoreDynamic: false },
  jsc: {
    parser: { syntax: 'typescript', tsx: false, dynamicImport: true, importAssertions: true },
    target: 'es2022',
    transform: { legacyDecorator: true },
    keepClassNames: true
  }
}

/** Read from its package.json, so a cache hit never loads @swc/core itself. */
const SWC_VERSION = JSON.parse(readFileSync(require.resolve('@swc/core/package.json'), 'utf8')).version
/** What else the output depends on: SWC's version and options, and this file (an edit here starts a new cache). */
const SALT = JSON.stringify([SWC_VERSION, SWC_OPTIONS, readFileSync(fileURLToPath(import.meta.url), 'utf8')])

let swc
let cacheReady = false
let temps = 0

/** The ES module for one `.ts` file, with an inline source map naming that file. */
function transpile (path, source) {
  swc ??= require('@swc/core')
  const { code, map } = swc.transformSync(source, { ...SWC_OPTIONS, filename: path })
  // As ts-node did: the map names the absolute path of the source, so stack traces and tap's
  // coverage report point at the .ts file.
  const sourceMap = { ...JSON.parse(map), file: path, sources: [path] }
  delete sourceMap.sourceRoot
  return `${code}\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(sourceMap)).toString('base64')}\n`
}

/**
 * The cached output when there is one. The key is a hash of the file's path (named in its source
 * map) and contents, and SALT: an edited file is a new key, never a stale hit.
 * Written to a temporary file and renamed, so a process running beside this one reads a whole
 * file or none.
 */
function compiled (path) {
  const source = readFileSync(path, 'utf8')
  const key = createHash('sha256').update(SALT).update('\0').update(path).update('\0').update(source).digest('hex').slice(0, 40)
  const file = join(CACHE, `${key}.js`)
  try {
    return readFileSync(file, 'utf8')
  } catch {}
  const output = transpile(path, source)
  try {
    if (!cacheReady) { mkdirSync(CACHE, { recursive: true }); cacheReady = true }
    const temp = `${file}.${process.pid}-${threadId}-${temps++}.tmp`
    try {
      writeFileSync(temp, output)
      renameSync(temp, file)
    } catch (error) {
      rmSync(temp, { force: true })
      throw error
    }
  } catch {
    // A cache that cannot be written (read-only folder, disk full) only costs the next process a transpile.
  }
  return output
}

function isTypeScript (url) {
  return url.startsWith('file:') && new URL(url).pathname.endsWith('.ts')
}

/**
 * `./x.js` for `./x.ts`, as ts-node resolved: only when the `.js` file does not exist (Node's own
 * resolver failed), and only for paths (relative, absolute or file: URLs), never package names.
 */
function typeScriptSpecifier (error, specifier) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.endsWith('.js')) return undefined
  if (!/^(\.{1,2}\/|\/|file:)/.test(specifier)) return undefined
  return `${specifier.slice(0, -'.js'.length)}.ts`
}

/**
 * Compiled source handed on to the next hook, not returned: tap's processinfo hook (registered
 * before this one) records each module's final source and its source map for coverage.
 */
function loadContext (url, context) {
  return { ...context, format: 'module', source: compiled(fileURLToPath(url)) }
}

export async function resolve (specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (error) {
    const ts = typeScriptSpecifier(error, specifier)
    if (ts === undefined) throw error
    try {
      return await nextResolve(ts, context)
    } catch {
      throw error
    }
  }
}

export async function load (url, context, nextLoad) {
  return isTypeScript(url) ? await nextLoad(url, loadContext(url, context)) : await nextLoad(url, context)
}

export function resolveSync (specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context)
  } catch (error) {
    const ts = typeScriptSpecifier(error, specifier)
    if (ts === undefined) throw error
    try {
      return nextResolve(ts, context)
    } catch {
      throw error
    }
  }
}

export function loadSync (url, context, nextLoad) {
  return isTypeScript(url) ? nextLoad(url, loadContext(url, context)) : nextLoad(url, context)
}
