// Per-send steps in isolation (`npm run bench:steps`): what the catalogue check, a per-template route's
// own work, the status record, a keyed send's idempotency bookkeeping, the per-caller limit and
// reading the phone number cost, measured in-process on the built code, far below the
// load benchmark's noise. The stores are measured full, where eviction runs on every call.
//
// Each step runs ITERATIONS times per sample, SAMPLES samples, after a warm-up; the figure is the
// median CPU time (user + system, process.cpuUsage) per call, in nanoseconds. Bounded: a few
// seconds in all.
import { createCatalogue } from '../dist/catalogue/catalogue.js'
import { readTemplateList } from '../dist/catalogue/jelou.js'
import { createRouteCache, toKindBody } from '../dist/catalogue/template-route.js'
import { memoryStatusStore } from '../dist/status/memory.js'
import { memoryCounterStore, memoryIdempotencyStore } from '../dist/stores/memory.js'
import { attemptGroup } from '../dist/stores/types.js'
import { normalizePhone } from '../dist/phone.js'
import { requestIdFor } from '../dist/request-id.js'
import { randomUUID } from 'node:crypto'

const ITERATIONS = 200_000
const SAMPLES = 7

async function cpuNanosPerCall (fn) {
  // Only a step that returns a promise is awaited, so a synchronous one pays no microtask.
  const async = fn(0) instanceof Promise
  const loop = async
    ? async () => { for (let i = 0; i < ITERATIONS; i++) await fn(i) }
    : () => { for (let i = 0; i < ITERATIONS; i++) fn(i) }
  await loop()
  const samples = []
  for (let s = 0; s < SAMPLES; s++) {
    const start = process.cpuUsage()
    await loop()
    const used = process.cpuUsage(start)
    samples.push(((used.user + used.system) * 1000) / ITERATIONS)
  }
  samples.sort((a, b) => a - b)
  return { median: samples[Math.floor(SAMPLES / 2)], min: samples[0], max: samples[SAMPLES - 1] }
}

// The catalogue as a live service holds it: one bot, Jelou's list of 50 templates, no file.
const list = readTemplateList({
  data: Array.from({ length: 50 }, (_, i) => ({
    elementName: i === 0 ? 'order_update' : `template_${i}`,
    template: 'Hola {{1}}, tu pedido {{2}} está en camino.',
    language: 'ES',
    status: 'APPROVED',
    params: [{ label: 'nombre', param: '1' }, { label: 'pedido', param: '2' }],
    paramsNumber: 2
  }))
}).items
const quiet = { info () {}, warn () {} }
const catalogue = createCatalogue({ botIds: ['bot-123'], file: [], defaultBot: 'bot-123', list: async () => ({ items: list, pages: 1, truncated: false }), refreshMs: 3_600_000, strict: false, log: quiet, observer: { refreshFailed () {}, listTruncated () {}, unknownSend () {}, refused () {} } })
await catalogue.start()
await catalogue.stop()
const body = { elementName: 'order_update', destinations: ['593987654321'], type: 'text', language: 'es', parameters: ['Maria', 'ORD-1234'] }
if (catalogue.guard.check('bot-123', 'order_update', 'text', body) !== undefined) throw new Error('the benchmark send should pass the catalogue')
const unknown = { ...body, elementName: 'not_listed' }

// The status store at its default bound, already full, so every record also evicts the oldest.
const MAX_RECORDS = 100_000
const store = memoryStatusStore(MAX_RECORDS, 7 * 24 * 3600 * 1000)
const base = (i) => ({ messageId: `m-${i}`, caller: 'anonymous', botId: 'bot-123', template: 'order_update', kind: 'text', to: '593987654321', acceptedAt: 1_700_000_000_000, requestId: `r-${i}` })
for (let i = 0; i < MAX_RECORDS; i++) store.record(base(-1 - i))
let next = 0

// The idempotency store at its default bound, full of kept answers: a claim evicts the oldest.
const MAX_KEYS = 50_000
const idempotency = memoryIdempotencyStore(MAX_KEYS)
const answer = { status: 202, contentType: 'application/json; charset=utf-8', body: { messageId: '7d9f3c1e-0000-4000-8000-000000000000', to: '593987654321', kind: 'text', template: 'order_update', botId: 'bot-123' } }
// A keyed send's bookkeeping as the service does it: one step before Jelou (claim, recipient guard,
// mark, open attempt), then the answer kept and the open attempt closed (by the status record's write).
async function keyedSend (i) {
  const key = `key-${i}`
  const to = `5939876${String(i & 0xffff).padStart(5, '0')}`
  const attempt = { attemptId: `a-${i}`, number: 1, botId: 'bot-123', template: 'order_update', kind: 'text', to, phone: { input: to, normalized: to, country: 'EC' }, startedAt: 1_700_000_000_000 }
  const group = attemptGroup('bot-123', 'order_update', to)
  const open = { attemptId: attempt.attemptId, startedAt: attempt.startedAt }
  const began = await idempotency.begin({ recipient: { to, max: 1_000_000, windowMs: 60_000 }, group, open, ttlMs: 172_800_000, key: { key, holder: 'h', attempt, claim: { fingerprint: 'fingerprint', leaseMs: 15_000 } } })
  if (began.state !== 'started') throw new Error(`the benchmark send should start (${began.state})`)
  await idempotency.complete(key, 'h', 'fingerprint', answer, 86_400_000)
  await idempotency.closeAttempt(group, open)
}
for (let i = 0; i < MAX_KEYS; i++) await keyedSend(-1 - i)
let nextKey = 0

const counters = memoryCounterStore()
const phones = Array.from({ length: 256 }, (_, i) => `+593 98 ${7_650_000 + i}`)

// What a per-template send does beyond a kind-route send (the kind's schema and the rest run on both):
// the bot choice, the route's lookup, the variables and language check, and the kind body.
const routes = createRouteCache()
const request = { to: '+593 98 765 4321', variables: { nombre: 'Maria', pedido: 'ORD-1234' }, clientRef: 'crm-1' }
function perTemplateExtra () {
  const choice = catalogue.botFor('order_update', undefined)
  const template = catalogue.find(choice.botId, 'order_update')
  routes.update(catalogue.version(), catalogue.all())
  const route = routes.get(template)
  if (route.check(request).length > 0) throw new Error('the benchmark request should pass')
  return toKindBody(route, request, template.botId, 'es')
}

const results = {
  'per-template route, its own work (bot choice, route lookup, variables and language check, kind body)': await cpuNanosPerCall(perTemplateExtra),
  'catalogue check, known template (language, status, variable count, kind)': await cpuNanosPerCall(() => catalogue.guard.check('bot-123', 'order_update', 'text', body)),
  'catalogue check, unknown template (counted, sent)': await cpuNanosPerCall(() => catalogue.guard.check('bot-123', 'not_listed', 'text', unknown)),
  'status record, memory store full at 100 000 (insert + evict)': await cpuNanosPerCall(() => store.record(base(next++))),
  'keyed send\'s bookkeeping (begin: claim, recipient guard, mark, open attempt; then complete, close), memory store full at 50 000': await cpuNanosPerCall(() => keyedSend(nextKey++)),
  'per-caller limit, one hit (memory counter store)': await cpuNanosPerCall(() => counters.hit('caller-a', 60_000)),
  'phone number, a reading already remembered (one of 256 numbers)': await cpuNanosPerCall((i) => normalizePhone(phones[i & 255])),
  'phone number, read afresh by libphonenumber (every call a new number, past the 4 096 remembered)': await cpuNanosPerCall((i) => normalizePhone(`+593 98 ${7_000_000 + (i % 1_000_000)}`))
}

// Heap per message status record in a store of 100 000, as a live send leaves it: Jelou's message id
// parsed from its JSON answer (a flat string) and the request id the service generates, or, for
// comparison, a bare randomUUID() (a cons string of 20 pieces).
function heapPerRecord (requestId) {
  globalThis.gc()
  const before = process.memoryUsage().heapUsed
  const kept = memoryStatusStore(MAX_RECORDS, 7 * 24 * 3600 * 1000)
  for (let i = 0; i < MAX_RECORDS; i++) {
    kept.record({ messageId: JSON.parse(`"${randomUUID()}"`), caller: 'anonymous', botId: 'bot-123', template: 'order_update', kind: 'text', to: `5939876${String(i).padStart(5, '0')}`, acceptedAt: Date.now(), requestId: requestId() })
  }
  globalThis.gc()
  const bytes = (process.memoryUsage().heapUsed - before) / MAX_RECORDS
  kept.record(base(-1))
  return bytes
}
const heap = typeof globalThis.gc === 'function'
  ? { service: heapPerRecord(() => requestIdFor(undefined)), bare: heapPerRecord(() => randomUUID()) }
  : null

console.log(`Node ${process.version}, ${ITERATIONS} calls per sample, ${SAMPLES} samples; CPU ns per call (median, min–max)`)
console.log('')
console.log('| step | ns/call | min–max |')
console.log('|---|---:|---:|')
for (const [name, r] of Object.entries(results)) console.log(`| ${name} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} |`)
console.log('')
if (heap === null) console.log('Heap per status record: run with node --expose-gc (npm run bench:steps does).')
else console.log(`Heap per status record (100 000 held): ${heap.service.toFixed(0)} bytes with the service's request ids, ${heap.bare.toFixed(0)} with bare randomUUID() ids.`)
