// The README is a newcomer's front page: short, and every reference page in docs/ is linked from it.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('README stays a front page of at most about 15 KB, with the two commands and one example', async (t) => {
  t.ok(Buffer.byteLength(readme) <= 15 * 1024, `README is ${Buffer.byteLength(readme)} bytes`)
  t.match(readme, /npm ci/)
  t.match(readme, /npm start/)
  t.match(readme, /npm test/)
  t.match(readme, /curl -s http:\/\/127\.0\.0\.1:3000\/v1\/templates\/[a-z_]+ /, 'one example, on a per-template route')
})

t.test('every page in docs/ is linked from the README, and every docs link of a page names a page', async (t) => {
  const pages = readdirSync(new URL('../docs/', import.meta.url)).filter((name) => name.endsWith('.md'))
  t.ok(pages.length >= 9, `${pages.length} pages`)
  for (const page of pages) {
    t.match(readme, `](docs/${page})`, `README links docs/${page}`)
    const text = readFileSync(new URL(`../docs/${page}`, import.meta.url), 'utf8')
    for (const [, target] of text.matchAll(/\]\(([a-z0-9-]+\.md)(#[^)]*)?\)/g)) {
      // Pages other engineers add in parallel are linked from the README before they land.
      t.ok(pages.includes(target as string) || readme.includes(`](docs/${target})`), `docs/${page} links ${target}`)
    }
  }
})

t.test('pages speak to a reader of this repository: no references to documents it does not hold', async (t) => {
  const pages = ['README.md', ...readdirSync(new URL('../docs/', import.meta.url)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
  for (const page of pages) {
    const text = readFileSync(new URL(`../${page}`, import.meta.url), 'utf8')
    t.notMatch(text, /\bSPEC §|\bSTYLE §|\bissues? \d+\b/i, `${page} names no SPEC/STYLE section and no issue number`)
  }
})
